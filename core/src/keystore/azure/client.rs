//! Building the SDK clients: one HTTP client (rustls on ring, system roots plus a private CA), the
//! credential, and the secret client pinned to a GA API version.
//!
//! The SDK's default HTTP client would bring aws-lc-rs as a second TLS provider and cannot trust a
//! private CA, so kesrs builds its own and hands it to every SDK pipeline, credentials included.

use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, RetryOptions, Transport, Url};
use azure_identity::{
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use azure_security_keyvault_secrets::{SecretClient, SecretClientOptions};

use super::entra::RefusalPolicy;
use super::AzureOptions;
use crate::config::AzureCredentials;
use crate::StoreError;

/// The Key Vault API version: the newest GA one, which Azure and Lowkey Vault both accept. Pinned
/// so that an SDK update cannot move kesrs to a preview API.
pub(super) const API_VERSION: &str = "2025-07-01";

/// The clients one key store uses.
pub(super) struct Clients {
    pub(super) secrets: SecretClient,
    pub(super) http: reqwest::Client,
    pub(super) endpoint: Url,
    /// Which credential the store authenticates with, for logs.
    pub(super) credential: &'static str,
}

/// Builds the clients. Nothing is sent yet: the first call discovers the vault's tenant and scope
/// from its authentication challenge.
pub(super) fn connect(
    options: &AzureOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Clients, StoreError> {
    let endpoint = Url::parse(&options.endpoint)
        .map_err(|err| failed(format!("invalid endpoint '{}': {err}", options.endpoint)))?;
    if endpoint.scheme() != "https" {
        return Err(failed(format!(
            "endpoint '{}' must use https: Azure SDKs send no credentials in the clear",
            options.endpoint
        )));
    }
    let http = http_client(options)?;
    let client_options = client_options(&http, options);
    let (credential, kind) = credential(&options.credentials, client_options.clone(), env)?;
    let secrets = SecretClient::new(
        endpoint.as_str(),
        credential,
        Some(SecretClientOptions {
            api_version: API_VERSION.to_owned(),
            client_options,
            verify_challenge_resource: Some(!options.danger_skip_challenge_resource_verification),
        }),
    )
    .map_err(|err| failed(format!("cannot create the Key Vault client: {err}")))?;
    Ok(Clients {
        secrets,
        http,
        endpoint,
        credential: kind,
    })
}

fn http_client(options: &AzureOptions) -> Result<reqwest::Client, StoreError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = rustls_platform_verifier::Verifier::new_with_extra_roots(
        options.ca_certificates.iter().cloned(),
        Arc::clone(&provider),
    )
    .map_err(|err| failed(format!("cannot load trusted CA certificates: {err}")))?;
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|err| failed(format!("TLS configuration: {err}")))?
        // Not a weakening: the platform verifier checks chains against the system roots and the CA.
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_no_client_auth();
    let mut builder = reqwest::Client::builder()
        .tls_backend_preconfigured(tls)
        .connect_timeout(options.request_timeout)
        .timeout(options.request_timeout)
        // Key Vault never redirects; following one could carry a bearer token elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(LocalhostAware);
    for (host, addr) in &options.resolve {
        builder = builder.resolve(host, *addr);
    }
    builder
        .build()
        .map_err(|err| failed(format!("cannot build the HTTP client: {err}")))
}

/// The system resolver, except that `*.localhost` resolves as `localhost` does (RFC 6761 6.3: such
/// names are loopback names, and resolvers should answer them so). Browsers, curl and
/// systemd-resolved do the same; glibc's plain `files dns` does not.
///
/// It matters for local vaults: Key Vault's challenge check accepts only a resource that is a parent
/// domain of the vault host, so a vault on this machine must be `<name>.localhost` (resource
/// `https://localhost`) to keep the check on. Nothing else changes: other names go to the system
/// resolver as before, and TLS still verifies the vault's certificate for the name.
#[derive(Debug)]
struct LocalhostAware;

impl reqwest::dns::Resolve for LocalhostAware {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = resolved_name(name.as_str()).to_owned();
        Box::pin(async move {
            // Port 0: reqwest puts the URL's port in.
            let addrs: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let addrs: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(addrs)
        })
    }
}

/// The name to ask the system resolver for `host`: `localhost` for any `*.localhost`.
fn resolved_name(host: &str) -> &str {
    let trimmed = host.strip_suffix('.').unwrap_or(host);
    let is_localhost_child = trimmed
        .len()
        .checked_sub(".localhost".len())
        .and_then(|at| trimmed.get(at..))
        .is_some_and(|suffix| suffix.eq_ignore_ascii_case(".localhost"));
    if is_localhost_child {
        "localhost"
    } else {
        host
    }
}

