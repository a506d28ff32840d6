//! Reload: on SIGHUP and when the config, certificate, key or CA files change on disk, re-read the
//! config and swap the state, or keep the old one if anything fails.
//!
//! Connections already open keep their TLS session; new ones get the new certificate. In-flight
//! requests finish on the state they started with (each holds its own `Arc<State>`). The key store
//! (and its key cache) is kept when its config is unchanged, so a certificate rotation costs no
//! key-store round trips. Every reload is logged with its outcome and counted in `kesrs_reload_*`.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tracing::{debug, error, info, warn};

use kesrs_core::Config;

use super::state::{build_state, Settings, SetupError, Shared};
use super::tls::CertSource;

/// How long the files must be quiet before a change is reloaded: cert-manager and Kubernetes write
/// a certificate, its key and the CA as several events, which must become one reload.
const DEBOUNCE: Duration = Duration::from_millis(500);

/// Reloads on every SIGHUP until the process ends.
pub(crate) async fn on_sighup(shared: Arc<Shared>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(err) => {
                warn!("cannot listen for SIGHUP, reloading on signal is off: {err}");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            if shared.config_path.is_none() {
                info!("SIGHUP ignored: no config file to reload (--dev)");
                continue;
            }
            reload_and_log(&shared, "SIGHUP").await;
        }
    }
    #[cfg(not(unix))]
    let _ = shared;
}

/// Reloads and logs the outcome; `trigger` says why (SIGHUP, or the file that changed).
pub(crate) async fn reload_and_log(shared: &Shared, trigger: &str) {
    match reload(shared).await {
        Ok(Some(outcome)) => {
            let expires = outcome
                .cert_not_after
                .map(|t| kesrs_core::rfc3339(&t))
                .unwrap_or_else(|| "unknown".into());
            info!(
                trigger,
                generation = outcome.generation,
                key_store = if outcome.kept_key_store {
                    "kept"
                } else {
                    "reopened"
                },
                certificate_expires = %expires,
                "configuration reloaded"
            );
        }
        Ok(None) => {}
        Err(err) => {
            shared.metrics.reload.failed();
            error!(
                trigger,
                "failed to reload the configuration, keeping the current one: {err}"
            );
        }
    }
}

/// What a successful reload did.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) generation: u64,
    pub(crate) kept_key_store: bool,
    pub(crate) cert_not_after: Option<time::OffsetDateTime>,
}

/// Builds a new state from the config file and swaps it in; `None` if there is no file.
pub(crate) async fn reload(shared: &Shared) -> Result<Option<Outcome>, SetupError> {
    let Some(config_path) = shared.config_path.clone() else {
        return Ok(None);
    };
    let path = config_path.clone();
    let _one_at_a_time = shared.reload_lock.lock().await;
    let addr = shared.addr_override;
    let config = tokio::task::spawn_blocking(move || Config::from_file(&path))
        .await
        .map_err(|e| SetupError::Other(format!("reading the config failed: {e}")))??;
    let settings = Settings::from_config(config, addr);
    let current = shared.state.load_full();
    let kept_key_store = current.keeps_key_store(&settings);
    let state = build_state(settings, shared.resumption.clone(), Some(current.clone())).await?;
    state.create_keys().await?;
    if state.settings.address != current.settings.address {
        warn!(
            "the listen address changed to {}; that takes a restart",
            state.settings.address
        );
    }
    for finding in super::check::static_findings(&state.settings, &config_path) {
        finding.log();
    }
    let cert_not_after = state.cert_not_after;
    shared.error_level.set(state.settings.log.error);
    shared.logs.set_audit_level(state.settings.log.audit);
    shared.state.store(Arc::new(state));
    let generation = shared.metrics.reload.succeeded();
    Ok(Some(Outcome {
        generation,
        kept_key_store,
        cert_not_after,
    }))
}

