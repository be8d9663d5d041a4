//! Driving calls: N callers in a closed loop for a fixed time (or a fixed count), latencies in
//! an HDR histogram, and a sampler of the server's memory while they run.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::Error;

/// Latencies in microseconds, 1 µs to 10 min, 3 significant digits.
pub fn histogram() -> Result<Histogram<u64>, Error> {
    Ok(Histogram::new_with_bounds(1, 600_000_000, 3)?)
}

pub fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX).max(1)
}

/// What one run of calls measured.
#[derive(Debug, Clone)]
pub struct Measured {
    pub ok: u64,
    pub errors: u64,
    pub elapsed: Duration,
    pub latency: Histogram<u64>,
    pub first_error: Option<String>,
}

impl Measured {
    pub fn per_second(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// A latency quantile in milliseconds.
    pub fn ms(&self, quantile: f64) -> f64 {
        self.latency.value_at_quantile(quantile) as f64 / 1000.0
    }
}

/// When the callers stop: after a time, or after a number of calls in all.
#[derive(Debug, Clone, Copy)]
pub enum Until {
    Elapsed(Duration),
    Calls(u64),
}

/// Runs `callers` callers, each calling `call(caller, n)` again as soon as the previous call
/// ends, until `until`. `n` counts calls across all callers from 0.
pub async fn closed_loop<F, Fut>(callers: usize, until: Until, call: F) -> Result<Measured, Error>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), tonic::Status>> + Send,
{
    let call = Arc::new(call);
    let issued = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(callers);
    for caller in 0..callers {
        let (call, issued) = (call.clone(), issued.clone());
        workers.push(tokio::spawn(async move {
            let mut latency = histogram()?;
            let (mut ok, mut errors, mut first_error) = (0, 0, None);
            loop {
                let n = issued.fetch_add(1, Ordering::Relaxed);
                match until {
                    Until::Elapsed(d) if started.elapsed() >= d => break,
                    Until::Calls(max) if n >= max => break,
                    _ => {}
                }
                let t0 = Instant::now();
                match call(caller, n).await {
                    Ok(()) => {
                        ok += 1;
                        latency.saturating_record(micros(t0.elapsed()));
                    }
                    Err(status) => {
                        errors += 1;
                        first_error.get_or_insert_with(|| status.to_string());
                    }
                }
            }
            Ok::<_, Error>((ok, errors, latency, first_error))
        }));
    }
    let mut total = Measured {
        ok: 0,
        errors: 0,
        elapsed: Duration::ZERO,
        latency: histogram()?,
        first_error: None,
    };
    for worker in workers {
        let (ok, errors, latency, first_error) = worker.await??;
        total.ok += ok;
        total.errors += errors;
        total.latency.add(&latency)?;
        if total.first_error.is_none() {
            total.first_error = first_error;
        }
    }
    total.elapsed = started.elapsed();
    if total.ok == 0 {
        return Err(format!(
            "no call succeeded ({} failed, first: {})",
            total.errors,
            total.first_error.as_deref().unwrap_or("-")
        )
        .into());
    }
    Ok(total)
}

/// Samples a process's RSS every 100 ms until stopped; returns the highest value in MiB.
pub struct RssSampler {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<f64>,
}

impl RssSampler {
    pub fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut peak: f64 = 0.0;
            while !flag.load(Ordering::Relaxed) {
                if let Ok(mb) = crate::server::rss_mb(pid) {
                    peak = peak.max(mb);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            peak
        });
        Self { stop, task }
    }

    pub async fn peak_mb(self) -> f64 {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or(0.0)
    }
}
