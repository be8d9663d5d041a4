//! k8s/monitoring/taskflow-dashboard.json: a Grafana dashboard whose every query reads series
//! taskflow exports, with labels those series carry, shipped as a ConfigMap Grafana's sidecar
//! loads.

#[allow(unused_imports)]
use super::*;

use super::monitoring::{
    MONITORING, exported_series, readme_section, recorded_label_values, regex, rust_sources,
    selectors,
};

const DASHBOARD: &str = "taskflow-dashboard.json";

/// Labels Prometheus adds to every scraped series (the target's), which queries may use.
const TARGET_LABELS: [&str; 6] = [
    "namespace",
    "pod",
    "instance",
    "job",
    "service",
    "container",
];

/// gRPC's status codes as taskflow spells them in label `code` (src/metrics.rs, code_name).
const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

fn dashboard() -> Value {
    let text = read(&format!("{MONITORING}/{DASHBOARD}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{DASHBOARD}: invalid JSON: {e}"))
}

/// Every panel, rows' nested panels included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    fn walk<'a>(list: &'a Value, out: &mut Vec<&'a Value>) {
        for panel in list.as_array().into_iter().flatten() {
            out.push(panel);
            walk(&panel["panels"], out);
        }
    }
    let mut all = Vec::new();
    walk(&dashboard["panels"], &mut all);
    all
}

/// Every PromQL query of the dashboard, with where it is: panel targets and query variables.
fn queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut all = Vec::new();
    for panel in panels(dashboard) {
        let title = panel["title"].as_str().unwrap_or_default();
        for target in panel["targets"].as_array().into_iter().flatten() {
            all.push((
                format!("panel {title:?}"),
                str_at(target, "/expr").to_owned(),
            ));
        }
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if variable["type"] == "query" {
            let name = str_at(variable, "/name");
            all.push((
                format!("variable {name}"),
                str_at(variable, "/query/query").to_owned(),
            ));
        }
    }
    all
}

#[test]
fn the_dashboard_is_a_grafana_dashboard_of_panels_with_queries() {
    let dashboard = dashboard();
    assert_eq!(str_at(&dashboard, "/uid"), "taskflow");
    assert!(!str_at(&dashboard, "/title").is_empty());
    assert!(
        int_at(&dashboard, "/schemaVersion") >= 36,
        "a current schema"
    );
    // The data source is chosen by a variable, so the dashboard loads in any Grafana.
    let variables = dashboard["templating"]["list"]
        .as_array()
        .expect("templating.list");
    assert!(
        variables.iter().any(|v| v["name"] == "datasource"
            && v["type"] == "datasource"
            && v["query"] == "prometheus"),
        "a prometheus data source variable"
    );

    let mut ids = BTreeSet::new();
    let mut graphs = 0;
    for panel in panels(&dashboard) {
        let title = str_at(panel, "/title");
        assert!(
            ids.insert(int_at(panel, "/id")),
            "{title}: panel ids repeat"
        );
        for key in ["x", "y", "w", "h"] {
            let v = int_at(panel, &format!("/gridPos/{key}"));
            assert!(
                (0..=24).contains(&v) || key == "y",
                "{title}: gridPos.{key} = {v}"
            );
        }
        if panel["type"] == "row" {
            continue;
        }
        graphs += 1;
        assert_eq!(
            str_at(panel, "/datasource/uid"),
            "${datasource}",
            "{title}: data source"
        );
        let targets = panel["targets"].as_array().filter(|t| !t.is_empty());
        let targets = targets.unwrap_or_else(|| panic!("{title}: no queries"));
        let mut refs = BTreeSet::new();
        for target in targets {
            assert!(
                refs.insert(str_at(target, "/refId")),
                "{title}: refIds repeat"
            );
            assert!(
                !str_at(target, "/expr").trim().is_empty(),
                "{title}: empty query"
            );
        }
        assert!(
            !str_at(panel, "/description").is_empty(),
            "{title}: description"
        );
    }
    assert!(graphs >= 10, "only {graphs} panels");
}

