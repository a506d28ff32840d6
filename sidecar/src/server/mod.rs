//! The KES server: `kesrs server`, and `kesrs check`, which checks a server's config before it serves.
//!
//! Start-up and the request path are in `serve`, read top to bottom; every other module is one step
//! of it or one thing the server keeps (see README.md for the module map).

mod api_error;
mod body;
mod check;
mod connection_threads;
mod dev;
mod gojson;
mod handlers;
mod http2_executor;
mod idle;
mod logs;
mod metrics;
mod noop;
mod reload;
mod response;
mod routes;
mod serve;
mod state;
mod tcp;
mod tls;

use std::io::{IsTerminal as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Context as _};
use bytes::Bytes;
use clap::Args;
use time::UtcOffset;
use tokio::sync::broadcast;
use tracing::Level;

use kesrs_core::Config;

use logs::{ErrorLevel, ErrorStreamLayer, LEVEL_INFO};
use serve::Options;
use state::Settings;

/// `kesrs server`.
#[derive(Debug, Args)]
pub(crate) struct ServerArgs {
    /// The config file.
    #[arg(long, value_name = "FILE", required_unless_present = "dev")]
    config: Option<PathBuf>,
    /// The address to listen on, IP:PORT; overrides the config's `address`.
    #[arg(long, value_name = "IP:PORT", value_parser = parse_addr)]
    addr: Option<SocketAddr>,
    /// DANGER: start an in-memory server with a fresh admin API key, for testing only.
    #[arg(long, conflicts_with = "config")]
    dev: bool,
    /// Do not reload when the config, certificate, key or CA files change; SIGHUP still reloads.
    #[arg(long)]
    no_watch: bool,
}

/// `kesrs check`.
#[derive(Debug, Args)]
pub(crate) struct CheckArgs {
    /// The config file.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// A host name or IP clients dial (the hosts of MINIO_KMS_KES_ENDPOINT); the certificate must
    /// name it. May be repeated.
    #[arg(long, value_name = "HOST")]
    dial: Vec<String>,
    /// A key MinIO uses (MINIO_KMS_KES_KEY_NAME, SSE-KMS key IDs), checked in the policies and the
    /// key store besides the config's `keys:`. May be repeated.
    #[arg(long, value_name = "NAME", value_parser = parse_key_name)]
    key: Vec<kesrs_core::KeyName>,
    /// A policy MinIO's identity uses; only these are checked against MinIO's routes (default: all).
    #[arg(long, value_name = "NAME")]
    minio_policy: Vec<String>,
    /// How much validity the server certificate must have left, as a Go duration.
    #[arg(long, value_name = "DURATION", default_value = "168h", value_parser = kesrs_core::config::parse_duration)]
    min_validity: Duration,
    /// Do not contact the key store (no reachability, permission or key checks).
    #[arg(long)]
    no_key_store: bool,
}

/// Runs `kesrs server` until SIGTERM or SIGINT. `local_offset` was read while the process was still
/// single-threaded.
pub(crate) fn run(args: ServerArgs, local_offset: UtcOffset) -> anyhow::Result<ExitCode> {
    let (error_stream, _) = broadcast::channel::<Bytes>(1024);
    let error_level = ErrorLevel::new(LEVEL_INFO);
    init_tracing(error_level.clone(), error_stream.clone());

    let (settings, config_path, dev_banner) = if args.dev {
        let addr = args.addr.unwrap_or(dev::DEFAULT_ADDR);
        let (settings, banner) = dev::settings(addr)?;
        banner
            .write_ca_file()
            .context("failed to write the dev server's certificate")?;
        (settings, None, Some(banner))
    } else {
        let Some(path) = args.config else {
            bail!("either --config or --dev is required");
        };
        let config = Config::from_file(&path)
            .with_context(|| format!("failed to load config '{}'", path.display()))?;
        (Settings::from_config(config, args.addr), Some(path), None)
    };
    error_level.set(settings.log.error);

    let options = Options {
        config_path,
        addr_override: args.addr,
        watch: !args.no_watch,
        error_level,
        error_stream,
        local_offset,
        dev_banner: dev_banner.as_ref(),
    };
    let served = server_runtime()?.block_on(serve::run(settings, options));
    if let Some(banner) = &dev_banner {
        banner.remove_ca_file();
    }
    served?;
    Ok(ExitCode::SUCCESS)
}

