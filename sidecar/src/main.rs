//! kesrs: a KES-compatible key server for MinIO, speaking the KES v1 API over mutual TLS.
//!
//! This binary is glue: every key operation is a call on `kesrs_core::Kms`. What lives here is HTTP
//! and TLS exactly as Go KES does them, the logs, the metrics, reload and the CLI. See README.md for
//! the module map.

mod api_error;
mod bench;
mod body;
mod check;
mod cli;
mod client_cli;
mod dev;
mod envelope_cli;
mod gojson;
mod handlers;
mod idle;
mod logs;
mod metrics;
mod reload;
mod response;
mod routes;
mod server;
mod state;
mod streams;
mod tls;

use std::process::ExitCode;

/// Every request allocates a few small buffers (bodies, JSON, headers) on whichever worker thread
/// runs it; mimalloc's per-thread free lists serve that pattern with less contention and fewer cycles
/// than the system allocator (measured with bench/compare, see docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse_args();
    // The `time` crate reads the local UTC offset only while the process is single-threaded, so it is
    // taken here, before the runtime starts. KES writes local times in its responses.
    let local_offset = time::UtcOffset::current_local_offset().unwrap_or(time::UtcOffset::UTC);
    match cli.run(local_offset) {
        Ok(code) => code,
        Err(err) => {
            // `{:#}` prints the whole cause chain once, on one line.
            eprintln!("Error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
