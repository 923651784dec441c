//! contrib/kubernetes/: every manifest validated offline against the Kubernetes schemas
//! (kubernetes-validate, strict) and the prometheus-operator CRD models, in the virtualenv
//! `make deps` makes; the DaemonSet is node_exporter's shape, and its args are ones proctap
//! accepts and serves with.
mod common;
#[path = "common/json.rs"]
mod json;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use json::Json;

/// The oldest and the newest Kubernetes release kubernetes-validate has schemas for.
const VERSIONS: &[&str] = &["1.25", "1.37"];

fn dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("contrib/kubernetes")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// tests/support/k8s.py with the virtualenv's Python, `stdin` as "-".
fn k8s(args: &[&str], stdin: Option<&str>) -> Output {
    let python = common::target_dir().join("venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: run `make deps` (make test does)",
        python.display()
    );
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/k8s.py");
    let mut child = Command::new(python)
        .arg(script)
        .args(args)
        .current_dir(dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

/// Validates `files` (stdin for "-") for every version in VERSIONS: (passed, report).
fn validate(files: &[&str], stdin: Option<&str>) -> (bool, String) {
    let mut args = vec!["validate"];
    args.extend(VERSIONS);
    args.push("--");
    args.extend(files);
    let out = k8s(&args, stdin);
    (out.status.success(), text(&out))
}

/// The documents of a manifest file.
fn docs(file: &str) -> Vec<Json> {
    let out = k8s(&["json", file], None);
    assert!(out.status.success(), "{file}: {}", text(&out));
    json::parse(&String::from_utf8_lossy(&out.stdout))
        .unwrap()
        .arr()
        .to_vec()
}

fn one(file: &str) -> Json {
    let d = docs(file);
    assert_eq!(d.len(), 1, "{file}: one document");
    d[0].clone()
}

fn strs(j: Option<&Json>) -> Vec<String> {
    j.map(Json::arr)
        .unwrap_or(&[])
        .iter()
        .filter_map(|s| s.str().map(str::to_string))
        .collect()
}

fn s<'a>(j: &'a Json, path: &[&str]) -> &'a str {
    j.at(path)
        .and_then(Json::str)
        .unwrap_or_else(|| panic!("no string at {path:?}"))
}

