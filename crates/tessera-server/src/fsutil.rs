//! Files that hold secrets, and the directory they live in.

use anyhow::{bail, Context};
use std::fs::{File, OpenOptions};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Creates a new file readable and writable by the owner only (0600). Fails if it exists, so a
/// secret is never silently replaced.
pub fn create_private(path: &Path) -> anyhow::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

/// Creates a directory (and parents) with mode 0700 if it does not exist.
pub fn create_private_dir(path: &Path) -> anyhow::Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .with_context(|| format!("cannot create the directory {}", path.display()))
}

/// Creates a directory with mode 0700, or takes group and other access away from one that
/// exists (saying so in the log): what it holds is Tessera's alone, and a listing alone already
/// tells others which files to try.
pub fn ensure_private_dir(path: &Path) -> anyhow::Result<()> {
    create_private_dir(path)?;
    restrict(path, 0o700)
}

/// Takes group and other access away from a file Tessera wrote, if it exists, saying so in the
/// log. A missing file is not an error.
pub fn restrict_file(path: &Path) -> anyhow::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(_) => restrict(path, 0o600),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e).with_context(|| format!("cannot read the mode of {}", path.display())),
    }
}

fn restrict(path: &Path, private: u32) -> anyhow::Result<()> {
    let mode = std::fs::metadata(path)
        .with_context(|| format!("cannot read the mode of {}", path.display()))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(private)).with_context(
        || {
            format!(
                "{} is accessible by other users (mode {mode:o}) and cannot be made private",
                path.display()
            )
        },
    )?;
    tracing::warn!(
        path = %path.display(),
        was = format_args!("{mode:o}"),
        now = format_args!("{private:o}"),
        "other users could access this; made it private"
    );
    Ok(())
}

/// Refuses a private key (of TLS) that users other than its owner may read or change: the
/// operator's file is never changed behind their back. As PostgreSQL allows for its key, a file
/// owned by root may also be readable by its group (0640, e.g. Debian's `ssl-cert` group).
pub fn check_private_key(path: &Path) -> anyhow::Result<()> {
    let meta = std::fs::metadata(path)
        .with_context(|| format!("cannot read the private key {}", path.display()))?;
    let mode = meta.permissions().mode() & 0o777;
    let forbidden = if meta.uid() == 0 { 0o037 } else { 0o077 };
    if mode & forbidden != 0 {
        bail!(
            "the private key {} is accessible by other users (mode {mode:o}); run chmod 600 on it \
             (a key owned by root may be 640, readable by its group)",
            path.display()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn loose_modes_are_tightened_and_private_ones_left_alone() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("data");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);

        let f = dir.join("f");
        std::fs::write(&f, "x").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o644)).unwrap();
        restrict_file(&f).unwrap();
        assert_eq!(mode(&f), 0o600);
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o400)).unwrap();
        restrict_file(&f).unwrap();
        assert_eq!(mode(&f), 0o400, "an owner-only mode is kept as it is");
        restrict_file(&dir.join("missing")).unwrap();
    }

    #[test]
    fn a_shared_private_key_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let key = d.path().join("key.pem");
        std::fs::write(&key, "k").unwrap();
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = check_private_key(&key).unwrap_err().to_string();
        assert!(e.contains("mode 644") && e.contains("chmod 600"), "{e}");
        assert_eq!(mode(&key), 0o644, "the operator's file is not changed");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        check_private_key(&key).unwrap();
    }
}
