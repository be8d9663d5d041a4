//! k8s/: the taskflow Deployment, its Secrets and the example database.

#[allow(unused_imports)]
use super::*;

use taskflow::config::SECRET_FILES;

use super::network::{mounted_secret, secret_env};

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
    // ... and the most taskflow sends it in one request.
    let max_request = env_value(container, "TASKFLOW_DAPR_MAX_REQUEST_BYTES");
    assert_env_value_parses("TASKFLOW_DAPR_MAX_REQUEST_BYTES", max_request);
    assert_eq!(max_request.parse::<u64>().ok(), Some(max_body));

    // Token Secrets (key `token`) reach daprd through the annotations and the app as files.
    for (annotation_key, file_env) in [
        ("dapr.io/app-token-secret", "TASKFLOW_APP_API_TOKEN_FILE"),
        ("dapr.io/api-token-secret", "TASKFLOW_DAPR_API_TOKEN_FILE"),
    ] {
        let secret = annotation(deployment, annotation_key);
        assert!(!secret_value(&objects, secret, "token").is_empty());
        let path = env_value(container, file_env);
        let (mounted, key) = mounted_secret(&objects, deployment, container, path);
        assert_eq!(mounted, secret, "{file_env}");
        assert_eq!(key, "token", "{file_env}");
    }
}

#[test]
fn container_ports_probes_and_env_match_the_configuration() {
    let objects = k8s_objects();
    let serve = serve_defaults();
    let deployment = deployment(&objects);
    let container = container(deployment);
    assert!(int_at(deployment, "/spec/replicas") >= 2);

    // Every variable is one taskflow reads, with a value it accepts (a secret file's contents
    // as the value of its option); the OpenTelemetry SDK's own `OTEL_*` variables are read by
    // the SDK (src/telemetry/otel.rs): an endpoint is an http(s) URL.
    for entry in container["env"].as_array().expect("env") {
        let name = entry["name"].as_str().expect("env name");
        if name.starts_with("OTEL_") {
            let value = str_at(entry, "/value");
            assert!(
                [
                    "OTEL_EXPORTER_OTLP_ENDPOINT",
                    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                    "OTEL_SERVICE_NAME",
                ]
                .contains(&name),
                "{name} is not a variable taskflow documents"
            );
            if name.ends_with("ENDPOINT") {
                assert!(
                    value.starts_with("http://") || value.starts_with("https://"),
                    "{name}={value}"
                );
            }
            continue;
        }
        let value = match entry.pointer("/valueFrom/secretKeyRef") {
            Some(r) => secret_value(&objects, str_at(r, "/name"), str_at(r, "/key")),
            None => str_at(entry, "/value").to_owned(),
        };
        match SECRET_FILES.iter().find(|s| s.file_env == name) {
            Some(secret) => {
                let (name, key) = mounted_secret(&objects, deployment, container, &value);
                assert_env_value_parses(secret.env, &secret_value(&objects, &name, &key));
            }
            None => assert_env_value_parses(name, &value),
        }
    }
    assert_eq!(env_value(container, "TASKFLOW_EVENT_SINK"), "dapr");
    assert_eq!(env_value(container, "TASKFLOW_LOG_FORMAT"), "json");
    for (env, key) in [
        ("TASKFLOW_DATABASE_URL_FILE", "database-url"),
        ("TASKFLOW_JWT_SECRET_FILE", "jwt-secret"),
        // Replicas read each other's page tokens only with a shared key.
        ("TASKFLOW_PAGE_TOKEN_KEY_FILE", "page-token-key"),
    ] {
        let path = env_value(container, env);
        let mounted = mounted_secret(&objects, deployment, container, path);
        assert_eq!(mounted, ("taskflow".to_owned(), key.to_owned()), "{env}");
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
        let pod = &workload["spec"]["template"]["spec"];
        for container in pod["containers"].as_array().expect("containers") {
            for entry in container["env"].as_array().into_iter().flatten() {
                if let Some(r) = entry.pointer("/valueFrom/secretKeyRef") {
                    secret_value(&objects, str_at(r, "/name"), str_at(r, "/key"));
                    refs += 1;
                }
            }
        }
        // Secrets mounted as files: every listed key exists.
        for volume in pod["volumes"].as_array().into_iter().flatten() {
            let sources: Vec<&Value> = match volume.pointer("/projected/sources") {
                Some(sources) => sources.as_array().expect("sources").iter().collect(),
                None => vec![volume],
            };
            for source in sources {
                let Some(secret) = source.get("secret") else {
                    continue;
                };
                let name = secret
                    .get("secretName")
                    .or_else(|| secret.get("name"))
                    .and_then(Value::as_str)
                    .expect("a Secret name");
                find(&objects, "Secret", name);
                for item in secret["items"].as_array().into_iter().flatten() {
                    secret_value(&objects, name, str_at(item, "/key"));
                    refs += 1;
                }
            }
        }
    }
    assert!(refs >= 5, "only {refs} secret references");
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
        let file_env = format!("{env}_FILE");
        let value = secret_env(&objects, statefulset, postgres, env, &file_env);
        assert_eq!(value, expected, "{env}");
    }
}
