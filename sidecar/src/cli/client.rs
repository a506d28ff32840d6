//! The client commands, as the `kes` CLI has them (kes-protocol.md 11): `key`, `policy`, `identity
//! info|ls`, `status`, `metric`, `log`. They work against kesrs and Go KES alike.
//!
//! Exit codes: 0 success; 1 any other failure (network, server error); 2 bad usage or credentials;
//! 3 not found; 4 not allowed; 5 already exists; 6 decryption failed.

use std::io::{IsTerminal as _, Write as _};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context as _};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use clap::{Args, Subcommand};
use serde_json::json;
use zeroize::Zeroizing;

use kesrs_core::client::{ClientBuilder, Credentials};
use kesrs_core::{ApiKey, Client, Error, KeyName, KeyType, Pattern};

/// How to reach and authenticate to a KES server. Every flag falls back to the `kes` CLI's
/// environment variables, then MinIO's.
#[derive(Debug, Args)]
pub(crate) struct ClientArgs {
    /// Server endpoint(s), comma-separated [env: MINIO_KES_SERVER, KES_SERVER, MINIO_KMS_KES_ENDPOINT]
    #[arg(short = 's', long, value_name = "HOST:PORT", global = true)]
    server: Option<String>,
    /// API key [env: MINIO_KES_API_KEY, KES_API_KEY, MINIO_KMS_KES_API_KEY]
    #[arg(short = 'a', long, value_name = "KEY", global = true)]
    api_key: Option<String>,
    /// Client certificate file [env: MINIO_KES_CERT_FILE, KES_CLIENT_CERT, MINIO_KES_CLIENT_CERT, MINIO_KMS_KES_CERT_FILE]
    #[arg(long = "cert", id = "client_cert", value_name = "FILE", global = true)]
    cert: Option<PathBuf>,
    /// Client private key file [env: MINIO_KES_KEY_FILE, KES_CLIENT_KEY, MINIO_KES_CLIENT_KEY, MINIO_KMS_KES_KEY_FILE]
    #[arg(long = "key", id = "client_key", value_name = "FILE", global = true)]
    key: Option<PathBuf>,
    /// CA certificate(s) to trust for the server, in addition to the system's [env: MINIO_KMS_KES_CAPATH]
    #[arg(long, value_name = "FILE", global = true)]
    ca: Option<PathBuf>,
    /// DANGER: do not verify the server's certificate.
    #[arg(short = 'k', long, global = true)]
    insecure: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum KeyCommand {
    /// Create keys.
    Create {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Import a base64-encoded 32-byte key.
    Import {
        name: String,
        #[arg(value_name = "BASE64_KEY")]
        material: String,
    },
    /// Describe a key.
    Info {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List keys (a trailing `*` is a prefix wildcard).
    Ls {
        #[arg(default_value = "*")]
        pattern: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete keys.
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Encrypt a message with a key.
    Encrypt {
        name: String,
        message: String,
        #[arg(long)]
        json: bool,
    },
    /// Decrypt a base64 ciphertext, with an optional base64 context.
    Decrypt {
        name: String,
        ciphertext: String,
        context: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Generate a data encryption key, bound to an optional base64 context.
    Dek {
        name: String,
        context: Option<String>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum PolicyCommand {
    /// Describe a policy.
    Info {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// List policies.
    Ls {
        #[arg(default_value = "*")]
        pattern: String,
        #[arg(long)]
        json: bool,
    },
    /// Show a policy's allow and deny rules.
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
}

impl ClientArgs {
    pub(crate) fn connect(&self) -> anyhow::Result<Client> {
        self.connect_with(|builder| builder)
    }

    /// Like [`connect`](Self::connect), with a last say on the client's settings.
    pub(crate) fn connect_with(
        &self,
        customize: impl FnOnce(ClientBuilder) -> ClientBuilder,
    ) -> anyhow::Result<Client> {
        let server = self
            .server
            .clone()
            .or_else(|| env(&["MINIO_KES_SERVER", "KES_SERVER", "MINIO_KMS_KES_ENDPOINT"]))
            .unwrap_or_else(|| "127.0.0.1:7373".to_owned());
        let endpoints = server
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect::<Vec<_>>();
        let api_key = self.api_key.clone().map(Zeroizing::new).or_else(|| {
            env(&["MINIO_KES_API_KEY", "KES_API_KEY", "MINIO_KMS_KES_API_KEY"]).map(Zeroizing::new)
        });
        let cert = self.cert.clone().or_else(|| {
            env(&[
                "MINIO_KES_CERT_FILE",
                "KES_CLIENT_CERT",
                "MINIO_KES_CLIENT_CERT",
                "MINIO_KMS_KES_CERT_FILE",
            ])
            .map(PathBuf::from)
        });
        let key = self.key.clone().or_else(|| {
            env(&[
                "MINIO_KES_KEY_FILE",
                "KES_CLIENT_KEY",
                "MINIO_KES_CLIENT_KEY",
                "MINIO_KMS_KES_KEY_FILE",
            ])
            .map(PathBuf::from)
        });
        let ca = self
            .ca
            .clone()
            .or_else(|| env(&["MINIO_KMS_KES_CAPATH"]).map(PathBuf::from));

        let mut builder: ClientBuilder = Client::builder(endpoints);
        builder = match (api_key, cert, key) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                bail!("an API key and a client certificate cannot be used together")
            }
            (Some(api_key), None, None) => {
                builder.credentials(Credentials::ApiKey(ApiKey::parse(&api_key)?))
            }
            (None, Some(cert), Some(key)) => builder.credentials(Credentials::Certificate {
                cert_pem: std::fs::read(&cert)
                    .with_context(|| format!("reading '{}'", cert.display()))?,
                key_pem: Zeroizing::new(
                    std::fs::read(&key).with_context(|| format!("reading '{}'", key.display()))?,
                ),
            }),
            (None, Some(_), None) | (None, None, Some(_)) => {
                bail!("a client certificate needs both --cert and --key")
            }
            (None, None, None) => {
                bail!("no credentials: set KES_API_KEY, or KES_CLIENT_CERT and KES_CLIENT_KEY")
            }
        };
        if let Some(ca) = ca {
            builder = builder
                .ca_pem(std::fs::read(&ca).with_context(|| format!("reading '{}'", ca.display()))?);
        }
        let builder = builder.danger_accept_any_server_certificate(self.insecure);
        Ok(customize(builder).build()?)
    }
}

/// Runs `kesrs key ...`.
pub(crate) fn key(args: &ClientArgs, command: KeyCommand) -> anyhow::Result<ExitCode> {
    let client = args.connect()?;
    block_on(async move {
        match command {
            KeyCommand::Create { names } => {
                for name in names {
                    client.create_key(&KeyName::new(&name)?).await?;
                }
            }
            KeyCommand::Import { name, material } => {
                let key = Zeroizing::new(decode_b64("key", &material)?);
                client
                    .import_key(&KeyName::new(&name)?, &key, KeyType::Aes256)
                    .await?;
            }
            KeyCommand::Info { name, json } => {
                let info = client.describe_key(&KeyName::new(&name)?).await?;
                let created_at = kesrs_core::rfc3339(&info.created_at);
                if json {
                    print_json(&json!({
                        "name": info.name.as_str(),
                        "algorithm": info.algorithm.as_str(),
                        "created_at": created_at,
                        "created_by": info.created_by,
                    }))?;
                } else {
                    println!("Name      {}", info.name);
                    println!("Algorithm {}", info.algorithm);
                    println!("Date      {created_at}");
                    if let Some(owner) = info.created_by {
                        println!("Owner     {owner}");
                    }
                }
            }
            KeyCommand::Ls { pattern, json } => {
                let list = client.list_keys(&Pattern::new(&pattern)?).await?;
                if json {
                    print_json(&json!(list.names))?;
                } else {
                    list.names.iter().for_each(|name| println!("{name}"));
                }
            }
            KeyCommand::Rm { names } => {
                for name in names {
                    client.delete_key(&KeyName::new(&name)?).await?;
                }
            }
            KeyCommand::Encrypt {
                name,
                message,
                json,
            } => {
                let ciphertext = client
                    .encrypt(&KeyName::new(&name)?, message.as_bytes(), b"")
                    .await?;
                let ciphertext = STANDARD.encode(ciphertext);
                if json || !std::io::stdout().is_terminal() {
                    print_json(&json!({ "ciphertext": ciphertext }))?;
                } else {
                    println!("{ciphertext}");
                }
            }
            KeyCommand::Decrypt {
                name,
                ciphertext,
                context,
                json,
            } => {
                let ciphertext = decode_b64("ciphertext", &ciphertext)?;
                let context = context
                    .map(|c| decode_b64("context", &c))
                    .transpose()?
                    .unwrap_or_default();
                let plaintext = client
                    .decrypt(&KeyName::new(&name)?, &ciphertext, &context)
                    .await?;
                let plaintext = Zeroizing::new(STANDARD.encode(&plaintext));
                if json || !std::io::stdout().is_terminal() {
                    print_json(&json!({ "plaintext": plaintext.as_str() }))?;
                } else {
                    println!("{}", plaintext.as_str());
                }
            }
            KeyCommand::Dek {
                name,
                context,
                json,
            } => {
                let context = context
                    .map(|c| decode_b64("context", &c))
                    .transpose()?
                    .unwrap_or_default();
                let key = client.generate_key(&KeyName::new(&name)?, &context).await?;
                let plaintext = Zeroizing::new(STANDARD.encode(key.plaintext()));
                let ciphertext = STANDARD.encode(key.ciphertext());
                if json || !std::io::stdout().is_terminal() {
                    print_json(
                        &json!({ "plaintext": plaintext.as_str(), "ciphertext": ciphertext }),
                    )?;
                } else {
                    println!("plaintext:  {}", plaintext.as_str());
                    println!("ciphertext: {ciphertext}");
                }
            }
        }
        Ok(())
    })
}

/// Runs `kesrs policy ...`.
pub(crate) fn policy(args: &ClientArgs, command: PolicyCommand) -> anyhow::Result<ExitCode> {
    let client = args.connect()?;
    block_on(async move {
        match command {
            PolicyCommand::Info { name, json } => {
                let info = client.describe_policy(&name).await?;
                let created_at = info.created_at.as_ref().map(kesrs_core::rfc3339);
                if json {
                    print_json(&json!({
                        "name": info.name,
                        "created_at": created_at,
                        "created_by": info.created_by,
                    }))?;
                } else {
                    println!("Name  {}", info.name);
                    if let Some(date) = created_at {
                        println!("Date  {date}");
                    }
                    if let Some(owner) = info.created_by {
                        println!("Owner {owner}");
                    }
                }
            }
            PolicyCommand::Ls { pattern, json } => {
                let names = client.list_policies(&pattern).await?;
                if json {
                    print_json(&json!(names))?;
                } else {
                    names.iter().for_each(|name| println!("{name}"));
                }
            }
            PolicyCommand::Show { name, json } => {
                let info = client.get_policy(&name).await?;
                if json {
                    print_json(&json!({
                        "name": info.name,
                        "allow": info.policy.allow,
                        "deny": info.policy.deny,
                    }))?;
                } else {
                    println!("Allow:");
                    info.policy.allow.iter().for_each(|p| println!("  {p}"));
                    println!("Deny:");
                    info.policy.deny.iter().for_each(|p| println!("  {p}"));
                }
            }
        }
        Ok(())
    })
}

/// Runs `kesrs identity info`: describes an identity, or the caller's own without an argument.
pub(crate) fn identity_info(
    args: &ClientArgs,
    identity: Option<String>,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let client = args.connect()?;
    block_on(async move {
        let (info, policy) = match identity {
            Some(identity) => (client.describe_identity(&identity).await?, None),
            None => {
                let (info, policy) = client.describe_self().await?;
                (info, Some(policy))
            }
        };
        if json {
            print_json(&json!({
                "identity": info.identity.as_ref().map(|i| i.as_str().to_owned()),
                "admin": info.admin,
                "policy": info.policy,
                "allow": policy.as_ref().map(|p| &p.allow),
                "deny": policy.as_ref().map(|p| &p.deny),
                "created_at": info.created_at.as_ref().map(kesrs_core::rfc3339),
                "created_by": info.created_by,
            }))?;
        } else {
            if let Some(identity) = &info.identity {
                println!("Identity {identity}");
            }
            if info.admin {
                println!("Admin    yes");
            }
            if let Some(name) = &info.policy {
                println!("Policy   {name}");
            }
            if let Some(policy) = policy {
                policy.allow.iter().for_each(|p| println!("  allow {p}"));
                policy.deny.iter().for_each(|p| println!("  deny  {p}"));
            }
        }
        Ok(())
    })
}

/// Runs `kesrs identity ls`.
pub(crate) fn identity_ls(
    args: &ClientArgs,
    pattern: &str,
    json: bool,
) -> anyhow::Result<ExitCode> {
    let client = args.connect()?;
    let pattern = pattern.to_owned();
    block_on(async move {
        let identities = client.list_identities(&pattern).await?;
        if json {
            print_json(&json!(identities))?;
        } else {
            identities.iter().for_each(|id| println!("{id}"));
        }
        Ok(())
    })
}

/// Runs `kesrs status`.
pub(crate) fn status(args: &ClientArgs, json: bool, api: bool) -> anyhow::Result<ExitCode> {
    let client = args.connect()?;
    block_on(async move {
        let status = client.status().await?;
        let routes = if api {
            client.apis().await?
        } else {
            Vec::new()
        };
        if json {
            print_json(&json!({
                "version": status.version,
                "os": status.os,
                "arch": status.arch,
                "uptime": status.uptime.as_secs(),
                "num_cpu": status.num_cpu,
                "num_cpu_used": status.num_cpu_used,
                "mem_heap_used": status.mem_heap_used,
                "mem_stack_used": status.mem_stack_used,
                "keystore_latency": status.keystore_latency.map(|l| l.as_nanos() as u64),
                "keystore_unreachable": status.keystore_unreachable,
                "api": routes.iter().map(|r| json!({
                    "method": r.method, "path": r.path, "max_body": r.max_body, "timeout": r.timeout,
                })).collect::<Vec<_>>(),
            }))?;
        } else {
            println!("Version    {}", status.version);
            println!("OS/Arch    {}/{}", status.os, status.arch);
            println!("Uptime     {}s", status.uptime.as_secs());
            println!(
                "CPUs       {} (used {})",
                status.num_cpu, status.num_cpu_used
            );
            match status.keystore_latency {
                Some(latency) => println!("Key store  reachable ({latency:?})"),
                None => println!("Key store  UNREACHABLE"),
            }
            for route in routes {
                println!(
                    "{:<7}{} (timeout {}s)",
                    route.method, route.path, route.timeout
                );
            }
        }
        Ok(())
    })
}

/// Runs `kesrs metric`: prints the Prometheus exposition.
pub(crate) fn metric(args: &ClientArgs) -> anyhow::Result<ExitCode> {
    let client = args.connect()?;
    block_on(async move {
        print!("{}", client.metrics().await?);
        Ok(())
    })
}

/// Runs `kesrs log`: follows the audit (default) or error log, one JSON line per event.
pub(crate) fn log(args: &ClientArgs, error_log: bool) -> anyhow::Result<ExitCode> {
    let client = args.connect()?;
    block_on(async move {
        let mut stream = if error_log {
            client.error_log().await?
        } else {
            client.audit_log().await?
        };
        let mut stdout = std::io::stdout();
        while let Some(line) = stream.next_line().await? {
            writeln!(stdout, "{line}")?;
            stdout.flush()?;
        }
        Ok(())
    })
}

/// Runs a client command on a small runtime, turning KES errors into the documented exit codes.
fn block_on(
    future: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    match runtime.block_on(future) {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(err) => {
            let code = match err.downcast_ref::<Error>() {
                Some(Error::KeyNotFound | Error::PolicyNotFound | Error::IdentityNotFound) => 3,
                Some(Error::NotAllowed) => 4,
                Some(Error::KeyExists) => 5,
                Some(Error::Decrypt) => 6,
                Some(
                    Error::InvalidKeyName(_)
                    | Error::InvalidPattern(_)
                    | Error::InvalidApiKey(_)
                    | Error::InvalidPolicyName(_)
                    | Error::InvalidIdentity(_),
                ) => 2,
                _ => 1,
            };
            eprintln!("Error: {err:#}");
            Ok(ExitCode::from(code))
        }
    }
}

fn env(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.is_empty()))
}

fn decode_b64(what: &str, value: &str) -> anyhow::Result<Vec<u8>> {
    STANDARD
        .decode(value.trim())
        .with_context(|| format!("{what} is not valid base64"))
}

fn print_json(value: &serde_json::Value) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer(&mut stdout, value)?;
    writeln!(stdout)?;
    Ok(())
}
