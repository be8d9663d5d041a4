//! proto/ under buf: buf.yaml's lint rules and their listed exceptions, the files' per-language
//! packages, the checks CI runs (scripts/proto-check), and the README's client recipes.

#[allow(unused_imports)]
use super::*;

use std::process::Command as Process;

use super::monitoring::{readme_section, regex};

/// The STANDARD rules the API breaks on purpose, everywhere (buf.yaml says why).
const EXCEPT: [&str; 2] = ["RPC_RESPONSE_STANDARD_NAME", "RPC_REQUEST_RESPONSE_UNIQUE"];
/// Enums whose value names are part of the API's text and keep no prefix.
const UNPREFIXED_ENUMS: [&str; 2] = ["DayOfWeek", "ActivityType"];
/// The Go import path the packages are generated under.
const GO_MODULE: &str = "github.com/example/taskflow/gen/go";
const BUF: &str = "tools/buf/node_modules/.bin/buf";

/// Every .proto file under proto/, as paths relative to the repository root.
fn proto_files() -> Vec<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.expect("a dir entry").path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "proto") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&root().join("proto"), &mut files);
    files.sort();
    let files: Vec<String> = files
        .iter()
        .map(|p| {
            let relative = p.strip_prefix(root()).expect("under the repository");
            relative.to_string_lossy().into_owned()
        })
        .collect();
    assert!(files.len() >= 4, "read too few .proto files: {files:?}");
    files
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

/// Whether the line naming `entry` in `text` sits under a comment of its own.
fn explained(text: &str, entry: &str) -> bool {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines
        .iter()
        .position(|l| l.trim().trim_start_matches("- ").trim_end_matches(':') == entry)
        .unwrap_or_else(|| panic!("buf.yaml does not list {entry}"));
    // The comment may stand above a run of entries it explains together.
    lines[..at]
        .iter()
        .rev()
        .take_while(|l| l.trim().starts_with('#') || l.trim().starts_with("- "))
        .any(|l| l.trim().starts_with('#'))
}

#[test]
fn buf_yaml_lints_with_the_standard_rules_and_explains_each_exception() {
    let text = read("buf.yaml");
    let buf = one("buf.yaml");
    assert_eq!(buf["version"], "v2");
    let modules = buf["modules"].as_array().expect("modules");
    assert_eq!(modules.len(), 1);
    assert_eq!(modules[0]["path"], "proto");
    assert_eq!(
        strings(&buf["lint"]["use"]),
        BTreeSet::from(["STANDARD".to_owned()])
    );
    assert_eq!(
        strings(&buf["breaking"]["use"]),
        BTreeSet::from(["FILE".to_owned()])
    );

    let except = strings(&buf["lint"]["except"]);
    assert_eq!(except, EXCEPT.iter().map(|s| s.to_string()).collect());
    let ignore_only = buf["lint"]["ignore_only"].as_object().expect("ignore_only");
    assert_eq!(
        ignore_only.keys().collect::<Vec<_>>(),
        ["ENUM_VALUE_PREFIX"],
        "rules ignored by file"
    );
    let files = strings(&ignore_only["ENUM_VALUE_PREFIX"]);
    for file in &files {
        assert!(
            root().join(file).is_file(),
            "buf.yaml ignores {file}, which does not exist"
        );
        let body = read(file);
        assert!(
            UNPREFIXED_ENUMS
                .iter()
                .any(|e| body.contains(&format!("enum {e} {{"))),
            "{file} has none of {UNPREFIXED_ENUMS:?}"
        );
    }
    for rule in EXCEPT.iter().chain(["ENUM_VALUE_PREFIX"].iter()) {
        assert!(
            explained(&text, rule),
            "buf.yaml lists {rule} with no comment saying why"
        );
    }
}

#[test]
fn only_the_listed_enums_go_without_the_value_prefix() {
    // buf ignores ENUM_VALUE_PREFIX file by file; this holds every other enum to it.
    let open = regex(r"^\s*enum\s+([A-Za-z0-9_]+)\s*\{");
    let value = regex(r"^\s*([A-Z][A-Z0-9_]*)\s*=\s*([0-9]+)");
    let snake = |name: &str| {
        let mut out = String::new();
        for (i, c) in name.chars().enumerate() {
            if c.is_uppercase() && i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
        }
        out
    };
    let mut seen = BTreeSet::new();
    for file in proto_files() {
        let mut current: Option<String> = None;
        for line in read(&file).lines() {
            if let Some(c) = open.captures(line) {
                current = Some(c[1].to_owned());
                seen.insert(c[1].to_owned());
            } else if line.trim() == "}" {
                current = None;
            } else if let (Some(enum_name), Some(v)) = (&current, value.captures(line)) {
                let prefix = format!("{}_", snake(enum_name));
                let (name, number) = (&v[1], &v[2]);
                if number == "0" {
                    assert_eq!(name, format!("{prefix}UNSPECIFIED"), "{file}: {enum_name}");
                } else if !UNPREFIXED_ENUMS.contains(&enum_name.as_str()) {
                    assert!(
                        name.starts_with(&prefix),
                        "{file}: {enum_name}.{name} lacks {prefix}"
                    );
                }
            }
        }
    }
    for name in UNPREFIXED_ENUMS {
        assert!(
            seen.contains(name),
            "no enum {name}: drop it from the exceptions"
        );
    }
}

