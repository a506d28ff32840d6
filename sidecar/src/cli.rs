//! The command line: `kesrs server` and `kesrs identity` (kes-protocol.md 11).

use std::fs::OpenOptions;
use std::io::{IsTerminal as _, Write as _};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use bytes::Bytes;
use clap::{Args, Parser, Subcommand};
use time::UtcOffset;
use tokio::sync::broadcast;
use tracing::Level;

use kesrs_core::{ApiKey, CertificateOptions, ClientChainError, Config, Identity};

use crate::bench::{self, BenchArgs};
use crate::check;
use crate::client_cli::{self, ClientArgs, KeyCommand, PolicyCommand};
use crate::dev;
use crate::envelope_cli::{self, OpenArgs, SealArgs};
use crate::logs::{ErrorLevel, ErrorStreamLayer, LEVEL_INFO};
use crate::server::{self, Options};
use crate::state::Settings;

/// kesrs: a KES-compatible key server for MinIO.
#[derive(Debug, Parser)]
#[command(name = "kesrs", version, about)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a KES server.
    Server(ServerArgs),
    /// Check a config before serving: files, certificate, policies, key store permissions, keys.
    Check(CheckArgs),
    /// Create API keys and certificates, compute identities, or ask a server about identities.
    #[command(subcommand)]
    Identity(IdentityCommand),
    /// Manage keys on a KES server.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Inspect a KES server's policies.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Show a KES server's status.
    Status {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Also list the server's API routes.
        #[arg(long)]
        api: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Print a KES server's metrics (Prometheus text format).
    Metric {
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Follow a KES server's audit log (default) or error log.
    Log {
        /// Follow the audit log.
        #[arg(long, conflicts_with = "error")]
        audit: bool,
        /// Follow the error log.
        #[arg(long)]
        error: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// Load a KES server (kesrs or Go KES) and report throughput and latency.
    Bench(BenchArgs),
    /// Seal stdin into an envelope (docs/envelope.md) on stdout, under a key of a server or `--fs`.
    Seal(SealArgs),
    /// Open an envelope from stdin; its plaintext goes to stdout.
    Open(OpenArgs),
}

#[derive(Debug, Args)]
struct ServerArgs {
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

#[derive(Debug, Args)]
struct CheckArgs {
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
    #[arg(long, value_name = "DURATION", default_value = "168h", value_parser = parse_go_duration)]
    min_validity: Duration,
    /// Do not contact the key store (no reachability, permission or key checks).
    #[arg(long)]
    no_key_store: bool,
}

#[derive(Debug, Subcommand)]
enum IdentityCommand {
    /// Create a new API key, or a private key and self-signed certificate.
    New(NewIdentity),
    /// Print the identity of an API key or a PEM certificate file.
    Of {
        /// A `kes:v1:` API key or a certificate file.
        value: String,
    },
    /// Describe an identity on a server, or the caller's own without an argument.
    Info {
        identity: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
    /// List the identities a server knows.
    Ls {
        #[arg(default_value = "*")]
        pattern: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        client: ClientArgs,
    },
}

#[derive(Debug, Args)]
struct NewIdentity {
    /// Write an Ed25519 private key (PKCS#8 PEM) to this file.
    #[arg(long, value_name = "FILE", requires = "cert")]
    key: Option<PathBuf>,
    /// Write a self-signed certificate (PEM) to this file.
    #[arg(long, value_name = "FILE", requires = "key")]
    cert: Option<PathBuf>,
    /// An IP address SAN; may be repeated.
    #[arg(long, value_name = "IP")]
    ip: Vec<IpAddr>,
    /// A DNS name SAN; may be repeated.
    #[arg(long, value_name = "NAME")]
    dns: Vec<String>,
    /// How long the certificate is valid, as a Go duration.
    #[arg(long, value_name = "DURATION", default_value = "720h", value_parser = parse_go_duration)]
    expiry: Duration,
    /// Overwrite existing files.
    #[arg(short, long)]
    force: bool,
    /// The certificate's common name (default: its identity).
    subject: Option<String>,
}

impl Cli {
    pub(crate) fn parse_args() -> Self {
        <Self as Parser>::parse()
    }

    /// Runs the command. `local_offset` was read while the process was still single-threaded.
    pub(crate) fn run(self, local_offset: UtcOffset) -> anyhow::Result<ExitCode> {
        match self.command {
            Command::Server(args) => run_server(args, local_offset),
            Command::Check(args) => run_check(args),
            Command::Identity(command) => match command {
                IdentityCommand::New(args) => new_identity(args),
                IdentityCommand::Of { value } => identity_of(&value),
                IdentityCommand::Info {
                    identity,
                    json,
                    client,
                } => client_cli::identity_info(&client, identity, json),
                IdentityCommand::Ls {
                    pattern,
                    json,
                    client,
                } => client_cli::identity_ls(&client, &pattern, json),
            },
            Command::Key { command, client } => client_cli::key(&client, command),
            Command::Policy { command, client } => client_cli::policy(&client, command),
            Command::Status { json, api, client } => client_cli::status(&client, json, api),
            Command::Metric { client } => client_cli::metric(&client),
            Command::Log { error, client, .. } => client_cli::log(&client, error),
            Command::Bench(args) => bench::run(args),
            Command::Seal(args) => envelope_cli::seal(args),
            Command::Open(args) => envelope_cli::open(args),
        }
    }
}

fn run_server(args: ServerArgs, local_offset: UtcOffset) -> anyhow::Result<ExitCode> {
    let (error_stream, _) = broadcast::channel::<Bytes>(1024);
    let error_level = ErrorLevel::new(LEVEL_INFO);
    init_tracing(error_level.clone(), error_stream.clone());

    let (settings, config_path) = if args.dev {
        let addr = args.addr.unwrap_or(dev::DEFAULT_ADDR);
        let (settings, api_key) = dev::settings(addr)?;
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(dev::banner(addr, &api_key).as_bytes())?;
        stdout.flush()?;
        (settings, None)
    } else {
        let Some(path) = args.config else {
            bail!("either --config or --dev is required");
        };
        let config = Config::from_file(&path)
            .with_context(|| format!("failed to load config '{}'", path.display()))?;
        (Settings::from_config(config, args.addr), Some(path))
    };
    error_level.set(settings.log.error);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("failed to start the async runtime")?;
    let options = Options {
        config_path,
        addr_override: args.addr,
        watch: !args.no_watch,
        error_level,
        error_stream,
        local_offset,
    };
    runtime.block_on(server::run(settings, options))?;
    Ok(ExitCode::SUCCESS)
}

fn run_check(args: CheckArgs) -> anyhow::Result<ExitCode> {
    let options = check::Options {
        dial: args.dial,
        keys: args.key,
        minio_policies: args.minio_policy,
        min_validity: args.min_validity,
        key_store: !args.no_key_store,
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

fn new_identity(args: NewIdentity) -> anyhow::Result<ExitCode> {
    let (Some(key_path), Some(cert_path)) = (&args.key, &args.cert) else {
        let api_key = ApiKey::generate().context("failed to generate an API key")?;
        let key = api_key.to_secret_string();
        println!(
            "Your API key:\n\n   {}\n\nThis is the only time it is shown. Keep it secret and secure!\n\n\
             Your identity:\n\n   {}\n\nThe identity is not a secret: put it in the config's \
             admin or policy identities.",
            key.as_str(),
            api_key.identity()
        );
        return Ok(ExitCode::SUCCESS);
    };
    if !args.force {
        for path in [key_path, cert_path] {
            if path.exists() {
                bail!(
                    "'{}' exists already; use --force to overwrite it",
                    path.display()
                );
            }
        }
    }
    // A file identity is an API key whose seed is written as a PKCS#8 file: kesrs-core builds the
    // certificate exactly as for API keys, with serverAuth and the SANs added.
    let api_key = ApiKey::generate().context("failed to generate an Ed25519 key")?;
    let identity = api_key.identity();
    let mut options = CertificateOptions::default();
    options.common_name = args.subject;
    options.dns_names = args.dns;
    options.ip_addresses = args.ip;
    options.validity = args.expiry;
    options.server_auth = true;
    let cert = api_key
        .certificate(&options)
        .context("failed to make the certificate")?;
    write_file(key_path, cert.key_pem().as_bytes(), 0o600)?;
    write_file(cert_path, cert.cert_pem().as_bytes(), 0o644)?;
    print_value(identity.as_str())?;
    Ok(ExitCode::SUCCESS)
}

fn identity_of(value: &str) -> anyhow::Result<ExitCode> {
    let path = Path::new(value);
    let identity = if value.starts_with("kes:v1:") || !path.is_file() {
        ApiKey::parse(value)
            .context("not an API key, nor a certificate file")?
            .identity()
    } else {
        let pem = std::fs::read(path).with_context(|| format!("failed to read '{value}'"))?;
        let mut chain = Vec::new();
        for block in x509_parser::pem::Pem::iter_from_buffer(&pem) {
            let block = block.with_context(|| format!("'{value}' is not PEM"))?;
            if block.label != "CERTIFICATE" {
                bail!(
                    "'{value}' contains a '{}' block: only certificates are allowed",
                    block.label
                );
            }
            chain.push(block.contents);
        }
        // The identity the server gives a client presenting this chain, or why it would refuse it.
        Identity::of_client_chain(&chain).map_err(|err| match err {
            ClientChainError::NoCertificate if chain.is_empty() => {
                anyhow!("'{value}' contains no certificate")
            }
            ClientChainError::NoCertificate => anyhow!(
                "'{value}' holds only CA certificates (basicConstraints CA:TRUE): KES and kesrs \
                 refuse them as client certificates"
            ),
            ClientChainError::CaEndEntity => anyhow!(
                "the first certificate in '{value}' is a CA certificate (basicConstraints CA:TRUE): \
                 kesrs refuses it as a client certificate"
            ),
            ClientChainError::TooMany => anyhow!(
                "'{value}' holds more than one certificate that is not a CA: a client presents one"
            ),
            ClientChainError::Invalid(reason) => anyhow!("{reason}"),
            _ => anyhow!("'{value}' is not a usable client certificate"),
        })?
    };
    print_value(identity.as_str())?;
    Ok(ExitCode::SUCCESS)
}

/// Prints a value for scripts: no trailing newline unless a person is watching.
fn print_value(value: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(value.as_bytes())?;
    if stdout.is_terminal() {
        stdout.write_all(b"\n")?;
    }
    stdout.flush()?;
    Ok(())
}

fn write_file(path: &Path, data: &[u8], mode: u32) -> anyhow::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(mode);
    }
    #[cfg(not(unix))]
    let _ = mode;
    let mut file = options
        .open(path)
        .with_context(|| format!("failed to create '{}'", path.display()))?;
    file.write_all(data)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("failed to write '{}'", path.display()))
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

/// A Go duration (`720h`, `1h30m`, `10s`), parsed as the config file's durations are.
pub(crate) fn parse_go_duration(s: &str) -> Result<Duration, String> {
    kesrs_core::config::parse_duration(s).ok_or_else(|| format!("invalid duration '{s}'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_durations() {
        assert_eq!(
            parse_go_duration("720h").unwrap(),
            Duration::from_secs(720 * 3600)
        );
        assert_eq!(
            parse_go_duration("1h30m").unwrap(),
            Duration::from_secs(5400)
        );
        assert_eq!(
            parse_go_duration("1.5s").unwrap(),
            Duration::from_millis(1500)
        );
        assert!(parse_go_duration("").is_err());
        assert!(parse_go_duration("10").is_err());
        assert!(parse_go_duration("3d").is_err());
        assert!(parse_go_duration("-1s").is_err());
    }

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

    #[test]
    fn command_line_is_consistent() {
        <Cli as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn dev_and_config_conflict() {
        let err =
            Cli::try_parse_from(["kesrs", "server", "--dev", "--config", "x.yml"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(Cli::try_parse_from(["kesrs", "server"]).is_err());
        assert!(Cli::try_parse_from(["kesrs", "server", "--dev"]).is_ok());
    }
}
