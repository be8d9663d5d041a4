//! The deployment files (k8s/, dapr/, compose.yaml, Dockerfile) agree with the code: names,
//! topics, ports and settings are read from taskflow's own configuration types, so a manifest
//! that drifts from the code (or breaks) fails here.

use std::{
    collections::BTreeSet,
    fs,
    path::{Path, PathBuf},
};

use clap::{CommandFactory, Parser};
use serde::Deserialize;
use serde_json::Value;
use taskflow::config::{Cli, Command, EventsConfig, ServeConfig};

// ---------------------------------------------------------------------------------------------
// Reading manifests

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    let full = root().join(path);
    fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Every YAML document in a file (empty documents skipped).
fn docs(path: &str) -> Vec<Value> {
    let text = read(path);
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{path}: invalid YAML: {e}")))
        .filter(|v| !v.is_null())
        .collect()
}

fn one(path: &str) -> Value {
    let mut all = docs(path);
    assert_eq!(all.len(), 1, "{path}: expected one YAML document");
    all.remove(0)
}

/// The files of the kustomization, as paths relative to the repository root.
fn k8s_files() -> Vec<String> {
    let kustomization = one("k8s/kustomization.yaml");
    kustomization["resources"]
        .as_array()
        .expect("kustomization has resources")
        .iter()
        .map(|r| format!("k8s/{}", r.as_str().expect("resource is a path")))
        .collect()
}

/// Every object the kustomization applies.
fn k8s_objects() -> Vec<Value> {
    k8s_files().iter().flat_map(|f| docs(f)).collect()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    let found: Vec<_> = objects
        .iter()
        .filter(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "expected exactly one {kind} {name}");
    found[0]
}

fn all_of<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("missing {pointer}"))
        .as_str()
        .unwrap_or_else(|| panic!("{pointer} must be a string"))
}

fn int_at(value: &Value, pointer: &str) -> i64 {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("missing {pointer}"))
        .as_i64()
        .unwrap_or_else(|| panic!("{pointer} must be an integer"))
}

/// A Dapr component's metadata item, as a string.
fn component_meta<'a>(component: &'a Value, name: &str) -> &'a str {
    component["spec"]["metadata"]
        .as_array()
        .expect("component has spec.metadata")
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("component metadata {name} missing"))["value"]
        .as_str()
        .unwrap_or_else(|| panic!("component metadata {name} must be a string"))
}

fn port_of(address: &str) -> u16 {
    address
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("{address}: no port"))
}

fn host_of(address: &str) -> &str {
    address.rsplit_once(':').expect("address has a port").0
}

// ---------------------------------------------------------------------------------------------
// The code's side

/// `taskflow` with no arguments: the serve command with every default.
fn serve_defaults() -> ServeConfig {
    let (command, _) = Cli::try_parse_from(["taskflow"])
        .expect("taskflow parses with no arguments")
        .into_command();
    match command {
        Command::Serve(serve) => serve,
        Command::Migrate(_) => panic!("the default command must be serve"),
    }
}

/// The long flag of the option read from environment variable `env`.
fn flag_of_env(env: &str) -> Option<String> {
    Cli::command()
        .get_arguments()
        .find(|a| a.get_env().is_some_and(|e| e == env))
        .map(|a| {
            a.get_long()
                .expect("every option has a long flag")
                .to_owned()
        })
}

/// Parses `taskflow --flag=value` for the option behind `env`, as the app would at start.
fn assert_env_value_parses(env: &str, value: &str) {
    let flag = flag_of_env(env).unwrap_or_else(|| panic!("taskflow has no option for ${env}"));
    let arg = format!("--{flag}={value}");
    if let Err(e) = Cli::try_parse_from(["taskflow", arg.as_str()]) {
        panic!("${env}={value} is rejected by taskflow: {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// The k8s/ objects taskflow runs as

fn deployment(objects: &[Value]) -> &Value {
    find(objects, "Deployment", "taskflow")
}

fn container(deployment: &Value) -> &Value {
    deployment
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["name"] == "taskflow"))
        .expect("Deployment taskflow has a container named taskflow")
}

fn annotation<'a>(deployment: &'a Value, key: &str) -> &'a str {
    deployment
        .pointer("/spec/template/metadata/annotations")
        .and_then(|a| a.get(key))
        .unwrap_or_else(|| panic!("pod annotation {key} missing"))
        .as_str()
        .unwrap_or_else(|| panic!("pod annotation {key} must be a string (quote it)"))
}

