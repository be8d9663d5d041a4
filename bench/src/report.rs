//! The figures: one table on stdout, and `results.json`.

use std::fmt::Write as _;
use std::path::Path;

use hdrhistogram::Histogram;

use crate::Error;
use crate::load::Measured;

/// Keys `results.json` must hold, each a number > 0 (`machine` is an object).
pub const REQUIRED: &[&str] = &[
    "create_tps",
    "pgbench_tps",
    "create_ratio",
    "create_with_deliveries_per_s",
    "publish_p50_ms",
    "publish_p99_ms",
    "drain_events_per_s",
    "replicas_publish_p99_ms",
    "replicas_takeover_ms",
    "next_instance_p99_ms",
    "sqlite_next_instance_p99_ms",
    "rss_idle_mb",
    "rss_watch_mb",
    "list_by_list_p99_ms",
    "list_by_list_16_p99_ms",
    "history_list_p99_ms",
    "history_filtered_p99_ms",
    "insights_p99_ms",
    "otel_kept_ratio",
    "otel_exported_ratio",
    "otel_spans_exported",
    "jwks_create_tps",
    "jwks_vs_hs256",
    "reminders_due_in_one_minute",
    "reminders_p99_late_ms",
];

pub fn ms(histogram: &Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

/// Rows of the table, built up as the run goes.
#[derive(Default)]
pub struct Table {
    rows: Vec<[String; 6]>,
}

impl Table {
    /// A row for a load of calls.
    pub fn calls(&mut self, backend: &str, what: &str, m: &Measured, note: &str) {
        self.rows.push([
            backend.into(),
            what.into(),
            format!("{:.0}/s", m.per_second()),
            format!("{:.2}", m.ms(0.5)),
            format!("{:.2}", m.ms(0.99)),
            if m.errors > 0 {
                format!("{note} ({} errors)", m.errors)
            } else {
                note.into()
            },
        ]);
    }

    /// A row for a latency histogram (µs) without a rate.
    pub fn latency(&mut self, backend: &str, what: &str, h: &Histogram<u64>, note: &str) {
        self.rows.push([
            backend.into(),
            what.into(),
            String::new(),
            format!("{:.2}", ms(h, 0.5)),
            format!("{:.2}", ms(h, 0.99)),
            note.into(),
        ]);
    }

    /// A row with a single figure.
    pub fn figure(&mut self, backend: &str, what: &str, value: String, note: &str) {
        self.rows.push([
            backend.into(),
            what.into(),
            value,
            String::new(),
            String::new(),
            note.into(),
        ]);
    }

    pub fn render(&self) -> String {
        let header = [
            "backend",
            "figure",
            "rate / value",
            "p50 ms",
            "p99 ms",
            "notes",
        ];
        let mut widths = header.map(str::len);
        for row in &self.rows {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let line = |out: &mut String, cells: &[String]| {
            out.push('|');
            for (cell, w) in cells.iter().zip(widths) {
                let _ = write!(out, " {cell:<w$} |");
            }
            out.push('\n');
        };
        line(&mut out, &header.map(String::from));
        line(&mut out, &widths.map(|w| "-".repeat(w)));
        for row in &self.rows {
            line(&mut out, row);
        }
        out
    }
}

/// Checks that `path` holds every required key with a number > 0 and a machine description.
pub fn check(path: &Path) -> Result<(), Error> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let json: serde_json::Value = serde_json::from_str(&text)?;
    let mut missing = Vec::new();
    for key in REQUIRED {
        match json.get(*key).and_then(serde_json::Value::as_f64) {
            Some(v) if v > 0.0 && v.is_finite() => {}
            _ => missing.push(*key),
        }
    }
    if json.get("machine").and_then(|m| m.get("nproc")).is_none() {
        missing.push("machine");
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!("{}: no positive figure for {missing:?}", path.display()).into())
    }
}
