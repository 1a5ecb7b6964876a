//! The official GitHub Action runs this binary unchanged: its entrypoint builds
//! `scan --ci --dir . [--api-url URL | --region R] [--wait=false] [--interval N]
//! [--break-on-fail] [--break-on-severity S] [--branch B] [--policy-check=false]
//! [--policy-timeout N] [--show-policy-vulns=false] [--show-all-policy-vulns]` from its inputs,
//! with `CYBEDEFEND_PAT` and `CYBEDEFEND_PROJECT_ID` set, in a job where GitHub sets `CI=true`
//! and `GITHUB_STEP_SUMMARY`, with no terminal. These tests build that exact invocation from
//! action inputs and run it: the binary directly, and (where podman works) inside the image of
//! `packaging/Dockerfile` at `/app/cybedefend`.

use std::fs;
use std::process::Command;

use cybedefend_platform_double::{EvaluationMode, ScanMode, sample_violation};

use crate::common::*;

const PROJECT: &str = "66666666-6666-4666-8666-666666666666";
const PAT: &str = "cdp_action_pat_01";

/// The action's inputs (empty = not given), with its defaults.
#[derive(Clone)]
struct Inputs {
    api_url: String,
    region: &'static str,
    wait: &'static str,
    interval: &'static str,
    break_on_fail: &'static str,
    break_on_severity: &'static str,
    branch: &'static str,
    policy_check: &'static str,
    policy_timeout: &'static str,
    show_policy_vulns: &'static str,
    show_all_policy_vulns: &'static str,
}

impl Inputs {
    fn defaults(api_url: &str) -> Self {
        Self {
            api_url: api_url.to_owned(),
            region: "",
            wait: "true",
            interval: "1",
            break_on_fail: "false",
            break_on_severity: "",
            branch: "main",
            policy_check: "true",
            policy_timeout: "300",
            show_policy_vulns: "true",
            show_all_policy_vulns: "false",
        }
    }

    /// The arguments the action's entrypoint passes, input by input.
    fn args(&self) -> Vec<String> {
        let mut a: Vec<String> = ["scan", "--ci", "--dir", "."].map(String::from).to_vec();
        let mut push = |items: &[&str]| a.extend(items.iter().map(|s| (*s).to_owned()));
        if !self.api_url.is_empty() {
            push(&["--api-url", &self.api_url]);
        } else if !self.region.is_empty() {
            push(&["--region", self.region]);
        }
        if self.wait == "false" {
            push(&["--wait=false"]);
        }
        if !self.interval.is_empty() {
            push(&["--interval", self.interval]);
        }
        if self.break_on_fail == "true" {
            push(&["--break-on-fail"]);
        }
        if !self.break_on_severity.is_empty() {
            push(&["--break-on-severity", self.break_on_severity]);
        }
        if !self.branch.is_empty() {
            push(&["--branch", self.branch]);
        }
        if self.policy_check == "false" {
            push(&["--policy-check=false"]);
        }
        if !self.policy_timeout.is_empty() {
            push(&["--policy-timeout", self.policy_timeout]);
        }
        if self.show_policy_vulns == "false" {
            push(&["--show-policy-vulns=false"]);
        }
        if self.show_all_policy_vulns == "true" {
            push(&["--show-all-policy-vulns"]);
        }
        a
    }

    /// The environment the entrypoint exports (plus what GitHub sets).
    fn vars(&self, summary: &str) -> Vec<(String, String)> {
        let mut v = vec![
            ("CYBEDEFEND_PAT".to_owned(), PAT.to_owned()),
            ("CYBEDEFEND_PROJECT_ID".to_owned(), PROJECT.to_owned()),
            ("CI".to_owned(), "true".to_owned()),
            ("GITHUB_ACTIONS".to_owned(), "true".to_owned()),
            ("GITHUB_STEP_SUMMARY".to_owned(), summary.to_owned()),
        ];
        if !self.region.is_empty() {
            v.push(("CYBEDEFEND_REGION".into(), self.region.into()));
        }
        if !self.api_url.is_empty() {
            v.push(("CYBEDEFEND_API_URL".into(), self.api_url.clone()));
        }
        v
    }
}