fn client_options(http: &reqwest::Client, options: &AzureOptions) -> ClientOptions {
    let mut client_options = ClientOptions {
        transport: Some(Transport::new(Arc::new(http.clone()))),
        // Retries happen in `retry`, within the operation's deadline.
        retry: RetryOptions::none(),
        ..Default::default()
    };
    if let Some(authority_host) = &options.authority_host {
        let mut cloud = CustomConfiguration::default();
        cloud.authority_host.clone_from(authority_host);
        client_options.cloud = Some(Arc::new(CloudConfiguration::Custom(cloud)));
    }
    // Otherwise the SDK reads AZURE_AUTHORITY_HOST, then uses the public cloud.
    client_options
}

/// The credential the config asks for; without one, the first that the environment configures of
/// client secret (`AZURE_TENANT_ID`, `AZURE_CLIENT_ID`, `AZURE_CLIENT_SECRET`), workload identity
/// (`AZURE_FEDERATED_TOKEN_FILE`, as AKS sets it) and managed identity.
///
/// Go's DefaultAzureCredential tries these in the same order, then developer tools, which a server
/// has no use for. Choosing once, at start-up, makes the choice visible in the log.
fn credential(
    credentials: &AzureCredentials,
    client_options: ClientOptions,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Arc<dyn TokenCredential>, &'static str), StoreError> {
    let credential_error = |kind: &str, err: azure_core::Error| {
        failed(format!("cannot create the {kind} credential: {err}"))
    };
    match credentials {
        AzureCredentials::ClientSecret {
            tenant_id,
            client_id,
            client_secret,
        } => Ok((
            ClientSecretCredential::new(
                tenant_id,
                client_id.clone(),
                Secret::new(client_secret.expose().to_owned()),
                Some(ClientSecretCredentialOptions {
                    client_options: token_options(client_options, CLIENT_SECRET_REFUSED),
                }),
            )
            .map_err(|err| credential_error("client secret", err))?,
            "client secret",
        )),
        AzureCredentials::ManagedIdentity { client_id } => Ok((
            managed_identity(Some(client_id.clone()), client_options)
                .map_err(|err| credential_error("managed identity", err))?,
            "user-assigned managed identity",
        )),
        AzureCredentials::Default => {
            let var = |name: &str| env(name).filter(|v| !v.is_empty());
            if let (Some(tenant_id), Some(client_id), Some(secret)) = (
                var("AZURE_TENANT_ID"),
                var("AZURE_CLIENT_ID"),
                var("AZURE_CLIENT_SECRET"),
            ) {
                let credential = ClientSecretCredential::new(
                    &tenant_id,
                    client_id,
                    Secret::new(secret),
                    Some(ClientSecretCredentialOptions {
                        client_options: token_options(client_options, CLIENT_SECRET_REFUSED),
                    }),
                )
                .map_err(|err| credential_error("environment client secret", err))?;
                return Ok((
                    credential,
                    "client secret from AZURE_* environment variables",
                ));
            }
            if var("AZURE_FEDERATED_TOKEN_FILE").is_some() {
                let options = WorkloadIdentityCredentialOptions {
                    credential_options: ClientAssertionCredentialOptions {
                        client_options: token_options(
                            client_options,
                            "Entra ID refused the workload identity's federated token",
                        ),
                    },
                    ..Default::default()
                };
                let credential = WorkloadIdentityCredential::new(Some(options))
                    .map_err(|err| credential_error("workload identity", err))?;
                return Ok((credential, "workload identity"));
            }
            Ok((
                managed_identity(var("AZURE_CLIENT_ID"), client_options)
                    .map_err(|err| credential_error("managed identity", err))?,
                "managed identity",
            ))
        }
    }
}

fn managed_identity(
    client_id: Option<String>,
    client_options: ClientOptions,
) -> azure_core::Result<Arc<ManagedIdentityCredential>> {
    let options = ManagedIdentityCredentialOptions {
        user_assigned_id: client_id.map(UserAssignedId::ClientId),
        client_options: token_options(
            client_options,
            "the managed identity endpoint refused to issue a token",
        ),
    };
    ManagedIdentityCredential::new(Some(options))
}

const CLIENT_SECRET_REFUSED: &str = "Entra ID refused the client credentials";

/// `options` for a credential's token requests: Entra's refusals are read by kesrs, since the SDK
/// cannot parse them (see `entra`).
fn token_options(mut options: ClientOptions, refuser: &'static str) -> ClientOptions {
    options.per_try_policies.push(RefusalPolicy::new(refuser));
    options
}

fn failed(message: String) -> StoreError {
    StoreError::Failed(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_under_localhost_resolve_as_localhost() {
        for host in [
            "vault.localhost",
            "a.b.localhost",
            "Vault.LOCALHOST",
            "vault.localhost.",
        ] {
            assert_eq!(resolved_name(host), "localhost", "{host}");
        }
        for host in [
            "localhost",
            "my-vault.vault.azure.net",
            "notlocalhost",
            "localhost.example.com",
            ".localhost.evil",
            "xlocalhost",
        ] {
            assert_eq!(resolved_name(host), host, "{host}");
        }
    }
}