/// The env entry `name` of a container.
fn env_entry<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"]
        .as_array()
        .expect("container has env")
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("env {name} missing"))
}

fn env_value<'a>(container: &'a Value, name: &str) -> &'a str {
    env_entry(container, name)["value"]
        .as_str()
        .unwrap_or_else(|| panic!("env {name} must have a string value"))
}

/// The value of Secret `name`'s `key` as written in the manifests (stringData or data).
fn secret_value(objects: &[Value], name: &str, key: &str) -> String {
    let secret = find(objects, "Secret", name);
    if let Some(v) = secret.pointer(&format!("/stringData/{key}")) {
        return v
            .as_str()
            .expect("stringData values are strings")
            .to_owned();
    }
    use base64::Engine;
    let encoded = str_at(secret, &format!("/data/{key}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .expect("Secret data is base64");
    String::from_utf8(bytes).expect("Secret value is UTF-8")
}

fn container_port(container: &Value, name: &str) -> u16 {
    let port = container["ports"]
        .as_array()
        .expect("container has ports")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("container port {name} missing"));
    u16::try_from(int_at(port, "/containerPort")).expect("a port number")
}

fn service_port<'a>(service: &'a Value, name: &str) -> &'a Value {
    service["spec"]["ports"]
        .as_array()
        .expect("Service has ports")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("Service port {name} missing"))
}

/// A Kubernetes quantity such as `16Mi` in bytes.
fn quantity_bytes(quantity: &str) -> u64 {
    let (digits, factor) = [("Ki", 1u64 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30)]
        .iter()
        .find_map(|(suffix, f)| quantity.strip_suffix(suffix).map(|d| (d, *f)))
        .unwrap_or((quantity, 1));
    digits.parse::<u64>().expect("a whole quantity") * factor
}

// ---------------------------------------------------------------------------------------------
// Tests

#[test]
fn kustomization_applies_every_manifest_into_namespace_taskflow() {
    let kustomization = one("k8s/kustomization.yaml");
    assert_eq!(kustomization["kind"], "Kustomization");
    assert_eq!(kustomization["namespace"], "taskflow");

    let listed: BTreeSet<String> = k8s_files().into_iter().collect();
    for file in &listed {
        assert!(root().join(file).is_file(), "{file} is listed but missing");
        assert!(!docs(file).is_empty(), "{file} has no objects");
    }
    // Nothing in k8s/ is forgotten by the kustomization.
    for entry in fs::read_dir(root().join("k8s")).expect("k8s/ exists") {
        let name = entry.expect("dir entry").file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".yaml") && name != "kustomization.yaml" {
            assert!(
                listed.contains(&format!("k8s/{name}")),
                "k8s/{name} is not in resources"
            );
        }
    }

    // The image override names the Deployment's image.
    let image = str_at(container(deployment(&k8s_objects())), "/image").to_owned();
    let image_name = image
        .rsplit_once(':')
        .map_or(image.as_str(), |(name, _)| name);
    let images = kustomization["images"]
        .as_array()
        .expect("kustomization has images");
    assert!(
        images.iter().any(|i| i["name"] == image_name),
        "no images entry for {image_name}"
    );

    let objects = k8s_objects();
    find(&objects, "Namespace", "taskflow");
    for object in &objects {
        assert!(
            object["apiVersion"].is_string(),
            "object without apiVersion: {object}"
        );
        assert!(
            object["metadata"]["name"].is_string(),
            "object without a name: {object}"
        );
        if let Some(ns) = object["metadata"].get("namespace") {
            assert_eq!(
                ns, "taskflow",
                "{} sets another namespace",
                object["metadata"]["name"]
            );
        }
        if let Some(annotations) = object["metadata"].get("annotations") {
            for (key, value) in annotations.as_object().expect("annotations are a map") {
                assert!(value.is_string(), "annotation {key} must be a string");
            }
        }
    }
}