/// A case: inputs, what the double does, and the exit code the job must get.
fn cases(url: &str) -> Vec<(&'static str, Inputs, Setup, i32)> {
    let base = Inputs::defaults(url);
    vec![
        ("defaults", base.clone(), Setup::Plain, 0),
        (
            "wait false",
            Inputs {
                wait: "false",
                ..base.clone()
            },
            Setup::Plain,
            0,
        ),
        (
            "severity gate trips",
            Inputs {
                break_on_severity: "critical",
                ..base.clone()
            },
            Setup::Plain,
            1,
        ),
        (
            "severity none never trips",
            Inputs {
                break_on_severity: "none",
                region: "eu",
                ..base.clone()
            },
            Setup::Plain,
            0,
        ),
        (
            "failed scan, break on fail",
            Inputs {
                break_on_fail: "true",
                branch: "feature/x",
                ..base.clone()
            },
            Setup::Failed,
            1,
        ),
        (
            "blocking policy",
            Inputs {
                policy_timeout: "30",
                show_all_policy_vulns: "true",
                ..base.clone()
            },
            Setup::Blocking,
            1,
        ),
        (
            "policy off",
            Inputs {
                policy_check: "false",
                show_policy_vulns: "false",
                ..base.clone()
            },
            Setup::Blocking,
            0,
        ),
        (
            "official interval default",
            Inputs {
                interval: "5",
                ..base
            },
            Setup::Plain,
            0,
        ),
    ]
}

#[derive(Clone, Copy)]
enum Setup {
    Plain,
    Failed,
    Blocking,
}

fn double(setup: Setup) -> Double {
    let d = Double::start();
    d.add_pat(PAT);
    d.add_project(PROJECT, "action");
    match setup {
        Setup::Plain => {}
        Setup::Failed => d.set_scan_mode(ScanMode::Finishes("failed")),
        Setup::Blocking => d.set_evaluation(EvaluationMode::Completed(vec![sample_violation(
            PROJECT, "s", "BLOCK", false,
        )])),
    }
    d
}

fn workspace(env: &Env) {
    env.write(&env.work().join("src/app.js"), "console.log(1)\n");
    env.write(&env.work().join(".gitignore"), "dist/\n");
    env.write(&env.work().join("dist/bundle.js"), "built\n");
}

fn check(
    name: &str,
    d: &Double,
    out: &Out,
    expected: i32,
    inputs: &Inputs,
    summary: &std::path::Path,
) {
    assert_eq!(out.code, expected, "{name}: {out:?}");
    assert!(!out.all().contains(PAT), "{name}: the PAT never appears");
    let sid = d
        .scan_ids()
        .pop()
        .unwrap_or_else(|| panic!("{name}: no scan started: {out:?}"));
    let zip = d
        .uploaded(&sid)
        .unwrap_or_else(|| panic!("{name}: nothing uploaded"));
    assert!(
        zip.windows(10).any(|w| w == b"src/app.js"),
        "{name}: the workspace was uploaded"
    );
    let start: Value =
        serde_json::from_slice(&d.requests_to(&format!("/project/{PROJECT}/scan/start"))[0].body)
            .unwrap();
    assert_eq!(start["branch"], inputs.branch, "{name}");
    let polls = d
        .requests_to(&format!("/project/{PROJECT}/scan/{sid}"))
        .len();
    if inputs.wait == "false" {
        assert_eq!(polls, 0, "{name}: not followed");
        assert_eq!(out.stdout.trim(), sid, "{name}: the scan id on stdout");
    } else {
        assert!(polls >= 2, "{name}: followed");
        let md = fs::read_to_string(summary).unwrap_or_default();
        assert!(
            md.contains(&sid) && md.contains("## Result:"),
            "{name}: job summary: {md}"
        );
    }
}

#[test]
fn the_official_action_invocations_run_this_binary_unchanged() {
    for (name, inputs, setup, expected) in cases("") {
        let d = double(setup);
        let inputs = Inputs {
            api_url: d.url(),
            ..inputs
        };
        let mut env = Env::new();
        workspace(&env);
        let summary = env.tmp.path().join("step_summary.md");
        env.set("CYBEDEFEND_AUTH_ENDPOINT", &d.url());
        for (k, v) in inputs.vars(&summary.to_string_lossy()) {
            env.set(&k, &v);
        }
        let args = inputs.args();
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = env.run(&a);
        check(name, &d, &out, expected, &inputs, &summary);
    }
}

/// podman with the settings this kind of machine needs (runc; limits within the host's).
fn podman(args: &[&str]) -> Command {
    let mut c = Command::new("podman");
    c.args(["--runtime", "runc"]);
    let (verb, rest) = args.split_first().unwrap();
    c.arg(verb);
    if *verb == "build" || *verb == "run" {
        c.args([
            "--ulimit",
            "nofile=20000:20000",
            "--ulimit",
            "nproc=32768:32768",
        ]);
    }
    c.args(rest);
    c
}

