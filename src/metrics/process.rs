//! The standard process metrics (`process_cpu_seconds_total`, `process_resident_memory_bytes`,
//! `process_virtual_memory_bytes`, `process_open_fds`, `process_max_fds`,
//! `process_start_time_seconds`), read from `/proc/self` at each scrape. Where `/proc` is not
//! there (not Linux), none are reported.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Unit;

/// Clock ticks per second of `/proc/self/stat`'s times (`sysconf(_SC_CLK_TCK)`, 100 on every
/// Linux architecture taskflow builds for).
const TICKS_PER_SECOND: f64 = 100.0;
const PAGE_SIZE: f64 = 4096.0;

#[derive(Debug, Default)]
pub struct ProcessCollector;

/// What `/proc/self` says now.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Reading {
    cpu_seconds: f64,
    start_time_seconds: f64,
    virtual_bytes: f64,
    resident_bytes: f64,
    open_fds: f64,
    max_fds: Option<f64>,
}

/// The fields of `/proc/self/stat` after the command name (which may hold spaces and
/// parentheses, so it is skipped up to its last `)`).
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let (_, rest) = stat.rsplit_once(')')?;
    Some(rest.split_whitespace().collect())
}

/// Parses `/proc/self/stat` and the system boot time (`btime` of `/proc/stat`).
fn parse(stat: &str, boot_time: f64, open_fds: usize, limits: &str) -> Option<Reading> {
    let fields = stat_fields(stat)?;
    // Counted from the state (field 3 of proc(5)) at index 0.
    let number = |field: usize| -> Option<f64> { fields.get(field - 3)?.parse().ok() };
    let (utime, stime) = (number(14)?, number(15)?);
    let start_ticks = number(22)?;
    let max_fds = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3))
        .and_then(|v| v.parse().ok());
    Some(Reading {
        cpu_seconds: (utime + stime) / TICKS_PER_SECOND,
        start_time_seconds: boot_time + start_ticks / TICKS_PER_SECOND,
        virtual_bytes: number(23)?,
        resident_bytes: number(24)? * PAGE_SIZE,
        open_fds: open_fds as f64,
        max_fds,
    })
}

fn read() -> Option<Reading> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let boot_time = std::fs::read_to_string("/proc/stat")
        .ok()?
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())?;
    let open_fds = std::fs::read_dir("/proc/self/fd").ok()?.count();
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    parse(&stat, boot_time, open_fds, &limits)
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    value: f64,
) -> Result<(), std::fmt::Error> {
    let metric = ConstGauge::new(value);
    let metric_encoder = encoder.encode_descriptor(name, help, unit, metric.metric_type())?;
    metric.encode(metric_encoder)
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let Some(now) = read() else {
            return Ok(());
        };
        let cpu = ConstCounter::new(now.cpu_seconds);
        let cpu_encoder = encoder.encode_descriptor(
            "process_cpu",
            "Total user and system CPU time spent in seconds",
            Some(&Unit::Seconds),
            cpu.metric_type(),
        )?;
        cpu.encode(cpu_encoder)?;
        gauge(
            &mut encoder,
            "process_resident_memory",
            "Resident memory size in bytes",
            Some(&Unit::Bytes),
            now.resident_bytes,
        )?;
        gauge(
            &mut encoder,
            "process_virtual_memory",
            "Virtual memory size in bytes",
            Some(&Unit::Bytes),
            now.virtual_bytes,
        )?;
        gauge(
            &mut encoder,
            "process_start_time",
            "Start time of the process since the Unix epoch in seconds",
            Some(&Unit::Seconds),
            now.start_time_seconds,
        )?;
        gauge(
            &mut encoder,
            "process_open_fds",
            "Number of open file descriptors",
            None,
            now.open_fds,
        )?;
        if let Some(max) = now.max_fds {
            gauge(
                &mut encoder,
                "process_max_fds",
                "Maximum number of open file descriptors",
                None,
                max,
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_is_read_past_a_command_name_with_spaces_and_parentheses() {
        let stat = "4242 (tf (worker) x) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 50 0 0 20 0 \
                    8 0 12345 104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0";
        let limits = "Limit                     Soft Limit           Hard Limit           Units\n\
                      Max open files            1024                 524288               files\n";
        let reading = parse(stat, 1_700_000_000.0, 12, limits).expect("parsed");
        assert_eq!(reading.cpu_seconds, 3.0);
        assert_eq!(reading.start_time_seconds, 1_700_000_123.45);
        assert_eq!(reading.virtual_bytes, 104_857_600.0);
        assert_eq!(reading.resident_bytes, 2560.0 * 4096.0);
        assert_eq!(reading.open_fds, 12.0);
        assert_eq!(reading.max_fds, Some(1024.0));
    }

    #[test]
    fn this_process_reads_itself() {
        if std::path::Path::new("/proc/self/stat").exists() {
            let now = read().expect("/proc/self is readable");
            assert!(now.resident_bytes > 0.0);
            assert!(now.open_fds >= 1.0);
        }
    }
}