/// The DaemonSet with the lines marked "# process details" uncommented.
fn process_details_variant() -> String {
    let text = std::fs::read_to_string(dir().join("daemonset.yaml")).unwrap();
    let mut marked = 0;
    let out: String = text
        .lines()
        .map(|l| {
            let t = l.trim_start();
            if t.starts_with('#') && l.ends_with("# process details") {
                marked += 1;
                let indent = &l[..l.len() - t.len()];
                let code = t[1..].split(" #").next().unwrap_or("").trim_end();
                format!("{indent}{code}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    assert_eq!(marked, 3, "three lines marked \"# process details\"");
    out
}

#[test]
fn every_manifest_validates_against_the_kubernetes_schemas() {
    // The kustomization names every manifest but podmonitor.yaml, which it offers commented.
    let kustomization = one("kustomization.yaml");
    assert_eq!(
        s(&kustomization, &["apiVersion"]),
        "kustomize.config.k8s.io/v1beta1"
    );
    assert_eq!(s(&kustomization, &["kind"]), "Kustomization");
    let resources: BTreeSet<String> = strs(kustomization.get("resources")).into_iter().collect();
    let mut files: BTreeSet<String> = std::fs::read_dir(dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|f| f.ends_with(".yaml") && f != "kustomization.yaml")
        .collect();
    assert!(files.remove("podmonitor.yaml"));
    assert_eq!(resources, files);
    let raw = std::fs::read_to_string(dir().join("kustomization.yaml")).unwrap();
    assert!(raw.contains("\n  #- podmonitor.yaml\n"), "{raw}");
    let images = kustomization.get("images").map(Json::arr).unwrap_or(&[]);
    assert_eq!(images.len(), 1);
    assert_eq!(s(&images[0], &["name"]), "proctap");
    assert_eq!(s(&images[0], &["newTag"]), env!("CARGO_PKG_VERSION"));

    let all = [
        "daemonset.yaml",
        "service.yaml",
        "servicemonitor.yaml",
        "podmonitor.yaml",
    ];
    let (ok, report) = validate(&all, None);
    println!("{report}");
    assert!(ok, "{report}");
    assert_eq!(report.matches(": checked\n").count(), 4, "{report}");

    // The variant for per-process details validates too.
    let (ok, report) = validate(&["-"], Some(&process_details_variant()));
    assert!(ok, "process details variant: {report}");

    // The validation can fail: a misspelt field in each kind of manifest is caught (one run
    // for all four, since each run loads the schemas and models anew).
    let tmp = std::env::temp_dir().join(format!("proctap-k8s-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let mut bad_files = Vec::new();
    for (file, from, to) in [
        (
            "daemonset.yaml",
            "readOnlyRootFilesystem",
            "readOnlyRootFilesytem",
        ),
        ("service.yaml", "clusterIP: None", "clusterIP: 9100"),
        ("servicemonitor.yaml", "scrapeTimeout", "scrapeTimout"),
        ("podmonitor.yaml", "interval: 30s", "interval: 30 s"),
    ] {
        let good = std::fs::read_to_string(dir().join(file)).unwrap();
        assert!(good.contains(from), "{file}: {from}");
        let bad = tmp.join(file);
        std::fs::write(&bad, good.replacen(from, to, 1)).unwrap();
        bad_files.push(bad.display().to_string());
    }
    let bad: Vec<&str> = bad_files.iter().map(String::as_str).collect();
    let (ok, report) = validate(&bad, None);
    let _ = std::fs::remove_dir_all(&tmp);
    assert!(!ok, "{report}");
    for f in &bad_files {
        let problems = report
            .lines()
            .filter(|l| l.starts_with(f.as_str()) && !l.ends_with(": checked"))
            .count();
        assert!(problems >= 1, "{f} passed:\n{report}");
    }
}

/// The DaemonSet's pod spec and its one container.
fn daemonset() -> (Json, Json) {
    let ds = one("daemonset.yaml");
    let pod = ds
        .at(&["spec", "template", "spec"])
        .cloned()
        .expect("pod spec");
    let containers = pod.get("containers").map(Json::arr).unwrap_or(&[]);
    assert_eq!(containers.len(), 1);
    (pod.clone(), containers[0].clone())
}

#[test]
fn the_daemonset_runs_proctap_as_node_exporter_is_run() {
    let (pod, c) = daemonset();
    assert_eq!(pod.get("hostPID"), Some(&Json::Bool(true)));
    assert_eq!(pod.get("hostNetwork"), Some(&Json::Bool(true)));
    assert_eq!(
        pod.get("automountServiceAccountToken"),
        Some(&Json::Bool(false))
    );
    assert_eq!(
        pod.at(&["securityContext", "runAsNonRoot"]),
        Some(&Json::Bool(true))
    );
    assert_eq!(
        pod.at(&["securityContext", "runAsUser"]),
        Some(&Json::Num(65534.0))
    );
    // Tolerates every taint.
    let tolerations = pod.get("tolerations").map(Json::arr).unwrap_or(&[]);
    assert_eq!(tolerations.len(), 1);
    assert_eq!(s(&tolerations[0], &["operator"]), "Exists");
    assert!(tolerations[0].get("key").is_none() && tolerations[0].get("effect").is_none());

    // /proc, /sys and / of the host, read-only under /host, seeing later mounts.
    let volumes: Vec<(String, String)> = pod
        .get("volumes")
        .map(Json::arr)
        .unwrap_or(&[])
        .iter()
        .map(|v| (s(v, &["name"]).into(), s(v, &["hostPath", "path"]).into()))
        .collect();
    let mounts = c.get("volumeMounts").map(Json::arr).unwrap_or(&[]);
    let mut seen = Vec::new();
    for m in mounts {
        let name = s(m, &["name"]);
        let host = &volumes.iter().find(|(n, _)| n == name).expect("a volume").1;
        assert_eq!(m.get("readOnly"), Some(&Json::Bool(true)), "{name}");
        assert_eq!(s(m, &["mountPropagation"]), "HostToContainer", "{name}");
        seen.push((host.clone(), s(m, &["mountPath"]).to_string()));
    }
    let expected: Vec<(String, String)> = [
        ("/proc", "/host/proc"),
        ("/sys", "/host/sys"),
        ("/", "/host/root"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(seen, expected);
    let args = strs(c.get("args"));
    for a in [
        "--path.procfs=/host/proc",
        "--path.sysfs=/host/sys",
        "--path.rootfs=/host/root",
        "--web.listen-address=[$(HOST_IP)]:9100",
    ] {
        assert!(args.iter().any(|x| x == a), "{a} not in {args:?}");
    }
    let env = c.get("env").map(Json::arr).unwrap_or(&[]);
    assert_eq!(s(&env[0], &["name"]), "HOST_IP");
    assert_eq!(
        s(&env[0], &["valueFrom", "fieldRef", "fieldPath"]),
        "status.hostIP"
    );

    // Locked down: read-only root, no privilege escalation, no capabilities.
    let sc = c.get("securityContext").expect("securityContext");
    assert_eq!(sc.get("readOnlyRootFilesystem"), Some(&Json::Bool(true)));
    assert_eq!(sc.get("allowPrivilegeEscalation"), Some(&Json::Bool(false)));
    assert_eq!(strs(sc.at(&["capabilities", "drop"])), ["ALL"]);
    assert!(sc.at(&["capabilities", "add"]).is_none());
    assert!(sc.get("runAsUser").is_none());
    // The commented variant: root, with exactly the two capabilities of the systemd drop-in.
    let out = k8s(&["json", "-"], Some(&process_details_variant()));
    let variant = json::parse(&String::from_utf8_lossy(&out.stdout)).unwrap();
    let sc = variant.arr()[0]
        .at(&["spec", "template", "spec", "containers"])
        .map(|c| c.arr()[0].clone())
        .and_then(|c| c.get("securityContext").cloned())
        .unwrap();
    assert_eq!(sc.get("runAsUser"), Some(&Json::Num(0.0)));
    assert_eq!(sc.get("runAsNonRoot"), Some(&Json::Bool(false)));
    assert_eq!(strs(sc.at(&["capabilities", "drop"])), ["ALL"]);
    assert_eq!(
        strs(sc.at(&["capabilities", "add"])),
        ["SYS_PTRACE", "DAC_READ_SEARCH"]
    );
    let dropin = std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("contrib/systemd/proctap-process-details.conf"),
    )
    .unwrap();
    assert!(dropin.contains("CAP_SYS_PTRACE") && dropin.contains("CAP_DAC_READ_SEARCH"));

    // Tiny requests, a memory limit, probes on /health, the version's image.
    assert_eq!(s(&c, &["resources", "requests", "cpu"]), "10m");
    assert_eq!(s(&c, &["resources", "requests", "memory"]), "16Mi");
    assert!(
        c.at(&["resources", "limits", "cpu"]).is_none(),
        "no CPU limit (throttling)"
    );
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(s(&c, &[probe, "httpGet", "path"]), "/health");
        assert_eq!(s(&c, &[probe, "httpGet", "port"]), "metrics");
    }
    assert_eq!(
        s(&c, &["image"]),
        format!("proctap:{}", env!("CARGO_PKG_VERSION"))
    );

    // The Service, ServiceMonitor and PodMonitor find these pods by the same port name.
    let ports = c.get("ports").map(Json::arr).unwrap_or(&[]);
    assert_eq!(s(&ports[0], &["name"]), "metrics");
    assert_eq!(ports[0].get("containerPort"), Some(&Json::Num(9100.0)));
    let labels = one("daemonset.yaml")
        .at(&[
            "spec",
            "template",
            "metadata",
            "labels",
            "app.kubernetes.io/name",
        ])
        .and_then(Json::str)
        .map(str::to_string);
    let svc = one("service.yaml");
    assert_eq!(s(&svc, &["spec", "clusterIP"]), "None");
    assert_eq!(
        svc.at(&["spec", "selector", "app.kubernetes.io/name"])
            .and_then(Json::str),
        labels.as_deref()
    );
    let svc_port = &svc.at(&["spec", "ports"]).unwrap().arr()[0];
    assert_eq!(s(svc_port, &["name"]), "metrics");
    assert_eq!(s(svc_port, &["targetPort"]), "metrics");
    for (file, key) in [
        ("servicemonitor.yaml", "endpoints"),
        ("podmonitor.yaml", "podMetricsEndpoints"),
    ] {
        let m = one(file);
        assert_eq!(
            m.at(&["spec", "selector", "matchLabels", "app.kubernetes.io/name"])
                .and_then(Json::str),
            labels.as_deref(),
            "{file}"
        );
        let ep = &m.at(&["spec", key]).unwrap().arr()[0];
        assert_eq!(s(ep, &["port"]), "metrics", "{file}");
        let relabel = &ep.get("relabelings").unwrap().arr()[0];
        assert_eq!(
            strs(relabel.get("sourceLabels")),
            ["__meta_kubernetes_pod_node_name"]
        );
        assert_eq!(s(relabel, &["targetLabel"]), "instance");
    }
}

/// The container's args with $(HOST_IP) as the kubelet expands it.
fn args_on(host_ip: &str) -> Vec<String> {
    let (_, c) = daemonset();
    strs(c.get("args"))
        .into_iter()
        .map(|a| a.replace("$(HOST_IP)", host_ip))
        .collect()
}

#[test]
fn the_daemonset_args_are_accepted_by_proctap_config() {
    let out = Command::new(common::bin())
        .arg("config")
        .args(args_on("10.0.0.7"))
        .output()
        .unwrap();
    let config = text(&out);
    assert!(out.status.success(), "{config}");
    for line in [
        "path.procfs = \"/host/proc\"",
        "path.sysfs = \"/host/sys\"",
        "path.rootfs = \"/host/root\"",
        "collector.netdev.device-exclude = \"^(veth.*|[a-f0-9]{15})$\"",
    ] {
        assert!(
            config.contains(&format!("\n{line}\n")),
            "{line} not in:\n{config}"
        );
    }
    assert!(config.contains("[10.0.0.7]:9100"), "{config}");
}

#[test]
fn proctap_serves_with_the_daemonset_args() {
    // On this machine's own /proc, /sys and / instead of /host/..., on a free loopback port
    // instead of 9100: the listen address keeps the DaemonSet's [$(HOST_IP)]:PORT form.
    let port = common::free_addr().rsplit(':').next().unwrap().to_string();
    let args: Vec<String> = args_on("127.0.0.1")
        .into_iter()
        .map(|a| {
            a.replace("=/host/proc", "=/proc")
                .replace("=/host/sys", "=/sys")
                .replace("=/host/root", "=/")
                .replace("]:9100", &format!("]:{port}"))
        })
        .collect();
    assert!(
        args.contains(&format!("--web.listen-address=[127.0.0.1]:{port}")),
        "{args:?}"
    );
    let mut child = common::Killed(
        Command::new(common::bin())
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let addr = format!("127.0.0.1:{port}");
    let start = Instant::now();
    loop {
        if let Ok((200, body)) = common::get(&addr, "/health") {
            assert!(body.contains("\"status\":\"ok\""), "{body}");
            break;
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            let mut log = String::new();
            use std::io::Read;
            let _ = child.0.stderr.take().unwrap().read_to_string(&mut log);
            panic!("proctap exited ({status}) with the DaemonSet's args {args:?}:\n{log}");
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "no /health on {addr}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let body = common::get_metrics(&addr).expect("/metrics");
    assert!(
        body.contains("\nnode_boot_time_seconds "),
        "no host metrics"
    );
}