#[test]
fn kafka_component_is_the_one_taskflow_publishes_to() {
    let objects = k8s_objects();
    let events = EventsConfig::default();
    let component = find(&objects, "Component", &events.pubsub_name);
    assert_eq!(component["apiVersion"], "dapr.io/v1alpha1");
    assert_eq!(str_at(component, "/spec/type"), "pubsub.kafka");
    assert_eq!(str_at(component, "/spec/version"), "v1");

    // brokers: the bootstrap service Strimzi creates for the Kafka cluster, on its plain listener.
    let kafka = all_of(&objects, "Kafka");
    assert_eq!(kafka.len(), 1, "one Kafka cluster");
    let cluster = str_at(kafka[0], "/metadata/name");
    let plain = kafka[0]["spec"]["kafka"]["listeners"]
        .as_array()
        .expect("Kafka has listeners")
        .iter()
        .find(|l| l["tls"] == false && l["type"] == "internal")
        .expect("an internal listener without TLS (authType none)");
    let brokers = component_meta(component, "brokers");
    let expected = [
        format!("{cluster}-kafka-bootstrap.taskflow.svc:{}", plain["port"]),
        format!("{cluster}-kafka-bootstrap:{}", plain["port"]),
        format!(
            "{cluster}-kafka-bootstrap.taskflow.svc.cluster.local:{}",
            plain["port"]
        ),
    ];
    assert!(
        expected.iter().any(|e| e == brokers),
        "brokers {brokers} is not {expected:?}"
    );

    assert_eq!(component_meta(component, "authType"), "none");
    assert_eq!(component_meta(component, "consumerGroup"), "taskflow");
    assert_eq!(component_meta(component, "initialOffset"), "oldest");
    assert_eq!(component_meta(component, "version"), "4.0.0");
    assert_eq!(component_meta(component, "escapeHeaders"), "true");

    let app_id = annotation(deployment(&objects), "dapr.io/app-id");
    let scopes = component["scopes"].as_array().expect("component is scoped");
    assert!(
        scopes.iter().any(|s| s == app_id),
        "component not scoped to {app_id}"
    );

    // Subscriptions are programmatic (ListTopicSubscriptions): a Subscription CRD would double them.
    assert!(all_of(&objects, "Subscription").is_empty());
}

fn check_resiliency(resiliency: &Value, pubsub: &str, app_id: &str) {
    assert_eq!(resiliency["apiVersion"], "dapr.io/v1alpha1");
    let scopes = resiliency["scopes"]
        .as_array()
        .expect("resiliency is scoped");
    assert!(
        scopes.iter().any(|s| s == app_id),
        "resiliency not scoped to {app_id}"
    );
    let target = resiliency
        .pointer(&format!("/spec/targets/components/{pubsub}"))
        .unwrap_or_else(|| panic!("resiliency does not target component {pubsub}"));

    let inbound_retry = str_at(target, "/inbound/retry");
    let policy = resiliency
        .pointer(&format!("/spec/policies/retries/{inbound_retry}"))
        .unwrap_or_else(|| panic!("retry policy {inbound_retry} missing"));
    assert_eq!(str_at(policy, "/policy"), "exponential");
    assert_eq!(int_at(policy, "/maxRetries"), 3);
    assert_eq!(str_at(policy, "/maxInterval"), "4s");

    let timeout = str_at(target, "/inbound/timeout");
    assert!(
        resiliency
            .pointer(&format!("/spec/policies/timeouts/{timeout}"))
            .is_some(),
        "timeout policy {timeout} missing"
    );

    let outbound_retry = str_at(target, "/outbound/retry");
    assert!(
        resiliency
            .pointer(&format!("/spec/policies/retries/{outbound_retry}"))
            .is_some(),
        "retry policy {outbound_retry} missing"
    );
}

