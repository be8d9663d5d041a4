//! k8s/monitoring/: the ServiceMonitor and the alerts, against the Service they scrape, the
//! metrics taskflow exports and the README that explains them.

#[allow(unused_imports)]
use super::*;

use std::collections::BTreeMap;

use regex::Regex;
use taskflow::metrics::{Format, Gauges, metrics};

pub(crate) const MONITORING: &str = "k8s/monitoring";

/// The alerts operators are told about in the README.
const ALERTS: [&str; 5] = [
    "TaskflowDeadLetters",
    "TaskflowOutboxBacklogOld",
    "TaskflowRelayNotPublishing",
    "TaskflowDeliveriesRetrying",
    "TaskflowPublishFailures",
];

/// The files of the monitoring kustomization, as paths relative to the repository root.
fn monitoring_files() -> Vec<String> {
    let kustomization = one(&format!("{MONITORING}/kustomization.yaml"));
    kustomization["resources"]
        .as_array()
        .expect("the monitoring kustomization has resources")
        .iter()
        .map(|r| format!("{MONITORING}/{}", r.as_str().expect("resource is a path")))
        .collect()
}

fn monitoring_objects() -> Vec<Value> {
    monitoring_files().iter().flat_map(|f| docs(f)).collect()
}

/// Every alerting rule of PrometheusRule taskflow.
fn alert_rules(objects: &[Value]) -> Vec<&Value> {
    let rule = find(objects, "PrometheusRule", "taskflow");
    let groups = rule["spec"]["groups"]
        .as_array()
        .expect("PrometheusRule has spec.groups");
    assert!(!groups.is_empty(), "PrometheusRule taskflow has no groups");
    groups
        .iter()
        .flat_map(|g| g["rules"].as_array().expect("a group has rules"))
        .inspect(|r| assert!(r.get("alert").is_some(), "not an alerting rule: {r}"))
        .collect()
}

/// GitHub's anchor of a heading: `Deploy with Dapr and Kafka` → `deploy-with-dapr-and-kafka`.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || *c == ' ' || *c == '-' || *c == '_')
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The README's section under `## {title}`, up to the next `## ` heading.
pub(crate) fn readme_section(readme: &str, title: &str) -> String {
    let heading = format!("## {title}");
    let mut lines = readme.lines().skip_while(|l| l.trim_end() != heading);
    assert!(lines.next().is_some(), "README has no `{heading}` section");
    lines
        .take_while(|l| !l.starts_with("## "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A metric family as src/metrics/mod.rs registers it.
struct Registered {
    kind: &'static str,
    labels: BTreeSet<String>,
}

pub(crate) fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"))
}

/// The families src/metrics/mod.rs registers, by full name (`taskflow_deliveries`): the registry's
/// prefix and each `registry.register("name", "help", var.clone())`, with its kind from
/// `let var = …` (a Counter, Gauge or Histogram, or a Family of one) and a Family's label
/// names from the fields of its label struct. Checked against what `/metrics` renders.
fn registered_metrics() -> BTreeMap<String, Registered> {
    let code = read("src/metrics/mod.rs");
    let prefix = regex(r#"Registry::with_prefix\("([a-z_]+)"\)"#)
        .captures(&code)
        .expect("src/metrics/mod.rs makes a prefixed registry")[1]
        .to_owned();
    let register = regex(
        r#"(?s)\.register\(\s*"([a-z0-9_]+)"\s*,\s*"(?:[^"\\]|\\.)*"\s*,\s*([a-z0-9_]+)(?:\.clone\(\))?\s*,?\s*\)"#,
    );
    let mut registered = BTreeMap::new();
    for call in register.captures_iter(&code) {
        let (name, var) = (&call[1], &call[2]);
        let binding = regex(&format!(r"let {var}\s*=\s*([^;]+);"))
            .captures(&code)
            .unwrap_or_else(|| panic!("src/metrics/mod.rs: no `let {var} = …`"))[1]
            .to_owned();
        let kind = ["Histogram", "Counter", "Gauge", "Info"]
            .into_iter()
            .find(|k| binding.contains(k))
            .unwrap_or_else(|| panic!("{name}: unknown kind in `{binding}`"));
        let labels = regex(r"Family::<\s*([A-Za-z0-9_]+)\s*,")
            .captures(&binding)
            .map(|family| {
                let strukt = &family[1];
                let body = regex(&format!(r"(?s)struct {strukt}\s*\{{(.*?)\}}"))
                    .captures(&code)
                    .unwrap_or_else(|| panic!("src/metrics/mod.rs: no struct {strukt}"))[1]
                    .to_owned();
                regex(r"pub\s+([a-z_][a-z0-9_]*)\s*:")
                    .captures_iter(&body)
                    .map(|f| f[1].to_owned())
                    .collect()
            })
            .unwrap_or_default();
        // An info metric's labels are the keys of its `Info::new(vec![("key", …)])`.
        let labels = if kind == "Info" {
            regex(r#"\(\s*"([a-z_][a-z0-9_]*)"\s*,"#)
                .captures_iter(&binding)
                .map(|c| c[1].to_owned())
                .collect()
        } else {
            labels
        };
        let kind = match kind {
            "Histogram" => "histogram",
            "Counter" => "counter",
            "Info" => "info",
            _ => "gauge",
        };
        registered.insert(format!("{prefix}_{name}"), Registered { kind, labels });
    }
    assert!(
        registered.len() >= 10,
        "read too few metrics from src/metrics/mod.rs"
    );

    // What the code renders agrees: every family `/metrics` shows (those without labels, and
    // labelled ones once they have a sample) is one read above, of the same kind.
    let text = metrics().render(&Gauges::default(), Format::OpenMetrics);
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
            if name.starts_with("process_") {
                // The standard process collector's families, named by Prometheus' convention.
                continue;
            }
            assert_eq!(
                registered.get(name).map(|r| r.kind),
                Some(kind),
                "{name}: src/metrics/mod.rs as read here and /metrics disagree"
            );
        }
    }
    registered
}

/// The series taskflow's `/metrics` can carry, with their label names: a counter's samples end
/// in `_total`, a histogram's in `_bucket`, `_sum` and `_count`.
pub(crate) fn exported_series() -> BTreeMap<String, BTreeSet<String>> {
    let mut series = BTreeMap::new();
    for (name, family) in registered_metrics() {
        let suffixes: &[&str] = match family.kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            "info" => &["_info"],
            _ => &[""],
        };
        for suffix in suffixes {
            let mut labels = family.labels.clone();
            if *suffix == "_bucket" {
                labels.insert("le".to_owned());
            }
            series.insert(format!("{name}{suffix}"), labels);
        }
    }
    series
}

/// Every Rust source under `src/`, concatenated.
pub(crate) fn rust_sources() -> String {
    fn walk(dir: &Path, out: &mut String) {
        let mut entries: Vec<_> = fs::read_dir(dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.expect("dir entry").path())
            .collect();
        entries.sort();
        for path in entries {
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push_str(&fs::read_to_string(&path).expect("a source file"));
                out.push('\n');
            }
        }
    }
    let mut all = String::new();
    walk(&root().join("src"), &mut all);
    all
}