/// `kesrs noop-server`: hidden, for bench/compare.
#[derive(Debug, Args)]
pub(crate) struct NoopArgs {
    /// A `kesrs server` config file: only its address and TLS settings are used.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Answer generate and decrypt with fixed bodies of kesrs's shape and length, so that MinIO's
    /// client can call it as it calls kesrs; every other request gets the 32 fixed bytes.
    #[arg(long)]
    kes_answers: bool,
}

/// Runs the no-op server (`noop`) until it is killed.
pub(crate) fn run_noop(args: NoopArgs) -> anyhow::Result<ExitCode> {
    let config = Config::from_file(&args.config)
        .with_context(|| format!("failed to load config '{}'", args.config.display()))?;
    let settings = Settings::from_config(config, None);
    server_runtime()?.block_on(noop::run(settings, args.kes_answers))?;
    Ok(ExitCode::SUCCESS)
}

/// The runtime `kesrs server` starts on: it accepts connections, handles signals and reloads, and
/// hands each connection to a connection thread (`connection_threads`), so one thread is enough.
fn server_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")
}

/// Runs `kesrs check` and prints its findings; fails unless every item passed.
pub(crate) fn run_check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let options = check::Options {
        dial: args.dial,
        keys: args.key,
        minio_policies: args.minio_policy,
        min_validity: args.min_validity,
        key_store: !args.no_key_store,
        server_config: None,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let findings = runtime.block_on(check::run(&args.config, &options));
    let mut stdout = std::io::stdout().lock();
    for finding in &findings {
        writeln!(stdout, "{finding}")?;
    }
    let failed = findings
        .iter()
        .filter(|f| f.status == check::Status::Fail)
        .count();
    let ok = check::all_pass(&findings);
    if ok {
        writeln!(stdout, "\nall {} checks passed", findings.len())?;
    } else {
        writeln!(
            stdout,
            "\n{failed} of {} checks failed: fix them before starting kesrs",
            findings.len()
        )?;
    }
    stdout.flush()?;
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn parse_key_name(s: &str) -> Result<kesrs_core::KeyName, String> {
    kesrs_core::KeyName::new(s).map_err(|e| format!("invalid key name '{s}': {e}"))
}

/// Terminal logs on stderr (text on a TTY, JSON lines otherwise) and the `/v1/log/error` stream, both
/// at the config's `log.error` level. Other crates' events pass only from WARN up.
fn init_tracing(level: ErrorLevel, errors: broadcast::Sender<Bytes>) {
    use tracing_subscriber::filter::filter_fn;
    use tracing_subscriber::prelude::*;

    let filter = {
        let level = level.clone();
        filter_fn(move |meta| {
            level.enabled(meta.level())
                && (meta.target().starts_with("kesrs") || *meta.level() <= Level::WARN)
        })
    };
    let tty = std::io::stderr().is_terminal();
    let text = tty.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_filter(filter.clone())
    });
    let json = (!tty).then(|| {
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .with_filter(filter.clone())
    });
    let stream = ErrorStreamLayer::new(errors, level).with_filter(filter);
    // A static filter in front of the dynamic ones: callsites it refuses (hyper's and h2's many
    // trace spans) are disabled once, instead of creating span records on every request.
    let callsites = tracing_subscriber::filter::Targets::new()
        .with_target("kesrs", Level::DEBUG)
        .with_default(Level::WARN);
    let _ = tracing_subscriber::registry()
        .with(callsites)
        .with(text)
        .with(json)
        .with(stream)
        .try_init();
}

/// `IP:PORT`, or `:PORT` for all interfaces, as KES takes it.
fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    if let Some(port) = s.strip_prefix(':') {
        let port = port
            .parse::<u16>()
            .map_err(|e| format!("invalid port: {e}"))?;
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), port));
    }
    s.parse::<SocketAddr>()
        .map_err(|_| format!("'{s}' is not IP:PORT (the host must be an IP address)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(
            parse_addr(":7373").unwrap(),
            "0.0.0.0:7373".parse().unwrap()
        );
        assert_eq!(
            parse_addr("127.0.0.1:1").unwrap(),
            "127.0.0.1:1".parse().unwrap()
        );
        assert!(parse_addr("localhost:7373").is_err());
    }
}
