//! The container image (Containerfile, `make image`): built and inspected with podman always;
//! run with the host's /proc, /sys and / mounted under /host and scraped where containers can
//! run on the machine (where they cannot, the test says so and skips only that part).
mod common;
#[path = "common/json.rs"]
mod json;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use json::Json;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed:\n{}", text(&out));
    out
}

fn static_binary(triple: &str) -> PathBuf {
    let path = common::target_dir().join(triple).join("release/proctap");
    assert!(
        path.is_file(),
        "{} is missing: run `make static static-aarch64` (make test does)",
        path.display()
    );
    path
}

/// An image tag removed from podman's store on drop.
struct Image(String);

impl Drop for Image {
    fn drop(&mut self) {
        let _ = Command::new("podman").args(["rmi", "-f", &self.0]).output();
    }
}

/// A running container removed on drop.
struct Container(String);

impl Drop for Container {
    fn drop(&mut self) {
        let _ = Command::new("podman")
            .args(["rm", "-f", "-t", "0", &self.0])
            .output();
    }
}

/// `make image` for `arch` with podman, tagged `tag`; the image's `podman image inspect`.
fn build(arch: &str, triple: &str, tag: &str) -> Json {
    let bin = static_binary(triple);
    run(Command::new("make")
        .args(["--no-print-directory", "-o"])
        .arg(&bin)
        .arg("image")
        .arg(format!("IMAGE={tag}"))
        .arg(format!("IMAGE_ARCH={arch}"))
        .arg("CONTAINER_TOOL=podman")
        .current_dir(repo()));
    let out = run(Command::new("podman").args(["image", "inspect", tag]));
    let all = json::parse(&String::from_utf8_lossy(&out.stdout)).unwrap();
    all.arr().first().cloned().expect("one image")
}

fn strs(j: Option<&Json>) -> Vec<&str> {
    j.map(Json::arr)
        .unwrap_or(&[])
        .iter()
        .filter_map(Json::str)
        .collect()
}

fn num(j: Option<&Json>) -> f64 {
    match j {
        Some(Json::Num(n)) => *n,
        other => panic!("not a number: {other:?}"),
    }
}

/// The checks every build of the image must pass, whatever the machine.
fn check_config(image: &Json, arch: &str, bin: &Path) {
    let config = image.get("Config").expect("Config");
    assert_eq!(config.get("User").and_then(Json::str), Some("65534:65534"));
    assert_eq!(strs(config.get("Entrypoint")), ["/bin/proctap"]);
    assert!(
        config.get("Cmd").map_or(true, |c| c.arr().is_empty()),
        "{config:?}"
    );
    let ports = config.get("ExposedPorts").expect("ExposedPorts");
    assert!(ports.get("9100/tcp").is_some(), "{ports:?}");
    assert_eq!(image.get("Architecture").and_then(Json::str), Some(arch));
    assert_eq!(image.get("Os").and_then(Json::str), Some("linux"));
    let layers = strs(image.at(&["RootFS", "Layers"]));
    assert_eq!(layers.len(), 1, "one layer: {layers:?}");
    let size = num(image.get("Size"));
    let bin_size = std::fs::metadata(bin).unwrap().len() as f64;
    println!("image {arch}: {size} bytes, binary {bin_size} bytes");
    assert!(
        size <= bin_size + 65536.0,
        "image {size} bytes > binary {bin_size} + 64 KiB"
    );
    let label = |k: &str| {
        config
            .at(&["Labels", &format!("org.opencontainers.image.{k}")])
            .and_then(Json::str)
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(label("licenses"), "Apache-2.0");
    assert_eq!(label("title"), "proctap");
    assert_eq!(label("version"), env!("CARGO_PKG_VERSION"));
    let head = Command::new("git")
        .args(["rev-parse", "HEAD"])
        .current_dir(repo())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    assert_eq!(label("revision"), head);
}

/// Starts the image as node_exporter's is run (host network and PID namespace, the host's
/// /proc, /sys and / read-only under /host), listening on `addr`. Tries podman's default
/// runtime, then runc: crun refuses this machine's hybrid cgroup setup. Both get lowered
/// RLIMIT_NOFILE/NPROC, since raising them to podman's defaults needs CAP_SYS_RESOURCE, which
/// this sandbox lacks. Err says why no runtime could start it.
fn start(tag: &str, addr: &str) -> Result<(Container, String), String> {
    let mut why = Vec::new();
    let runc = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("runc").is_file()));
    for runtime in ["default", "runc"] {
        if runtime == "runc" && !runc {
            continue;
        }
        let name = format!("proctap-test-{}-{runtime}", std::process::id());
        let _ = Command::new("podman").args(["rm", "-f", &name]).output();
        let mut cmd = Command::new("podman");
        if runtime != "default" {
            cmd.args(["--runtime", runtime]);
        }
        let out = cmd
            .args([
                "run",
                "-d",
                "--name",
                &name,
                "--network",
                "host",
                "--pid",
                "host",
            ])
            .args([
                "--ulimit",
                "nofile=1024:1024",
                "--ulimit",
                "nproc=1024:1024",
            ])
            .args(["-v", "/proc:/host/proc:ro", "-v", "/sys:/host/sys:ro"])
            .args(["-v", "/:/host/root:ro,rslave", tag])
            .arg(format!("--web.listen-address={addr}"))
            .args(["--path.procfs=/host/proc", "--path.sysfs=/host/sys"])
            .args(["--path.rootfs=/host/root"])
            .output()
            .map_err(|e| e.to_string())?;
        let container = Container(name);
        if out.status.success() {
            return Ok((container, runtime.to_string()));
        }
        why.push(format!("{runtime}: {}", text(&out).trim()));
    }
    Err(why.join("; "))
}

