//! `/v1/metrics`: KES's metric families in the Prometheus text format 0.0.4 (kes-protocol.md 10.3).
//!
//! Hand-written rather than through a Prometheus crate: KES's exact names, help texts and ordering, the
//! omission of label families without samples, and Go's float formatting are easier to pin down as
//! text than to coax out of a registry. Updates are lock-free atomics on the request path.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::connection_threads;

/// The Content-Type `expfmt` negotiates for a client that sends no Accept header.
pub(crate) const CONTENT_TYPE: &str =
    "text/plain; version=0.0.4; charset=utf-8; escaping=underscores";

/// Upper bounds of `kes_http_response_time`, in seconds.
const BUCKETS: [f64; 10] = [0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 1.5, 3.0, 5.0, 10.0];

/// HTTP status codes are three digits, 100 to 999 (`http::StatusCode`).
const FIRST_CODE: u16 = 100;
const CODES: usize = 900;

/// The server's request metrics.
#[derive(Debug)]
pub(crate) struct Metrics {
    active: AtomicI64,
    /// Counts per status code (index: code - 100), for the success (2xx), error (4xx) and failure
    /// (5xx) families.
    codes: Box<[AtomicU64; CODES]>,
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    /// The sum of observed seconds, in nanoseconds, to stay an integer atomic.
    sum_nanos: AtomicU64,
    /// Config loads: start-up and every reload.
    pub(crate) reload: ReloadMetrics,
}

/// The outcome of config loads, for `kesrs_reload_*`.
#[derive(Debug, Default)]
pub(crate) struct ReloadMetrics {
    /// Successful loads, the start-up load included.
    generation: AtomicU64,
    failures: AtomicU64,
    /// Unix times in seconds, as `f64` bits; zero for never.
    last_success: AtomicU64,
    last_failure: AtomicU64,
}

