//! The KES YAML config: good files parse into the expected values, and each broken field gives an error
//! that names it.

// The helpers below are not `#[test]` functions, so clippy.toml's test allowances do not reach them;
// a panic in a test helper is a failed test, not a crashed server.
#![allow(clippy::panic, clippy::unwrap_used, clippy::indexing_slicing)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use kesrs_core::config::{
    AzureCredentials, CacheConfig, ClientAuth, ConfigError, ConfigErrorKind, HttpConfig,
    KeyStoreConfig, LogConfig, Secret,
};
use kesrs_core::{Config, Identity, KeyName};

const ADMIN: &str = "3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22";
const APP: &str = "0426fa9a04bc2756b92fbe8a97e1a1e07b53ecf04ed33da22c33e5c9faeb8cbb";
const MINIO: &str = "ab785e3b95d80d72cc9c27cb9fde886a0bf9068a69d40e3bd08a54e68c3f2bf7";
const PROXY: &str = "ea9826089311fe44d7590408ede9150f7c637b6cab0a91ee6fe1aa5d9fb366f6";

/// The smallest valid config; tests add or replace sections.
const MINIMAL: &str = "\
admin:
  identity: disabled
tls:
  key: ./key.pem
  cert: ./cert.pem
keystore:
  fs:
    path: ./keys
";

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let vars: BTreeMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    move |name| vars.get(name).cloned()
}

fn parse(yaml: &str) -> Result<Config, ConfigError> {
    Config::from_yaml(yaml, &env(&[]))
}

fn parse_ok(yaml: &str) -> Config {
    parse(yaml).unwrap_or_else(|err| panic!("{err}\n{yaml}"))
}

fn parse_err(yaml: &str) -> ConfigError {
    match parse(yaml) {
        Ok(config) => panic!("accepted: {config:?}\n{yaml}"),
        Err(err) => err,
    }
}

/// `MINIMAL` plus `extra` at the top level.
fn with(extra: &str) -> String {
    format!("{MINIMAL}{extra}")
}

fn identities(ids: &[&str]) -> Vec<Identity> {
    ids.iter()
        .map(|id| {
            parse_ok(&format!(
                "admin: {{identity: {id}}}\ntls: {{key: k, cert: c}}\nkeystore: {{fs: {{path: p}}}}"
            ))
            .admin
        })
        .collect()
}

fn identity(id: &str) -> Identity {
    identities(&[id]).remove(0)
}

