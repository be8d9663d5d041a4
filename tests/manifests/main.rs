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

mod app;
mod cluster;
mod dashboard;
mod local;
mod monitoring;
mod network;
mod protos;

// ---------------------------------------------------------------------------------------------
// Reading manifests

pub(crate) fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn read(path: &str) -> String {
    let full = root().join(path);
    fs::read_to_string(&full).unwrap_or_else(|e| panic!("{}: {e}", full.display()))
}

/// Every YAML document in a file (empty documents skipped).
pub(crate) fn docs(path: &str) -> Vec<Value> {
    let text = read(path);
    serde_norway::Deserializer::from_str(&text)
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{path}: invalid YAML: {e}")))
        .filter(|v| !v.is_null())
        .collect()
}

pub(crate) fn one(path: &str) -> Value {
    let mut all = docs(path);
    assert_eq!(all.len(), 1, "{path}: expected one YAML document");
    all.remove(0)
}

/// The files of the kustomization, as paths relative to the repository root.
pub(crate) fn k8s_files() -> Vec<String> {
    let kustomization = one("k8s/kustomization.yaml");
    kustomization["resources"]
        .as_array()
        .expect("kustomization has resources")
        .iter()
        .map(|r| format!("k8s/{}", r.as_str().expect("resource is a path")))
        .collect()
}

/// Every object the kustomization applies.
pub(crate) fn k8s_objects() -> Vec<Value> {
    k8s_files().iter().flat_map(|f| docs(f)).collect()
}

pub(crate) fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    let found: Vec<_> = objects
        .iter()
        .filter(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .collect();
    assert_eq!(found.len(), 1, "expected exactly one {kind} {name}");
    found[0]
}

pub(crate) fn all_of<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

pub(crate) fn str_at<'a>(value: &'a Value, pointer: &str) -> &'a str {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("missing {pointer}"))
        .as_str()
        .unwrap_or_else(|| panic!("{pointer} must be a string"))
}

pub(crate) fn int_at(value: &Value, pointer: &str) -> i64 {
    value
        .pointer(pointer)
        .unwrap_or_else(|| panic!("missing {pointer}"))
        .as_i64()
        .unwrap_or_else(|| panic!("{pointer} must be an integer"))
}

/// A Dapr component's metadata item, as a string.
pub(crate) fn component_meta<'a>(component: &'a Value, name: &str) -> &'a str {
    component["spec"]["metadata"]
        .as_array()
        .expect("component has spec.metadata")
        .iter()
        .find(|m| m["name"] == name)
        .unwrap_or_else(|| panic!("component metadata {name} missing"))["value"]
        .as_str()
        .unwrap_or_else(|| panic!("component metadata {name} must be a string"))
}

pub(crate) fn port_of(address: &str) -> u16 {
    address
        .rsplit_once(':')
        .and_then(|(_, port)| port.parse().ok())
        .unwrap_or_else(|| panic!("{address}: no port"))
}

pub(crate) fn host_of(address: &str) -> &str {
    address.rsplit_once(':').expect("address has a port").0
}

// ---------------------------------------------------------------------------------------------
// The code's side

/// `taskflow` with no arguments: the serve command with every default.
pub(crate) fn serve_defaults() -> ServeConfig {
    let (command, _) = Cli::try_parse_from(["taskflow"])
        .expect("taskflow parses with no arguments")
        .into_command();
    match command {
        Command::Serve(serve) => serve,
        // Any other command (migrate, …) is not the default.
        _ => panic!("the default command must be serve"),
    }
}

/// The long flag of the option read from environment variable `env`.
pub(crate) fn flag_of_env(env: &str) -> Option<String> {
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
pub(crate) fn assert_env_value_parses(env: &str, value: &str) {
    let flag = flag_of_env(env).unwrap_or_else(|| panic!("taskflow has no option for ${env}"));
    let arg = format!("--{flag}={value}");
    if let Err(e) = Cli::try_parse_from(["taskflow", arg.as_str()]) {
        panic!("${env}={value} is rejected by taskflow: {e}");
    }
}

// ---------------------------------------------------------------------------------------------
// The k8s/ objects taskflow runs as

pub(crate) fn deployment(objects: &[Value]) -> &Value {
    find(objects, "Deployment", "taskflow")
}

pub(crate) fn container(deployment: &Value) -> &Value {
    deployment
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .and_then(|cs| cs.iter().find(|c| c["name"] == "taskflow"))
        .expect("Deployment taskflow has a container named taskflow")
}

pub(crate) fn annotation<'a>(deployment: &'a Value, key: &str) -> &'a str {
    deployment
        .pointer("/spec/template/metadata/annotations")
        .and_then(|a| a.get(key))
        .unwrap_or_else(|| panic!("pod annotation {key} missing"))
        .as_str()
        .unwrap_or_else(|| panic!("pod annotation {key} must be a string (quote it)"))
}

/// The env entry `name` of a container.
pub(crate) fn env_entry<'a>(container: &'a Value, name: &str) -> &'a Value {
    container["env"]
        .as_array()
        .expect("container has env")
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("env {name} missing"))
}

pub(crate) fn env_value<'a>(container: &'a Value, name: &str) -> &'a str {
    env_entry(container, name)["value"]
        .as_str()
        .unwrap_or_else(|| panic!("env {name} must have a string value"))
}

/// The value of Secret `name`'s `key` as written in the manifests (stringData or data).
pub(crate) fn secret_value(objects: &[Value], name: &str, key: &str) -> String {
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

pub(crate) fn container_port(container: &Value, name: &str) -> u16 {
    let port = container["ports"]
        .as_array()
        .expect("container has ports")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("container port {name} missing"));
    u16::try_from(int_at(port, "/containerPort")).expect("a port number")
}

pub(crate) fn service_port<'a>(service: &'a Value, name: &str) -> &'a Value {
    service["spec"]["ports"]
        .as_array()
        .expect("Service has ports")
        .iter()
        .find(|p| p["name"] == name)
        .unwrap_or_else(|| panic!("Service port {name} missing"))
}

/// A Kubernetes quantity such as `16Mi` in bytes.
pub(crate) fn quantity_bytes(quantity: &str) -> u64 {
    let (digits, factor) = [("Ki", 1u64 << 10), ("Mi", 1 << 20), ("Gi", 1 << 30)]
        .iter()
        .find_map(|(suffix, f)| quantity.strip_suffix(suffix).map(|d| (d, *f)))
        .unwrap_or((quantity, 1));
    digits.parse::<u64>().expect("a whole quantity") * factor
}

// ---------------------------------------------------------------------------------------------
// Tests
