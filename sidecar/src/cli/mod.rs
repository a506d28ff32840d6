//! The command line's tools besides the server: `kesrs identity`, the client commands that talk to a
//! running KES server (`key`, `policy`, `status`, `metric`, `log`, `bench`; kes-protocol.md 11), and
//! `seal`/`open` (docs/envelope.md).

mod bench;
mod client;
mod envelope;
mod identity;

use std::process::ExitCode;

use clap::Subcommand;

use bench::BenchArgs;
use client::{ClientArgs, KeyCommand, PolicyCommand};
use envelope::{OpenArgs, SealArgs};
use identity::NewIdentity;

/// The commands of this module, as `kesrs` lists them after `server` and `check`.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
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

#[derive(Debug, Subcommand)]
pub(crate) enum IdentityCommand {
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

/// Runs the command.
pub(crate) fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Identity(command) => match command {
            IdentityCommand::New(args) => identity::new_identity(args),
            IdentityCommand::Of { value } => identity::identity_of(&value),
            IdentityCommand::Info {
                identity,
                json,
                client,
            } => client::identity_info(&client, identity, json),
            IdentityCommand::Ls {
                pattern,
                json,
                client,
            } => client::identity_ls(&client, &pattern, json),
        },
        Command::Key { command, client } => client::key(&client, command),
        Command::Policy { command, client } => client::policy(&client, command),
        Command::Status { json, api, client } => client::status(&client, json, api),
        Command::Metric { client } => client::metric(&client),
        Command::Log { error, client, .. } => client::log(&client, error),
        Command::Bench(args) => bench::run(args),
        Command::Seal(args) => envelope::seal(args),
        Command::Open(args) => envelope::open(args),
    }
}
