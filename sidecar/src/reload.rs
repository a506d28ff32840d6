//! SIGHUP: re-read the config file and swap the whole state, or keep the old one if anything fails.
//!
//! Connections already open keep their TLS session; new ones get the new certificate. In-flight
//! requests finish on the state they started with (each holds its own `Arc<State>`).

use std::sync::Arc;

use tracing::{error, info, warn};

use kesrs_core::Config;

use crate::server::build_state;
use crate::state::{Settings, SetupError, Shared};

/// Reloads on every SIGHUP until the process ends.
pub(crate) async fn on_sighup(shared: Arc<Shared>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hangups = match signal(SignalKind::hangup()) {
            Ok(hangups) => hangups,
            Err(err) => {
                warn!("cannot listen for SIGHUP, reloading is off: {err}");
                return;
            }
        };
        while hangups.recv().await.is_some() {
            match reload(&shared).await {
                Ok(true) => info!("configuration reloaded"),
                Ok(false) => info!("SIGHUP ignored: no config file to reload (--dev)"),
                Err(err) => {
                    error!("failed to reload the configuration, keeping the current one: {err}")
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = shared;
}

/// Builds a new state from the config file and swaps it in; `Ok(false)` if there is no file.
pub(crate) async fn reload(shared: &Shared) -> Result<bool, SetupError> {
    let Some(path) = shared.config_path.clone() else {
        return Ok(false);
    };
    let addr = shared.addr_override;
    let config = tokio::task::spawn_blocking(move || Config::from_file(&path))
        .await
        .map_err(|e| SetupError::Other(format!("reading the config failed: {e}")))??;
    let settings = Settings::from_config(config, addr);
    let state = build_state(settings, shared.resumption.clone()).await?;
    state.create_keys().await?;
    let current = shared.state.load();
    if state.settings.address != current.settings.address {
        warn!(
            "the listen address changed to {}; that takes a restart",
            state.settings.address
        );
    }
    shared.error_level.set(state.settings.log.error);
    shared.logs.set_audit_level(state.settings.log.audit);
    shared.state.store(Arc::new(state));
    Ok(true)
}
