//! What providers read from the world — environment, files, clock, HTTP — behind traits, so
//! tests can hand them a recorded world and production gets the real one.

use crate::http::{HttpClient, ReqwestHttp};
use std::collections::HashMap;
use std::fmt::Debug;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Environment variables.
pub trait Env: Send + Sync + Debug {
    /// The variable's value, if set and valid UTF-8.
    fn var(&self, name: &str) -> Option<String>;
}

/// The process environment.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsEnv;

impl Env for OsEnv {
    fn var(&self, name: &str) -> Option<String> {
        std::env::var(name).ok()
    }
}

/// A fixed set of variables (for tests and for embedding).
#[derive(Debug, Default, Clone)]
pub struct MapEnv(pub HashMap<String, String>);

impl MapEnv {
    /// From name/value pairs.
    pub fn from_pairs<I, K, V>(pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        MapEnv(
            pairs
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }
}

impl Env for MapEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

/// Files.
pub trait Fs: Send + Sync + Debug {
    /// Reads a whole file.
    fn read(&self, path: &Path) -> io::Result<Vec<u8>>;
    /// Replaces a file atomically (write a sibling, then rename), readable by its owner only.
    fn write(&self, path: &Path, contents: &[u8]) -> io::Result<()>;

    /// Takes an exclusive advisory lock on `path` (created if needed), held until the guard is
    /// dropped: how writers of a shared file take turns. The default locks nothing.
    fn lock(&self, _path: &Path) -> io::Result<FileLock> {
        Ok(FileLock(None))
    }

    /// Like [`Fs::lock`], but `None` at once if someone else holds the lock.
    fn try_lock(&self, path: &Path) -> io::Result<Option<FileLock>> {
        self.lock(path).map(Some)
    }
}

/// An exclusive lock on a file; released when dropped.
#[derive(Debug)]
pub struct FileLock(#[allow(dead_code)] Option<std::fs::File>);

/// The real filesystem.
#[derive(Debug, Default, Clone, Copy)]
pub struct OsFs;

impl Fs for OsFs {
    fn read(&self, path: &Path) -> io::Result<Vec<u8>> {
        std::fs::read(path)
    }

    fn lock(&self, path: &Path) -> io::Result<FileLock> {
        lock_file(path, true).map(|l| l.unwrap_or(FileLock(None)))
    }

    fn try_lock(&self, path: &Path) -> io::Result<Option<FileLock>> {
        lock_file(path, false)
    }

    fn write(&self, path: &Path, contents: &[u8]) -> io::Result<()> {
        use std::io::Write;
        // A config.json that is a symlink (dotfile managers) is updated where it points,
        // rather than replaced by a regular file.
        let target = match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => match std::fs::canonicalize(path) {
                Ok(t) => t,
                // A link to a file not written yet: create the file it names.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    let link = std::fs::read_link(path)?;
                    match path.parent() {
                        Some(dir) if link.is_relative() => dir.join(link),
                        _ => link,
                    }
                }
                Err(e) => return Err(e),
            },
            _ => path.to_path_buf(),
        };
        let path = target.as_path();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        // A fresh name, created exclusively: never follows a planted link, never shares a
        // half-written file with a concurrent writer.
        let tmp = path.with_extension(format!(
            "tmp.{}.{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let result = (|| {
            let mut f = opts.open(&tmp)?;
            f.write_all(contents)?;
            f.sync_all()?;
            std::fs::rename(&tmp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }
}

/// Opens (creating) `path` and takes an exclusive lock on it; `wait: false` answers `None`
/// when another process holds it.
fn lock_file(path: &Path, wait: bool) -> io::Result<Option<FileLock>> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut opts = std::fs::OpenOptions::new();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let file = opts.open(path)?;
    // The standard library's advisory lock (flock(2) on Unix, LockFileEx on Windows).
    if wait {
        file.lock()?;
    } else {
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(e),
        }
    }
    Ok(Some(FileLock(Some(file))))
}

/// Wall-clock time.
pub trait Clock: Send + Sync + Debug {
    /// Now.
    fn now(&self) -> SystemTime;
}

/// The system clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to (tests).
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Mutex<SystemTime>>);

impl ManualClock {
    /// A clock standing at `t`.
    pub fn new(t: SystemTime) -> Self {
        ManualClock(Arc::new(Mutex::new(t)))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut t = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *t += by;
    }

