//! `kesrs identity new` and `kesrs identity of`: API keys, certificates and identities, made and
//! computed locally, without a server.

use std::fs::OpenOptions;
use std::io::{IsTerminal as _, Write as _};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use clap::Args;

use kesrs_core::{ApiKey, CertificateOptions, ClientChainError, Identity};

#[derive(Debug, Args)]
pub(crate) struct NewIdentity {
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
    #[arg(long, value_name = "DURATION", default_value = "720h", value_parser = kesrs_core::config::parse_duration)]
    expiry: Duration,
    /// Overwrite existing files.
    #[arg(short, long)]
    force: bool,
    /// The certificate's common name (default: its identity).
    subject: Option<String>,
}

pub(crate) fn new_identity(args: NewIdentity) -> anyhow::Result<ExitCode> {
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

pub(crate) fn identity_of(value: &str) -> anyhow::Result<ExitCode> {
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
