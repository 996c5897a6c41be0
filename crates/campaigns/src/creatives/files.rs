//! Checking creative files: the type is sniffed from the bytes, dimensions are
//! read from the file, sizes are enforced, and HTML5 zips are unpacked with
//! hard limits that do not trust the zip's own headers (zip bombs).

use std::io::Read;

/// IAB display sizes accepted.
pub const IAB_SIZES: &[(u32, u32)] = &[
    (300, 250),
    (728, 90),
    (160, 600),
    (300, 600),
    (320, 50),
    (970, 250),
    (300, 50),
    (468, 60),
    (336, 280),
    (120, 600),
    (250, 250),
];
pub const MAX_IMAGE_BYTES: usize = 200 * 1024;
pub const MAX_ZIP_BYTES: usize = 1024 * 1024;
pub const MAX_UNPACKED_BYTES: u64 = 5 * 1024 * 1024;
const MAX_ZIP_ENTRIES: usize = 500;

/// Why a file was refused: (machine code, message).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

fn refuse(code: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        code,
        message: message.into(),
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleFile {
    pub path: String,
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

/// A checked creative file.
#[derive(Debug)]
pub enum Checked {
    Image {
        mime: &'static str,
        ext: &'static str,
        width: u32,
        height: u32,
    },
    Html5 {
        width: u32,
        height: u32,
        unpacked: u64,
        files: Vec<BundleFile>,
    },
}

/// Sniff, measure and check `bytes`.
pub fn check(bytes: &[u8]) -> Result<Checked, Refusal> {
    let (mime, ext) = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        ("image/png", "png")
    } else if bytes.starts_with(b"GIF87a") || bytes.starts_with(b"GIF89a") {
        ("image/gif", "gif")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        ("image/jpeg", "jpg")
    } else if bytes.starts_with(b"PK\x03\x04") {
        return check_zip(bytes);
    } else {
        return Err(refuse(
            "unsupported_type",
            "a JPEG, PNG or GIF image, or an HTML5 zip",
        ));
    };
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(refuse(
            "too_large",
            format!("images are limited to {} KB", MAX_IMAGE_BYTES / 1024),
        ));
    }
    let size = imagesize::blob_size(bytes)
        .map_err(|_| refuse("unreadable", "the image's dimensions cannot be read"))?;
    let (width, height) = (size.width as u32, size.height as u32);
    check_size(width, height)?;
    Ok(Checked::Image {
        mime,
        ext,
        width,
        height,
    })
}

fn check_size(width: u32, height: u32) -> Result<(), Refusal> {
    if IAB_SIZES.contains(&(width, height)) {
        Ok(())
    } else {
        Err(refuse(
            "not_iab_size",
            format!("{width}x{height} is not an IAB display size"),
        ))
    }
}

fn check_zip(bytes: &[u8]) -> Result<Checked, Refusal> {
    if bytes.len() > MAX_ZIP_BYTES {
        return Err(refuse(
            "too_large",
            format!("HTML5 zips are limited to {} KB", MAX_ZIP_BYTES / 1024),
        ));
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|_| refuse("unreadable", "not a readable zip archive"))?;
    if archive.len() > MAX_ZIP_ENTRIES {
        return Err(refuse(
            "too_many_files",
            format!("at most {MAX_ZIP_ENTRIES} files"),
        ));
    }
    let mut unpacked: u64 = 0;
    let mut files = Vec::new();
    for i in 0..archive.len() {
        let mut entry = archive
            .by_index(i)
            .map_err(|_| refuse("unreadable", "a zip entry cannot be read"))?;
        if entry.is_dir() {
            continue;
        }
        let path = entry
            .enclosed_name()
            .and_then(|p| p.to_str().map(|s| s.replace('\\', "/")))
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                refuse(
                    "unsafe_path",
                    format!("unsafe file name {:?}", entry.name()),
                )
            })?;
        // Decompress with a hard budget: the declared sizes may lie.
        let budget = MAX_UNPACKED_BYTES - unpacked;
        let mut content = Vec::new();
        (&mut entry)
            .take(budget + 1)
            .read_to_end(&mut content)
            .map_err(|_| refuse("unreadable", format!("{path} cannot be decompressed")))?;
        unpacked += content.len() as u64;
        if unpacked > MAX_UNPACKED_BYTES {
            return Err(refuse(
                "too_large_unpacked",
                format!(
                    "unpacked, the bundle exceeds {} MB",
                    MAX_UNPACKED_BYTES / (1024 * 1024)
                ),
            ));
        }
        files.push(BundleFile {
            content_type: content_type(&path),
            path,
            bytes: content,
        });
    }
    let index = files
        .iter()
        .find(|f| f.path == "index.html")
        .ok_or_else(|| refuse("missing_index", "the zip needs index.html at its root"))?;
    let (width, height) = ad_size(&String::from_utf8_lossy(&index.bytes)).ok_or_else(|| {
        refuse(
            "missing_size",
            "index.html must declare <meta name=\"ad.size\" content=\"width=300,height=250\">",
        )
    })?;
    check_size(width, height)?;
    Ok(Checked::Html5 {
        width,
        height,
        unpacked,
        files,
    })
}

