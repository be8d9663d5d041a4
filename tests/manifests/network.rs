//! k8s/: the hardening of taskflow's pods: NetworkPolicies against the ports the code serves,
//! no service account token, secrets as files, the sidecar's resources, checkov's exceptions.

#[allow(unused_imports)]
use super::*;

use taskflow::config::SECRET_FILES;

/// The namespace Prometheus runs in, and the ingress controller's.
const MONITORING_NAMESPACE: &str = "monitoring";
const INGRESS_NAMESPACE: &str = "ingress-nginx";

/// What a NetworkPolicy lets in, as (peer, port) pairs with each peer written as
/// `pods:<labels>`, `namespace:<name>` or `namespace:<name>/pods:<labels>`.
fn allowed(policy: &Value) -> BTreeSet<(String, String)> {
    let mut pairs = BTreeSet::new();
    for rule in policy["spec"]["ingress"].as_array().expect("ingress rules") {
        let peers = rule["from"].as_array().filter(|f| !f.is_empty());
        let peers = peers.expect("every rule names its peers (none = from anywhere)");
        let ports = rule["ports"].as_array().filter(|p| !p.is_empty());
        let ports = ports.expect("every rule names its ports (none = every port)");
        for peer in peers {
            assert!(peer.get("ipBlock").is_none(), "no ipBlock peers: {peer}");
            let labels = |selector: &Value| {
                let m = selector.get("matchLabels").and_then(Value::as_object);
                m.map(|m| {
                    m.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().expect("a label value")))
                        .collect::<Vec<_>>()
                        .join(",")
                })
                .unwrap_or_default()
            };
            let mut name = String::new();
            if let Some(ns) = peer.get("namespaceSelector") {
                let selected = labels(ns);
                let ns = selected
                    .strip_prefix("kubernetes.io/metadata.name=")
                    .filter(|n| !n.contains(','))
                    .unwrap_or_else(|| panic!("namespaces are chosen by name: {selected}"));
                name = format!("namespace:{ns}");
            }
            if let Some(pods) = peer.get("podSelector") {
                let sep = if name.is_empty() { "" } else { "/" };
                name = format!("{name}{sep}pods:{}", labels(pods));
            }
            for port in ports {
                assert_eq!(port["protocol"], "TCP");
                let port = &port["port"];
                let port = port
                    .as_str()
                    .map_or_else(|| port.to_string(), str::to_owned);
                pairs.insert((name.clone(), port));
            }
        }
    }
    pairs
}

fn policy_for<'a>(objects: &'a [Value], app: &str) -> &'a Value {
    let policies: Vec<&Value> = all_of(objects, "NetworkPolicy")
        .into_iter()
        .filter(|p| {
            p.pointer("/spec/podSelector/matchLabels/app.kubernetes.io~1name")
                == Some(&Value::from(app))
        })
        .collect();
    assert_eq!(
        policies.len(),
        1,
        "one NetworkPolicy selects the {app} pods"
    );
    let policy = policies[0];
    assert_eq!(policy["apiVersion"], "networking.k8s.io/v1");
    let types = policy["spec"]["policyTypes"]
        .as_array()
        .expect("policyTypes");
    assert!(
        types.iter().any(|t| t == "Ingress"),
        "{app}: an ingress policy"
    );
    policy
}

#[test]
fn network_policy_admits_each_port_only_from_its_callers() {
    let objects = k8s_objects();
    let serve = serve_defaults();
    let deployment = deployment(&objects);
    let container = container(deployment);
    let pod_labels = &deployment["spec"]["template"]["metadata"]["labels"];
    assert_eq!(pod_labels["app.kubernetes.io/name"], "taskflow");

    // The container's named ports are the ports taskflow serves.
    let api = port_of(env_value(container, "TASKFLOW_LISTEN"));
    let metrics = port_of(env_value(container, "TASKFLOW_METRICS_LISTEN"));
    let callback = port_of(env_value(container, "TASKFLOW_CALLBACK_LISTEN"));
    assert_eq!(api, port_of(&serve.listen));
    assert_eq!(metrics, port_of(&serve.metrics_listen));
    assert_eq!(callback, port_of(&serve.callback_listen));
    assert_eq!(container_port(container, "grpc"), api);
    assert_eq!(container_port(container, "metrics"), metrics);
    assert_eq!(container_port(container, "callback"), callback);

    let policy = policy_for(&objects, "taskflow");
    let pairs = |list: &[(&str, &str)]| -> BTreeSet<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    };
    let expected = pairs(&[
        // The API: every pod of the namespace (a bare podSelector), and the ingress controller.
        ("pods:", "grpc"),
        (&format!("namespace:{INGRESS_NAMESPACE}"), "grpc"),
        // Metrics, taskflow's and daprd's: Prometheus only.
        (&format!("namespace:{MONITORING_NAMESPACE}"), "metrics"),
        (&format!("namespace:{MONITORING_NAMESPACE}"), "dapr-metrics"),
    ]);
    let got = allowed(policy);
    assert_eq!(got, expected, "the taskflow pods' ingress rules");

    // The callback is never opened: daprd reaches it over localhost.
    for (_, port) in &got {
        assert_ne!(port, "callback");
        assert_ne!(port, &callback.to_string(), "the callback port is opened");
    }
}