#[test]
fn resiliency_retries_deliveries_of_the_component() {
    let objects = k8s_objects();
    let pubsub = EventsConfig::default().pubsub_name;
    let app_id = annotation(deployment(&objects), "dapr.io/app-id").to_owned();
    let resiliencies = all_of(&objects, "Resiliency");
    assert_eq!(resiliencies.len(), 1);
    check_resiliency(resiliencies[0], &pubsub, &app_id);

    // The local ones have the same policies.
    for local in [
        "dapr/resources/resiliency.yaml",
        "dapr/resources-kafka/resiliency.yaml",
    ] {
        let resiliency = one(local);
        check_resiliency(&resiliency, &pubsub, &app_id);
        assert_eq!(
            resiliency["spec"], resiliencies[0]["spec"],
            "{local} differs from k8s/"
        );
    }
}

#[test]
fn strimzi_cluster_runs_kafka_4_in_kraft_and_declares_the_topics() {
    let objects = k8s_objects();
    for kind in ["Kafka", "KafkaNodePool", "KafkaTopic"] {
        for object in all_of(&objects, kind) {
            // Served by Strimzi 0.46–0.50 (kafka.strimzi.io/v1 only from 0.49).
            assert_eq!(object["apiVersion"], "kafka.strimzi.io/v1beta2", "{kind}");
        }
    }
    let kafka = all_of(&objects, "Kafka");
    assert_eq!(kafka.len(), 1);
    let kafka = kafka[0];
    let cluster = str_at(kafka, "/metadata/name");
    // Required by Strimzi 0.46/0.47.
    assert_eq!(
        str_at(kafka, "/metadata/annotations/strimzi.io~1kraft"),
        "enabled"
    );
    assert_eq!(
        str_at(kafka, "/metadata/annotations/strimzi.io~1node-pools"),
        "enabled"
    );
    assert_eq!(str_at(kafka, "/spec/kafka/version"), "4.0.0");
    assert_eq!(str_at(kafka, "/spec/kafka/metadataVersion"), "4.0-IV3");
    assert!(
        kafka.pointer("/spec/zookeeper").is_none(),
        "KRaft: no ZooKeeper"
    );
    assert!(
        kafka
            .pointer("/spec/entityOperator/topicOperator")
            .is_some(),
        "the topic operator manages the KafkaTopics"
    );

    let pools = all_of(&objects, "KafkaNodePool");
    assert!(!pools.is_empty(), "node pools are required");
    let mut roles = BTreeSet::new();
    let mut brokers = 0;
    for pool in &pools {
        assert_eq!(
            str_at(pool, "/metadata/labels/strimzi.io~1cluster"),
            cluster
        );
        let pool_roles: Vec<&str> = pool["spec"]["roles"]
            .as_array()
            .expect("roles")
            .iter()
            .map(|r| r.as_str().expect("role"))
            .collect();
        if pool_roles.contains(&"broker") {
            brokers += int_at(pool, "/spec/replicas");
        }
        roles.extend(pool_roles);
    }
    assert!(roles.contains("controller") && roles.contains("broker"));

    let events = EventsConfig::default();
    let topics = all_of(&objects, "KafkaTopic");
    let topic_name = |t: &Value| {
        t.pointer("/spec/topicName")
            .and_then(Value::as_str)
            .unwrap_or_else(|| str_at(t, "/metadata/name"))
            .to_owned()
    };
    let names: BTreeSet<String> = topics.iter().map(|t| topic_name(t)).collect();
    let wanted: BTreeSet<String> = [
        &events.tasks_topic,
        &events.reminders_topic,
        &events.dead_letter_topic,
    ]
    .into_iter()
    .cloned()
    .collect();
    assert_eq!(
        names, wanted,
        "KafkaTopics must be exactly taskflow's topics"
    );
    for topic in &topics {
        let name = topic_name(topic);
        assert_eq!(
            str_at(topic, "/metadata/labels/strimzi.io~1cluster"),
            cluster,
            "{name}"
        );
        let replicas = int_at(topic, "/spec/replicas");
        assert!(
            (1..=brokers).contains(&replicas),
            "{name}: {replicas} replicas, {brokers} brokers"
        );
        let partitions = int_at(topic, "/spec/partitions");
        if name == events.dead_letter_topic {
            assert_eq!(
                int_at(topic, "/spec/config/retention.ms"),
                30 * 24 * 3600 * 1000
            );
        } else {
            assert!(
                partitions >= 2,
                "{name} must be partitioned (per-user keys)"
            );
        }
    }
}

