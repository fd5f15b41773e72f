//! Hot reload of the engine settings file: a background task polls the file and swaps a
//! valid change in; invocations only load the settings in force.
//!
//! Polling, not file-system events: on Azure the file lives on `/home`, an SMB mount
//! where inotify reports nothing. Each poll costs one `stat` (modification time and
//! length); only when those changed is the file read and hashed, and only a changed hash
//! is parsed. The file I/O runs on Tokio's blocking pool, never on a request's task.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use super::{EngineConfig, SettingsError};

/// How often the engine settings file is checked for a change: a change is in force
/// within this interval (plus the time to parse it).
pub const RELOAD_INTERVAL: Duration = Duration::from_secs(2);

/// The cheap part of a file's identity: when a poll finds it unchanged, the file is
/// not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
}

impl Stamp {
    fn of(metadata: &std::fs::Metadata) -> Self {
        Self {
            modified: metadata.modified().ok(),
            len: metadata.len(),
        }
    }
}

/// What the poller last looked at, valid or not, so a bad file is reported once, not on
/// every poll.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    stamp: Option<Stamp>,
    hash: Option<[u8; 32]>,
}

/// The state shared by the handle and its poller.
#[derive(Debug)]
struct Shared {
    current: ArcSwap<EngineConfig>,
    /// How many distinct contents the poller has judged (swapped in or refused); tests
    /// wait on it.
    judged: AtomicU64,
}

/// The engine settings in force, reloaded when their file changes.
///
/// [`EngineHandle::current`] does no I/O: it loads the settings the poller swapped in.
/// Created inside a Tokio runtime from a file, the handle polls that file every
/// [`RELOAD_INTERVAL`] until it is dropped: a valid new file is swapped in atomically
/// for later invocations; an invalid or empty one is refused with a logged error and the
/// settings in force stay; a removed file changes nothing.
#[derive(Debug)]
pub struct EngineHandle {
    shared: Arc<Shared>,
    poller: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for EngineHandle {
    fn drop(&mut self) {
        if let Some(poller) = &self.poller {
            poller.abort();
        }
    }
}

impl EngineHandle {
    /// Loads the file at `path`, strictly: an invalid file is an error. A missing file
    /// is an error when `required`, else the defaults (and a file created later is
    /// picked up).
    ///
    /// # Errors
    /// [`SettingsError`] naming the file, line and key.
    pub fn load(path: &Path, required: bool) -> Result<Self, SettingsError> {
        Self::load_polling(path, required, RELOAD_INTERVAL)
    }

    fn load_polling(
        path: &Path,
        required: bool,
        interval: Duration,
    ) -> Result<Self, SettingsError> {
        let (config, seen) = read_initial(path, required)?;
        Ok(Self::watching(config, path, seen, interval))
    }

    /// Loads `path` as [`EngineHandle::load`] does when the file is required, except
    /// that while `path` does not exist the settings come from `fallback` (read
    /// strictly). The file at `path` is picked up once it appears, and from then on it
    /// alone counts: the fallback is never read again.
    ///
    /// # Errors
    /// [`SettingsError`] naming the file, line and key: of `path` when it exists, else
    /// of `fallback`.
    pub fn load_with_fallback(path: &Path, fallback: &Path) -> Result<Self, SettingsError> {
        Self::load_with_fallback_polling(path, fallback, RELOAD_INTERVAL)
    }

    fn load_with_fallback_polling(
        path: &Path,
        fallback: &Path,
        interval: Duration,
    ) -> Result<Self, SettingsError> {
        match std::fs::metadata(path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            _ => return Self::load_polling(path, true, interval),
        }
        let (config, _) = read_initial(fallback, true)?;
        tracing::warn!(
            path = %path.display(),
            fallback = %fallback.display(),
            "the engine settings file does not exist; using the fallback until it does"
        );
        Ok(Self::watching(config, path, Seen::default(), interval))
    }

    /// Fixed settings that never reload (tests, embedding).
    pub fn fixed(config: EngineConfig) -> Self {
        Self {
            shared: Arc::new(Shared::new(config)),
            poller: None,
        }
    }

    /// The settings in force.
    pub fn current(&self) -> Arc<EngineConfig> {
        self.shared.current.load_full()
    }