fn patterns(list: &[&str]) -> std::collections::BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn minimal_config_has_the_defaults() {
    let config = parse_ok(MINIMAL);
    assert_eq!(
        config.address,
        "0.0.0.0:7373".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(config.admin.as_str(), "disabled");
    assert!(!config.admin.is_public_key_hash());
    assert_eq!(config.tls.key, PathBuf::from("./key.pem"));
    assert_eq!(config.tls.cert, PathBuf::from("./cert.pem"));
    assert!(config.tls.password.is_none());
    assert_eq!(config.tls.client_auth, ClientAuth::DangerAnyCertificate);
    assert!(config.tls.ca.is_none());
    assert!(config.tls.proxy_identities.is_empty());
    assert!(config.tls.proxy_cert_header.is_none());
    assert!(config.policies.is_empty());
    assert_eq!(config.cache, CacheConfig::default());
    assert_eq!(config.cache.any, Duration::from_secs(300));
    assert_eq!(config.cache.unused, Duration::from_secs(30));
    assert_eq!(config.cache.offline, Duration::ZERO);
    assert!(config.api.is_empty());
    assert!(!config.relaxes_client_auth());
    assert_eq!(config.log, LogConfig::default());
    assert_eq!((config.log.error, config.log.audit), (0, 0));
    assert!(config.keys.is_empty());
    assert!(
        matches!(&config.keystore, KeyStoreConfig::Fs { path } if path == &PathBuf::from("./keys"))
    );
    assert_eq!(config.http, HttpConfig::default());
    assert_eq!(config.http.idle_timeout, Duration::from_secs(90));
}

/// `http.idle_timeout` (kesrs extension): Go KES's 90 s by default; `0s` keeps the default, since no
/// idle timeout at all let idle connections hold file descriptors for good.
#[test]
fn http_idle_timeout() {
    let idle = |yaml: &str| parse_ok(&with(yaml)).http.idle_timeout;
    assert_eq!(
        idle("http:\n  idle_timeout: 30s\n"),
        Duration::from_secs(30)
    );
    assert_eq!(idle("http:\n  idle_timeout: 0s\n"), Duration::from_secs(90));
    assert_eq!(idle("http:\n"), Duration::from_secs(90));
    let err = parse_err(&with("http:\n  idle_timeout: soon\n"));
    assert_eq!(err.field(), "http.idle_timeout");
}

const FULL: &str = r#"
version: v1
address: 127.0.0.1:7000
admin:
  identity: 3ecfcdf38fcbe141ae26a1030f81e96b753365a46760ae6b578698a97c59fd22
tls:
  key: /etc/kes/private.key
  cert: /etc/kes/public.crt
  password: correct horse battery staple
  auth: On
  ca: /etc/kes/ca
  proxy:
    identities:
      - ea9826089311fe44d7590408ede9150f7c637b6cab0a91ee6fe1aa5d9fb366f6
    header:
      cert: X-Tls-Client-Cert
policy:
  my-app:
    allow:
      - /v1/key/generate/my-app*
      - /v1/key/decrypt/my-app*
      - /v1/key/generate/my-app*
    deny:
      - /v1/key/generate/my-app-internal*
    identities:
      - 0426fa9a04bc2756b92fbe8a97e1a1e07b53ecf04ed33da22c33e5c9faeb8cbb
  minio:
    allow: [ "/v1/key/*", /v1/status ]
    identities: [ ab785e3b95d80d72cc9c27cb9fde886a0bf9068a69d40e3bd08a54e68c3f2bf7 ]
  nobody:
cache:
  expiry:
    any: 1h2m3s
    unused: 300ms
    offline: 2h
api:
  /v1/status:
    skip_auth: yes
    timeout: 5s
  /v1/metrics:
    skip_auth: false
    timeout: 0s
  /v1/key/create/:
    timeout: 1m
log:
  error: WARN
  audit: off
keys:
  - name: minio-key
  - name: my-app-key
keystore:
  fs:
    path: /var/lib/kes
unknown_top_level: ignored
"#;

#[test]
fn full_config() {
    let config = parse_ok(FULL);
    assert_eq!(
        config.address,
        "127.0.0.1:7000".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(config.admin.as_str(), ADMIN);
    assert!(config.admin.is_public_key_hash());

    let tls = &config.tls;
    assert_eq!(tls.key, PathBuf::from("/etc/kes/private.key"));
    assert_eq!(tls.cert, PathBuf::from("/etc/kes/public.crt"));
    assert_eq!(
        tls.password.as_ref().map(Secret::expose),
        Some("correct horse battery staple")
    );
    assert_eq!(tls.client_auth, ClientAuth::Verify);
    assert_eq!(tls.ca, Some(PathBuf::from("/etc/kes/ca")));
    assert_eq!(tls.proxy_identities, identities(&[PROXY]));
    assert_eq!(tls.proxy_cert_header.as_deref(), Some("X-Tls-Client-Cert"));

    assert_eq!(
        config.policies.keys().collect::<Vec<_>>(),
        ["minio", "my-app", "nobody"]
    );
    let my_app = &config.policies["my-app"];
    assert_eq!(
        my_app.policy.allow,
        patterns(&["/v1/key/decrypt/my-app*", "/v1/key/generate/my-app*"])
    );
    assert_eq!(
        my_app.policy.deny,
        patterns(&["/v1/key/generate/my-app-internal*"])
    );
    assert_eq!(my_app.identities, identities(&[APP]));
    assert!(my_app.policy.verify("/v1/key/generate/my-app-1"));
    assert!(!my_app.policy.verify("/v1/key/generate/my-app-internal-1"));
    let minio = &config.policies["minio"];
    assert_eq!(minio.policy.allow, patterns(&["/v1/key/*", "/v1/status"]));
    assert!(minio.policy.deny.is_empty());
    assert_eq!(minio.identities, identities(&[MINIO]));
    let nobody = &config.policies["nobody"];
    assert!(nobody.identities.is_empty());
    assert!(!nobody.policy.verify("/v1/status"));

    let (name, policy) = config.policy_for(&identity(APP)).unwrap();
    assert_eq!(name, "my-app");
    assert_eq!(policy, &my_app.policy);
    assert_eq!(config.policy_for(&identity(MINIO)).unwrap().0, "minio");
    assert!(config.policy_for(&identity(ADMIN)).is_none());
    assert!(config.policy_for(&identity(PROXY)).is_none());

    assert_eq!(config.cache.any, Duration::from_secs(3723));
    assert_eq!(config.cache.unused, Duration::from_millis(300));
    assert_eq!(config.cache.offline, Duration::from_secs(7200));

    assert_eq!(config.api.len(), 3);
    let status = config.api["/v1/status"];
    assert!(status.skip_auth);
    assert_eq!(status.timeout, Some(Duration::from_secs(5)));
    let metrics = config.api["/v1/metrics"];
    assert!(!metrics.skip_auth);
    assert_eq!(metrics.timeout, None);
    let create = config.api["/v1/key/create/"];
    assert!(!create.skip_auth);
    assert_eq!(create.timeout, Some(Duration::from_secs(60)));
    assert!(config.relaxes_client_auth());

    assert_eq!(config.log.error, 4);
    assert_eq!(config.log.audit, 9);

    assert_eq!(
        config.keys,
        [
            KeyName::new("minio-key").unwrap(),
            KeyName::new("my-app-key").unwrap()
        ]
    );
    assert!(
        matches!(&config.keystore, KeyStoreConfig::Fs { path } if path == &PathBuf::from("/var/lib/kes"))
    );
}

#[test]
fn example_config_parses() {
    let text = include_str!("../../examples/config.yaml");
    let config = Config::from_yaml(
        text,
        &env(&[
            ("KESRS_ADMIN_IDENTITY", ADMIN),
            ("MY_APP_IDENTITY", APP),
            ("MINIO_IDENTITY", MINIO),
        ]),
    )
    .unwrap();
    assert_eq!(config.admin.as_str(), ADMIN);
    assert_eq!(config.policies["my-app"].identities, identities(&[APP]));
    assert_eq!(config.policies["minio"].identities, identities(&[MINIO]));
    assert_eq!(config.cache, CacheConfig::default());
    assert_eq!(config.keys, [KeyName::new("minio-default-key").unwrap()]);
    assert!(matches!(config.keystore, KeyStoreConfig::Fs { .. }));
    assert_eq!(config.tls.client_auth, ClientAuth::DangerAnyCertificate);
    assert!(config.tls.password.is_none());
    assert!(!config.relaxes_client_auth());

    // The example names the variables it needs.
    let err = Config::from_yaml(text, &env(&[])).unwrap_err();
    assert_eq!(
        err.to_string(),
        "admin.identity: referenced environment variable 'KESRS_ADMIN_IDENTITY' is not defined (line 30)"
    );
}

/// The example's Azure section, uncommented in place of `fs:`, parses with the kesrs extensions.
#[test]
fn example_config_azure_section_parses() {
    let text = include_str!("../../examples/config.yaml");
    let (head, tail) = text.split_once("  fs:\n").unwrap();
    let (_, azure) = tail.split_once("  # azure:\n").unwrap();
    let mut yaml = format!("{head}  azure:\n");
    for line in azure.lines() {
        // `  #   keyvault:` → `    keyvault:`; doubly commented alternatives stay comments.
        yaml.push_str(&line.replacen("  # ", "  ", 1));
        yaml.push('\n');
    }
    let config = Config::from_yaml(
        &yaml,
        &env(&[
            ("KESRS_ADMIN_IDENTITY", ADMIN),
            ("MY_APP_IDENTITY", APP),
            ("MINIO_IDENTITY", MINIO),
            ("AZURE_TENANT_ID", "t"),
            ("AZURE_CLIENT_ID", "c"),
            ("AZURE_CLIENT_SECRET", "s"),
        ]),
    )
    .unwrap_or_else(|err| panic!("{err}\n{yaml}"));
    let KeyStoreConfig::Azure(vault) = &config.keystore else {
        panic!("{:?}", config.keystore)
    };
    assert_eq!(vault.endpoint, "https://my-vault.vault.azure.net");
    assert!(matches!(
        vault.credentials,
        AzureCredentials::ClientSecret { .. }
    ));
    assert_eq!(vault.ca, Some(PathBuf::from("/etc/kesrs/azure-ca.pem")));
    assert_eq!(vault.timeout, Some(Duration::from_secs(10)));
}

#[test]
fn env_substitution() {
    let yaml = r#"
address: ${ADDR}
admin:
  identity: "  ${ ADMIN }  "
tls:
  key: ${KEY}
  cert: prefix-${CERT}
  password: ${PASSWORD}
  auth: ${AUTH}
policy:
  p:
    allow: [ "${NOT_SUBSTITUTED}" ]
    identities:
      - ${APP}
      - ${EMPTY}
      - ""
cache:
  expiry:
    any: ${ANY}
    unused: ${EMPTY}
api:
  /v1/status:
    skip_auth: ${SKIP}
    timeout: ${TIMEOUT}
log:
  error: ${LEVEL}
keys:
  - name: ${KEY_NAME}
keystore:
  fs:
    path: ${DIR}
"#;
    let lookup = env(&[
        ("ADDR", "[::1]:7373"),
        ("ADMIN", ADMIN),
        ("KEY", "/secret/key.pem"),
        ("PASSWORD", "hunter2"),
        ("AUTH", "on"),
        ("APP", APP),
        ("EMPTY", ""),
        ("ANY", "10m"),
        ("SKIP", "on"),
        ("TIMEOUT", "3s"),
        ("LEVEL", "debug"),
        ("KEY_NAME", "from-env"),
        ("DIR", "/data/keys"),
        ("CERT", "never-read"),
    ]);
    let config = Config::from_yaml(yaml, &lookup).unwrap();
    assert_eq!(config.address, "[::1]:7373".parse::<SocketAddr>().unwrap());
    assert_eq!(config.admin.as_str(), ADMIN);
    assert_eq!(config.tls.key, PathBuf::from("/secret/key.pem"));
    // No interpolation inside longer text.
    assert_eq!(config.tls.cert, PathBuf::from("prefix-${CERT}"));
    assert_eq!(config.tls.password.as_ref().unwrap().expose(), "hunter2");
    assert_eq!(config.tls.client_auth, ClientAuth::Verify);
    // Patterns are not env fields.
    assert_eq!(
        config.policies["p"].policy.allow,
        patterns(&["${NOT_SUBSTITUTED}"])
    );
    // A defined but empty variable, like an empty item, names no identity.
    assert_eq!(config.policies["p"].identities, identities(&[APP]));
    assert_eq!(config.cache.any, Duration::from_secs(600));
    // Defined but empty: the default.
    assert_eq!(config.cache.unused, Duration::from_secs(30));
    assert!(config.api["/v1/status"].skip_auth);
    assert_eq!(
        config.api["/v1/status"].timeout,
        Some(Duration::from_secs(3))
    );
    assert_eq!(config.log.error, -4);
    assert_eq!(config.keys, [KeyName::new("from-env").unwrap()]);
    assert!(
        matches!(&config.keystore, KeyStoreConfig::Fs { path } if path == &PathBuf::from("/data/keys"))
    );
}

#[test]
fn env_substitution_errors_name_the_variable_and_field() {
    let cases = [
        (
            "admin:\n  identity: ${NOPE}\ntls: {key: k, cert: c}\nkeystore: {fs: {path: p}}\n",
            "admin.identity: referenced environment variable 'NOPE' is not defined (line 2)",
        ),
        (
            &with("cache:\n  expiry:\n    unused: ${ UNSET_TTL }\n"),
            "cache.expiry.unused: referenced environment variable 'UNSET_TTL' is not defined (line 11)",
        ),
        (
            &with("policy:\n  p:\n    identities:\n      - a\n      - ${MISSING_ID}\n"),
            "policy.p.identities[1]: referenced environment variable 'MISSING_ID' is not defined (line 13)",
        ),
        (
            &with("keys:\n- name: ${K}\n"),
            "keys[0].name: referenced environment variable 'K' is not defined (line 10)",
        ),
        (
            "admin:\n  identity: ${}\n",
            "admin.identity: referenced environment variable '' is not defined (line 2)",
        ),
    ];
    for (yaml, message) in cases {
        let err = parse_err(yaml);
        assert_eq!(err.to_string(), message, "{yaml}");
    }
    let err = parse_err(&with("log:\n  audit: ${X}\n"));
    assert!(matches!(err.kind(), ConfigErrorKind::UndefinedEnv(name) if name == "X"));
    assert_eq!(err.field(), "log.audit");
    assert_eq!(err.line(), Some(10));
}

#[test]
fn required_fields() {
    let cases = [
        ("", "admin.identity: required, but missing or empty"),
        (
            "admin:\n  identity: ''\n",
            "admin.identity: required, but missing or empty (line 2)",
        ),
        (
            "admin: {identity: x}\nkeystore: {fs: {path: p}}\n",
            "tls.key: required, but missing or empty",
        ),
        (
            "admin: {identity: x}\ntls:\n  key: k\nkeystore: {fs: {path: p}}\n",
            "tls.cert: required, but missing or empty",
        ),
        (
            "admin: {identity: x}\ntls: {key: k, cert: c}\n",
            "keystore: no key store specified: configure exactly one (fs or azure); kesrs never \
             falls back to an in-memory store, which loses every key on restart",
        ),
        (
            "admin: {identity: x}\ntls: {key: k, cert: c}\nkeystore:\n  fs:\n    path:\n",
            "keystore.fs.path: required, but missing or empty (line 5)",
        ),
    ];
    for (yaml, message) in cases {
        assert_eq!(parse_err(yaml).to_string(), message, "{yaml}");
    }
    assert!(matches!(parse_err("").kind(), ConfigErrorKind::Missing));
}

#[test]
fn broken_fields_are_named() {
    let cases: &[(&str, &str)] = &[
        (
            "version: v2\n",
            "version: unsupported version 'v2': only 'v1' is supported (line 9)",
        ),
        (
            "address: localhost:7373\n",
            "address: invalid address 'localhost:7373': 'localhost' is not a valid IP address (line 9)",
        ),
        (
            "address: 127.0.0.1\n",
            "address: invalid address '127.0.0.1': missing port, for example '0.0.0.0:7373' (line 9)",
        ),
        (
            "cache:\n  expiry:\n    any: 5 minutes\n",
            "cache.expiry.any: invalid duration '5 minutes' (line 11)",
        ),
        (
            "cache:\n  expiry:\n    unused: 300\n",
            "cache.expiry.unused: invalid duration '300': a unit is required, for example '300s' (line 11)",
        ),
        (
            "cache:\n  expiry:\n    offline: -1h\n",
            "cache.expiry.offline: invalid duration '-1h': must not be negative (line 11)",
        ),
        (
            "cache: {expiry: {any: 1d}}\n",
            "cache.expiry.any: invalid duration '1d' (line 9)",
        ),
        (
            "api:\n  /v1/status:\n    skip_auth: maybe\n",
            "api./v1/status.skip_auth: invalid boolean 'maybe': use true or false (line 11)",
        ),
        (
            "api:\n  /v1/status:\n    timeout: -5s\n",
            "api./v1/status.timeout: invalid duration '-5s': must not be negative (line 11)",
        ),
        (
            "log:\n  error: verbose\n",
            "log.error: invalid log level 'verbose': use debug, info, warn, error, on or off (line 10)",
        ),
        (
            "log:\n  audit: info+x\n",
            "log.audit: invalid log level 'info+x': use debug, info, warn, error, on or off (line 10)",
        ),
        (
            "policy:\n  my.policy:\n    allow: [/v1/status]\n",
            "policy.my.policy: policy name 'my.policy' is empty, too long or contains invalid characters (line 10)",
        ),
        (
            "policy:\n  _:\n",
            "policy._: policy name '_' is empty, too long or contains invalid characters (line 10)",
        ),
        (
            "policy:\n  p:\n    identities:\n      - not/valid\n",
            "policy.p.identities[0]: identity 'not/valid' is too long or contains invalid characters (line 12)",
        ),
        (
            "policy:\n  p:\n    identities: [disabled]\n",
            "policy.p.identities[0]: identity 'disabled' is already admin (line 11)",
        ),
        (
            "policy:\n  a:\n    identities: [x]\n  b:\n    identities:\n      - y\n      - x\n",
            "policy.b.identities[1]: identity 'x' already has policy 'a'; an identity can have one policy only (line 15)",
        ),
        (
            "policy:\n  a: {}\n  a: {}\n",
            "policy.a: 'a' is defined more than once (line 10)",
        ),
        (
            "api:\n  /v1/status: {}\n  /v1/status: {}\n",
            "api./v1/status: '/v1/status' is defined more than once (line 10)",
        ),
        (
            "keys:\n  - name: a\n  - name: b\n  - name: a\n",
            "keys[2].name: 'a' is defined more than once (line 12)",
        ),
        (
            "keys:\n  - name: ../etc\n",
            "keys[0].name: key name '../etc' is empty, too long or contains invalid characters (line 10)",
        ),
        (
            "keys:\n  - {}\n",
            "keys[0].name: key name '' is empty, too long or contains invalid characters (line 10)",
        ),
    ];
    for (extra, message) in cases {
        let err = parse_err(&with(extra));
        assert_eq!(err.to_string(), *message, "{extra}");
    }
}

#[test]
fn tls_fields() {
    let tls = |body: &str| {
        format!("admin: {{identity: disabled}}\ntls:\n  key: k\n  cert: c\n{body}keystore: {{fs: {{path: p}}}}\n")
    };
    for (auth, expected) in [
        ("", ClientAuth::DangerAnyCertificate),
        ("off", ClientAuth::DangerAnyCertificate),
        ("OFF", ClientAuth::DangerAnyCertificate),
        ("on", ClientAuth::Verify),
        ("ON", ClientAuth::Verify),
    ] {
        let config = parse_ok(&tls(&format!("  auth: \"{auth}\"\n")));
        assert_eq!(config.tls.client_auth, expected, "{auth}");
    }
    // YAML 1.1 would read an unquoted on/off as a boolean; kesrs reads the text, like KES.
    assert_eq!(
        parse_ok(&tls("  auth: on\n")).tls.client_auth,
        ClientAuth::Verify
    );
    let err = parse_err(&tls("  auth: verify\n"));
    assert_eq!(
        err.to_string(),
        "tls.auth: invalid auth 'verify': use 'on' or 'off' (line 5)"
    );
    assert!(matches!(err.kind(), ConfigErrorKind::InvalidTlsAuth(auth) if auth == "verify"));

    let err = parse_err(&tls("  proxy:\n    identities: [disabled]\n"));
    assert_eq!(
        err.to_string(),
        "tls.proxy.identities[0]: identity 'disabled' is already admin (line 6)"
    );
    let err = parse_err(&tls(
        "  proxy:\n    identities: [p]\npolicy:\n  a:\n    identities: [p]\n",
    ));
    assert_eq!(
        err.to_string(),
        "policy.a.identities[0]: identity 'p' is a TLS proxy and cannot have a policy (line 9)"
    );

    let config = parse_ok(&tls(
        "  password: ''\n  ca: ''\n  proxy:\n    header: {cert: ''}\n",
    ));
    assert!(config.tls.password.is_none());
    assert!(config.tls.ca.is_none());
    assert!(config.tls.proxy_cert_header.is_none());
}

#[test]
fn scalars_of_other_yaml_types_are_read_as_text() {
    let config = parse_ok(
        "admin:\n  identity: 12345\ntls: {key: 1, cert: true}\nkeystore: {fs: {path: 0}}\nkeys: [{name: 42}]\n",
    );
    assert_eq!(config.admin.as_str(), "12345");
    assert_eq!(config.tls.key, PathBuf::from("1"));
    assert_eq!(config.tls.cert, PathBuf::from("true"));
    assert_eq!(config.keys, [KeyName::new("42").unwrap()]);
}

#[test]
fn wrong_yaml_shapes_are_named() {
    let cases = [
        (
            "tls:\n  key: [a, b]\n",
            "tls.key: invalid type: sequence, expected a string (line 2)",
        ),
        (
            "admin: [x]\n",
            "admin: invalid type: sequence, expected a mapping (line 1)",
        ),
        (
            "policy: [a]\n",
            "policy: invalid type: sequence, expected a mapping (line 1)",
        ),
        (
            "policy:\n  p:\n    allow: /v1/status\n",
            "policy.p.allow: invalid type: string \"/v1/status\", expected a sequence (line 3)",
        ),
        (
            "keys:\n  name: a\n",
            "keys: invalid type: map, expected a sequence (line 2)",
        ),
    ];
    for (yaml, message) in cases {
        let err = parse_err(yaml);
        assert_eq!(err.to_string(), message, "{yaml}");
        assert!(matches!(err.kind(), ConfigErrorKind::Yaml(_)));
    }
}

#[test]
fn yaml_syntax_errors() {
    for yaml in ["admin: [", "a: b\nc", "\t- x", "key: 'unterminated", "@"] {
        let err = parse_err(yaml);
        assert!(
            matches!(err.kind(), ConfigErrorKind::Yaml(_)),
            "{yaml}: {err}"
        );
        assert!(!err.to_string().is_empty());
    }
    let err = parse_err("admin:\n  identity: x\n tls: y\n");
    assert_eq!(err.line(), Some(3));
    // libyaml's message already names its lines; they are not repeated.
    assert_eq!(
        err.to_string(),
        "did not find expected key at line 3 column 2, while parsing a block mapping"
    );
}

#[test]
fn only_the_first_document_is_read() {
    let config = parse_ok(&format!(
        "{MINIMAL}---\nadmin: [this is not read]\n---\n: : :"
    ));
    assert_eq!(config.admin.as_str(), "disabled");
    let config = parse_ok(&format!("---\n{MINIMAL}...\n"));
    assert_eq!(config.admin.as_str(), "disabled");
}

#[test]
fn unknown_keys_are_ignored() {
    let config = parse_ok(&with(
        "future: {a: 1}\ncache:\n  size: 10\n  expiry: {any: 1m, whenever: 2m}\nkeystore2: x\n",
    ));
    assert_eq!(config.cache.any, Duration::from_secs(60));
}

#[test]
fn null_sections_are_empty() {
    let config = parse_ok(&with("cache:\napi:\nlog:\nkeys:\npolicy:\n  empty:\n"));
    assert_eq!(config.cache, CacheConfig::default());
    assert!(config.api.is_empty());
    assert!(config.keys.is_empty());
    assert!(config.policies["empty"].policy.allow.is_empty());
}

#[test]
fn configured_cache_values_are_used_as_written() {
    let cases = [
        ("{}", (300, 30, 0)),
        ("{any: 0s}", (0, 30, 0)),
        ("{any: 1m}", (60, 30, 0)),
        ("{unused: 0s}", (300, 0, 0)),
        ("{any: 10m, unused: 1m, offline: 1h}", (600, 60, 3600)),
        ("{any: '', unused: ~}", (300, 30, 0)),
        ("{offline: 0}", (300, 30, 0)),
    ];
    for (expiry, (any, unused, offline)) in cases {
        let config = parse_ok(&with(&format!("cache:\n  expiry: {expiry}\n")));
        let cache = config.cache;
        assert_eq!(
            (cache.any, cache.unused, cache.offline),
            (
                Duration::from_secs(any),
                Duration::from_secs(unused),
                Duration::from_secs(offline)
            ),
            "{expiry}"
        );
    }
}

#[test]
fn durations_table() {
    let cases: &[(&str, Duration)] = &[
        ("0s", Duration::ZERO),
        ("5m", Duration::from_secs(300)),
        ("1h2m3s", Duration::from_secs(3723)),
        ("300ms", Duration::from_millis(300)),
        ("1.5h", Duration::from_secs(5400)),
        ("'90s'", Duration::from_secs(90)),
        ("\"2m30s\"", Duration::from_secs(150)),
        ("10us", Duration::from_micros(10)),
    ];
    for (value, expected) in cases {
        let config = parse_ok(&with(&format!("cache:\n  expiry:\n    offline: {value}\n")));
        assert_eq!(config.cache.offline, *expected, "{value}");
    }
    for bad in ["5", "5 m", "1d", "m", "1h-", "0x5s", "1e3s", "true"] {
        let err = parse_err(&with(&format!("cache:\n  expiry:\n    offline: {bad}\n")));
        assert!(
            matches!(err.kind(), ConfigErrorKind::InvalidDuration(value) if value == bad),
            "{bad}: {err}"
        );
        assert_eq!(err.field(), "cache.expiry.offline");
    }
}

#[test]
fn log_levels_table() {
    let cases: &[(&str, i32)] = &[
        ("''", 0),
        ("on", 0),
        ("off", 9),
        ("OFF", 9),
        ("debug", -4),
        ("Info", 0),
        ("WARN", 4),
        ("error", 8),
        ("INFO+2", 2),
        ("error-1", 7),
        ("3", 3),
        ("-8", -8),
    ];
    for (value, level) in cases {
        let config = parse_ok(&with(&format!(
            "log:\n  error: {value}\n  audit: {value}\n"
        )));
        assert_eq!(config.log.error, *level, "{value}");
        assert_eq!(config.log.audit, *level, "{value}");
    }
}

#[test]
fn skip_auth_booleans() {
    for (value, expected) in [
        ("true", true),
        ("True", true),
        ("yes", true),
        ("ON", true),
        ("y", true),
        ("false", false),
        ("no", false),
        ("Off", false),
        ("''", false),
        ("~", false),
    ] {
        let config = parse_ok(&with(&format!(
            "api:\n  /v1/ready:\n    skip_auth: {value}\n"
        )));
        assert_eq!(config.api["/v1/ready"].skip_auth, expected, "{value}");
        assert_eq!(config.relaxes_client_auth(), expected);
    }
}

#[test]
fn addresses() {
    for (value, expected) in [
        ("0.0.0.0:7373", "0.0.0.0:7373"),
        ("':7373'", "0.0.0.0:7373"),
        ("127.0.0.1:0", "127.0.0.1:0"),
        ("'[::]:7373'", "[::]:7373"),
        ("''", "0.0.0.0:7373"),
    ] {
        let config = parse_ok(&with(&format!("address: {value}\n")));
        assert_eq!(config.address, expected.parse::<SocketAddr>().unwrap());
    }
}

#[test]
fn keystores() {
    let base = "admin: {identity: disabled}\ntls: {key: k, cert: c}\n";
    let parse_store = |store: &str| parse(&format!("{base}keystore:\n{store}"));

    for name in [
        "vault", "fortanix", "gemalto", "gcp", "aws", "entrust", "kes",
    ] {
        let err = parse_store(&format!("  {name}:\n    endpoint: https://x\n")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "keystore.{name}: keystore '{name}' is not supported by kesrs (supported: fs, azure) (line 4)"
            )
        );
        assert!(matches!(err.kind(), ConfigErrorKind::UnsupportedKeyStore(n) if n == name));
    }

    let err = parse_store("  fs: {path: a}\n  vault: {endpoint: b}\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "keystore: more than one key store specified (fs, vault): configure exactly one (line 3)"
    );
    let err = parse_store("  fs: {path: a}\n  azure: {keyvault: {endpoint: b}}\n").unwrap_err();
    assert!(
        matches!(err.kind(), ConfigErrorKind::MultipleKeyStores(names) if names == &["fs", "azure"])
    );

    // A null section is not configured, as in KES.
    let err = parse_store("  vault:\n  fs:\n").unwrap_err();
    assert!(matches!(err.kind(), ConfigErrorKind::NoKeyStore), "{err}");
    let err = parse(&format!("{base}keystore:\n")).unwrap_err();
    assert!(matches!(err.kind(), ConfigErrorKind::NoKeyStore), "{err}");
    let err = parse_store("  memory: {}\n").unwrap_err();
    assert!(matches!(err.kind(), ConfigErrorKind::NoKeyStore), "{err}");

    let err = parse_store("  fs: {}\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "keystore.fs.path: required, but missing or empty (line 4)"
    );
}

#[test]
fn azure_keystore() {
    let base = "admin: {identity: disabled}\ntls: {key: k, cert: c}\nkeystore:\n  azure:\n    keyvault:\n      endpoint: https://kes.vault.azure.net\n";
    let azure = |auth: &str| {
        Config::from_yaml(
            &format!("{base}{auth}"),
            &env(&[("SECRET", "s3cr3t-value")]),
        )
    };

    let config = azure("").unwrap();
    let KeyStoreConfig::Azure(vault) = &config.keystore else {
        panic!("{:?}", config.keystore)
    };
    assert_eq!(vault.endpoint, "https://kes.vault.azure.net");
    assert!(matches!(vault.credentials, AzureCredentials::Default));

    let config = azure(
        "      credentials:\n        tenant_id: t-1\n        client_id: c-1\n        client_secret: ${SECRET}\n",
    )
    .unwrap();
    let KeyStoreConfig::Azure(vault) = &config.keystore else {
        panic!()
    };
    let AzureCredentials::ClientSecret {
        tenant_id,
        client_id,
        client_secret,
    } = &vault.credentials
    else {
        panic!("{vault:?}")
    };
    assert_eq!((tenant_id.as_str(), client_id.as_str()), ("t-1", "c-1"));
    assert_eq!(client_secret.expose(), "s3cr3t-value");
    let debug = format!("{config:?}");
    assert!(!debug.contains("s3cr3t-value"), "{debug}");
    assert!(debug.contains("t-1"));

    let config = azure("      managed_identity:\n        client_id: mi-1\n").unwrap();
    let KeyStoreConfig::Azure(vault) = &config.keystore else {
        panic!()
    };
    assert!(
        matches!(&vault.credentials, AzureCredentials::ManagedIdentity { client_id } if client_id == "mi-1")
    );

    let err = azure(
        "      credentials: {tenant_id: t, client_id: c, client_secret: s}\n      managed_identity: {client_id: m}\n",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "keystore.azure.keyvault: more than one authentication method specified: keep either \
         'credentials' or 'managed_identity' (line 5)"
    );

    for (missing, line) in [("tenant_id", 8), ("client_id", 9), ("client_secret", 10)] {
        let mut fields = vec![
            ("tenant_id", "t"),
            ("client_id", "c"),
            ("client_secret", "s"),
        ];
        for field in &mut fields {
            if field.0 == missing {
                field.1 = "''";
            }
        }
        let credentials: String = fields
            .iter()
            .map(|(k, v)| format!("        {k}: {v}\n"))
            .collect();
        let err = azure(&format!("      credentials:\n{credentials}")).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "keystore.azure.keyvault.credentials.{missing}: required, but missing or empty (line {line})"
            )
        );
    }

    let err = azure("      managed_identity:\n        client_id:\n").unwrap_err();
    assert_eq!(
        err.to_string(),
        "keystore.azure.keyvault.managed_identity.client_id: required, but missing or empty (line 8)"
    );

    let err = parse(
        "admin: {identity: disabled}\ntls: {key: k, cert: c}\nkeystore:\n  azure:\n    keyvault:\n      credentials: {tenant_id: t}\n",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "keystore.azure.keyvault.endpoint: required, but missing or empty"
    );
    let err = parse(
        "admin: {identity: disabled}\ntls: {key: k, cert: c}\nkeystore:\n  azure:\n    vault: {}\n",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "keystore.azure.keyvault: required, but missing or empty"
    );
}