#[test]
fn deployment_carries_the_dapr_annotations_the_code_expects() {
    let objects = k8s_objects();
    let serve = serve_defaults();
    let deployment = deployment(&objects);
    let container = container(deployment);

    assert_eq!(annotation(deployment, "dapr.io/enabled"), "true");
    assert_eq!(annotation(deployment, "dapr.io/app-id"), "taskflow");
    assert_eq!(annotation(deployment, "dapr.io/app-protocol"), "grpc");
    assert_eq!(
        annotation(deployment, "dapr.io/enable-app-health-check"),
        "true"
    );

    // The sidecar calls the callback server, never the API.
    let app_port: u16 = annotation(deployment, "dapr.io/app-port")
        .parse()
        .expect("a port");
    let callback = env_value(container, "TASKFLOW_CALLBACK_LISTEN");
    assert_eq!(app_port, port_of(callback));
    assert_eq!(app_port, port_of(&serve.callback_listen));
    assert_eq!(
        host_of(callback),
        "0.0.0.0",
        "the sidecar must reach the callback"
    );
    assert_eq!(app_port, container_port(container, "callback"));
    assert_ne!(app_port, port_of(&serve.listen));

    // The sidecar's body limit is the callback server's message limit.
    let max_body = quantity_bytes(annotation(deployment, "dapr.io/max-body-size"));
    assert_eq!(max_body, serve.callback_max_message_bytes as u64);

    // Token Secrets (key `token`) reach daprd through the annotations and the app through env.
    for (annotation_key, env) in [
        ("dapr.io/app-token-secret", "APP_API_TOKEN"),
        ("dapr.io/api-token-secret", "DAPR_API_TOKEN"),
    ] {
        let secret = annotation(deployment, annotation_key);
        assert!(!secret_value(&objects, secret, "token").is_empty());
        let entry = env_entry(container, env);
        assert_eq!(
            str_at(entry, "/valueFrom/secretKeyRef/name"),
            secret,
            "{env}"
        );
        assert_eq!(
            str_at(entry, "/valueFrom/secretKeyRef/key"),
            "token",
            "{env}"
        );
    }
}

