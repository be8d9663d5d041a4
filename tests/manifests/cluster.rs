//! k8s/: the kustomization, Kafka (Strimzi), the Dapr component and resiliency.

#[allow(unused_imports)]
use super::*;

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
    // A RETRY (transient fault) is retried without a count limit; DROP needs no retries.
    assert_eq!(int_at(policy, "/maxRetries"), -1);
    assert_eq!(str_at(policy, "/maxInterval"), "15s");

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
    assert_eq!(
        kafka.pointer("/spec/kafka/config/auto.create.topics.enable"),
        Some(&serde_json::Value::Bool(false)),
        "only the declared topics, with their partitions, exist"
    );
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