/// btime of the host's /proc/stat.
fn boot_time() -> f64 {
    std::fs::read_to_string("/proc/stat")
        .unwrap()
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
        .expect("btime in /proc/stat")
}

#[test]
#[ignore = "needs the static builds: make test runs it"]
fn make_image_builds_a_scratch_image_that_serves_the_hosts_metrics() {
    common::require("podman");
    let tag = format!("localhost/proctap-test:{}", std::process::id());
    let _image = Image(tag.clone());
    let bin = static_binary("x86_64-unknown-linux-musl");
    let image = build("amd64", "x86_64-unknown-linux-musl", &tag);
    check_config(&image, "amd64", &bin);

    // The aarch64 image packs the aarch64 binary; built and inspected only.
    let tag_arm = format!("{tag}-arm64");
    let _image_arm = Image(tag_arm.clone());
    let arm = build("arm64", "aarch64-unknown-linux-musl", &tag_arm);
    check_config(&arm, "arm64", &static_binary("aarch64-unknown-linux-musl"));

    // A process with a name of its own for the exporter in the container to find on the host.
    let tmp = std::env::temp_dir().join(format!("proctap-image-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let sleeper = tmp.join("imgtestsleeper");
    std::fs::copy("/bin/sleep", &sleeper).unwrap();
    let _sleeper = common::Killed(Command::new(&sleeper).arg("60").spawn().unwrap());

    let addr = common::free_addr();
    let (container, runtime) = match start(&tag, &addr) {
        Ok(c) => c,
        Err(why) => {
            println!(
                "containers cannot run on this machine, so the image was built and inspected \
                 but not run: {why}"
            );
            let _ = std::fs::remove_dir_all(&tmp);
            return;
        }
    };
    println!("image runs here with podman's {runtime} runtime");
    let start = Instant::now();
    let body = loop {
        if let Some(body) = common::get_metrics(&addr) {
            break body;
        }
        let logs = Command::new("podman").args(["logs", &container.0]).output();
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no /metrics from the container on {addr}: {}",
            logs.map(|o| text(&o)).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let (series, _) = common::parse_exposition(&body);
    // The host's files, read through /host: boot time, its root filesystem, its processes.
    assert_eq!(series.get("node_boot_time_seconds"), Some(&boot_time()));
    assert!(
        series
            .keys()
            .any(|k| k.starts_with("node_filesystem_size_bytes{") && k.contains("mountpoint=\"/\"")),
        "no root filesystem in the container's output"
    );
    assert_eq!(
        series.get("namedprocess_namegroup_num_procs{groupname=\"imgtestsleeper\"}"),
        Some(&1.0)
    );
    // As nobody: the host sees the container's proctap with uid 65534.
    let out = run(Command::new("podman").args(["inspect", "-f", "{{.State.Pid}}", &container.0]));
    let pid = text(&out).trim().to_string();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert_eq!(
        uid.split_whitespace().nth(1),
        Some("65534"),
        "the container's proctap: {uid}"
    );
    drop(container);
    let _ = std::fs::remove_dir_all(&tmp);
}
