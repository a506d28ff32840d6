//! The deployment files: the Kubernetes example, the Grafana dashboard, the Prometheus alerts, the
//! systemd unit and the Containerfile parse, agree with kesrs (probe paths, config, ports, metric
//! names in the real exposition), and kesrs writes nothing outside its key directory.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::{config_text, server_cert, spawn_and_wait, Client, ClientCert, Proto, Server, BIN};
use serde_yaml_ng::Value;

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..").join(path)
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo(path)).unwrap()
}

fn yaml_docs(text: &str) -> Vec<Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| <Value as serde::Deserialize>::deserialize(doc).unwrap())
        .filter(|v| !v.is_null())
        .collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

fn named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_sequence()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("no {name}"))
}

fn env_value<'a>(container: &'a Value, name: &str) -> &'a Value {
    named(&container["env"], name)
}

#[test]
fn the_kubernetes_example_matches_kesrs() {
    let docs = yaml_docs(&read("deploy/kubernetes/minio-kesrs.yaml"));
    let sts = find(&docs, "StatefulSet", "minio");
    let pod = &sts["spec"]["template"]["spec"];
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let kesrs = named(&pod["initContainers"], "kesrs");
    let check = named(&pod["initContainers"], "kesrs-check");
    let minio = named(&pod["containers"], "minio");
    assert_eq!(kesrs["restartPolicy"], "Always", "a native sidecar");

    // Probes: readiness on /v1/ready, liveness on /version, over HTTPS on kesrs's port.
    for (probe, path) in [
        ("startupProbe", "/v1/ready"),
        ("readinessProbe", "/v1/ready"),
        ("livenessProbe", "/version"),
    ] {
        let get = &kesrs[probe]["httpGet"];
        assert_eq!(get["path"], path, "{probe}");
        assert_eq!(get["scheme"], "HTTPS", "{probe}");
        assert_eq!(get["port"], 7373, "{probe}");
    }
    assert_eq!(kesrs["ports"][0]["containerPort"], 7373);
    for container in [kesrs, check] {
        let security = &container["securityContext"];
        assert_eq!(security["readOnlyRootFilesystem"], true);
        assert_eq!(security["allowPrivilegeEscalation"], false);
        assert_eq!(security["capabilities"]["drop"][0], "ALL");
        assert!(container["resources"]["limits"]["memory"].is_string());
        assert!(container["resources"]["limits"]["cpu"].is_string());
    }
    assert_eq!(kesrs["args"][0], "server");
    assert_eq!(check["args"][0], "check");
    let config_arg = kesrs["args"][1].as_str().unwrap();
    assert_eq!(check["args"][1], config_arg);
    let config_path = config_arg.strip_prefix("--config=").unwrap();

    // The config file is the ConfigMap's, mounted as a directory (so that it is updated).
    let mounts = &kesrs["volumeMounts"];
    let config_mount = named(mounts, "kesrs-config");
    assert!(config_mount.get("subPath").is_none());
    let dir = config_mount["mountPath"].as_str().unwrap();
    let file = config_path.strip_prefix(&format!("{dir}/")).unwrap();
    let config_map = find(&docs, "ConfigMap", "kesrs-config");
    let config_text = config_map["data"][file].as_str().unwrap();

    // The config is valid, and its TLS files are in the certificate secret's mount.
    let identity = ClientCert::ed25519().identity;
    let lookup = |name: &str| -> Option<String> {
        match name {
            "MINIO_IDENTITY" => Some(identity.clone()),
            n if n.starts_with("AZURE_") => Some(format!("value-of-{n}")),
            _ => None,
        }
    };
    let config = kesrs_core::Config::from_yaml(config_text, &lookup).unwrap();
    let tls_dir = named(mounts, "kesrs-tls")["mountPath"].as_str().unwrap();
    assert!(config.tls.cert.starts_with(tls_dir));
    assert!(config.tls.key.starts_with(tls_dir));
    assert!(
        config.api["/v1/ready"].skip_auth,
        "the kubelet has no client certificate"
    );
    assert_eq!(config.address.port(), 7373);
    // Every ${NAME} the config uses is set in the container.
    assert_eq!(
        env_value(kesrs, "MINIO_IDENTITY")["valueFrom"]["secretKeyRef"]["name"],
        "minio-kes"
    );
    let azure_secret = find(&docs, "Secret", "kesrs-azure");
    for name in ["AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET"] {
        assert!(config_text.contains(&format!("${{{name}}}")));
        assert!(azure_secret["stringData"][name].is_string(), "{name}");
    }
    assert_eq!(kesrs["envFrom"][0]["secretRef"]["name"], "kesrs-azure");

    // MinIO dials kesrs on its port, with a key the config creates and the CA of kesrs's secret.
    assert_eq!(
        env_value(minio, "MINIO_KMS_KES_ENDPOINT")["value"],
        "https://127.0.0.1:7373"
    );
    let key = env_value(minio, "MINIO_KMS_KES_KEY_NAME")["value"]
        .as_str()
        .unwrap();
    assert!(config.keys.iter().any(|k| k.as_str() == key));
    let ca = env_value(minio, "MINIO_KMS_KES_CAPATH")["value"]
        .as_str()
        .unwrap();
    assert!(ca.starts_with(
        named(&minio["volumeMounts"], "kesrs-tls")["mountPath"]
            .as_str()
            .unwrap()
    ));
    let certificate = find(&docs, "Certificate", "kesrs-tls");
    assert_eq!(certificate["spec"]["secretName"], "kesrs-tls");
    assert_eq!(certificate["spec"]["ipAddresses"][0], "127.0.0.1");

    // `kesrs check` agrees, for the dialled address and MinIO's key (without calling Azure).
    let tmp = tempfile::tempdir().unwrap();
    let (cert, private) = server_cert();
    std::fs::write(tmp.path().join("tls.crt"), cert).unwrap();
    std::fs::write(tmp.path().join("tls.key"), private).unwrap();
    let local = config_text.replace(tls_dir, &tmp.path().display().to_string());
    std::fs::write(tmp.path().join("config.yml"), local).unwrap();
    let mut args: Vec<String> = check["args"].as_sequence().unwrap()[2..]
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    args.push("--no-key-store".into());
    let output = Command::new(BIN)
        .arg("check")
        .arg("--config")
        .arg(tmp.path().join("config.yml"))
        .args(&args)
        .env("MINIO_IDENTITY", &identity)
        .env("AZURE_TENANT_ID", "t")
        .env("AZURE_CLIENT_ID", "c")
        .env("AZURE_CLIENT_SECRET", "s")
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("[  ok] policy 'minio'"), "{out}");
}

