//! `kesrs server --dev`: a working KES in one command, for trying things out. DANGER: keys live in
//! memory and vanish on exit, the server certificate is self-signed, and any client certificate is
//! accepted (only the printed admin API key is authorised).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use anyhow::Context as _;
use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, KeyPair, SanType};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use kesrs_core::config::{CacheConfig, ClientAuth, HttpConfig, KeyStoreConfig, LogConfig};
use kesrs_core::ApiKey;

use super::state::Settings;
use super::tls::{CertSource, TlsSettings};

/// `--dev`'s default address: loopback only, unlike KES's 0.0.0.0, since anyone could connect.
pub(crate) const DEFAULT_ADDR: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 7373);

/// The settings of a dev server on `addr`, and the admin API key to print.
pub(crate) fn settings(addr: SocketAddr) -> anyhow::Result<(Settings, ApiKey)> {
    let api_key = ApiKey::generate().context("failed to generate an API key")?;
    let (chain, key) = server_certificate(addr.ip()).context("failed to make a certificate")?;
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
    Ok((settings, api_key))
}

/// What `--dev` prints at start: how to reach the server and with which key.
pub(crate) fn banner(addr: SocketAddr, api_key: &ApiKey) -> String {
    let key = api_key.to_secret_string();
    let endpoint = format!("https://{addr}");
    format!(
        "kesrs dev server: in-memory keys, self-signed certificate. For testing only.\n\
         \n\
         Endpoint: {endpoint}\n\
         Admin API key: {key}\n\
         Admin identity: {identity}\n\
         \n\
         export KES_SERVER={endpoint}\n\
         export KES_API_KEY={key}\n",
        key = key.as_str(),
        identity = api_key.identity(),
    )
}

/// A self-signed ECDSA P-256 certificate for `localhost`, 127.0.0.1, ::1 and the listen IP, valid for
/// 90 days, as KES's dev mode makes it.
fn server_certificate(
    listen: IpAddr,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let key_pair = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = CertificateParams::new(vec!["localhost".to_owned()])?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
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
    Ok((vec![cert.der().clone()], key))
}
