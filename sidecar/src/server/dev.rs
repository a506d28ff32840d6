//! `kesrs server --dev`: a working KES in one command, for trying things out. DANGER: keys live in
//! memory and vanish on exit, the server certificate is self-signed, and any client certificate is
//! accepted (only the printed admin API key is authorised).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context as _;
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use kesrs_core::config::{CacheConfig, ClientAuth, HttpConfig, KeyStoreConfig, LogConfig};
use kesrs_core::ApiKey;

use super::state::Settings;
use super::tls::{CertSource, TlsSettings};

/// `--dev`'s default address: loopback only, unlike KES's 0.0.0.0, since anyone could connect.
pub(crate) const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7373);

/// What `--dev` prints once it listens: everything a client needs, as shell lines.
#[derive(Debug)]
pub(crate) struct Banner {
    api_key: ApiKey,
    /// The server certificate as PEM, for clients to trust (`--ca`, MINIO_KMS_KES_CAPATH)...
    ca_pem: String,
    /// ...written here by [`Banner::write_ca_file`].
    ca_file: PathBuf,
}

impl Banner {
    /// The banner for a server on `listen` (the bound address, with its real port).
    pub(crate) fn text(&self, listen: SocketAddr) -> String {
        // The certificate names loopback, not the wildcard address, so clients dial loopback.
        let dial = match listen.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let endpoint = format!("https://{}", SocketAddr::new(dial, listen.port()));
        let key = self.api_key.to_secret_string();
        let ca = shell_quote(&self.ca_file.display().to_string());
        format!(
            "kesrs dev server: in-memory keys, self-signed certificate. For testing only.\n\
             \n\
             Endpoint: {endpoint}\n\
             Admin API key: {key}\n\
             Admin identity: {identity}\n\
             Server certificate: {ca}\n\
             \n\
             For the kesrs CLI (kesrs key create my-key) and MinIO, paste:\n\
             export KES_SERVER={endpoint}\n\
             export KES_API_KEY={key}\n\
             export MINIO_KMS_KES_CAPATH={ca}\n\
             Go's kes CLI has no CA setting: give it -k.\n",
            key = key.as_str(),
            identity = self.api_key.identity(),
        )
    }

    /// Writes the certificate to a new file in the temp directory, named after this process and the
    /// admin identity. The file must not exist: a file someone else planted there is never
    /// overwritten or followed.
    pub(crate) fn write_ca_file(&self) -> std::io::Result<()> {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&self.ca_file)?;
        file.write_all(self.ca_pem.as_bytes())
    }

    /// Removes the certificate file (at shutdown).
    pub(crate) fn remove_ca_file(&self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

/// The settings of a dev server on `addr`, and the banner to print once it listens.
pub(crate) fn settings(addr: SocketAddr) -> anyhow::Result<(Settings, Banner)> {
    let api_key = ApiKey::generate().context("failed to generate an API key")?;
    // A name of its own: named `localhost`, as KES names it, the certificate's issuer matched other
    // trust anchors of that name (Debian's ssl-cert-snakeoil.pem, an RSA key, sits in
    // /etc/ssl/certs), and clients reported a signature algorithm mismatch against that
    // certificate instead of "not trusted".
    let identity = api_key.identity();
    let common_name = format!(
        "kesrs dev server {}",
        identity.as_str().chars().take(16).collect::<String>()
    );
    let (chain, key, ca_pem) =
        server_certificate(addr.ip(), &common_name).context("failed to make a certificate")?;
    // Named after the identity too, which is random per start: a file a killed dev server left
    // behind (the next one may get its process ID, PID 1 in a restarted container), or one planted
    // under a guessed name, never stops a dev server from starting.
    let ca_file = std::env::temp_dir().join(format!(
        "kesrs-dev-{}-{}.crt",
        std::process::id(),
        identity.as_str().chars().take(16).collect::<String>()
    ));
    let settings = Settings {
        address: addr,
        admin: api_key.identity(),
        tls: TlsSettings {
            cert: CertSource::InMemory { chain, key },
            client_auth: ClientAuth::DangerAnyCertificate,
            ca: None,
            optional_client_cert: false,
        },
        policies: BTreeMap::new(),
        api: BTreeMap::new(),
        log: LogConfig::default(),
        http: HttpConfig::default(),
        keys: Vec::new(),
        keystore: KeyStoreConfig::Memory,
        cache: CacheConfig::default(),
    };
    let banner = Banner {
        api_key,
        ca_pem,
        ca_file,
    };
    Ok((settings, banner))
}

/// `value` as one shell word: bare if it has no special characters, else in single quotes.
fn shell_quote(value: &str) -> String {
    let plain = value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-:+,=@".contains(&b));
    if plain && !value.is_empty() {
        value.to_owned()
    } else {
        format!("'{}'", value.replace('\'', "'\\''"))
    }
}

/// A self-signed ECDSA P-256 certificate for `localhost`, 127.0.0.1, ::1 and the listen IP, valid for
/// 90 days, as KES's dev mode makes it (but named `common_name`); also as PEM.
fn server_certificate(
    listen: IpAddr,
    common_name: &str,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>, String)> {
    let key_pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    let mut ips = vec![
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    if !listen.is_unspecified() && !ips.contains(&listen) {
        ips.push(listen);
    }
    params
        .subject_alt_names
        .extend(ips.into_iter().map(SanType::IpAddress));
    params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now;
    params.not_after = now + time::Duration::days(90);
    let cert = params.self_signed(&key_pair)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key_pair.serialize_der()));
    Ok((vec![cert.der().clone()], key, cert.pem()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A dev server killed without its shutdown leaves its file behind, and the next one may get the
    /// same process ID (PID 1 in a restarted container): it must still start. The name is not
    /// guessable beforehand either, so nobody can plant a file there to stop a dev server.
    #[test]
    fn each_dev_server_writes_a_certificate_file_of_its_own() {
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0);
        let (_, first) = settings(addr).unwrap();
        let (_, second) = settings(addr).unwrap();
        first.write_ca_file().unwrap();
        let written = second.write_ca_file();
        first.remove_ca_file();
        second.remove_ca_file();
        written.unwrap();
        assert_ne!(first.ca_file, second.ca_file);
    }

    #[test]
    fn shell_words() {
        assert_eq!(
            shell_quote("/tmp/kesrs-dev-1-0123abcd.crt"),
            "/tmp/kesrs-dev-1-0123abcd.crt"
        );
        assert_eq!(shell_quote("/tmp/a b/it's"), "'/tmp/a b/it'\\''s'");
    }
}
