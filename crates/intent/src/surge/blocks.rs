//! What the parallel reader ([`super::parallel`]) does with whole blocks
//! besides reading their lines: the file's BLAKE3 put together from the
//! blocks' chaining values, and the blocks copied to the archive in the
//! kernel.

use std::fs::File;

use blake3::hazmat::{ChainingValue, Mode, merge_subtrees_non_root, merge_subtrees_root};

/// A block's hash: the whole file's when it is the only block.
pub(super) enum Hashed {
    Root(blake3::Hash),
    Subtree(ChainingValue),
}

/// The root hash of blocks of equal size (the last may be shorter) from
/// their chaining values, at least two: BLAKE3's left subtree is the
/// largest power of two of blocks that leaves the right one some input.
pub(super) fn root(cvs: &[ChainingValue]) -> blake3::Hash {
    let left = left_blocks(cvs.len());
    merge_subtrees_root(&subtree(&cvs[..left]), &subtree(&cvs[left..]), Mode::Hash)
}

fn subtree(cvs: &[ChainingValue]) -> ChainingValue {
    if cvs.len() == 1 {
        return cvs[0];
    }
    let left = left_blocks(cvs.len());
    merge_subtrees_non_root(&subtree(&cvs[..left]), &subtree(&cvs[left..]), Mode::Hash)
}

/// The largest power of two below `n` (at least 2).
fn left_blocks(n: usize) -> usize {
    1 << (usize::BITS - 1 - (n - 1).leading_zeros())
}

/// Copy `[at, at + len)` of `from` to the same place in `to` in the kernel
/// (`copy_file_range(2)`: no trip through a buffer, and a reflink where the
/// filesystem shares blocks).
pub(super) fn copy_range(from: &File, to: &File, at: u64, len: usize) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    let start = libc::loff_t::try_from(at).map_err(std::io::Error::other)?;
    let (mut off_in, mut off_out) = (start, start);
    let mut left = len;
    while left > 0 {
        // SAFETY: both descriptors belong to files borrowed for the call,
        // and the offsets are locals the kernel advances.
        let n = unsafe {
            libc::copy_file_range(
                from.as_raw_fd(),
                &mut off_in,
                to.as_raw_fd(),
                &mut off_out,
                left,
                0,
            )
        };
        match n {
            n if n < 0 => return Err(std::io::Error::last_os_error()),
            0 => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file shrank while it was read",
                ));
            }
            n => left -= n as usize,
        }
    }
    Ok(())
}
