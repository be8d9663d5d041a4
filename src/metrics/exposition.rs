//! The two text formats `/metrics` speaks: OpenMetrics 1.0 when the scraper asks for it in
//! `Accept` (Prometheus does), and otherwise Prometheus' classic text format 0.0.4, which
//! older tooling (`promtool check metrics`, curl, most agents) reads.
//!
//! The registry encodes OpenMetrics; the classic form is derived from it: a counter family's
//! `HELP` and `TYPE` name its `_total` series, an info family becomes a gauge named with
//! `_info`, `unknown` becomes `untyped`, and the `UNIT` lines and the `# EOF` marker go.

use std::collections::HashMap;

/// The content types of the two formats.
pub const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
pub const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Which format an `Accept` header asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    OpenMetrics,
    PrometheusText,
}

impl Format {
    /// OpenMetrics when `accept` names `application/openmetrics-text` with a non-zero
    /// quality at least as high as any other type it names; the classic text otherwise.
    pub fn negotiate(accept: Option<&str>) -> Self {
        let Some(accept) = accept else {
            return Self::PrometheusText;
        };
        let mut openmetrics: Option<f32> = None;
        let mut other: f32 = 0.0;
        for part in accept.split(',') {
            let mut fields = part.split(';').map(str::trim);
            let media = fields.next().unwrap_or_default().to_ascii_lowercase();
            let quality = fields
                .filter_map(|f| f.strip_prefix("q="))
                .find_map(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if media == "application/openmetrics-text" {
                openmetrics = Some(openmetrics.map_or(quality, |q| q.max(quality)));
            } else {
                other = other.max(quality);
            }
        }
        match openmetrics {
            Some(q) if q > 0.0 && q >= other => Self::OpenMetrics,
            _ => Self::PrometheusText,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Self::OpenMetrics => OPENMETRICS,
            Self::PrometheusText => PROMETHEUS_TEXT,
        }
    }
}

/// The classic text format of an OpenMetrics exposition.
pub fn to_prometheus_text(openmetrics: &str) -> String {
    let mut types: HashMap<&str, &str> = HashMap::new();
    for line in openmetrics.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ")
            && let Some((name, kind)) = rest.split_once(' ')
        {
            types.insert(name, kind);
        }
    }
    let family_name = |name: &str| -> String {
        match types.get(name).copied() {
            Some("counter") if !name.ends_with("_total") => format!("{name}_total"),
            Some("info") if !name.ends_with("_info") => format!("{name}_info"),
            _ => name.to_owned(),
        }
    };
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            out.push_str(&format!("# HELP {} {help}\n", family_name(name)));
        } else if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or((rest, "unknown"));
            let kind = match kind {
                "info" | "stateset" => "gauge",
                "unknown" | "gaugehistogram" => "untyped",
                other => other,
            };
            out.push_str(&format!("# TYPE {} {kind}\n", family_name(name)));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_header_chooses() {
        assert_eq!(Format::negotiate(None), Format::PrometheusText);
        assert_eq!(Format::negotiate(Some("*/*")), Format::PrometheusText);
        assert_eq!(
            Format::negotiate(Some("text/plain;version=0.0.4")),
            Format::PrometheusText
        );
        // What Prometheus 2.x and 3.x send.
        assert_eq!(
            Format::negotiate(Some(
                "application/openmetrics-text;version=1.0.0,application/openmetrics-text;\
                 version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
            )),
            Format::OpenMetrics
        );
        assert_eq!(
            Format::negotiate(Some("text/plain;q=1, application/openmetrics-text;q=0.5")),
            Format::PrometheusText
        );
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::PrometheusText
        );
    }

    #[test]
    fn counters_and_infos_are_named_by_their_series() {
        let open = "# HELP t_calls Calls.\n# TYPE t_calls counter\nt_calls_total{m=\"a\"} 3\n\
                    # HELP t_build Build.\n# TYPE t_build info\nt_build_info{v=\"1\"} 1\n\
                    # HELP t_cpu_seconds CPU.\n# TYPE t_cpu_seconds counter\n# UNIT t_cpu_seconds seconds\n\
                    t_cpu_seconds_total 1.5\n# HELP t_depth Depth.\n# TYPE t_depth gauge\nt_depth 2\n# EOF\n";
        assert_eq!(
            to_prometheus_text(open),
            "# HELP t_calls_total Calls.\n# TYPE t_calls_total counter\nt_calls_total{m=\"a\"} 3\n\
             # HELP t_build_info Build.\n# TYPE t_build_info gauge\nt_build_info{v=\"1\"} 1\n\
             # HELP t_cpu_seconds_total CPU.\n# TYPE t_cpu_seconds_total counter\n\
             t_cpu_seconds_total 1.5\n# HELP t_depth Depth.\n# TYPE t_depth gauge\nt_depth 2\n"
        );
    }
}