impl ReloadMetrics {
    /// Records a successful load and returns its generation.
    pub(crate) fn succeeded(&self) -> u64 {
        self.last_success
            .store(unix_now().to_bits(), Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Records a failed reload.
    pub(crate) fn failed(&self) {
        self.last_failure
            .store(unix_now().to_bits(), Ordering::Relaxed);
        self.failures.fetch_add(1, Ordering::Relaxed);
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Process facts the exposition reports besides the request metrics.
#[derive(Debug)]
pub(crate) struct Process {
    pub(crate) started: Instant,
    pub(crate) start_unix: f64,
    pub(crate) audit_events: u64,
    pub(crate) error_events: u64,
    /// The served certificate's expiry, unix seconds.
    pub(crate) cert_not_after: Option<f64>,
    /// The key store's probe latency, or `None` if it is unreachable.
    pub(crate) keystore_latency: Option<Duration>,
}

/// Tracks one metered request: the active gauge goes down when it is dropped.
#[derive(Debug)]
pub(crate) struct Active<'a> {
    metrics: &'a Metrics,
    started: Instant,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        Self {
            active: AtomicI64::new(0),
            codes: Box::new([const { AtomicU64::new(0) }; CODES]),
            buckets: Default::default(),
            count: AtomicU64::new(0),
            sum_nanos: AtomicU64::new(0),
            reload: ReloadMetrics::default(),
        }
    }

    /// Starts a metered request, received at `started` (the server has read that clock already).
    pub(crate) fn start(&self, started: Instant) -> Active<'_> {
        self.active.fetch_add(1, Ordering::Relaxed);
        Active {
            metrics: self,
            started,
        }
    }

    /// The exposition text.
    pub(crate) fn render(&self, process: &Process) -> String {
        let mut out = String::with_capacity(4096);
        let proc_status = ProcStatus::read();
        let codes: Vec<(u16, u64)> = (FIRST_CODE..)
            .zip(self.codes.iter())
            .map(|(code, count)| (code, count.load(Ordering::Relaxed)))
            .filter(|(_, count)| *count > 0)
            .collect();
        let by_class = |class: u16| -> Vec<(u16, u64)> {
            codes
                .iter()
                .filter(|(code, _)| *code / 100 == class)
                .copied()
                .collect()
        };

        gauge(
            &mut out,
            "kes_http_request_active",
            "Number of active requests that are not finished, yet.",
            self.active.load(Ordering::Relaxed) as f64,
        );
        labelled_counter(
            &mut out,
            "kes_http_request_error",
            "Number of request that failed due to some error. (HTTP 4xx status code)",
            &by_class(4),
        );
        labelled_counter(
            &mut out,
            "kes_http_request_failure",
            "Number of request that failed due to some internal failure. (HTTP 5xx status code)",
            &by_class(5),
        );
        labelled_counter(
            &mut out,
            "kes_http_request_success",
            "Number of requests that have been served successfully.",
            &by_class(2),
        );
        self.render_histogram(&mut out);
        counter(
            &mut out,
            "kes_log_audit_events",
            "Number of audit log events written to the audit log targets.",
            process.audit_events,
        );
        counter(
            &mut out,
            "kes_log_error_events",
            "Number of error log events written to the error log targets.",
            process.error_events,
        );
        // Rust has no GC heap to count objects in; anonymous resident memory stands in for the heap.
        gauge(
            &mut out,
            "kes_system_mem_heap_objects",
            "The number of objects that are currently allocated on the heap memory.",
            0.0,
        );
        gauge(
            &mut out,
            "kes_system_mem_heap_used",
            "The number of bytes that are currently allocated on the heap memory.",
            proc_status.heap_bytes as f64,
        );
        gauge(
            &mut out,
            "kes_system_mem_stack_used",
            "The bytes of stack memory obtained from the OS.",
            proc_status.stack_bytes as f64,
        );
        gauge(
            &mut out,
            "kes_system_num_cpu",
            "The number of logical CPUs available on the system. It may be larger than the number of usable CPUs.",
            connection_threads::machine_cpus() as f64,
        );
        gauge(
            &mut out,
            "kes_system_num_cpu_used",
            "The number of logical CPUs usable by the server. It may be smaller than the number of available CPUs.",
            connection_threads::count() as f64,
        );
        gauge(
            &mut out,
            "kes_system_num_threads",
            "The number of concurrent co-routines/threads that currently exists.",
            proc_status.threads as f64,
        );
        let up = process.started.elapsed();
        gauge(
            &mut out,
            "kes_system_up_time",
            "The time the server has been up and running in seconds.",
            // KES truncates to 10 ms.
            (up.as_millis() / 10) as f64 / 100.0,
        );
        self.render_kesrs(&mut out, process);
        gauge(
            &mut out,
            "process_open_fds",
            "Number of open file descriptors.",
            open_fds() as f64,
        );
        gauge(
            &mut out,
            "process_resident_memory_bytes",
            "Resident memory size in bytes.",
            proc_status.resident_bytes as f64,
        );
        gauge(
            &mut out,
            "process_start_time_seconds",
            "Start time of the process since unix epoch in seconds.",
            process.start_unix,
        );
        out
    }

    /// kesrs's own families: key store health, reloads and the certificate's expiry.
    fn render_kesrs(&self, out: &mut String, process: &Process) {
        if let Some(latency) = process.keystore_latency {
            gauge(
                out,
                "kesrs_keystore_latency_seconds",
                "How long the last key store probe took.",
                latency.as_secs_f64(),
            );
        }
        gauge(
            out,
            "kesrs_keystore_up",
            "Whether the key store answered its probe (1) or is unreachable (0).",
            if process.keystore_latency.is_some() {
                1.0
            } else {
                0.0
            },
        );
        let reload = &self.reload;
        counter(
            out,
            "kesrs_reload_failures_total",
            "Number of reloads (SIGHUP or changed files) that failed and kept the previous state.",
            reload.failures.load(Ordering::Relaxed),
        );
        gauge(
            out,
            "kesrs_reload_generation",
            "Number of successful config loads, the one at start-up included.",
            reload.generation.load(Ordering::Relaxed) as f64,
        );
        gauge(
            out,
            "kesrs_reload_last_failure_timestamp_seconds",
            "Unix time of the last failed reload; 0 if none failed.",
            f64::from_bits(reload.last_failure.load(Ordering::Relaxed)),
        );
        gauge(
            out,
            "kesrs_reload_last_success_timestamp_seconds",
            "Unix time of the last successful config load.",
            f64::from_bits(reload.last_success.load(Ordering::Relaxed)),
        );
        if let Some(not_after) = process.cert_not_after {
            gauge(
                out,
                "kesrs_tls_certificate_expiry_timestamp_seconds",
                "Unix time at which the served TLS certificate expires.",
                not_after,
            );
        }
    }

    fn render_histogram(&self, out: &mut String) {
        let name = "kes_http_response_time";
        let _ = writeln!(
            out,
            "# HELP {name} Histogram of request response times spawning from 10ms to 10s."
        );
        let _ = writeln!(out, "# TYPE {name} histogram");
        let mut cumulative = 0;
        for (bound, n) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{le=\"{}\"}} {cumulative}",
                go_float(*bound)
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
        let sum = self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum {}", go_float(sum));
        let _ = writeln!(out, "{name}_count {count}");
    }
}

impl Active<'_> {
    /// Ends the request with `status`: counts it and observes its handling time.
    pub(crate) fn finish(self, status: u16) {
        let metrics = self.metrics;
        if let Some(count) = status
            .checked_sub(FIRST_CODE)
            .and_then(|i| metrics.codes.get(usize::from(i)))
        {
            count.fetch_add(1, Ordering::Relaxed);
        }
        let elapsed = self.started.elapsed();
        let secs = elapsed.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|bound| secs <= *bound) {
            if let Some(bucket) = metrics.buckets.get(i) {
                bucket.fetch_add(1, Ordering::Relaxed);
            }
        }
        metrics.count.fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        metrics.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }
}