/// The IAB/Google `ad.size` meta tag: `<meta name="ad.size" content="width=300,height=250">`.
fn ad_size(html: &str) -> Option<(u32, u32)> {
    let lower = html.to_ascii_lowercase();
    let at = lower.find("ad.size")?;
    let tag_end = lower[at..].find('>')? + at;
    let tag = &lower[at..tag_end];
    let content = tag.split("content=").nth(1)?;
    let content = content.trim_start_matches(['"', '\'']);
    let content = content.split(['"', '\'']).next()?;
    let mut w = None;
    let mut h = None;
    for part in content.split([',', ';']) {
        let (k, v) = part.split_once('=')?;
        match k.trim() {
            "width" => w = v.trim().parse().ok(),
            "height" => h = v.trim().parse().ok(),
            _ => {}
        }
    }
    Some((w?, h?))
}

/// Content type by extension, for serving HTML5 previews.
pub fn content_type(path: &str) -> &'static str {
    let ext = path
        .rsplit('.')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "webp" => "image/webp",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "mp4" => "video/mp4",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn png(w: u32, h: u32) -> Vec<u8> {
        // Signature + IHDR is all a size reader needs.
        let mut v = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        v.extend(w.to_be_bytes());
        v.extend(h.to_be_bytes());
        v.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
        v
    }

    pub fn zip(files: &[(&str, &[u8])]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        {
            let mut z = zip::ZipWriter::new(&mut out);
            let opts = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated);
            for (name, bytes) in files {
                z.start_file(*name, opts).unwrap();
                z.write_all(bytes).unwrap();
            }
            z.finish().unwrap();
        }
        out.into_inner()
    }

    const INDEX: &[u8] =
        b"<html><head><meta name=\"ad.size\" content=\"width=300,height=250\"></head></html>";

    #[test]
    fn images_are_sniffed_and_measured() {
        match check(&png(728, 90)).unwrap() {
            Checked::Image {
                mime,
                width,
                height,
                ..
            } => {
                assert_eq!((mime, width, height), ("image/png", 728, 90));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(check(&png(301, 250)).unwrap_err().code, "not_iab_size");
        assert_eq!(check(b"%PDF-1.4").unwrap_err().code, "unsupported_type");
        let mut big = png(300, 250);
        big.resize(MAX_IMAGE_BYTES + 1, 0);
        assert_eq!(check(&big).unwrap_err().code, "too_large");
    }

    #[test]
    fn html5_bundles_need_an_index_with_a_size_and_stay_small_unpacked() {
        match check(&zip(&[("index.html", INDEX), ("js/app.js", b"1")])).unwrap() {
            Checked::Html5 {
                width,
                height,
                files,
                ..
            } => {
                assert_eq!((width, height), (300, 250));
                assert_eq!(files.len(), 2);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            check(&zip(&[("ad/index.html", INDEX)])).unwrap_err().code,
            "missing_index"
        );
        assert_eq!(
            check(&zip(&[("index.html", b"<html></html>")]))
                .unwrap_err()
                .code,
            "missing_size"
        );
        // 6 MB of zeros compresses to a few KB: a bomb by ratio.
        let zeros = vec![0u8; 6 * 1024 * 1024];
        let bomb = zip(&[("index.html", INDEX), ("pad.bin", &zeros)]);
        assert!(bomb.len() < MAX_ZIP_BYTES);
        assert_eq!(check(&bomb).unwrap_err().code, "too_large_unpacked");
        assert_eq!(
            check(&zip(&[("../evil.html", INDEX)])).unwrap_err().code,
            "unsafe_path"
        );
    }
}
