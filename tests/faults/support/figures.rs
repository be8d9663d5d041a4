//! The one `FIGURES scenario=<name> key=value …` line each scenario prints, and the sums
//! behind it.

use std::fmt::Display;
use std::time::Duration;

/// The figures of one scenario run, printed as one line.
pub struct Figures {
    line: String,
}

impl Figures {
    pub fn new(scenario: &str) -> Self {
        Self {
            line: format!("FIGURES scenario={scenario}"),
        }
    }

    /// Adds `key=value`.
    pub fn add(mut self, key: &str, value: impl Display) -> Self {
        self.line.push_str(&format!(" {key}={value}"));
        self
    }

    /// Adds `key=<milliseconds>` with one decimal.
    pub fn ms(self, key: &str, value: Duration) -> Self {
        let ms = value.as_secs_f64() * 1000.0;
        self.add(key, format!("{ms:.1}"))
    }

    /// Prints the line (scripts/soak collects them).
    pub fn print(self) {
        println!("{}", self.line);
    }
}

/// The value at percentile `p` (0–100) by nearest rank; zero when there are none.
pub fn percentile(mut values: Vec<Duration>, p: f64) -> Duration {
    if values.is_empty() {
        return Duration::ZERO;
    }
    values.sort();
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}

#[test]
fn percentiles_pick_the_nearest_rank() {
    let values: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
    assert_eq!(percentile(values.clone(), 99.0), Duration::from_millis(99));
    assert_eq!(percentile(values.clone(), 50.0), Duration::from_millis(50));
    assert_eq!(percentile(values, 100.0), Duration::from_millis(100));
    assert_eq!(percentile(Vec::new(), 99.0), Duration::ZERO);
}