/// Reloads when a watched file changes, until the process ends. Watches the directories holding the
/// config file, the certificate, the key and the CA (and the CA directory itself), since Kubernetes
/// and cert-manager replace files by swapping a symlink rather than writing them.
pub(crate) async fn watch_files(shared: Arc<Shared>) {
    use notify::Watcher as _;

    let Some(config_path) = shared.config_path.clone() else {
        return;
    };
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let mut watcher = match notify::recommended_watcher(move |event| {
        let _ = tx.send(event);
    }) {
        Ok(watcher) => watcher,
        Err(err) => {
            warn!(
                "cannot watch files, reloading on file changes is off (SIGHUP still works): {err}"
            );
            return;
        }
    };
    let mut watched = Targets::default();
    loop {
        let targets = Targets::of(&config_path, &shared.state.load().settings);
        for dir in watched.dirs.difference(&targets.dirs) {
            let _ = watcher.unwatch(dir);
        }
        for dir in targets.dirs.difference(&watched.dirs) {
            match watcher.watch(dir, notify::RecursiveMode::NonRecursive) {
                Ok(()) => debug!(dir = %dir.display(), "watching for changes"),
                Err(err) => warn!(
                    dir = %dir.display(),
                    "cannot watch for changes, reload with SIGHUP instead: {err}"
                ),
            }
        }
        watched = targets;

        // Wait for a relevant change, then for the files to be quiet.
        let changed = loop {
            match events.recv().await {
                None => return,
                Some(Ok(event)) => {
                    if let Some(path) = watched.relevant(&event) {
                        break path;
                    }
                }
                Some(Err(err)) => warn!("file watcher error: {err}"),
            }
        };
        loop {
            match tokio::time::timeout(DEBOUNCE, events.recv()).await {
                Ok(Some(_)) => {}
                Ok(None) => return,
                Err(_) => break,
            }
        }
        let trigger = format!("file changed: {}", changed.display());
        reload_and_log(&shared, &trigger).await;
    }
}

/// The files a reload reads, and the directories to watch for them.
#[derive(Debug, Default)]
struct Targets {
    files: BTreeSet<PathBuf>,
    /// Directories whose every entry counts (a CA directory).
    whole_dirs: BTreeSet<PathBuf>,
    dirs: BTreeSet<PathBuf>,
}

impl Targets {
    fn of(config: &Path, settings: &Settings) -> Self {
        let mut targets = Self::default();
        targets.add_file(config);
        if let CertSource::Files { cert, key, .. } = &settings.tls.cert {
            targets.add_file(cert);
            targets.add_file(key);
        }
        if let Some(ca) = &settings.tls.ca {
            if ca.is_dir() {
                let ca = absolute(ca);
                targets.dirs.insert(ca.clone());
                if let Some(parent) = ca.parent() {
                    targets.dirs.insert(parent.to_path_buf());
                }
                targets.whole_dirs.insert(ca);
            } else {
                targets.add_file(ca);
            }
        }
        targets
    }

    fn add_file(&mut self, path: &Path) {
        let path = absolute(path);
        if let Some(parent) = path.parent() {
            self.dirs.insert(parent.to_path_buf());
        }
        self.files.insert(path);
    }

    /// The path that makes `event` worth a reload, if any. Reads (the reload's own) do not count.
    fn relevant(&self, event: &notify::Event) -> Option<PathBuf> {
        use notify::event::{AccessKind, AccessMode, EventKind};
        match event.kind {
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => {}
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {}
            _ => return None,
        }
        event
            .paths
            .iter()
            .find(|path| {
                self.files.contains(*path)
                    || path
                        .parent()
                        .is_some_and(|parent| self.whole_dirs.contains(parent))
                    || self.whole_dirs.contains(*path)
                    // Kubernetes' atomic writer swaps `..data` and its timestamped directories.
                    || (path
                        .file_name()
                        .is_some_and(|name| name.to_string_lossy().starts_with(".."))
                        && path.parent().is_some_and(|p| self.dirs.contains(p)))
            })
            .cloned()
    }
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, AccessMode, CreateKind, EventKind, ModifyKind};

    fn targets() -> Targets {
        let mut t = Targets::default();
        t.add_file(Path::new("/etc/kesrs/config.yml"));
        t.add_file(Path::new("/certs/tls.crt"));
        t.add_file(Path::new("/certs/tls.key"));
        t
    }

    fn event(kind: EventKind, path: &str) -> notify::Event {
        notify::Event::new(kind).add_path(PathBuf::from(path))
    }

    #[test]
    fn only_writes_to_watched_files_count() {
        let t = targets();
        assert_eq!(
            t.dirs
                .iter()
                .map(|d| d.to_str().unwrap())
                .collect::<Vec<_>>(),
            ["/certs", "/etc/kesrs"]
        );
        let modify = EventKind::Modify(ModifyKind::Any);
        assert!(t.relevant(&event(modify, "/certs/tls.crt")).is_some());
        assert!(t.relevant(&event(modify, "/certs/other.pem")).is_none());
        assert!(t
            .relevant(&event(
                EventKind::Access(AccessKind::Close(AccessMode::Write)),
                "/certs/tls.key"
            ))
            .is_some());
        // Reading the files (the reload itself) must not trigger another reload.
        assert!(t
            .relevant(&event(
                EventKind::Access(AccessKind::Open(AccessMode::Any)),
                "/certs/tls.key"
            ))
            .is_none());
        // Kubernetes secret volumes: `..data` is swapped.
        assert!(t
            .relevant(&event(EventKind::Create(CreateKind::Any), "/certs/..data"))
            .is_some());
        assert!(t
            .relevant(&event(
                EventKind::Create(CreateKind::Any),
                "/elsewhere/..data"
            ))
            .is_none());
    }
}
