//! Records the git commit the binary was built from (`SOURCE_GIT_SHA` wins, for
//! builds outside a checkout such as the container image).

use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=SOURCE_GIT_SHA");
    let sha = std::env::var("SOURCE_GIT_SHA").ok().or_else(|| {
        let out = Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()?;
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    });
    if let Ok(out) = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .output()
        && out.status.success()
    {
        let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
        println!("cargo:rerun-if-changed={dir}/HEAD");
        println!("cargo:rerun-if-changed={dir}/refs/heads");
    }
    println!(
        "cargo:rustc-env=BUILD_GIT_SHA={}",
        sha.unwrap_or_else(|| "unknown".into())
    );
}