fn ok(c: &mut Command) -> String {
    let out = c.output().unwrap();
    assert!(
        out.status.success(),
        "{c:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A base image from the host's own files (no registry is reachable here): the binary's
/// libraries, a shell (busybox) and the CA bundle.
fn local_base(dir: &std::path::Path, bin: &str) -> String {
    let root = dir.join("rootfs");
    for d in ["bin", "tmp", "etc/ssl/certs", "lib64"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    let ldd = ok(Command::new("ldd").arg(bin));
    let mut libs: Vec<String> = ldd
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            l.split("=> ")
                .nth(1)
                .map(|r| r.split(' ').next().unwrap_or("").to_owned())
                .or_else(|| {
                    l.starts_with('/')
                        .then(|| l.split(' ').next().unwrap_or("").to_owned())
                })
        })
        .filter(|p| p.starts_with('/'))
        .collect();
    libs.push("/lib64/ld-linux-x86-64.so.2".into());
    for lib in libs {
        let to = root.join(lib.trim_start_matches('/'));
        fs::create_dir_all(to.parent().unwrap()).unwrap();
        fs::copy(&lib, &to).unwrap_or_else(|e| panic!("{lib}: {e}"));
    }
    fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    std::os::unix::fs::symlink("busybox", root.join("bin/sh")).unwrap();
    fs::copy(
        "/etc/ssl/certs/ca-certificates.crt",
        root.join("etc/ssl/certs/ca-certificates.crt"),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::write(dir.join("Containerfile"), "FROM scratch\nCOPY rootfs/ /\n").unwrap();
    let tag = "localhost/cybedefend-test-base:latest";
    ok(podman(&["build", "-q", "-t", tag, "-f"])
        .arg(dir.join("Containerfile"))
        .arg(dir));
    tag.to_owned()
}

#[test]
fn the_image_runs_the_action_invocation_at_app_cybedefend() {
    let usable = std::env::var_os("CYBEDEFEND_TEST_PODMAN").is_some()
        && Command::new("podman")
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        && std::path::Path::new("/bin/busybox").exists();
    if !usable {
        missing(
            "the_image_runs_the_action_invocation_at_app_cybedefend",
            "podman, runc and busybox-static",
            "scripts/test.sh installs them as root (apt-get install podman runc busybox-static)",
        );
        return;
    }
    let bin = env!("CARGO_BIN_EXE_cybedefend");
    let tmp = tempfile::tempdir().unwrap();
    let base = local_base(&tmp.path().join("base"), bin);
    let ctx = tmp.path().join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::copy(bin, ctx.join("cybedefend")).unwrap();
    let dockerfile = concat!(env!("CARGO_MANIFEST_DIR"), "/../packaging/Dockerfile");
    let image = "localhost/cybedefend:test";
    ok(podman(&[
        "build",
        "-q",
        "-t",
        image,
        "--build-arg",
        &format!("BASE={base}"),
        "-f",
        dockerfile,
    ])
    .arg(&ctx));
    let inspect = ok(&mut podman(&[
        "image",
        "inspect",
        "--format",
        "{{.Config.Entrypoint}} {{.Config.WorkingDir}}",
        image,
    ]));
    assert_eq!(inspect.trim(), "[/app/cybedefend] /app");

    for (name, inputs, setup, expected) in [cases("").remove(0), cases("").remove(2)] {
        let d = double(setup);
        let inputs = Inputs {
            api_url: d.url(),
            ..inputs
        };
        let env = Env::new();
        workspace(&env);
        let work = env.work();
        // as GitHub runs a Docker action: the workspace mounted, the entrypoint a shell script
        let mut c = podman(&[
            "run",
            "--rm",
            "--network",
            "host",
            "--entrypoint",
            "/bin/sh",
            "-w",
            "/github/workspace",
        ]);
        c.arg("-v")
            .arg(format!("{}:/github/workspace", work.display()));
        c.arg("-e")
            .arg(format!("CYBEDEFEND_AUTH_ENDPOINT={}", d.url()));
        c.arg("-e").arg("HOME=/tmp");
        for (k, v) in inputs.vars("/github/workspace/summary.md") {
            c.arg("-e").arg(format!("{k}={v}"));
        }
        let script = format!("exec /app/cybedefend {}", inputs.args().join(" "));
        c.args([image, "-c", &script]);
        let out = Env::output_of(c, None);
        check(
            &format!("image: {name}"),
            &d,
            &out,
            expected,
            &inputs,
            &work.join("summary.md"),
        );
    }
    // the images are the test's own; leave the machine as it was
    let _ = podman(&["rmi", "-f", image, &base]).output();
}
