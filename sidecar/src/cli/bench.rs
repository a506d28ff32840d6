//! `kesrs bench`: a load generator for any KES-compatible server (kesrs or Go KES).
//!
//! The load comes from `--threads` threads, each with a single-threaded runtime and a client (one
//! connection) of its own, so the generator never wakes another thread or contends on a connection's
//! lock: on a small machine it shares the cores with the server it measures, and every cycle it spends
//! is one the server does not get. Each worker records its latencies in its own histogram, merged at
//! the end, so measuring costs no shared lock either.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Args, ValueEnum};
use hdrhistogram::Histogram;
use serde_json::json;

use kesrs_core::{Client, Error, KeyName};

use super::client::ClientArgs;

/// What `kesrs bench` runs.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    #[command(flatten)]
    client: ClientArgs,
    /// The operation to measure.
    #[arg(long, value_enum, default_value = "generate")]
    op: Operation,
    /// Requests in flight at once, over all threads.
    #[arg(short = 'c', long, default_value_t = 32)]
    concurrency: usize,
    /// Threads generating the load, each with its own connection; one drives a small server well
    /// and leaves the most CPU to it.
    #[arg(short = 't', long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,
    /// How long to run, as a Go duration.
    #[arg(short = 'd', long, default_value = "10s", value_parser = kesrs_core::config::parse_duration)]
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

/// The latencies and the error count of some requests: a worker's, a thread's or the whole run's.
#[derive(Debug)]
struct Tally {
    /// Microseconds, from 1 µs to 1 minute, three significant digits.
    latency: Histogram<u64>,
    errors: u64,
}

impl Tally {
    fn new() -> anyhow::Result<Self> {
        Ok(Self {
            latency: Histogram::new_with_bounds(1, 60_000_000, 3)
                .context("creating a latency histogram")?,
            errors: 0,
        })
    }

    fn requests(&self) -> u64 {
        self.latency.len()
    }

    fn add(&mut self, other: &Self) -> anyhow::Result<()> {
        self.errors += other.errors;
        self.latency
            .add(&other.latency)
            .context("merging latency histograms")
    }
}

/// Runs `kesrs bench`.
pub(crate) fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let key = KeyName::new(&args.key_name)?;
    let ciphertext = runtime()?.block_on(prepare(&args, &key))?;
    let issued = AtomicU64::new(0);
    let start = Instant::now();
    let deadline = start + args.duration;
    let threads = usize::from(args.threads);
    let concurrency = args.concurrency.max(1);
    let results: Vec<anyhow::Result<Tally>> = std::thread::scope(|scope| {
        let loads: Vec<_> = (0..threads)
            .map(|thread| {
                // The workers are spread evenly; the first threads take the remainder.
                let workers = concurrency / threads + usize::from(thread < concurrency % threads);
                let load = Load {
                    args: &args,
                    key: &key,
                    ciphertext: &ciphertext,
                    issued: &issued,
                    deadline,
                };
                scope.spawn(move || runtime()?.block_on(load.run(workers)))
            })
            .collect();
        loads
            .into_iter()
            .map(|load| {
                load.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a benchmark thread panicked")))
            })
            .collect()
    });
    let elapsed = start.elapsed();
    let mut total = Tally::new()?;
    for result in results {
        total.add(&result?)?;
    }
    print(&args, &total, elapsed)?;
    Ok(if total.errors == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// A single-threaded runtime: a load thread's, or the one that prepares the run.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn connect(args: &BenchArgs) -> anyhow::Result<Client> {
    args.client
        .connect_with(|builder| builder.http2(!args.http1))
}

/// Creates the key if it is missing and returns a ciphertext for `decrypt` to use.
async fn prepare(args: &BenchArgs, key: &KeyName) -> anyhow::Result<Vec<u8>> {
    let client = connect(args)?;
    match client.create_key(key).await {
        Ok(()) | Err(Error::KeyExists) => {}
        Err(err) => return Err(err).context("creating the benchmark key"),
    }
    let sample = client
        .generate_key(key, CONTEXT)
        .await
        .context("preparing a ciphertext")?;
    Ok(sample.ciphertext().to_vec())
}

/// The context every request sends.
const CONTEXT: &[u8] = br#"{"bucket":"bench/object"}"#;

/// One thread's share of the run.
struct Load<'a> {
    args: &'a BenchArgs,
    key: &'a KeyName,
    ciphertext: &'a [u8],
    /// Requests started so far, over all threads: `--requests` bounds it.
    issued: &'a AtomicU64,
    deadline: Instant,
}

impl Load<'_> {
    /// Runs `workers` request loops on this thread's connection until the run ends.
    async fn run(self, workers: usize) -> anyhow::Result<Tally> {
        let client = connect(self.args)?;
        // One request first: until a connection has negotiated HTTP/2 (ALPN), hyper's pool opens
        // a connection for every request waiting (hyperium/hyper#1485), and the workers' first
        // requests would open one each, leaving the load on whichever the pool kept.
        client.version().await.context("connecting to the server")?;
        let workers = (0..workers).map(|_| self.worker(&client));
        let mut tally = Tally::new()?;
        for result in futures_util::future::join_all(workers).await {
            tally.add(&result?)?;
        }
        Ok(tally)
    }

    /// One request after another until the run ends.
    async fn worker(&self, client: &Client) -> anyhow::Result<Tally> {
        let mut tally = Tally::new()?;
        loop {
            let n = self.issued.fetch_add(1, Ordering::Relaxed);
            match self.args.requests {
                Some(limit) if n >= limit => break,
                None if Instant::now() >= self.deadline => break,
                _ => {}
            }
            let t = Instant::now();
            if one_request(client, self.args.op, n, self.key, self.ciphertext)
                .await
                .is_err()
            {
                tally.errors += 1;
            }
            let micros = u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
            tally.latency.saturating_record(micros);
        }
        Ok(tally)
    }
}

async fn one_request(
    client: &Client,
    op: Operation,
    n: u64,
    key: &KeyName,
    ciphertext: &[u8],
) -> Result<(), Error> {
    let op = match (op, n % 10) {
        (Operation::Mix, 0) => Operation::Generate,
        (Operation::Mix, 1) => return client.describe_key(key).await.map(drop),
        (Operation::Mix, _) => Operation::Decrypt,
        (op, _) => op,
    };
    match op {
        Operation::Generate | Operation::Mix => client.generate_key(key, CONTEXT).await.map(drop),
        Operation::Decrypt => client.decrypt(key, ciphertext, CONTEXT).await.map(drop),
        Operation::Encrypt => client.encrypt(key, &[0u8; 32], CONTEXT).await.map(drop),
    }
}

fn print(args: &BenchArgs, report: &Tally, elapsed: Duration) -> anyhow::Result<()> {
    let seconds = elapsed.as_secs_f64().max(f64::EPSILON);
    let requests = report.requests();
    let throughput = requests as f64 / seconds;
    let quantile = |q: f64| report.latency.value_at_quantile(q) as f64 / 1000.0;
    if args.json {
        let value = json!({
            "operation": format!("{:?}", args.op).to_lowercase(),
            "concurrency": args.concurrency,
            "threads": args.threads,
            "http": if args.http1 { "1.1" } else { "2" },
            "requests": requests,
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
            args.op, requests, report.errors
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