/// Metric names (kes_*, kesrs_*, process_*) in a PromQL expression.
fn metric_names(expr: &str) -> BTreeSet<String> {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|t| {
            ["kes_", "kesrs_", "process_"]
                .iter()
                .any(|p| t.starts_with(p))
        })
        .map(str::to_owned)
        .collect()
}

/// Every sample name kesrs exposes, after traffic with 2xx, 4xx and 5xx answers.
async fn exposed_names() -> BTreeSet<String> {
    let server = Server::start("keys:\n  - name: cached\n");
    let mut admin = server.admin().await;
    let names = |text: String| -> BTreeSet<String> {
        text.lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
            .collect()
    };
    assert_eq!(admin.get("/v1/key/describe/cached").await.status, 200);
    assert_eq!(admin.get("/v1/key/describe/missing").await.status, 404);
    let mut all = names(admin.get("/v1/metrics").await.text());
    // An unreachable key store: 5xx answers, and kesrs_keystore_up 0.
    std::fs::remove_dir_all(server.keys_dir()).unwrap();
    let status = admin.get("/v1/key/describe/other").await.status;
    assert!(status >= 500, "{status}");
    let text = admin.get("/v1/metrics").await.text();
    assert!(text.contains("kesrs_keystore_up 0\n"), "{text}");
    all.extend(names(text));
    all
}

