//! `kesrs bench`: a load generator for any KES-compatible server (kesrs or Go KES).
//!
//! Workers share one client (one connection pool, HTTP/2 streams or HTTP/1.1 connections) and each
//! records its latencies in its own histogram, merged at the end, so measuring costs no shared lock.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use hdrhistogram::Histogram;
use serde_json::json;

use kesrs_core::{Client, Error, KeyName};

use crate::client_cli::ClientArgs;

/// What `kesrs bench` runs.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The operation to measure.
    #[arg(long, value_enum, default_value = "generate")]
    op: Operation,
    /// Requests in flight at once.
    #[arg(short = 'c', long, default_value_t = 32)]
    concurrency: usize,
    /// How long to run, as a Go duration.
    #[arg(short = 'd', long, default_value = "10s", value_parser = crate::cli::parse_go_duration)]
    duration: Duration,
    /// Stop after this many requests instead (overrides --duration).
    #[arg(short = 'n', long)]
    requests: Option<u64>,
    /// Use HTTP/1.1 only (default: HTTP/2 when the server offers it).
    #[arg(long)]
    http1: bool,
    /// The name of the key to use; created if it does not exist.
    #[arg(long = "name", default_value = "kesrs-bench")]
    key_name: String,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

/// The operations `kesrs bench` can load a server with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Operation {
    /// POST /v1/key/generate (MinIO's PUT of an SSE object).
    Generate,
    /// POST /v1/key/decrypt (MinIO's GET of an SSE object).
    Decrypt,
    /// POST /v1/key/encrypt.
    Encrypt,
    /// MinIO-like: 1 generate, 8 decrypts and 1 describe in every 10 requests.
    Mix,
}

/// One benchmark run's result.
#[derive(Debug)]
struct Report {
    requests: u64,
    errors: u64,
    elapsed: Duration,
    latency: Histogram<u64>,
}

/// Runs `kesrs bench`.
pub(crate) fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(bench(&args))?;
    print(&args, &report)?;
    Ok(if report.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

async fn bench(args: &BenchArgs) -> anyhow::Result<Report> {
    let client = args
        .client
        .connect_with(|builder| builder.http2(!args.http1))?;
    let key = KeyName::new(&args.key_name)?;
    match client.create_key(&key).await {
        Ok(()) | Err(Error::KeyExists) => {}
        Err(err) => return Err(err).context("creating the benchmark key"),
    }
    let context = br#"{"bucket":"bench/object"}"#;
    let sample = client
        .generate_key(&key, context)
        .await
        .context("preparing a ciphertext")?;
    let ciphertext: Arc<[u8]> = sample.ciphertext().into();

    let issued = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + args.duration;
    let start = Instant::now();
    let workers: Vec<_> = (0..args.concurrency.max(1))
        .map(|_| {
            let (client, key, ciphertext, issued) = (
                client.clone(),
                key.clone(),
                Arc::clone(&ciphertext),
                Arc::clone(&issued),
            );
            let (op, limit) = (args.op, args.requests);
            tokio::spawn(async move {
                let mut latency = new_histogram()?;
                let mut errors = 0u64;
                loop {
                    let n = issued.fetch_add(1, Ordering::Relaxed);
                    match limit {
                        Some(limit) if n >= limit => break,
                        None if Instant::now() >= deadline => break,
                        _ => {}
                    }
                    let t = Instant::now();
                    if one_request(&client, op, n, &key, &ciphertext, context)
                        .await
                        .is_err()
                    {
                        errors += 1;
                    }
                    let micros = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
                    latency.saturating_record(micros);
                }
                anyhow::Ok((latency, errors))
            })
        })
        .collect();
    let mut report = Report {
        requests: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: new_histogram()?,
    };
    for worker in workers {
        let (latency, errors) = worker.await.context("benchmark worker failed")??;
        report.requests += latency.len();
        report.errors += errors;
        report
            .latency
            .add(&latency)
            .context("merging latency histograms")?;
    }
    report.elapsed = start.elapsed();
    Ok(report)
}

async fn one_request(
    client: &Client,
    op: Operation,
    n: u64,
    key: &KeyName,
    ciphertext: &[u8],
    context: &[u8],
) -> Result<(), Error> {
    let op = match (op, n % 10) {
        (Operation::Mix, 0) => Operation::Generate,
        (Operation::Mix, 1) => return client.describe_key(key).await.map(drop),
        (Operation::Mix, _) => Operation::Decrypt,
        (op, _) => op,
    };
    match op {
        Operation::Generate | Operation::Mix => client.generate_key(key, context).await.map(drop),
        Operation::Decrypt => client.decrypt(key, ciphertext, context).await.map(drop),
        Operation::Encrypt => client.encrypt(key, &[0u8; 32], context).await.map(drop),
    }
}

/// Microsecond latencies from 1 µs to 1 minute, three significant digits.
fn new_histogram() -> anyhow::Result<Histogram<u64>> {
    Histogram::new_with_bounds(1, 60_000_000, 3).context("creating a latency histogram")
}

fn print(args: &BenchArgs, report: &Report) -> anyhow::Result<()> {
    let seconds = report.elapsed.as_secs_f64().max(f64::EPSILON);
    let throughput = report.requests as f64 / seconds;
    let quantile = |q: f64| report.latency.value_at_quantile(q) as f64 / 1000.0;
    if args.json {
        let value = json!({
            "operation": format!("{:?}", args.op).to_lowercase(),
            "concurrency": args.concurrency,
            "http": if args.http1 { "1.1" } else { "2" },
            "requests": report.requests,
            "errors": report.errors,
            "seconds": seconds,
            "throughput": throughput,
            "latency_ms": {
                "p50": quantile(0.50),
                "p99": quantile(0.99),
                "p999": quantile(0.999),
                "max": report.latency.max() as f64 / 1000.0,
            },
        });
        println!("{value}");
    } else {
        println!(
            "{:?}: {} requests in {seconds:.2}s, {} errors",
            args.op, report.requests, report.errors
        );
        println!("throughput {throughput:.0} req/s");
        println!(
            "latency    p50 {:.3} ms  p99 {:.3} ms  p99.9 {:.3} ms  max {:.3} ms",
            quantile(0.50),
            quantile(0.99),
            quantile(0.999),
            report.latency.max() as f64 / 1000.0
        );
    }
    Ok(())
}