/// The values the code gives label `label` of series `series`, read from where it sets them.
pub(crate) fn recorded_label_values(series: &str, label: &str, sources: &str) -> BTreeSet<String> {
    match (series, label) {
        // `Metrics::delivery(outcome)` (also called by `Metrics::dropped`).
        ("taskflow_deliveries_total", "outcome") => regex(r#"\bdelivery\("([^"]+)"\)"#)
            .captures_iter(sources)
            .map(|c| c[1].to_owned())
            .collect(),
        _ => panic!(
            "no check for label {label} of {series}: teach recorded_label_values where the code \
             sets it"
        ),
    }
}

/// Records a sample with `label="value"` on `series` the way the code does.
fn record(series: &str, label: &str, value: &str) {
    match (series, label) {
        ("taskflow_deliveries_total", "outcome") => metrics().delivery(value),
        _ => panic!("no way to record {series}{{{label}}}: teach record how the code does"),
    }
}

/// A series selector in a PromQL expression: the metric and its `label op "value"` matchers.
pub(crate) struct Selector {
    pub(crate) metric: String,
    pub(crate) matchers: Vec<(String, String, String)>,
}

/// The `taskflow_*` series an expression selects. String literals are skipped, so a
/// metric-like label value is not taken for a metric.
pub(crate) fn selectors(expr: &str) -> Vec<Selector> {
    let token = regex(r#""(?:[^"\\]|\\.)*"|\b(taskflow_[A-Za-z0-9_:]*)\s*(?:\{([^}]*)\})?"#);
    let matcher = regex(r#"([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)""#);
    token
        .captures_iter(expr)
        .filter_map(|c| {
            let metric = c.get(1)?.as_str().to_owned();
            let matchers = c.get(2).map_or_else(Vec::new, |m| {
                matcher
                    .captures_iter(m.as_str())
                    .map(|m| (m[1].to_owned(), m[2].to_owned(), m[3].to_owned()))
                    .collect()
            });
            Some(Selector { metric, matchers })
        })
        .collect()
}

#[test]
fn monitoring_is_a_kustomization_of_its_own_in_namespace_taskflow() {
    let kustomization = one(&format!("{MONITORING}/kustomization.yaml"));
    assert_eq!(kustomization["kind"], "Kustomization");
    assert_eq!(kustomization["namespace"], "taskflow");

    let listed: BTreeSet<String> = monitoring_files().into_iter().collect();
    for file in &listed {
        assert!(root().join(file).is_file(), "{file} is listed but missing");
        assert!(!docs(file).is_empty(), "{file} has no objects");
    }
    for entry in fs::read_dir(root().join(MONITORING)).expect("k8s/monitoring/ exists") {
        let name = entry.expect("dir entry").file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".yaml") && name != "kustomization.yaml" {
            assert!(
                listed.contains(&format!("{MONITORING}/{name}")),
                "{MONITORING}/{name} is not in resources"
            );
        }
    }

    let objects = monitoring_objects();
    for object in &objects {
        assert_eq!(object["apiVersion"], "monitoring.coreos.com/v1", "{object}");
        if let Some(ns) = object["metadata"].get("namespace") {
            assert_eq!(ns, "taskflow");
        }
    }
    find(&objects, "ServiceMonitor", "taskflow");
    find(&objects, "PrometheusRule", "taskflow");

    // `kubectl apply -k k8s/` must work on a cluster without the Prometheus Operator's CRDs.
    for object in k8s_objects() {
        let api = object["apiVersion"].as_str().unwrap_or_default();
        assert!(
            !api.starts_with("monitoring.coreos.com/"),
            "k8s/kustomization.yaml applies {api} {}: it fails without the CRDs",
            object["metadata"]["name"]
        );
    }
    assert!(
        read("README.md").contains("kubectl apply -k k8s/monitoring/"),
        "README lacks `kubectl apply -k k8s/monitoring/`"
    );
}

#[test]
fn service_monitor_scrapes_the_metrics_port_of_service_taskflow() {
    let objects = k8s_objects();
    let monitoring = monitoring_objects();
    let monitor = find(&monitoring, "ServiceMonitor", "taskflow");
    let service = find(&objects, "Service", "taskflow");

    // The selector picks Service taskflow, and no other Service of the kustomization.
    assert!(
        monitor.pointer("/spec/selector/matchExpressions").is_none(),
        "matchLabels only"
    );
    let selector = monitor
        .pointer("/spec/selector/matchLabels")
        .and_then(Value::as_object)
        .filter(|m| !m.is_empty())
        .expect("ServiceMonitor selects by matchLabels");
    let selects = |s: &Value| {
        selector
            .iter()
            .all(|(k, v)| s["metadata"]["labels"].get(k) == Some(v))
    };
    assert!(selects(service), "the selector misses Service taskflow");
    for other in all_of(&objects, "Service") {
        assert!(
            other == service || !selects(other),
            "the selector also picks Service {}",
            other["metadata"]["name"]
        );
    }
    if let Some(names) = monitor.pointer("/spec/namespaceSelector/matchNames") {
        let names = names.as_array().expect("matchNames is a list");
        assert!(names.iter().any(|n| n == "taskflow"), "namespace taskflow");
    }

    // Each endpoint: a named port of the Service, the path and the port taskflow serves.
    let serve = serve_defaults();
    let container = container(deployment(&objects));
    let metrics_port = port_of(env_value(container, "TASKFLOW_METRICS_LISTEN"));
    assert_eq!(metrics_port, port_of(&serve.metrics_listen));
    let endpoints = monitor["spec"]["endpoints"]
        .as_array()
        .filter(|e| !e.is_empty())
        .expect("ServiceMonitor has endpoints");
    // The routes of the metrics server, whitespace removed: `.route("/metrics",`.
    let served: String = read("src/metrics/mod.rs").split_whitespace().collect();
    for endpoint in endpoints {
        let name = str_at(endpoint, "/port");
        let port = service_port(service, name);
        assert_eq!(int_at(port, "/port"), i64::from(metrics_port), "{name}");
        let path = str_at(endpoint, "/path");
        assert!(
            served.contains(&format!(".route(\"{path}\"")),
            "taskflow serves no route {path}"
        );
        assert_eq!(str_at(endpoint, "/interval"), "30s");
        if let Some(scheme) = endpoint.get("scheme") {
            assert_eq!(scheme, "http", "the metrics port is plain HTTP");
        }
    }

    // The pod annotations say the same to setups that scrape by annotation.
    let deployment = deployment(&objects);
    assert_eq!(annotation(deployment, "prometheus.io/scrape"), "true");
    let annotated: u16 = annotation(deployment, "prometheus.io/port")
        .parse()
        .expect("a port");
    assert_eq!(annotated, metrics_port);
    assert_eq!(annotated, container_port(container, "metrics"));
    assert_eq!(
        annotation(deployment, "prometheus.io/path"),
        str_at(&endpoints[0], "/path")
    );
}

#[test]
fn every_alert_has_a_severity_a_summary_a_description_and_the_readme_runbook() {
    let objects = monitoring_objects();
    let rules = alert_rules(&objects);
    let names: Vec<&str> = rules.iter().map(|r| str_at(r, "/alert")).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(unique.len(), names.len(), "alert names repeat: {names:?}");
    assert_eq!(unique, BTreeSet::from(ALERTS), "the alerts");

    let readme = read("README.md");
    let anchors: BTreeSet<String> = readme
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(anchor)
        .collect();
    let duration = regex(r"^([0-9]+(ms|s|m|h|d|w|y))+$");
    for rule in rules {
        let name = str_at(rule, "/alert");
        assert!(!str_at(rule, "/expr").trim().is_empty(), "{name}: expr");
        let severity = str_at(rule, "/labels/severity");
        assert!(
            ["critical", "warning", "info"].contains(&severity),
            "{name}: severity {severity}"
        );
        for key in ["summary", "description"] {
            let text = str_at(rule, &format!("/annotations/{key}"));
            assert!(!text.trim().is_empty(), "{name}: empty {key}");
        }
        let runbook = str_at(rule, "/annotations/runbook_url");
        let (document, fragment) = runbook
            .rsplit_once('#')
            .unwrap_or_else(|| panic!("{name}: runbook {runbook} has no anchor"));
        assert!(document.ends_with("README.md"), "{name}: runbook {runbook}");
        assert_eq!(fragment, anchor("Alerts"), "{name}: runbook {runbook}");
        assert!(anchors.contains(fragment), "README has no #{fragment}");
        if let Some(wait) = rule.get("for") {
            let wait = wait.as_str().expect("`for` is a string");
            assert!(duration.is_match(wait), "{name}: for {wait}");
        }
    }
}

#[test]
fn alerts_watch_only_series_taskflow_exports() {
    let objects = monitoring_objects();
    let exported = exported_series();
    let sources = rust_sources();
    for rule in alert_rules(&objects) {
        let name = str_at(rule, "/alert");
        let expr = str_at(rule, "/expr");
        let selected = selectors(expr);
        assert!(!selected.is_empty(), "{name} watches no taskflow metric");
        for selector in selected {
            let metric = &selector.metric;
            let labels = exported.get(metric).unwrap_or_else(|| {
                panic!(
                    "{name}: taskflow exports no {metric} (it exports {:?})",
                    exported.keys()
                )
            });
            for (label, op, value) in &selector.matchers {
                assert_eq!(op, "=", "{name}: {label}{op}\"{value}\"");
                assert!(
                    labels.contains(label),
                    "{name}: {metric} has no label {label} (it has {labels:?})"
                );
                let recorded = recorded_label_values(metric, label, &sources);
                assert!(
                    recorded.contains(value),
                    "{name}: the code never sets {metric}{{{label}=\"{value}\"}} (it sets \
                     {recorded:?})"
                );
                // The label as the code encodes it: record a sample the way the code does,
                // and the series the alert selects is there.
                record(metric, label, value);
                let text = metrics().render(&Gauges::default(), Format::OpenMetrics);
                let series = format!("{metric}{{{label}=\"{value}\"}} ");
                assert!(
                    text.lines().any(|l| l.starts_with(&series)),
                    "{name}: no {series}in\n{text}"
                );
            }
        }
    }
}

#[test]
fn readme_explains_every_alert() {
    let readme = read("README.md");
    let section = readme_section(&readme, "Alerts");
    for alert in ALERTS {
        assert!(
            section.contains(&format!("`{alert}`")),
            "README's Alerts section does not explain {alert}"
        );
    }
    for command in [
        "kubectl apply -k k8s/monitoring/",
        "taskflow dead-letters list",
        "taskflow dead-letters show ID",
        "taskflow dead-letters replay ID",
        "taskflow dead-letters discard ID",
    ] {
        assert!(
            section.contains(command),
            "README's Alerts section lacks `{command}`"
        );
    }
    // And the rule file names no alert the README leaves out.
    for rule in alert_rules(&monitoring_objects()) {
        let name = str_at(rule, "/alert");
        assert!(
            section.contains(&format!("`{name}`")),
            "README lacks {name}"
        );
    }
}