#[tokio::test]
async fn dashboard_and_alerts_use_metrics_kesrs_exposes() {
    let exposed = exposed_names().await;
    for name in [
        "kesrs_reload_generation",
        "kesrs_reload_last_success_timestamp_seconds",
        "kesrs_reload_failures_total",
        "kesrs_tls_certificate_expiry_timestamp_seconds",
        "kesrs_keystore_up",
        "kesrs_keystore_latency_seconds",
        "kes_http_request_failure",
    ] {
        assert!(exposed.contains(name), "{name} not in {exposed:?}");
    }

    // Grafana: every panel's queries name exposed metrics.
    let dashboard: serde_json::Value =
        serde_json::from_str(&read("deploy/grafana/kesrs-dashboard.json")).unwrap();
    assert_eq!(dashboard["uid"], "kesrs");
    let mut used = BTreeSet::new();
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 8);
    for panel in panels {
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "{}", panel["title"]);
        for target in targets {
            used.extend(metric_names(target["expr"].as_str().unwrap()));
        }
    }
    let variable = dashboard["templating"]["list"][0]["definition"]
        .as_str()
        .unwrap();
    used.extend(metric_names(variable));
    for name in &used {
        assert!(
            exposed.contains(name),
            "dashboard uses {name}, which kesrs does not expose"
        );
    }
    for name in [
        "kesrs_keystore_up",
        "kesrs_tls_certificate_expiry_timestamp_seconds",
        "kesrs_reload_generation",
        "kesrs_reload_failures_total",
        "kes_http_response_time_bucket",
    ] {
        assert!(used.contains(name), "the dashboard does not show {name}");
    }

    // Prometheus: alerting rules with a severity, on exposed metrics, covering what matters.
    let rules = yaml_docs(&read("deploy/prometheus/kesrs-alerts.yaml"));
    let mut alerts = BTreeMap::new();
    for group in rules[0]["groups"].as_sequence().unwrap() {
        for rule in group["rules"].as_sequence().unwrap() {
            let alert = rule["alert"].as_str().unwrap().to_owned();
            let expr = rule["expr"].as_str().unwrap();
            assert!(rule["labels"]["severity"].is_string(), "{alert}");
            assert!(rule["annotations"]["summary"].is_string(), "{alert}");
            for name in metric_names(expr) {
                assert!(
                    exposed.contains(&name),
                    "{alert} uses {name}, which kesrs does not expose"
                );
            }
            alerts.insert(alert, expr.to_owned());
        }
    }
    for (alert, metric) in [
        ("KesrsKeyStoreUnreachable", "kesrs_keystore_up"),
        ("KesrsServerErrors", "kes_http_request_failure"),
        ("KesrsHighLatency", "kes_http_response_time_bucket"),
        (
            "KesrsCertificateExpiresSoon",
            "kesrs_tls_certificate_expiry_timestamp_seconds",
        ),
        (
            "KesrsReloadFailing",
            "kesrs_reload_last_failure_timestamp_seconds",
        ),
    ] {
        assert!(alerts[alert].contains(metric), "{alert}");
    }
}

