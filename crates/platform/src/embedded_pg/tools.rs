//! The embedded cluster's dealings with the operating system: finding the
//! server binaries, running them (as the `postgres` user when root), the
//! cluster's directories and lock files.

use std::ffi::{CString, OsStr};
use std::fs::File;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};

use super::*;

/// The PostgreSQL server programs, and the user they must run as.
#[derive(Debug)]
pub(super) struct ServerTools {
    pub(super) bin: PathBuf,
    pub(super) run_as: Option<RunAs>,
}

impl ServerTools {
    pub(super) fn locate(bin_dir: Option<&Path>) -> Result<ServerTools> {
        Ok(ServerTools {
            bin: find_server_binaries(bin_dir)?,
            run_as: run_as_user()?,
        })
    }

    pub(super) fn command<S: AsRef<OsStr>>(
        &self,
        program: &str,
        args: &[S],
    ) -> std::process::Command {
        server_command(&self.bin, self.run_as.as_ref(), program, args)
    }

    /// Run a server program; its last line of stderr becomes the error.
    pub(super) async fn run(&self, program: &str, args: &[&OsStr]) -> Result<()> {
        self.run_with_env(program, &[], args).await
    }

    /// [`ServerTools::run`] with secrets added to the program's environment.
    pub(super) async fn run_with_env(
        &self,
        program: &str,
        env: &[(&'static str, secrecy::SecretString)],
        args: &[&OsStr],
    ) -> Result<()> {
        use secrecy::ExposeSecret;
        let mut cmd = self.command(program, args);
        for (k, v) in env {
            cmd.env(k, v.expose_secret());
        }
        let out = tokio::process::Command::from(cmd)
            .output()
            .await
            .with_context(|| format!("cannot run {program}"))?;
        if !out.status.success() {
            let verb = args
                .first()
                .map(|a| a.to_string_lossy())
                .unwrap_or_default();
            bail!(
                "{program} {verb} failed: {}",
                last_line(&String::from_utf8_lossy(&out.stderr))
            );
        }
        Ok(())
    }

    /// Whether a postmaster runs on the cluster (`pg_ctl status`).
    pub(super) async fn is_running(&self, paths: &ClusterPaths) -> Result<bool> {
        if !paths.initialized() {
            return Ok(false);
        }
        let args = [
            OsStr::new("status"),
            OsStr::new("-D"),
            paths.data.as_os_str(),
        ];
        let out = tokio::process::Command::from(self.command("pg_ctl", &args))
            .output()
            .await
            .context("cannot run pg_ctl")?;
        Ok(out.status.success())
    }

    pub(super) async fn stop(&self, paths: &ClusterPaths) -> Result<()> {
        self.run("pg_ctl", &stop_args(paths)).await?;
        tracing::info!(dir = %paths.data.display(), "embedded PostgreSQL stopped");
        Ok(())
    }
}

pub(super) fn stop_args(paths: &ClusterPaths) -> [&OsStr; 8] {
    [
        OsStr::new("stop"),
        OsStr::new("-m"),
        OsStr::new("fast"),
        OsStr::new("-w"),
        OsStr::new("-t"),
        OsStr::new("30"),
        OsStr::new("-D"),
        paths.data.as_os_str(),
    ]
}

pub(super) fn server_command<S: AsRef<OsStr>>(
    bin: &Path,
    run_as: Option<&RunAs>,
    program: &str,
    args: &[S],
) -> std::process::Command {
    user_command(&bin.join(program), run_as, args)
}

fn user_command<S: AsRef<OsStr>>(
    exe: &Path,
    run_as: Option<&RunAs>,
    args: &[S],
) -> std::process::Command {
    let mut cmd = match run_as {
        Some(user) => {
            let mut c = std::process::Command::new("runuser");
            c.arg("-u").arg(&user.name).arg("--").arg(exe);
            c
        }
        None => std::process::Command::new(exe),
    };
    cmd.args(args)
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .env("LC_ALL", "C.UTF-8")
        // The server gets its own process group: a Ctrl-C on the terminal goes to
        // p360, which drains and then stops the cluster in order.
        .process_group(0);
    cmd
}

/// `program` (a path, or a name looked up on PATH) as the user the embedded
/// cluster runs as: the `postgres` system user under root, else this one.
/// For the tools that work on the cluster's files (pgBackRest).
pub fn server_user_command<S: AsRef<OsStr>>(
    program: &Path,
    args: &[S],
) -> Result<std::process::Command> {
    Ok(user_command(program, run_as_user()?.as_ref(), args))
}

/// Create `dir` (and its parents) for the cluster's user: handed to the
/// `postgres` system user under root, private to it.
pub fn server_user_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o750))?;
    if let Some(user) = run_as_user()? {
        std::os::unix::fs::chown(dir, Some(user.uid), Some(user.gid))
            .with_context(|| format!("cannot hand {} to the {} user", dir.display(), user.name))?;
    }
    Ok(())
}