#[test]
fn azure_private_ca_and_timeout_extensions() {
    let base = "admin: {identity: disabled}\ntls: {key: k, cert: c}\nkeystore:\n  azure:\n    keyvault:\n      endpoint: https://kes.vault.azure.net\n";
    let azure = |extra: &str| {
        Config::from_yaml(
            &format!("{base}{extra}"),
            &env(&[
                ("AZURE_CA", "/etc/kesrs/azure-ca"),
                ("AZURE_TIMEOUT", "20s"),
            ]),
        )
    };
    let vault = |config: Config| match config.keystore {
        KeyStoreConfig::Azure(vault) => vault,
        other => panic!("{other:?}"),
    };

    // Unset: system roots only, the default timeout.
    let plain = vault(azure("").unwrap());
    assert_eq!((plain.ca, plain.timeout), (None, None));

    let set =
        vault(azure("      tls:\n        ca: ./azure-ca.pem\n      timeout: 1m30s\n").unwrap());
    assert_eq!(set.ca, Some(PathBuf::from("./azure-ca.pem")));
    assert_eq!(set.timeout, Some(Duration::from_secs(90)));

    // Both are env-capable.
    let from_env = vault(
        azure("      tls:\n        ca: ${AZURE_CA}\n      timeout: ${AZURE_TIMEOUT}\n").unwrap(),
    );
    assert_eq!(from_env.ca, Some(PathBuf::from("/etc/kesrs/azure-ca")));
    assert_eq!(from_env.timeout, Some(Duration::from_secs(20)));

    // Empty means unset; `0s` keeps the default, as `api.<path>.timeout` does.
    let empty = vault(azure("      tls:\n        ca: ''\n      timeout: 0s\n").unwrap());
    assert_eq!((empty.ca, empty.timeout), (None, None));
    let null = vault(azure("      tls:\n      timeout:\n").unwrap());
    assert_eq!((null.ca, null.timeout), (None, None));

    let errors = [
        (
            "      timeout: 10\n",
            "keystore.azure.keyvault.timeout: invalid duration '10': a unit is required, for example '10s' (line 7)",
        ),
        (
            "      timeout: -5s\n",
            "keystore.azure.keyvault.timeout: invalid duration '-5s': must not be negative (line 7)",
        ),
        (
            "      tls:\n        ca: ${MISSING}\n",
            "keystore.azure.keyvault.tls.ca: referenced environment variable 'MISSING' is not defined (line 8)",
        ),
        (
            "      tls: ./ca.pem\n",
            "keystore.azure.keyvault.tls: invalid type: string \"./ca.pem\", expected a mapping (line 7)",
        ),
    ];
    for (extra, message) in errors {
        let err = azure(extra).unwrap_err();
        assert_eq!(err.to_string(), message, "{extra}");
    }
}