impl Drop for Active<'_> {
    fn drop(&mut self) {
        self.metrics.active.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Memory and thread counts from `/proc/self/status` (zero where it is not available).
#[derive(Debug, Default)]
pub(crate) struct ProcStatus {
    pub(crate) resident_bytes: u64,
    /// `RssAnon`: heap and touched stacks. Not `VmData`, which counts address space the allocator
    /// and thread stacks only reserved (about 1 GB for an idle server).
    pub(crate) heap_bytes: u64,
    pub(crate) stack_bytes: u64,
    pub(crate) threads: u64,
}

impl ProcStatus {
    pub(crate) fn read() -> Self {
        let Ok(text) = std::fs::read_to_string("/proc/self/status") else {
            return Self::default();
        };
        let mut status = Self::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let number = value
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0);
            match key {
                "VmRSS" => status.resident_bytes = number * 1024,
                "RssAnon" => status.heap_bytes = number * 1024,
                "VmStk" => status.stack_bytes = number * 1024,
                "Threads" => status.threads = number,
                _ => {}
            }
        }
        status
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

fn gauge(out: &mut String, name: &str, help: &str, value: f64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} gauge");
    let _ = writeln!(out, "{name} {}", go_float(value));
}

fn counter(out: &mut String, name: &str, help: &str, value: u64) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    let _ = writeln!(out, "{name} {}", go_float(value as f64));
}

/// A `CounterVec` by `code`; left out entirely while it has no samples, as client_golang does.
fn labelled_counter(out: &mut String, name: &str, help: &str, samples: &[(u16, u64)]) {
    if samples.is_empty() {
        return;
    }
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} counter");
    for (code, n) in samples {
        let _ = writeln!(out, "{name}{{code=\"{code}\"}} {}", go_float(*n as f64));
    }
}

/// Go's `strconv.FormatFloat(f, 'g', -1, 64)`, which `expfmt` uses for sample values.
pub(crate) fn go_float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        };
    }
    if f == 0.0 {
        return "0".into();
    }
    // Rust's `{:e}` gives the shortest round-tripping digits, as Go's -1 precision does.
    let sci = format!("{f:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let Ok(exp) = exp.parse::<i32>() else {
        return sci;
    };
    // With the shortest precision, strconv's 'g' switches to %e when the exponent is < -4 or >= 6.
    if !(-4..6).contains(&exp) {
        let sign = if exp < 0 { '-' } else { '+' };
        return format!("{mantissa}e{sign}{:02}", exp.abs());
    }
    format!("{f}")
}

/// How long ago something started, for the status endpoint.
pub(crate) fn uptime_secs(started: Instant) -> u64 {
    // KES rounds the uptime to whole seconds.
    (started.elapsed() + Duration::from_millis(500)).as_secs()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_as_go_writes_them() {
        for (f, want) in [
            (0.0, "0"),
            (1.0, "1"),
            (0.01, "0.01"),
            (1.5, "1.5"),
            (10.0, "10"),
            (123456.0, "123456"),
            (5_242_880.0, "5.24288e+06"),
            (1e21, "1e+21"),
            (0.00001, "1e-05"),
            (0.0001, "0.0001"),
            (f64::INFINITY, "+Inf"),
        ] {
            assert_eq!(go_float(f), want, "{f}");
        }
    }

    #[test]
    fn exposition_omits_empty_label_families() {
        let metrics = Metrics::new();
        let process = Process {
            started: Instant::now(),
            start_unix: 1.0,
            audit_events: 2,
            error_events: 0,
            cert_not_after: Some(1_900_000_000.0),
            keystore_latency: None,
        };
        let text = metrics.render(&process);
        assert!(!text.contains("kes_http_request_success"));
        assert!(text.contains("kes_log_audit_events 2\n"));
        assert!(text.contains("kes_http_response_time_bucket{le=\"+Inf\"} 0\n"));
        metrics.start(Instant::now()).finish(200);
        metrics.start(Instant::now()).finish(404);
        let text = metrics.render(&process);
        assert!(text.contains("kes_http_request_success{code=\"200\"} 1\n"));
        assert!(text.contains("kes_http_request_error{code=\"404\"} 1\n"));
        assert!(!text.contains("kes_http_request_failure"));
        assert!(text.contains("kes_http_response_time_count 2\n"));
        assert!(text.contains("kes_http_request_active 0\n"));
        assert!(text.contains("kesrs_keystore_up 0\n"));
        assert!(!text.contains("kesrs_keystore_latency_seconds"));
        assert!(text.contains("kesrs_reload_generation 0\n"));
        metrics.reload.succeeded();
        metrics.reload.failed();
        let text = metrics.render(&process);
        assert!(text.contains("kesrs_reload_generation 1\n"));
        assert!(text.contains("kesrs_reload_failures_total 1\n"));
        assert!(text.contains("kesrs_tls_certificate_expiry_timestamp_seconds 1.9e+09\n"));
        assert!(!text.contains("kesrs_reload_last_success_timestamp_seconds 0\n"));
        // Families are sorted by name, as the Go registry gathers them.
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }
}
