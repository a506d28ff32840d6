//! Runs the fake Key Vault until interrupted, for black-box tests of `kesrs server`.
//!
//! Usage: `fake-keyvault [--addr 127.0.0.1:0] [--ca-out ca.pem]`. Prints `listening on <addr>` once
//! ready; faults are set with `GET /_fake/{throttle,fail,deny,delay,outage,delete_lag,clear,counts}`.

use std::net::SocketAddr;
use std::process::ExitCode;

use fake_keyvault::FakeKeyVault;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut ca_out = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match (arg.as_str(), args.next()) {
            ("--addr", Some(value)) => match value.parse() {
                Ok(value) => addr = value,
                Err(err) => return fail(&format!("--addr {value}: {err}")),
            },
            ("--ca-out", Some(value)) => ca_out = Some(value),
            _ => return fail("usage: fake-keyvault [--addr HOST:PORT] [--ca-out FILE]"),
        }
    }
    let fake = match FakeKeyVault::bind(addr).await {
        Ok(fake) => fake,
        Err(err) => return fail(&format!("cannot start: {err}")),
    };
    if let Some(path) = ca_out {
        if let Err(err) = std::fs::write(&path, fake.ca_pem()) {
            return fail(&format!("cannot write {path}: {err}"));
        }
    }
    println!("listening on {}", fake.addr());
    println!("vault {} authority {}", fake.endpoint(), fake.authority());
    let _ = tokio::signal::ctrl_c().await;
    ExitCode::SUCCESS
}

fn fail(message: &str) -> ExitCode {
    eprintln!("fake-keyvault: {message}");
    ExitCode::FAILURE
}