#[test]
fn container_ports_probes_and_env_match_the_configuration() {
    let objects = k8s_objects();
    let serve = serve_defaults();
    let deployment = deployment(&objects);
    let container = container(deployment);
    assert!(int_at(deployment, "/spec/replicas") >= 2);

    // Every variable is one taskflow reads, with a value it accepts.
    for entry in container["env"].as_array().expect("env") {
        let name = entry["name"].as_str().expect("env name");
        let value = match entry.pointer("/valueFrom/secretKeyRef") {
            Some(r) => secret_value(&objects, str_at(r, "/name"), str_at(r, "/key")),
            None => str_at(entry, "/value").to_owned(),
        };
        assert_env_value_parses(name, &value);
    }
    assert_eq!(env_value(container, "TASKFLOW_EVENT_SINK"), "dapr");
    assert_eq!(env_value(container, "TASKFLOW_LOG_FORMAT"), "json");
    for (env, key) in [
        ("TASKFLOW_DATABASE_URL", "database-url"),
        ("TASKFLOW_JWT_SECRET", "jwt-secret"),
    ] {
        let entry = env_entry(container, env);
        assert_eq!(
            str_at(entry, "/valueFrom/secretKeyRef/name"),
            "taskflow",
            "{env}"
        );
        assert_eq!(str_at(entry, "/valueFrom/secretKeyRef/key"), key, "{env}");
    }
    assert!(
        secret_value(&objects, "taskflow", "database-url").starts_with("postgres://"),
        "a cluster runs on PostgreSQL"
    );

    // API, callback and metrics: listening on all interfaces, on the code's default ports.
    let api = env_value(container, "TASKFLOW_LISTEN");
    let metrics = env_value(container, "TASKFLOW_METRICS_LISTEN");
    for (address, default, port_name) in [
        (api, &serve.listen, "grpc"),
        (metrics, &serve.metrics_listen, "metrics"),
    ] {
        assert_eq!(host_of(address), "0.0.0.0");
        assert_eq!(port_of(address), port_of(default), "{port_name}");
        assert_eq!(
            port_of(address),
            container_port(container, port_name),
            "{port_name}"
        );
    }

    // Probes: grpc.health.v1 on the API port.
    for probe in ["readinessProbe", "livenessProbe"] {
        let port = int_at(container, &format!("/{probe}/grpc/port"));
        assert_eq!(port, i64::from(port_of(api)), "{probe}");
    }
    if let Some(startup) = container.get("startupProbe") {
        assert_eq!(int_at(startup, "/grpc/port"), i64::from(port_of(api)));
    }

    // Shutdown: Kubernetes waits longer than taskflow's own grace period.
    let grace = int_at(
        deployment,
        "/spec/template/spec/terminationGracePeriodSeconds",
    );
    assert!(grace > i64::try_from(serve.shutdown_grace_seconds).expect("small"));

    // Service and PodDisruptionBudget select the pods.
    let labels = &deployment["spec"]["template"]["metadata"]["labels"];
    let selects = |selector: &Value| {
        selector
            .as_object()
            .expect("selector is a map")
            .iter()
            .all(|(k, v)| labels.get(k) == Some(v))
    };
    assert!(selects(&deployment["spec"]["selector"]["matchLabels"]));
    let service = find(&objects, "Service", "taskflow");
    assert_eq!(service["spec"]["type"], "ClusterIP");
    assert!(selects(&service["spec"]["selector"]));
    for (name, address) in [("grpc", api), ("metrics", metrics)] {
        let port = service_port(service, name);
        assert_eq!(int_at(port, "/port"), i64::from(port_of(address)), "{name}");
        let target = &port["targetPort"];
        assert!(
            *target == name || target.as_i64() == Some(i64::from(port_of(address))),
            "Service port {name} targets {target}"
        );
    }
    let pdb = find(&objects, "PodDisruptionBudget", "taskflow");
    assert_eq!(int_at(pdb, "/spec/minAvailable"), 1);
    assert!(selects(&pdb["spec"]["selector"]["matchLabels"]));
}

#[test]
fn taskflow_runs_as_non_root_on_a_read_only_root_filesystem() {
    let objects = k8s_objects();
    let deployment = deployment(&objects);
    let pod = &deployment["spec"]["template"]["spec"];
    let container = container(deployment);
    let security = &container["securityContext"];
    // Set on the pod, the container, or both; wherever set, non-root as user 65532
    // (distroless `nonroot`).
    let levels = [pod.get("securityContext"), Some(security)];
    for (key, wanted) in [
        ("runAsNonRoot", Value::Bool(true)),
        ("runAsUser", Value::from(65532)),
    ] {
        let set: Vec<&Value> = levels.iter().flatten().filter_map(|l| l.get(key)).collect();
        assert!(!set.is_empty(), "{key} is not set");
        assert!(set.iter().all(|v| **v == wanted), "{key} must be {wanted}");
    }
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    let drop = security
        .pointer("/capabilities/drop")
        .and_then(Value::as_array);
    assert!(
        drop.is_some_and(|d| d.iter().any(|c| c == "ALL")),
        "drop ALL capabilities"
    );
    for kind in ["requests", "limits"] {
        assert!(
            container
                .pointer(&format!("/resources/{kind}/memory"))
                .is_some(),
            "resources.{kind}.memory"
        );
    }
}

