//! kesrs: a KES-compatible key server for MinIO, speaking the KES v1 API over mutual TLS.
//!
//! This binary is glue: every key operation is a call on `kesrs_core::Kms`. It holds two programs,
//! each in its own module: the server (`server`: HTTP and TLS exactly as Go KES does them, the logs,
//! the metrics, reload, and `kesrs check`) and the command line's other tools (`cli`: identities and
//! the client commands). This file only reads the command line and hands it to one of them. See
//! README.md for the module map.

mod cli;
mod server;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Every request allocates a few small buffers (bodies, JSON, headers) on whichever worker thread
/// runs it; mimalloc's per-thread free lists serve that pattern with less contention and fewer cycles
/// than the system allocator (measured with bench/compare, see docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// kesrs: a KES-compatible key server for MinIO.
#[derive(Debug, Parser)]
#[command(name = "kesrs", version, about)]
struct Kesrs {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start a KES server.
    Server(server::ServerArgs),
    /// Check a config before serving: files, certificate, policies, key store permissions, keys.
    Check(server::CheckArgs),
    #[command(flatten)]
    Tool(cli::Command),
    /// A no-op server on kesrs's TLS and HTTP stack, answering every request with 32 fixed bytes
    /// (or, with `--kes-answers`, generate and decrypt with fixed answers of kesrs's shape): the
    /// ceilings bench/compare measures kesrs against.
    #[command(hide = true)]
    NoopServer(server::NoopArgs),
}

fn main() -> ExitCode {
    let kesrs = Kesrs::parse();
    // The `time` crate reads the local UTC offset only while the process is single-threaded, so it is
    // taken here, before the runtime starts. KES writes local times in its responses.
    let local_offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
    let result = match kesrs.command {
        Command::Server(args) => server::run(args, local_offset),
        Command::Check(args) => server::run_check(args),
        Command::Tool(command) => cli::run(command),
        Command::NoopServer(args) => server::run_noop(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // `{:#}` prints the whole cause chain once, on one line.
            eprintln!("Error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_is_consistent() {
        <Kesrs as clap::CommandFactory>::command().debug_assert();
    }

    #[test]
    fn dev_and_config_conflict() {
        let err =
            Kesrs::try_parse_from(["kesrs", "server", "--dev", "--config", "x.yml"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        assert!(Kesrs::try_parse_from(["kesrs", "server"]).is_err());
        assert!(Kesrs::try_parse_from(["kesrs", "server", "--dev"]).is_ok());
    }
}