#[test]
fn the_systemd_unit_and_containerfile_run_kesrs() {
    let unit = read("deploy/systemd/kesrs.service");
    let value = |key: &str| -> String {
        unit.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("no {key}="))
            .to_owned()
    };
    assert_eq!(
        value("ExecStart"),
        "/usr/local/bin/kesrs server --config /etc/kesrs/config.yml"
    );
    assert_eq!(value("ExecReload"), "/bin/kill -HUP $MAINPID");
    assert_eq!(value("NoNewPrivileges"), "yes");
    assert_eq!(value("ProtectSystem"), "strict");
    assert_eq!(value("LimitCORE"), "0", "no core dumps full of keys");
    // The pre-start check's arguments are kesrs's, and pass on a good config.
    let pre = value("ExecStartPre");
    let args: Vec<&str> = pre.split_whitespace().collect();
    assert_eq!(
        args[..4],
        [
            "/usr/local/bin/kesrs",
            "check",
            "--config",
            "/etc/kesrs/config.yml"
        ]
    );
    let server = Server::start("");
    let output = Command::new(BIN)
        .arg("check")
        .arg("--config")
        .arg(server.config_path())
        .args(&args[4..])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );

    let containerfile = read("Containerfile");
    let from: Vec<&str> = containerfile
        .lines()
        .filter_map(|l| l.strip_prefix("FROM "))
        .collect();
    assert_eq!(from.len(), 2, "multi-stage");
    assert!(
        from[1].contains("distroless") && from[1].contains("nonroot"),
        "{}",
        from[1]
    );
    assert!(containerfile.contains("cargo build --release --locked -p kesrs-sidecar --bin kesrs"));
    assert!(containerfile.contains("USER 65532:65532"));
    assert!(containerfile.contains("ENTRYPOINT [\"/usr/local/bin/kesrs\"]"));
    assert!(containerfile.contains("CMD [\"server\", \"--config\", \"/etc/kesrs/config.yml\"]"));
    // The build stage's toolchain is at least the workspace's rust-version.
    let manifest = read("Cargo.toml");
    let msrv = manifest
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = "))
        .unwrap()
        .trim_matches('"');
    let image = from[0].split_whitespace().next().unwrap();
    let version = image.split(':').nth(1).unwrap().split('-').next().unwrap();
    let minor = |v: &str| v.split('.').nth(1).unwrap().parse::<u32>().unwrap();
    assert!(minor(version) >= minor(msrv), "{version} < {msrv}");
}

/// Every file under `dir` with its contents, except under `skip`.
fn snapshot(dir: &Path, skip: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.starts_with(skip) {
                continue;
            }
            if path.is_dir() {
                stack.push(path.clone());
                files.insert(path, Vec::new());
            } else {
                let content = std::fs::read(&path).unwrap();
                files.insert(path, content);
            }
        }
    }
    files
}

#[tokio::test]
async fn kesrs_writes_nothing_outside_its_key_directory() {
    // A read-only root file system: the config dir, the working dir and HOME must stay untouched.
    let root = tempfile::tempdir().unwrap();
    let etc = root.path().join("etc");
    let work = root.path().join("work");
    let home = root.path().join("home");
    let keys = root.path().join("var/lib/kesrs/keys");
    for d in [&etc, &work, &home, &root.path().join("var/lib/kesrs")] {
        std::fs::create_dir_all(d).unwrap();
    }
    let admin = ClientCert::ed25519();
    let (cert, key) = server_cert();
    std::fs::write(etc.join("server.cert"), cert).unwrap();
    std::fs::write(etc.join("server.key"), key).unwrap();
    let config = config_text(&etc, &admin.identity, "keys:\n  - name: startup\n").replace(
        &format!("{}/keys", etc.display()),
        &keys.display().to_string(),
    );
    std::fs::write(etc.join("config.yml"), config).unwrap();
    let before = snapshot(root.path(), &keys);

    let mut command = Command::new(BIN);
    command
        .args(["server", "--config"])
        .arg(etc.join("config.yml"))
        .args(["--addr", "127.0.0.1:0"])
        .current_dir(&work)
        .env("HOME", &home)
        .env("TMPDIR", &home);
    let (mut child, addr, _, _) = spawn_and_wait(command);
    let mut client = Client::connect(addr, Some(&admin), Proto::Http2).await;
    assert_eq!(
        client.json("POST", "/v1/key/create/k", "").await.status,
        200
    );
    assert_eq!(client.get("/v1/metrics").await.status, 200);
    // A reload, and a check, write nothing either.
    let status = Command::new("kill")
        .args(["-HUP", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let output = Command::new(BIN)
        .args(["check", "--config"])
        .arg(etc.join("config.yml"))
        .current_dir(&work)
        .env("HOME", &home)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stdout)
    );
    std::thread::sleep(Duration::from_millis(300));
    let deadline = Instant::now() + Duration::from_secs(5);
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(Instant::now() < deadline);

    let after = snapshot(root.path(), &keys);
    assert_eq!(
        after.keys().collect::<Vec<_>>(),
        before.keys().collect::<Vec<_>>(),
        "kesrs created files outside its key directory"
    );
    assert!(
        after == before,
        "kesrs changed files outside its key directory"
    );
    assert!(keys.join("k").is_file() && keys.join("startup").is_file());
}