#[test]
fn only_taskflow_reaches_postgres_and_kafka() {
    let objects = k8s_objects();
    let policy = policy_for(&objects, "postgres");
    let service = find(&objects, "Service", "postgres");
    let port = str_at(service_port(service, "postgres"), "/targetPort");
    let expected = BTreeSet::from([(
        "pods:app.kubernetes.io/name=taskflow".to_owned(),
        port.to_owned(),
    )]);
    assert_eq!(allowed(policy), expected);

    // Strimzi writes the listener's NetworkPolicy from networkPolicyPeers.
    let kafka = all_of(&objects, "Kafka")[0];
    let listeners = kafka["spec"]["kafka"]["listeners"]
        .as_array()
        .expect("listeners");
    for listener in listeners {
        let peers = listener["networkPolicyPeers"].as_array();
        let peers =
            peers.unwrap_or_else(|| panic!("listener {} admits every pod", listener["name"]));
        assert_eq!(peers.len(), 1);
        assert_eq!(
            str_at(
                &peers[0],
                "/podSelector/matchLabels/app.kubernetes.io~1name"
            ),
            "taskflow"
        );
    }
}

#[test]
fn pods_mount_no_service_account_token() {
    let objects = k8s_objects();
    for workload in all_of(&objects, "Deployment")
        .into_iter()
        .chain(all_of(&objects, "StatefulSet"))
    {
        assert_eq!(
            workload.pointer("/spec/template/spec/automountServiceAccountToken"),
            Some(&Value::Bool(false)),
            "{}",
            workload["metadata"]["name"]
        );
    }
}

/// The Secret and key a file path of `container` comes from, through its volume mounts.
pub(crate) fn mounted_secret(
    objects: &[Value],
    workload: &Value,
    container: &Value,
    path: &str,
) -> (String, String) {
    let mount = container["volumeMounts"]
        .as_array()
        .expect("volumeMounts")
        .iter()
        .find(|m| path.starts_with(&format!("{}/", str_at(m, "/mountPath"))))
        .unwrap_or_else(|| panic!("{path} is on no mounted volume"));
    assert_eq!(
        mount["readOnly"], true,
        "secret volumes are mounted read-only"
    );
    let file = &path[str_at(mount, "/mountPath").len() + 1..];
    let volume = workload["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the mount's volume");
    let sources: Vec<(&str, &Value)> = match volume.get("projected") {
        Some(projected) => projected["sources"]
            .as_array()
            .expect("sources")
            .iter()
            .map(|s| (str_at(s, "/secret/name"), &s["secret"]))
            .collect(),
        None => vec![(str_at(volume, "/secret/secretName"), &volume["secret"])],
    };
    for (secret, source) in sources {
        let items = source["items"].as_array();
        let key = match items {
            Some(items) => items
                .iter()
                .find(|i| i["path"] == file)
                .map(|i| str_at(i, "/key")),
            None => secret_value_exists(objects, secret, file).then_some(file),
        };
        if let Some(key) = key {
            secret_value(objects, secret, key);
            return (secret.to_owned(), key.to_owned());
        }
    }
    panic!("{path}: no Secret key gives this file")
}

fn secret_value_exists(objects: &[Value], secret: &str, key: &str) -> bool {
    let secret = find(objects, "Secret", secret);
    secret.pointer(&format!("/stringData/{key}")).is_some()
        || secret.pointer(&format!("/data/{key}")).is_some()
}