#[test]
fn debug_never_shows_secrets() {
    let yaml = "admin: {identity: disabled}\ntls:\n  key: k\n  cert: c\n  password: tls-pa55word\n\
                keystore:\n  azure:\n    keyvault:\n      endpoint: https://v\n      credentials:\n\
                \x20       tenant_id: t\n        client_id: c\n        client_secret: azure-s3cret\n";
    let config = parse_ok(yaml);
    let debug = format!("{config:?} {config:#?}");
    assert!(!debug.contains("tls-pa55word"), "{debug}");
    assert!(!debug.contains("azure-s3cret"), "{debug}");
    assert!(debug.contains("Secret(..)"));

    let secret = Secret::new("plain-secret".to_owned());
    assert_eq!(format!("{secret:?}"), "Secret(..)");
    assert_eq!(secret.expose(), "plain-secret");
}

#[test]
fn from_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, MINIMAL).unwrap();
    let config = Config::from_file(&path).unwrap();
    assert_eq!(config.admin.as_str(), "disabled");

    let missing = dir.path().join("missing.yaml");
    let err = Config::from_file(&missing).unwrap_err();
    assert!(matches!(err.kind(), ConfigErrorKind::Io { .. }));
    assert_eq!(err.field(), "");
    assert!(err.to_string().starts_with(&format!(
        "cannot read config file '{}': ",
        missing.display()
    )));
    assert!(std::error::Error::source(&err).is_some());

    // The process environment resolves references.
    std::fs::write(
        &path,
        MINIMAL.replace("disabled", "${KESRS_TEST_CONFIG_UNSET_VARIABLE}"),
    )
    .unwrap();
    let err = Config::from_file(&path).unwrap_err();
    assert!(matches!(err.kind(), ConfigErrorKind::UndefinedEnv(_)));
}