#[test]
fn every_dashboard_query_reads_series_taskflow_exports() {
    let dashboard = dashboard();
    let exported = exported_series();
    let sources = rust_sources();
    let mut used = BTreeSet::new();
    // Label names in `by (…)`, `without (…)` and label_values(…, label).
    let grouping = regex(r"\b(?:by|without)\s*\(([^)]*)\)");
    let label_values = regex(r"label_values\(\s*[^,]+,\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)");
    for (place, query) in queries(&dashboard) {
        let selected = selectors(&query);
        assert!(
            !selected.is_empty(),
            "{place}: reads no taskflow metric: {query}"
        );
        let mut labels: BTreeSet<String> = TARGET_LABELS.iter().map(|l| l.to_string()).collect();
        for selector in &selected {
            let metric = &selector.metric;
            let series_labels = exported.get(metric).unwrap_or_else(|| {
                panic!(
                    "{place}: taskflow exports no {metric} (it exports {:?})",
                    exported.keys()
                )
            });
            used.insert(metric.clone());
            labels.extend(series_labels.iter().cloned());
            for (label, op, value) in &selector.matchers {
                assert!(
                    TARGET_LABELS.contains(&label.as_str()) || series_labels.contains(label),
                    "{place}: {metric} has no label {label}"
                );
                if value.starts_with('$') {
                    continue;
                }
                let known: BTreeSet<String> = match label.as_str() {
                    "code" => GRPC_CODES.iter().map(|c| c.to_string()).collect(),
                    _ => recorded_label_values(metric, label, &sources),
                };
                assert!(
                    known.contains(value),
                    "{place}: {metric}{{{label}{op}\"{value}\"}}: the code sets {known:?}"
                );
            }
        }
        let grouped = grouping
            .captures_iter(&query)
            .flat_map(|c| {
                c[1].split(',')
                    .map(|l| l.trim().to_owned())
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
            })
            .chain(label_values.captures_iter(&query).map(|c| c[1].to_owned()));
        for label in grouped {
            assert!(
                labels.contains(&label),
                "{place}: groups by {label}, which none of its series has: {query}"
            );
        }
    }

    // Every family taskflow exports is on the dashboard (a histogram by its buckets).
    let families: BTreeSet<String> = exported
        .keys()
        .filter(|s| !s.ends_with("_sum") && !s.ends_with("_count"))
        .cloned()
        .collect();
    let missing: Vec<&String> = families.difference(&used).collect();
    assert!(
        missing.is_empty(),
        "the dashboard shows nothing of {missing:?}"
    );
}

#[test]
fn the_dashboard_ships_as_a_configmap_grafana_loads() {
    let kustomization = one(&format!("{MONITORING}/kustomization.yaml"));
    let generators = kustomization["configMapGenerator"]
        .as_array()
        .expect("the monitoring kustomization generates the dashboard's ConfigMap");
    let generator = generators
        .iter()
        .find(|g| {
            g["files"]
                .as_array()
                .is_some_and(|f| f.iter().any(|f| f == DASHBOARD))
        })
        .unwrap_or_else(|| panic!("no configMapGenerator takes {DASHBOARD}"));
    assert_eq!(str_at(generator, "/options/labels/grafana_dashboard"), "1");
    assert_eq!(
        generator.pointer("/options/disableNameSuffixHash"),
        Some(&Value::Bool(true)),
        "a stable name, so an update replaces the dashboard"
    );
    let readme = read("README.md");
    let deploy = readme_section(&readme, "Deploy with Dapr and Kafka");
    assert!(
        deploy.contains(DASHBOARD) && deploy.contains("grafana_dashboard"),
        "README's Deploy section tells where the dashboard is and how Grafana finds it"
    );
}