    /// Sets the clock.
    pub fn set(&self, to: SystemTime) {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Everything a provider may touch. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Context {
    /// Environment variables.
    pub env: Arc<dyn Env>,
    /// Files.
    pub fs: Arc<dyn Fs>,
    /// Wall-clock time.
    pub clock: Arc<dyn Clock>,
    /// HTTP.
    pub http: Arc<dyn HttpClient>,
}

impl Default for Context {
    fn default() -> Self {
        Context {
            env: Arc::new(OsEnv),
            fs: Arc::new(OsFs),
            clock: Arc::new(SystemClock),
            http: Arc::new(ReqwestHttp::default()),
        }
    }
}

impl Context {
    /// The real world: process environment, real files, system clock, HTTPS with the Mozilla roots.
    pub fn os() -> Self {
        Context::default()
    }

    /// Replaces the environment.
    pub fn with_env(mut self, env: impl Env + 'static) -> Self {
        self.env = Arc::new(env);
        self
    }

    /// Replaces the filesystem.
    pub fn with_fs(mut self, fs: impl Fs + 'static) -> Self {
        self.fs = Arc::new(fs);
        self
    }

    /// Replaces the clock.
    pub fn with_clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Replaces HTTP.
    pub fn with_http(mut self, http: impl HttpClient + 'static) -> Self {
        self.http = Arc::new(http);
        self
    }

    /// A variable, treating an empty value as unset (as the official libraries do).
    pub fn var(&self, name: &str) -> Option<String> {
        self.env.var(name).filter(|v| !v.is_empty())
    }

    /// Whether a boolean variable is set to `true` (case-insensitive).
    pub fn flag(&self, name: &str) -> bool {
        self.var(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The user's home directory (`HOME`, or `USERPROFILE` on Windows).
    pub fn home(&self) -> Option<PathBuf> {
        self.var("HOME")
            .or_else(|| self.var("USERPROFILE"))
            .map(PathBuf::from)
    }

    /// Expands a leading `~/` against the home directory.
    pub fn expand_home(&self, path: &str) -> PathBuf {
        match (path.strip_prefix("~/"), self.home()) {
            (Some(rest), Some(home)) => home.join(rest),
            _ => PathBuf::from(path),
        }
    }

    /// Reads a file as UTF-8, mapping errors to [`crate::Error::Io`]; a missing file is `None`.
    pub fn read_optional(&self, path: &Path) -> Result<Option<String>, crate::Error> {
        match self.fs.read(path) {
            Ok(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| crate::Error::Io {
                    path: path.to_path_buf(),
                    message: "not UTF-8 text".into(),
                }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(crate::Error::Io {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_fs_writes_atomically_and_privately() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/config.json");
        OsFs.write(&path, b"one").unwrap();
        OsFs.write(&path, b"two").unwrap();
        assert_eq!(OsFs.read(&path).unwrap(), b"two");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            std::fs::read_dir(path.parent().unwrap()).unwrap().count(),
            1
        );
        // Through a symlink, the file it points to is updated and the link stays.
        #[cfg(unix)]
        {
            let link = dir.path().join("link.json");
            std::os::unix::fs::symlink(&path, &link).unwrap();
            OsFs.write(&link, b"three").unwrap();
            assert!(std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink());
            assert_eq!(OsFs.read(&path).unwrap(), b"three");
            // A dangling link: the file it names is created.
            let dangling = dir.path().join("dangling.json");
            std::os::unix::fs::symlink("created-later.json", &dangling).unwrap();
            OsFs.write(&dangling, b"four").unwrap();
            assert_eq!(
                std::fs::read(dir.path().join("created-later.json")).unwrap(),
                b"four"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn file_locks_are_exclusive() {
        use std::sync::atomic::{AtomicBool, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json.lock");
        let first = OsFs.lock(&path).unwrap();
        let got_it = Arc::new(AtomicBool::new(false));
        let waiter = {
            let (path, got_it) = (path.clone(), got_it.clone());
            std::thread::spawn(move || {
                let _second = OsFs.lock(&path).unwrap();
                got_it.store(true, Ordering::SeqCst);
            })
        };
        std::thread::sleep(Duration::from_millis(150));
        assert!(
            !got_it.load(Ordering::SeqCst),
            "the second lock waits for the first"
        );
        assert!(
            OsFs.try_lock(&path).unwrap().is_none(),
            "held elsewhere: no lock, no wait"
        );
        drop(first);
        waiter.join().unwrap();
        assert!(got_it.load(Ordering::SeqCst));
    }

    #[test]
    fn context_helpers() {
        let ctx = Context::os().with_env(MapEnv::from_pairs([
            ("HOME", "/home/u"),
            ("A", ""),
            ("B", "TRUE"),
        ]));
        assert_eq!(ctx.var("A"), None);
        assert!(ctx.flag("B"));
        assert_eq!(ctx.expand_home("~/x"), PathBuf::from("/home/u/x"));
        assert_eq!(
            ctx.read_optional(Path::new("/nonexistent/x")).unwrap(),
            None
        );
    }
}
