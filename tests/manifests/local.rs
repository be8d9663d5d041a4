//! Local development and the image: dapr/, compose.yaml, Dockerfile, README.

#[allow(unused_imports)]
use super::*;

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
    // Per-user order needs one message at a time where there are no partitions.
    assert_eq!(component_meta(&local, "concurrency"), "1");

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