#[test]
fn every_proto_file_names_its_go_and_java_packages() {
    let option = |body: &str, name: &str| {
        regex(&format!(
            r#"(?m)^option {name} = (?:"([^"]*)"|([a-z0-9_]+));$"#
        ))
        .captures(body)
        .and_then(|c| c.get(1).or_else(|| c.get(2)))
        .map(|m| m.as_str().to_owned())
    };
    for file in proto_files() {
        let body = read(&file);
        let package = regex(r"(?m)^package ([a-z0-9_.]+);$")
            .captures(&body)
            .unwrap_or_else(|| panic!("{file}: no package"))[1]
            .to_owned();
        let parts: Vec<&str> = package.split('.').collect();
        let directory = parts.join("/");
        assert!(
            file.starts_with(&format!("proto/{directory}/")),
            "{file}: package {package}"
        );
        let name = parts[parts.len().saturating_sub(2)..].concat();
        assert_eq!(
            option(&body, "go_package"),
            Some(format!("{GO_MODULE}/{directory};{name}")),
            "{file}"
        );
        assert_eq!(
            option(&body, "java_multiple_files").as_deref(),
            Some("true"),
            "{file}"
        );
        assert_eq!(
            option(&body, "java_package"),
            Some(format!("com.example.{package}")),
            "{file}"
        );
    }
}

#[test]
fn ci_lints_the_protos_and_checks_them_for_breaking_changes() {
    assert!(
        read(".ci/run").contains("scripts/proto-check"),
        ".ci/run runs scripts/proto-check"
    );
    let script = read("scripts/proto-check");
    for part in [
        "\"$BUF\" lint",
        "\"$BUF\" breaking --against \".git#ref=",
        "merge-base HEAD main",
        "npm ci --prefix tools/buf",
        "--go_opt=paths=source_relative",
        "--go-grpc_opt=paths=source_relative",
        "go build",
    ] {
        assert!(script.contains(part), "scripts/proto-check lacks `{part}`");
    }
    // buf is pinned to one version, the same in the lock file.
    let package: Value = serde_json::from_str(&read("tools/buf/package.json")).expect("JSON");
    let version = str_at(&package, "/devDependencies/@bufbuild~1buf");
    assert!(
        version.chars().all(|c| c.is_ascii_digit() || c == '.'),
        "pinned: {version}"
    );
    let lock: Value = serde_json::from_str(&read("tools/buf/package-lock.json")).expect("JSON");
    assert_eq!(
        str_at(&lock, "/packages/node_modules~1@bufbuild~1buf/version"),
        version
    );
    let ignored = read(".gitignore");
    assert!(ignored.lines().any(|l| l == "/tools/buf/node_modules"));
}

/// `buf lint` itself, where scripts/proto-check (or CI) has installed buf.
#[test]
fn buf_lint_passes() {
    let buf = root().join(BUF);
    if !buf.is_file() {
        eprintln!("{BUF} is not installed (scripts/proto-check installs it): buf lint not run");
        return;
    }
    let output = Process::new(&buf)
        .arg("lint")
        .current_dir(root())
        .output()
        .expect("buf runs");
    assert!(
        output.status.success(),
        "buf lint:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn readme_gives_working_go_and_python_recipes() {
    let readme = read("README.md");
    let clients = readme_section(&readme, "Clients in other languages");
    for part in [
        "--go_out=",
        "--go-grpc_out=",
        "paths=source_relative",
        GO_MODULE,
        "buf generate",
        // Error details (google.rpc.BadRequest) need grpcio-status in Python.
        "grpcio-status",
        "rpc_status.from_call",
        "error_details_pb2.BadRequest",
    ] {
        assert!(
            clients.contains(part),
            "README's Clients section lacks `{part}`"
        );
    }
    let generate = one("buf.gen.yaml");
    let plugins: BTreeSet<&str> = generate["plugins"]
        .as_array()
        .expect("plugins")
        .iter()
        .map(|p| str_at(p, "/local"))
        .collect();
    assert_eq!(
        plugins,
        BTreeSet::from(["protoc-gen-go", "protoc-gen-go-grpc"])
    );
    assert!(
        read(".gitignore").lines().any(|l| l == "/gen"),
        "generated code stays out of git"
    );
}

/// grpcurl (1.8.6, which scripts/test installs) reads a FieldMask only in its object form,
/// `{"paths": [...]}`: the string form `"title"` fails with "expecting start of JSON object".
#[test]
fn readme_update_example_sends_the_mask_as_grpcurl_reads_it() {
    let readme = read("README.md");
    let section = readme_section(&readme, "Use it with grpcurl");
    let call = section
        .find("taskflow.v1.TaskService/UpdateTask")
        .expect("README shows UpdateTask with grpcurl");
    let start = section[..call].rfind("-d '").expect("the request's -d") + 4;
    let body = &section[start..call];
    let body = &body[..body.find('\'').expect("the end of -d's quote")];
    let request: Value = serde_json::from_str(body)
        .unwrap_or_else(|e| panic!("the UpdateTask example is not JSON ({e}):\n{body}"));
    let paths = request
        .pointer("/update_mask/paths")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| panic!("update_mask must be {{\"paths\": [...]}}: {request}"));
    for path in paths {
        let path = path.as_str().expect("a path is a string");
        assert!(
            request["task"].get(path).is_some(),
            "the mask names {path}, which the example's task does not set"
        );
    }
}