#[test]
fn dev_config() {
    let admin = identity(ADMIN);
    let config = Config::dev(
        admin.clone(),
        PathBuf::from("cert.pem"),
        PathBuf::from("key.pem"),
    );
    assert_eq!(config.admin, admin);
    assert!(matches!(config.keystore, KeyStoreConfig::Memory));
    assert_eq!(config.tls.cert, PathBuf::from("cert.pem"));
    assert_eq!(config.tls.key, PathBuf::from("key.pem"));
    assert_eq!(config.tls.client_auth, ClientAuth::DangerAnyCertificate);
    assert_eq!(config.cache, CacheConfig::default());
    assert_eq!(
        config.address,
        "0.0.0.0:7373".parse::<SocketAddr>().unwrap()
    );
    assert!(config.policies.is_empty());
}

#[test]
fn config_error_converts_into_the_core_error() {
    let err: kesrs_core::Error = parse_err("").into();
    assert_eq!(err.status(), 500);
    assert_eq!(
        err.to_string(),
        "admin.identity: required, but missing or empty"
    );
}

/// No input may panic: mutations of a full config, and some hostile shapes.
#[test]
fn no_input_panics() {
    let mut inputs: Vec<String> = vec![
        String::new(),
        "~".into(),
        "[]".into(),
        "- a\n- b".into(),
        "!!binary aGVsbG8=".into(),
        "a: &a [*a]".into(),
        "admin: *undefined".into(),
        "policy: {? [a]: b}".into(),
        "policy: {1: {identities: [1.5, .inf, null, ~, true]}}".into(),
        "\u{feff}admin: x".into(),
        "admin:\n  identity: \"\\uD800\"".into(),
        format!("keys: [{}]", "{name: a},".repeat(1000)),
        "x: ".repeat(10_000),
        "[".repeat(10_000),
    ];
    let bytes = FULL.as_bytes();
    // A deterministic walk over single-byte deletions and substitutions.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..400 {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let at = (state % bytes.len() as u64) as usize;
        let replacement =
            [b' ', b':', b'-', b'\n', b'{', b'[', b'$', b'*'][(state >> 32) as usize % 8];
        let mut mutated = bytes.to_vec();
        if state & 1 == 0 {
            mutated.remove(at);
        } else {
            mutated[at] = replacement;
        }
        if let Ok(text) = String::from_utf8(mutated) {
            inputs.push(text);
        }
    }
    for input in &inputs {
        if let Err(err) = Config::from_yaml(input, &env(&[("X", "y")])) {
            let _ = err.to_string();
            let _ = (err.field(), err.line(), err.kind());
        }
    }
}