/// The value a container's variable `name` gets from a Secret, directly or as `name_FILE`.
pub(crate) fn secret_env(
    objects: &[Value],
    workload: &Value,
    container: &Value,
    name: &str,
    file_env: &str,
) -> String {
    let env = container["env"].as_array().expect("env");
    if let Some(entry) = env.iter().find(|e| e["name"] == name) {
        let r = entry
            .pointer("/valueFrom/secretKeyRef")
            .expect("from a Secret");
        return secret_value(objects, str_at(r, "/name"), str_at(r, "/key"));
    }
    let path = env_value(container, file_env);
    let (secret, key) = mounted_secret(objects, workload, container, path);
    secret_value(objects, &secret, &key)
}

#[test]
fn taskflow_reads_every_secret_from_a_mounted_file() {
    let objects = k8s_objects();
    let deployment = deployment(&objects);
    let container = container(deployment);
    let env = container["env"].as_array().expect("env");
    for entry in env {
        assert!(
            entry.get("valueFrom").is_none(),
            "secret in the environment: {entry}"
        );
    }
    for secret in SECRET_FILES {
        assert!(
            env.iter().all(|e| e["name"] != secret.env),
            "{} is set as a variable",
            secret.env
        );
        let value = secret_env(&objects, deployment, container, secret.env, secret.file_env);
        assert_env_value_parses(secret.env, &value);
    }
    // Readable by the app's group only.
    let pod = &deployment["spec"]["template"]["spec"];
    let group = int_at(pod, "/securityContext/fsGroup");
    assert_eq!(group, int_at(pod, "/securityContext/runAsGroup"));
    for volume in pod["volumes"].as_array().expect("volumes") {
        let mode = volume
            .pointer("/projected/defaultMode")
            .or_else(|| volume.pointer("/secret/defaultMode"));
        if volume.get("projected").is_some() || volume.get("secret").is_some() {
            assert_eq!(
                mode.and_then(Value::as_i64),
                Some(0o440),
                "{}",
                volume["name"]
            );
        }
    }
    // The tokens the annotations give daprd are the ones the app reads.
    for (annotation_key, file_env) in [
        ("dapr.io/app-token-secret", "TASKFLOW_APP_API_TOKEN_FILE"),
        ("dapr.io/api-token-secret", "TASKFLOW_DAPR_API_TOKEN_FILE"),
    ] {
        let path = env_value(container, file_env);
        let (secret, key) = mounted_secret(&objects, deployment, container, path);
        assert_eq!(secret, annotation(deployment, annotation_key), "{file_env}");
        assert_eq!(key, "token", "{file_env}");
    }
}

#[test]
fn the_sidecar_has_resources_of_its_own() {
    let objects = k8s_objects();
    let deployment = deployment(&objects);
    for key in ["cpu-request", "memory-request", "memory-limit"] {
        let value = annotation(deployment, &format!("dapr.io/sidecar-{key}"));
        assert!(!value.is_empty(), "dapr.io/sidecar-{key}");
    }
    let request = quantity_bytes(annotation(deployment, "dapr.io/sidecar-memory-request"));
    let limit = quantity_bytes(annotation(deployment, "dapr.io/sidecar-memory-limit"));
    assert!(request <= limit);
    // daprd buffers whole messages of up to max-body-size.
    let body = quantity_bytes(annotation(deployment, "dapr.io/max-body-size"));
    assert!(
        limit >= 8 * body,
        "daprd's memory limit leaves room for its message size"
    );
}

#[test]
fn every_checkov_exception_names_a_check_and_why() {
    let rule = regex::Regex::new(r"^CKV2?_K8S_[0-9]+=\S.{40,}$").expect("a regex");
    let mut skipped = BTreeSet::new();
    for object in k8s_objects() {
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let Some(annotations) = object["metadata"]["annotations"].as_object() else {
            continue;
        };
        for (key, value) in annotations
            .iter()
            .filter(|(k, _)| k.starts_with("checkov.io/skip"))
        {
            let value = value.as_str().expect("a string").trim();
            assert!(
                rule.is_match(value),
                "{name} {key}: `CHECK=reason`, got {value}"
            );
            let check = value.split('=').next().unwrap_or_default();
            assert!(
                skipped.insert(format!("{name}:{check}")),
                "{name}: {check} twice"
            );
        }
    }
    // taskflow's own Deployment leaves only these two, and CI runs checkov on k8s/.
    for expected in ["taskflow:CKV_K8S_11", "taskflow:CKV_K8S_43"] {
        assert!(skipped.contains(expected), "{expected} missing");
    }
    let taskflow: Vec<&String> = skipped
        .iter()
        .filter(|s| s.starts_with("taskflow:"))
        .collect();
    assert_eq!(taskflow.len(), 2, "{taskflow:?}");
    assert!(read(".ci/run").contains("checkov"), ".ci/run runs checkov");
}
