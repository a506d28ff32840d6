//! Envelope throughput, against `openssl speed -evp aes-256-gcm -bytes 16384` run in the same process
//! (docs/performance.md, "Sealed messages"). A benchmark, not a test: nothing here asserts a speed.
//!
//! Run with `cargo run --release -p kesrs-core --example envelope_bench [-- GiB]` (default 1 GiB).
//! Everything runs on one thread; data keys come from an in-process `Kms` over the memory store.

use std::io::{self, Read, Write};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kesrs_core::config::CacheConfig;
use kesrs_core::keystore::MemoryStore;
use kesrs_core::{AsyncDataKeys, Context, DataKey, Envelope, Error, KeyName, Kms, ReuseLimits};
use zeroize::Zeroizing;

/// The blocking streams need blocking data keys: this runs the async ones on the bench's runtime.
struct Blocking<'a>(&'a Kms, &'a tokio::runtime::Runtime);

impl kesrs_core::DataKeys for Blocking<'_> {
    fn generate(&self, key: &KeyName, context: &[u8]) -> Result<DataKey, Error> {
        self.1.block_on(self.0.generate(key, context))
    }

    fn decrypt(
        &self,
        key: &KeyName,
        ct: &[u8],
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, Error> {
        self.1.block_on(self.0.decrypt(key, ct, context))
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let gib: u64 = std::env::args().nth(1).map_or(Ok(1), |a| a.parse())?;
    let total = gib << 30;
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
    let kms = Kms::new(Arc::new(MemoryStore::new()), CacheConfig::default());
    let name = KeyName::new("bench-key")?;
    runtime.block_on(kms.create_key(&name, None))?;
    let local = kms;
    let context = Context::from_map([("bucket", "bucket/object")]);

    let openssl = openssl_gcm_16k()?;
    println!(
        "openssl speed -evp aes-256-gcm -bytes 16384: {:.0} MB/s",
        openssl / 1e6
    );

    // Streaming seal of `total` bytes into a sink, written 1 MiB at a time.
    let blocking = Envelope::new(Blocking(&local, &runtime));
    let chunk = vec![0x5au8; 1 << 20];
    let start = Instant::now();
    let mut writer = blocking.seal_writer(&name, &context, io::sink())?;
    for _ in 0..total / chunk.len() as u64 {
        writer.write_all(&chunk)?;
    }
    writer.finish()?;
    let seal = total as f64 / start.elapsed().as_secs_f64();
    println!(
        "stream seal {gib} GiB: {:.0} MB/s = {:.2} x openssl",
        seal / 1e6,
        seal / openssl
    );

    // Streaming open: a 256 MiB envelope read back until `total` bytes are opened.
    let mut writer = blocking.seal_writer(&name, &context, Vec::new())?;
    for _ in 0..256 {
        writer.write_all(&chunk)?;
    }
    let sealed = writer.finish()?;
    let rounds = (total >> 28).max(1);
    let mut buf = vec![0u8; 1 << 20];
    let start = Instant::now();
    for _ in 0..rounds {
        let mut reader = blocking.open_reader(&sealed[..], &context)?;
        while reader.read(&mut buf)? > 0 {}
    }
    let open = (rounds << 28) as f64 / start.elapsed().as_secs_f64();
    println!(
        "stream open {} GiB: {:.0} MB/s = {:.2} x openssl",
        rounds as f64 / 4.0,
        open / 1e6,
        open / openssl
    );

    // One-shot seal and open of 1 KiB messages, each with its own data key from the Kms.
    let envelope = Envelope::new(local);
    let message = [0x42u8; 1024];
    let count = 300_000;
    let (sealed, seals) = runtime.block_on(async {
        let start = Instant::now();
        let mut last = Vec::new();
        for _ in 0..count {
            last = envelope.seal_async(&name, &message, &context).await?;
        }
        Ok::<_, Error>((last, count as f64 / start.elapsed().as_secs_f64()))
    })?;
    println!("seal 1 KiB, fresh data key each: {seals:.0} /s");
    let opens = runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..count {
            envelope.open_async(&sealed, &context).await?;
        }
        Ok::<_, Error>(count as f64 / start.elapsed().as_secs_f64())
    })?;
    println!("open 1 KiB: {opens:.0} /s");

    // Where the time of a seal goes: the Kms's data key alone, and a seal that reuses data keys.
    let generates = runtime.block_on(async {
        let start = Instant::now();
        for _ in 0..count {
            envelope.keys().generate(&name, context.as_bytes()).await?;
        }
        Ok::<_, Error>(count as f64 / start.elapsed().as_secs_f64())
    })?;
    println!("  of which Kms generate_key alone: {generates:.0} /s");
    let limits = ReuseLimits::new(u64::MAX, u64::MAX, Duration::from_secs(3600))?;
    let reusing = Envelope::new(Blocking(envelope.keys(), &runtime)).reuse_data_keys(limits);
    let start = Instant::now();
    for _ in 0..count {
        reusing.seal(&name, &message, &context)?;
    }
    let reused = count as f64 / start.elapsed().as_secs_f64();
    println!("seal 1 KiB, data key reused: {reused:.0} /s");
    Ok(())
}

/// openssl's AES-256-GCM speed at 16 KiB blocks, in bytes per second.
fn openssl_gcm_16k() -> Result<f64, Box<dyn std::error::Error>> {
    let output = Command::new("openssl")
        .args([
            "speed",
            "-evp",
            "aes-256-gcm",
            "-bytes",
            "16384",
            "-seconds",
            "3",
        ])
        .output()?;
    // The result line: "AES-256-GCM    4751518.38k" (thousands of bytes per second).
    let text = String::from_utf8_lossy(&output.stdout);
    let kbps = text
        .lines()
        .rev()
        .find_map(|line| {
            line.split_whitespace()
                .last()?
                .strip_suffix('k')?
                .parse::<f64>()
                .ok()
        })
        .ok_or("no result in openssl's output")?;
    Ok(kbps * 1000.0)
}