/// Hand `file` to the cluster's user (under root).
pub fn hand_to_server_user(file: &Path) -> Result<()> {
    if let Some(user) = run_as_user()? {
        std::os::unix::fs::chown(file, Some(user.uid), Some(user.gid))
            .with_context(|| format!("cannot hand {} to the {} user", file.display(), user.name))?;
    }
    Ok(())
}

/// A PostgreSQL client program (`pg_dump`, `pg_restore`, ...) of the same
/// installation as the server binaries when it is there, else `name` for a
/// PATH lookup.
pub fn client_program(configured: Option<&Path>, name: &str) -> PathBuf {
    find_server_binaries(configured)
        .map(|dir| dir.join(name))
        .ok()
        .filter(|p| p.is_file())
        .unwrap_or_else(|| name.into())
}

/// Where `initdb`, `pg_ctl` and `postgres` live: `configured` if given, else
/// PATH, then the newest `/usr/lib/postgresql/*/bin`.
pub fn find_server_binaries(configured: Option<&Path>) -> Result<PathBuf> {
    let has_all = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|b| dir.join(b).is_file())
    };
    let missing = || {
        anyhow!(
            "no PostgreSQL server binaries (initdb, pg_ctl, postgres) {}; install them \
             (`apt-get install postgresql`) or set P360_DATABASE__URL to use an existing server",
            match configured {
                Some(dir) => format!("in database.postgres_bin_dir ({})", dir.display()),
                None => "on PATH or under /usr/lib/postgresql".to_string(),
            }
        )
    };
    if let Some(dir) = configured {
        return if has_all(dir) {
            Ok(dir.to_path_buf())
        } else {
            Err(missing())
        };
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if has_all(&dir) {
                return Ok(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse::<u32>().ok()?;
            Some((v, e.path().join("bin")))
        })
        .filter(|(_, dir)| has_all(dir))
        .collect();
    versions.sort();
    versions.pop().map(|(_, dir)| dir).ok_or_else(missing)
}

pub(super) fn run_as_user() -> Result<Option<RunAs>> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    lookup_user(SUPERUSER).map(Some).ok_or_else(|| {
        anyhow!(
            "running as root, and PostgreSQL refuses to run as root: no `{SUPERUSER}` system user \
             to run the embedded cluster as; create one (installing postgresql does), run p360 as \
             an unprivileged user, or set P360_DATABASE__URL"
        )
    })
}

pub(super) fn lookup_user(name: &str) -> Option<RunAs> {
    let cname = CString::new(name).ok()?;
    let mut buf = vec![0u8; 4096];
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the call and buf outlives it; getpwnam_r is thread-safe.
    let rc = unsafe {
        libc::getpwnam_r(
            cname.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return None;
    }
    Some(RunAs {
        name: name.to_string(),
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
    })
}

pub(super) fn prepare_dirs(
    data_dir: &Path,
    paths: &ClusterPaths,
    run_as: Option<&RunAs>,
) -> Result<()> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create data dir {}", data_dir.display()))?;
    let probe = data_dir.join(".p360-write-test");
    std::fs::write(&probe, b"")
        .with_context(|| format!("data dir {} is not writable", data_dir.display()))?;
    let _ = std::fs::remove_file(&probe);
    for dir in [&paths.root, &paths.socket_dir] {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    std::fs::set_permissions(&paths.socket_dir, std::fs::Permissions::from_mode(0o700))?;
    if let Some(user) = run_as {
        for dir in [&paths.root, &paths.socket_dir] {
            let meta = std::fs::metadata(dir)?;
            if meta.uid() != user.uid {
                std::os::unix::fs::chown(dir, Some(user.uid), Some(user.gid)).with_context(
                    || format!("cannot hand {} to the {} user", dir.display(), user.name),
                )?;
            }
        }
        // The server user must be able to reach its directory through every parent.
        let mut cur = paths.root.parent();
        while let Some(dir) = cur {
            let mode = std::fs::metadata(dir)?.mode();
            if mode & 0o001 == 0 && std::fs::metadata(dir)?.uid() != user.uid {
                bail!(
                    "the {} user cannot reach {}: {} is not traversable by others \
                     (chmod o+x it, or choose another --data-dir)",
                    user.name,
                    paths.root.display(),
                    dir.display()
                );
            }
            cur = dir.parent();
        }
    }
    Ok(())
}

pub(super) fn open_lock_file(path: &Path) -> Result<File> {
    File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .with_context(|| format!("cannot open lock file {}", path.display()))
}

pub(super) fn shell_quote(path: &Path) -> Result<String> {
    let s = path
        .to_str()
        .ok_or_else(|| anyhow!("data dir path is not UTF-8: {}", path.display()))?;
    if s.contains('\'') {
        bail!("data dir path must not contain a single quote: {s}");
    }
    Ok(format!("'{s}'"))
}

pub(super) fn last_line(s: &str) -> String {
    s.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no output")
        .trim()
        .to_string()
}