#[test]
fn every_secret_reference_resolves() {
    let objects = k8s_objects();
    let mut refs = 0;
    for workload in all_of(&objects, "Deployment")
        .into_iter()
        .chain(all_of(&objects, "StatefulSet"))
    {
        for container in workload["spec"]["template"]["spec"]["containers"]
            .as_array()
            .expect("containers")
        {
            for entry in container["env"].as_array().into_iter().flatten() {
                if let Some(r) = entry.pointer("/valueFrom/secretKeyRef") {
                    secret_value(&objects, str_at(r, "/name"), str_at(r, "/key"));
                    refs += 1;
                }
            }
        }
    }
    assert!(refs >= 7, "only {refs} secret references");
}

#[test]
fn example_database_matches_the_database_url() {
    let objects = k8s_objects();
    let url = secret_value(&objects, "taskflow", "database-url");
    // postgres://USER:PASSWORD@HOST:PORT/DB
    let rest = url.strip_prefix("postgres://").expect("a postgres URL");
    let (credentials, rest) = rest.split_once('@').expect("credentials in the URL");
    let (user, password) = credentials.split_once(':').expect("user:password");
    let (address, database) = rest.split_once('/').expect("a database in the URL");
    let host = host_of(address).split('.').next().expect("host");

    let service = find(&objects, "Service", host);
    assert_eq!(
        int_at(service_port(service, "postgres"), "/port"),
        i64::from(port_of(address))
    );
    let statefulset = find(&objects, "StatefulSet", host);
    assert!(
        statefulset
            .pointer("/spec/volumeClaimTemplates/0")
            .is_some(),
        "data on a PVC"
    );
    let postgres = &statefulset["spec"]["template"]["spec"]["containers"][0];
    assert!(str_at(postgres, "/image").starts_with("postgres:17"));
    for (env, expected) in [
        ("POSTGRES_USER", user),
        ("POSTGRES_PASSWORD", password),
        ("POSTGRES_DB", database),
    ] {
        let entry = env_entry(postgres, env);
        let r = entry
            .pointer("/valueFrom/secretKeyRef")
            .expect("from a Secret");
        assert_eq!(
            secret_value(&objects, str_at(r, "/name"), str_at(r, "/key")),
            expected,
            "{env}"
        );
    }
}

#[test]
fn local_dapr_resources_use_the_same_component_and_app() {
    let events = EventsConfig::default();
    let serve = serve_defaults();
    let objects = k8s_objects();
    let cluster_component = find(&objects, "Component", &events.pubsub_name);

    let local = one("dapr/resources/pubsub.yaml");
    assert_eq!(local["kind"], "Component");
    assert_eq!(str_at(&local, "/metadata/name"), events.pubsub_name);
    assert!(str_at(&local, "/spec/type").starts_with("pubsub."));

    let kafka = one("dapr/resources-kafka/pubsub.yaml");
    assert_eq!(str_at(&kafka, "/metadata/name"), events.pubsub_name);
    assert_eq!(str_at(&kafka, "/spec/type"), "pubsub.kafka");
    for key in [
        "authType",
        "consumerGroup",
        "initialOffset",
        "version",
        "escapeHeaders",
    ] {
        assert_eq!(
            component_meta(&kafka, key),
            component_meta(cluster_component, key),
            "{key}"
        );
    }
    assert_eq!(component_meta(&kafka, "brokers"), "localhost:9092");

    // The multi-app run file.
    let run = one("dapr/dapr.yaml");
    let apps = run["apps"].as_array().expect("apps");
    assert_eq!(apps.len(), 1);
    let app = &apps[0];
    assert_eq!(
        app["appID"],
        annotation(deployment(&objects), "dapr.io/app-id")
    );
    assert_eq!(
        int_at(app, "/appPort"),
        i64::from(port_of(&serve.callback_listen))
    );
    assert_eq!(app["appProtocol"], "grpc");
    assert_eq!(str_at(app, "/env/TASKFLOW_EVENT_SINK"), "dapr");
    let resources = root().join("dapr").join(str_at(app, "/resourcesPath"));
    assert_eq!(
        resources.canonicalize().expect("resourcesPath exists"),
        root()
            .join("dapr/resources")
            .canonicalize()
            .expect("dapr/resources")
    );
    let app_dir = root().join("dapr").join(str_at(app, "/appDirPath"));
    assert!(
        app_dir.join("Cargo.toml").is_file(),
        "appDirPath is the repository"
    );
    assert_eq!(app["command"], serde_json::json!(["cargo", "run"]));
}