    /// A handle serving `config`, polling `path` when a Tokio runtime is there to run
    /// the poller (a handle made outside one keeps its settings).
    fn watching(config: EngineConfig, path: &Path, seen: Seen, interval: Duration) -> Self {
        let shared = Arc::new(Shared::new(config));
        let poller = tokio::runtime::Handle::try_current().ok().map(|runtime| {
            runtime.spawn(poll(
                Arc::downgrade(&shared),
                path.to_owned(),
                seen,
                interval,
            ))
        });
        Self { shared, poller }
    }
}

impl Shared {
    fn new(config: EngineConfig) -> Self {
        Self {
            current: ArcSwap::from_pointee(config),
            judged: AtomicU64::new(0),
        }
    }
}

/// The file at start-up, strictly, and what was seen of it.
fn read_initial(path: &Path, required: bool) -> Result<(EngineConfig, Seen), SettingsError> {
    let read = std::fs::metadata(path).and_then(|m| Ok((Stamp::of(&m), std::fs::read(path)?)));
    match read {
        Ok((stamp, bytes)) => {
            let config = EngineConfig::from_yaml(&String::from_utf8_lossy(&bytes), path)?;
            let seen = Seen {
                stamp: Some(stamp),
                hash: Some(Sha256::digest(&bytes).into()),
            };
            Ok((config, seen))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => {
            Ok((EngineConfig::default(), Seen::default()))
        }
        Err(source) => Err(SettingsError::Read {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The poller: every `interval`, looks at `path` until the handle is gone.
async fn poll(shared: Weak<Shared>, path: PathBuf, mut seen: Seen, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        let probe = {
            let (path, seen) = (path.clone(), seen);
            tokio::task::spawn_blocking(move || changed_content(&path, seen)).await
        };
        let Ok(Some((now_seen, bytes))) = probe else {
            continue;
        };
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let content_changed = now_seen.hash != seen.hash;
        seen = now_seen;
        if content_changed {
            judge(&shared, &path, &bytes);
        }
    }
}

/// What is seen of `path` now, and its bytes, when its stamp differs from `seen`'s
/// (`None` when unchanged or unreadable: a removed file changes nothing).
fn changed_content(path: &Path, seen: Seen) -> Option<(Seen, Vec<u8>)> {
    let stamp = Stamp::of(&std::fs::metadata(path).ok()?);
    if seen.stamp == Some(stamp) {
        return None;
    }
    let bytes = std::fs::read(path).ok()?;
    let hash = Sha256::digest(&bytes).into();
    Some((
        Seen {
            stamp: Some(stamp),
            hash: Some(hash),
        },
        bytes,
    ))
}

/// Swaps in the settings of a changed file, or refuses it with a logged error.
fn judge(shared: &Shared, path: &Path, bytes: &[u8]) {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        // An empty file is what a writer leaves between truncating and writing: never
        // a reason to drop every rule and setting in force.
        tracing::error!(
            path = %path.display(),
            "the engine settings file is empty; the previous settings stay in force"
        );
    } else {
        match EngineConfig::from_yaml(&String::from_utf8_lossy(bytes), path) {
            Ok(config) => {
                tracing::info!(
                    path = %path.display(),
                    rules = config.rules.len(),
                    "engine settings reloaded"
                );
                shared.current.store(Arc::new(config));
            }
            Err(e) => tracing::error!(
                error = %e,
                "the changed engine settings are invalid; the previous settings stay in force"
            ),
        }
    }
    shared.judged.fetch_add(1, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Duration = Duration::from_millis(20);

    /// Waits (at most 10 s) until the poller has judged more contents than `before`.
    async fn judged_after(handle: &EngineHandle, before: u64) -> u64 {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let judged = handle.shared.judged.load(Ordering::SeqCst);
            if judged > before {
                return judged;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the change was not looked at"
            );
            tokio::time::sleep(FAST).await;
        }
    }

    #[tokio::test]
    async fn a_changed_file_is_swapped_in_and_a_bad_one_refused() {
        let dir = std::env::temp_dir().join(format!("pm-reload-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("engine.yaml");
        std::fs::write(&path, "windows:\n  allowed_lateness: 1m\n").unwrap();
        let handle = EngineHandle::load_polling(&path, true, FAST).unwrap();
        assert_eq!(
            handle.current().windows.allowed_lateness,
            Duration::from_secs(60)
        );

        std::fs::write(
            &path,
            "windows:\n  allowed_lateness: 3m\nrules:\n  - name: n\n    aggregate: count()\n",
        )
        .unwrap();
        let judged = judged_after(&handle, 0).await;
        let good = handle.current();
        assert_eq!(good.windows.allowed_lateness, Duration::from_secs(180));
        assert_eq!(good.rules.len(), 1);

        std::fs::write(&path, "rules:\n  - name: n\n    aggregate: sum(amount)\n").unwrap();
        let judged = judged_after(&handle, judged).await;
        assert_eq!(
            handle.current(),
            good,
            "a bad file leaves the settings in force"
        );
        std::fs::write(&path, "").unwrap();
        judged_after(&handle, judged).await;
        assert_eq!(
            handle.current(),
            good,
            "an empty (half-written) file leaves the settings in force"
        );
        std::fs::remove_file(&path).unwrap();
        tokio::time::sleep(FAST * 10).await;
        assert_eq!(
            handle.current(),
            good,
            "a removed file leaves the settings in force"
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn the_fallback_serves_until_the_primary_file_appears_and_then_the_primary_wins() {
        let dir = std::env::temp_dir().join(format!("pm-fallback-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (primary, fallback) = (dir.join("uploaded.yaml"), dir.join("packaged.yaml"));
        let _ = std::fs::remove_file(&primary);
        std::fs::write(&fallback, "windows:\n  allowed_lateness: 2m\n").unwrap();
        let handle = EngineHandle::load_with_fallback_polling(&primary, &fallback, FAST).unwrap();
        assert_eq!(
            handle.current().windows.allowed_lateness,
            Duration::from_secs(120)
        );
        std::fs::write(&primary, "windows:\n  allowed_lateness: 4m\n").unwrap();
        judged_after(&handle, 0).await;
        assert_eq!(
            handle.current().windows.allowed_lateness,
            Duration::from_secs(240)
        );
        std::fs::write(&fallback, "windows:\n  allowed_lateness: 9m\n").unwrap();
        std::fs::remove_file(&primary).unwrap();
        tokio::time::sleep(FAST * 10).await;
        assert_eq!(
            handle.current().windows.allowed_lateness,
            Duration::from_secs(240),
            "once the primary appeared, the fallback is not read again"
        );
        let err = EngineHandle::load_with_fallback(&primary, &dir.join("absent.yaml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("absent.yaml"), "{err}");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_shipped_engine_file_loads() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/engine.yaml"));
        let config = EngineHandle::load(path, true).unwrap().current();
        assert_eq!(config.windows.allowed_lateness, Duration::from_secs(60));
    }

    /// Log lines written while it is held, as the JSON format writes them.
    #[derive(Clone, Default)]
    struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What `f` returns and the log lines it wrote.
    fn logged<T>(f: impl FnOnce() -> T) -> (T, Vec<serde_json::Value>) {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .json()
            .with_writer(move || writer.clone())
            .finish();
        let value = tracing::subscriber::with_default(subscriber, f);
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        let lines = text
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        (value, lines)
    }

    #[test]
    fn each_judged_change_is_logged_with_its_file_and_outcome() {
        let shared = Shared::new(EngineConfig::default());
        let path = Path::new("/srv/engine.yaml");
        let ((), lines) = logged(|| {
            judge(
                &shared,
                path,
                b"rules:\n  - name: n\n    aggregate: count()\n",
            );
            judge(&shared, path, b" \n");
            judge(&shared, path, b"windows: [");
        });
        assert_eq!(shared.judged.load(Ordering::SeqCst), 3);
        assert_eq!(
            shared.current.load().rules.len(),
            1,
            "only the valid file counts"
        );
        let summary: Vec<(&str, &str)> = lines
            .iter()
            .map(|l| {
                (
                    l["level"].as_str().unwrap(),
                    l["fields"]["message"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                ("INFO", "engine settings reloaded"),
                (
                    "ERROR",
                    "the engine settings file is empty; the previous settings stay in force"
                ),
                (
                    "ERROR",
                    "the changed engine settings are invalid; the previous settings stay in force"
                ),
            ]
        );
        assert_eq!(lines[0]["fields"]["path"], "/srv/engine.yaml");
        assert_eq!(lines[0]["fields"]["rules"], 1);
        assert_eq!(lines[1]["fields"]["path"], "/srv/engine.yaml");
        let error = lines[2]["fields"]["error"].as_str().unwrap();
        assert!(
            error.starts_with("invalid engine settings /srv/engine.yaml: "),
            "{error}"
        );
    }

    #[test]
    fn serving_the_fallback_is_logged_with_both_files() {
        let dir = std::env::temp_dir().join(format!("pm-fallback-log-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (primary, fallback) = (dir.join("uploaded.yaml"), dir.join("packaged.yaml"));
        std::fs::write(&fallback, "windows:\n  allowed_lateness: 2m\n").unwrap();
        let (handle, lines) = logged(|| EngineHandle::load_with_fallback(&primary, &fallback));
        assert_eq!(
            handle.unwrap().current().windows.allowed_lateness,
            Duration::from_secs(120)
        );
        assert_eq!(lines.len(), 1, "{lines:?}");
        let fields = &lines[0]["fields"];
        assert_eq!(lines[0]["level"], "WARN");
        assert_eq!(fields["path"], primary.display().to_string());
        assert_eq!(fields["fallback"], fallback.display().to_string());
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[tokio::test]
    async fn a_poller_whose_handle_is_gone_stops() {
        let path = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config/engine.yaml"));
        let ended = tokio::time::timeout(
            Duration::from_secs(10),
            poll(Weak::new(), path.to_owned(), Seen::default(), FAST),
        )
        .await;
        assert!(ended.is_ok(), "the poller outlived its handle");
    }
}