#[test]
fn compose_runs_kafka_4_and_postgres_17_with_the_topics() {
    let compose = one("compose.yaml");
    let services = &compose["services"];
    assert!(str_at(services, "/kafka/image").starts_with("apache/kafka:4.0"));
    assert!(str_at(services, "/postgres/image").starts_with("postgres:17"));
    let kafka_env = &services["kafka"]["environment"];
    assert!(str_at(kafka_env, "/KAFKA_ADVERTISED_LISTENERS").contains("localhost:9092"));
    let script = services["kafka-topics"]["command"].to_string();
    let events = EventsConfig::default();
    for topic in [
        &events.tasks_topic,
        &events.reminders_topic,
        &events.dead_letter_topic,
    ] {
        assert!(
            script.contains(&format!("--topic {topic} ")),
            "compose does not create {topic}"
        );
    }
}

#[test]
fn dockerfile_builds_a_non_root_image_running_taskflow() {
    let dockerfile = read("Dockerfile");
    let lines: Vec<&str> = dockerfile
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    let stages: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].starts_with("FROM "))
        .collect();
    assert!(stages.len() >= 2, "multi-stage build");
    assert!(
        lines[stages[0]].starts_with("FROM rust:"),
        "builds with the rust image"
    );
    let runtime = &lines[*stages.last().expect("a stage")..];
    assert_eq!(runtime[0], "FROM gcr.io/distroless/cc-debian12:nonroot");
    if let Some(user) = runtime.iter().find_map(|l| l.strip_prefix("USER ")) {
        assert!(
            ["nonroot", "65532", "65532:65532", "nonroot:nonroot"].contains(&user),
            "USER {user}"
        );
    }
    assert!(runtime.contains(&r#"ENTRYPOINT ["/usr/local/bin/taskflow"]"#));
    assert!(
        runtime
            .iter()
            .any(|l| l.starts_with("COPY --from=") && l.ends_with(" /usr/local/bin/taskflow"))
    );

    let serve = serve_defaults();
    let exposed: BTreeSet<u16> = runtime
        .iter()
        .filter_map(|l| l.strip_prefix("EXPOSE "))
        .flat_map(|ports| {
            ports
                .split_whitespace()
                .map(|p| p.parse::<u16>().expect("a port"))
        })
        .collect();
    let wanted: BTreeSet<u16> = [&serve.listen, &serve.callback_listen, &serve.metrics_listen]
        .iter()
        .map(|a| port_of(a))
        .collect();
    assert_eq!(exposed, wanted);

    // The dependency layer sees every workspace member's manifest (else --locked fails).
    let manifest = read("Cargo.toml");
    let members = manifest
        .split_once("members = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .expect("workspace members")
        .0;
    for member in members
        .split(',')
        .map(|m| m.trim().trim_matches('"'))
        .filter(|m| !m.is_empty() && *m != ".")
    {
        let copy = format!("COPY {member}/Cargo.toml");
        assert!(dockerfile.contains(&copy), "Dockerfile lacks `{copy}`");
    }
}

#[test]
fn readme_shows_the_commands_of_these_files() {
    let readme = read("README.md");
    for command in [
        "kubectl apply -k k8s/",
        "dapr run --app-id taskflow --app-port 50052 --app-protocol grpc --resources-path dapr/resources -- cargo run",
        "docker compose up -d",
    ] {
        assert!(readme.contains(command), "README lacks `{command}`");
    }
    assert!(Path::new(&root().join("dapr/resources")).is_dir());
}
