use std::fs;
use std::io::Read;

use cybedefend_platform_double::{
    EvaluationMode, ScanMode, UploadMode, sample_finding, sample_violation,
};

use crate::common::*;

const PROJECT: &str = "22222222-2222-4222-8222-222222222222";
const PAT: &str = "cdp_scan_pat_000001";

fn setup() -> (Double, Env) {
    let (d, env) = with_project(PAT, PROJECT, "demo");
    let src = env.work().join("repo");
    env.write(&src.join("src/app.js"), "console.log(1)\n");
    env.write(&src.join("src/util/helpers.js"), "export const x = 1\n");
    env.write(&src.join(".git/config"), "[core]\n");
    env.write(
        &src.join("node_modules/left-pad/index.js"),
        "module.exports = 1\n",
    );
    env.write(&src.join(".gitignore"), "node_modules/\n");
    env.write(&src.join(".cybedefend"), "tests/\n");
    env.write(&src.join(".env"), "API=1\n");
    (d, env)
}

fn scan(env: &Env, extra: &[&str]) -> Out {
    let mut args = vec![
        "scan",
        "--dir",
        "repo",
        "--project-id",
        PROJECT,
        "--interval",
        "0.2",
        "--ci",
    ];
    args.extend_from_slice(extra);
    env.run(&args)
}

fn zip_names(bytes: &[u8]) -> Vec<String> {
    // Central directory file names, read without a zip crate: signature PK\x01\x02.
    let mut names = Vec::new();
    let mut i = 0;
    while i + 46 <= bytes.len() {
        if &bytes[i..i + 4] == b"PK\x01\x02" {
            let n = u16::from_le_bytes([bytes[i + 28], bytes[i + 29]]) as usize;
            let m = u16::from_le_bytes([bytes[i + 30], bytes[i + 31]]) as usize;
            let k = u16::from_le_bytes([bytes[i + 32], bytes[i + 33]]) as usize;
            names.push(String::from_utf8_lossy(&bytes[i + 46..i + 46 + n]).into_owned());
            i += 46 + n + m + k;
        } else {
            i += 1;
        }
    }
    names.sort();
    names
}

/// The uncompressed size the central directory records for `name`.
fn zip_size_of(bytes: &[u8], name: &str) -> Option<u64> {
    let mut i = 0;
    while i + 46 <= bytes.len() {
        if &bytes[i..i + 4] == b"PK\x01\x02" {
            let n = u16::from_le_bytes([bytes[i + 28], bytes[i + 29]]) as usize;
            let m = u16::from_le_bytes([bytes[i + 30], bytes[i + 31]]) as usize;
            let k = u16::from_le_bytes([bytes[i + 32], bytes[i + 33]]) as usize;
            if &bytes[i + 46..i + 46 + n] == name.as_bytes() {
                let size = &bytes[i + 24..i + 28];
                return Some(u64::from(u32::from_le_bytes(size.try_into().unwrap())));
            }
            i += 46 + n + m + k;
        } else {
            i += 1;
        }
    }
    None
}

/// A log written into the scanned folder while the scan runs (`scan ... 2> repo/scan.log`,
/// `| tee`) grows between the plan and its turn: the scan goes on, the archive holds the log
/// as it was planned (never read past it), and a note says so and how to leave it out. It
/// used to fail every run with advice to run it again.
#[test]
fn a_log_growing_in_the_scanned_folder_is_archived_at_its_planned_size() {
    let (d, env) = setup();
    let log = env.work().join("repo/scan.log");
    let mut c = env.command(&[
        "scan",
        "--dir",
        "repo",
        "--project-id",
        PROJECT,
        "--ci",
        "--wait=false",
    ]);
    c.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(fs::File::create(&log).unwrap());
    let status = c.status().unwrap();
    let written = fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status:?}: {written}");
    assert!(
        written.contains("note: scan.log grew while it was being archived")
            && written.contains("--exclude /scan.log"),
        "{written}"
    );
    assert!(!written.contains("run the scan again"), "{written}");
    let zip = d.uploaded(&d.scan_ids()[0]).unwrap();
    let archived = zip_size_of(&zip, "scan.log").expect("the log is in the archive");
    let packaging = written.find("Packaging").unwrap() as u64;
    assert!(
        archived <= packaging,
        "only what was there when planned: {archived} > {packaging}"
    );
}

#[test]
fn scan_uploads_the_right_archive_waits_and_summarises() {
    let (d, env) = setup();
    let out = scan(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let ids = d.scan_ids();
    assert_eq!(ids.len(), 1);
    let zip = d.uploaded(&ids[0]).expect("archive uploaded");
    assert_eq!(
        zip_names(&zip),
        vec![
            ".cybedefend",
            ".env",
            ".gitignore",
            "src/app.js",
            "src/util/helpers.js"
        ],
        ".git/ and ignored node_modules/ stay out; .cybedefend and dotfiles go in"
    );

    let start = &d.requests_to(&format!("/project/{PROJECT}/scan/start"))[0];
    let body: Value = serde_json::from_slice(&start.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"sourceType": "cli", "branch": "main"})
    );
    assert!(start.headers["authorization"].starts_with("Bearer double-access-token-"));

    let put = d
        .requests()
        .into_iter()
        .find(|r| r.method == "PUT")
        .unwrap();
    assert!(
        !put.headers.contains_key("authorization"),
        "no bearer token on the pre-signed URL"
    );
    assert_eq!(put.headers["content-type"], "application/zip");
    assert_eq!(put.headers["content-length"], zip.len().to_string());

    // critical 1 (the resolved one is not counted), high 1, medium 3, low 3
    for line in ["critical  1", "high      1", "medium    3", "low       3"] {
        assert!(out.stdout.contains(line), "{line}: {out:?}");
    }
    assert!(out.stderr.contains("Scan started"), "{out:?}");
    // waiting shows the elapsed time on each status line
    assert!(
        out.stderr
            .lines()
            .any(|l| l.starts_with("Scan completed: 100%") && l.ends_with(" s)")),
        "{out:?}"
    );
    assert!(out.stderr.contains("No policies configured"), "{out:?}");
    assert!(
        env.leftovers().is_empty(),
        "temp files left: {:?}",
        env.leftovers()
    );
    assert!(!out.all().contains(PAT));
}

#[test]
fn severity_gate_counts_every_type_and_ignores_closed_findings() {
    let (d, mut env) = setup();
    let job_summary = env.work().join("summary.md");
    env.set("GITHUB_STEP_SUMMARY", job_summary.to_str().unwrap());
    let out = scan(&env, &["--break-on-severity", "high"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("2 open finding(s) of severity high or above"),
        "{out:?}"
    );
    // what tripped it, most severe first, and the next command, in the terminal and the job
    // summary
    let tripped = out
        .stdout
        .split_once("Tripped by:\n")
        .map(|(_, t)| t)
        .unwrap_or_else(|| panic!("{out:?}"));
    let rows: Vec<&str> = tripped.lines().collect();
    assert_eq!(rows.len(), 2, "{out:?}");
    assert!(rows[0].trim_start().starts_with("critical"), "{out:?}");
    assert!(rows[1].trim_start().starts_with("high"), "{out:?}");
    assert!(rows.iter().all(|r| r.contains(':')), "file:line: {out:?}");
    let next = format!("cybedefend results --project-id {PROJECT} --branch main -o html");
    assert!(out.stderr.contains(&next), "{out:?}");
    let md = fs::read_to_string(&job_summary).unwrap();
    assert!(md.contains("### What tripped the gate"), "{md}");
    assert!(md.contains("| critical |") && md.contains(&next), "{md}");

    // only a resolved critical and a medium, as top-level items (no `base` wrapper)
    let mut resolved = sample_finding("sast", 1, "critical", "resolved")["base"].clone();
    resolved["currentState"] = "resolved".into();
    let medium = sample_finding("sast", 2, "medium", "to_verify")["base"].clone();
    d.set_findings(PROJECT, "sast", vec![resolved, medium]);
    for t in ["sca", "iac", "secret", "container"] {
        d.set_findings(PROJECT, t, vec![]);
    }
    let out = scan(&env, &["--break-on-severity", "critical"]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = scan(&env, &["--break-on-severity", "medium"]);
    assert_eq!(out.code, 1, "top-level items are read too: {out:?}");
}

#[test]
fn wait_false_prints_the_scan_id_and_does_not_poll() {
    let (d, env) = setup();
    let out = scan(&env, &["--wait=false"]);
    assert_eq!(out.code, 0, "{out:?}");
    let ids = d.scan_ids();
    assert_eq!(out.stdout.trim(), ids[0]);
    assert!(
        d.requests_to(&format!("/project/{PROJECT}/scan/{}", ids[0]))
            .is_empty()
    );
}

#[test]
fn blocking_policy_violations_fail_the_build_and_acknowledged_ones_do_not() {
    let (d, env) = setup();
    d.set_evaluation(EvaluationMode::Completed(vec![sample_violation(
        PROJECT, "s", "BLOCK", false,
    )]));
    let out = scan(&env, &[]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stdout.contains("Blocking policy violations (1)"),
        "{out:?}"
    );
    assert!(out.stdout.contains("No critical findings"), "{out:?}");
    assert!(out.stdout.contains("lodash@4.17.20"), "{out:?}");
    assert!(
        out.stdout.contains(&format!(
            "https://us.cybedefend.com/project/{PROJECT}/sast/issue/"
        )),
        "{out:?}"
    );
    // what blocks is named even when findings are hidden, with the next command
    let out = scan(&env, &["--show-policy-vulns=false"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.contains("lodash@4.17.20"), "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "`cybedefend compliance violations --project-id {PROJECT}` lists every violation"
        )),
        "{out:?}"
    );

    d.set_evaluation(EvaluationMode::Completed(vec![
        sample_violation(PROJECT, "s", "BLOCK", true),
        sample_violation(PROJECT, "s", "WARN", false),
    ]));
    let out = scan(&env, &["--show-policy-vulns=false"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("Acknowledged policy violations (1)")
            && out.stdout.contains("accepted risk"),
        "{out:?}"
    );
    assert!(
        !out.stdout.contains("lodash@4.17.20"),
        "--show-policy-vulns=false hides findings: {out:?}"
    );

    d.set_evaluation(EvaluationMode::Failed);
    assert_eq!(scan(&env, &[]).code, 1);
    d.set_evaluation(EvaluationMode::Stuck);
    let out = scan(&env, &["--policy-timeout", "1"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("policy evaluation did not finish"),
        "{out:?}"
    );
    let out = scan(&env, &["--policy-check=false"]);
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn failed_scans_break_only_with_break_on_fail() {
    let (d, env) = setup();
    d.set_scan_mode(ScanMode::Finishes("failed"));
    let out = scan(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("analysis crashed"), "{out:?}");
    let out = scan(&env, &["--break-on-fail"]);
    assert_eq!(out.code, 1, "{out:?}");
    d.set_scan_mode(ScanMode::Finishes("completed_degraded"));
    assert_eq!(scan(&env, &["--break-on-fail"]).code, 0);
}

#[test]
fn a_scan_that_never_finishes_hits_the_overall_timeout() {
    let (d, env) = setup();
    d.set_scan_mode(ScanMode::NeverFinishes);
    let out = scan(&env, &["--timeout", "2s"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("did not finish within 2s"), "{out:?}");
    assert!(
        out.stderr.contains(&d.scan_ids()[0]),
        "names the scan: {out:?}"
    );
    assert!(env.leftovers().is_empty());
}

#[test]
fn github_step_summary_is_written_in_ci() {
    let (_d, mut env) = setup();
    let summary = env.work().join("summary.md");
    env.set("GITHUB_STEP_SUMMARY", summary.to_str().unwrap());
    let out = scan(&env, &["--break-on-severity", "critical"]);
    assert_eq!(out.code, 1);
    let md = fs::read_to_string(&summary).unwrap();
    assert!(
        md.contains("# CybeDefend scan")
            && md.contains("FAILED")
            && md.contains("| critical | 1 |"),
        "{md}"
    );
}

#[test]
fn transient_errors_are_retried_and_a_revoked_token_is_renewed_once() {
    let (d, env) = setup();
    // warm the token cache, then revoke: the API answers 401 to the cached token
    assert_eq!(env.run(&["auth", "token"]).code, 0);
    d.revoke_tokens();
    d.fail_next_api_calls(&[]);
    let out = scan(&env, &["--wait=false"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        d.requests_to("/oidc/token").len(),
        2,
        "one fresh exchange after the 401"
    );

    d.fail_next_api_calls(&[503, 429]);
    let out = scan(&env, &["--wait=false"]);
    assert_eq!(out.code, 0, "{out:?}");

    // a 500 on scan start is not repeated (it may have started a scan); GETs are retried
    let before = d.scan_ids().len();
    // the project check (a GET) passes, scan start (a POST) gets the 500
    d.fail_next_api_calls(&[200, 500]);
    let out = scan(&env, &["--wait=false"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("HTTP 500"), "{out:?}");
    assert_eq!(d.scan_ids().len(), before);
    d.fail_next_api_calls(&[500, 502]);
    let out = env.run(&["results", "--project-id", PROJECT, "-t", "sast"]);
    assert_eq!(out.code, 0, "GETs are retried after 5xx: {out:?}");

    d.set_upload_mode(UploadMode::FailTimes(1));
    let out = scan(&env, &["--wait=false"]);
    assert_eq!(out.code, 0, "upload retried after a 503: {out:?}");
}

#[test]
fn bad_input_gives_clear_errors_and_leaves_no_temp_file() {
    let (d, env) = setup();
    let check = |out: Out, code: i32, needle: &str| {
        assert_eq!(out.code, code, "{needle}: {out:?}");
        assert!(out.stderr.contains(needle), "{needle}: {out:?}");
        assert!(
            env.leftovers().is_empty(),
            "{needle}: temp files left {:?}",
            env.leftovers()
        );
    };
    check(
        env.run(&["scan", "--project-id", PROJECT]),
        2,
        "give --dir FOLDER or --file",
    );
    check(
        env.run(&[
            "scan",
            "--dir",
            "repo",
            "--file",
            "x.zip",
            "--project-id",
            PROJECT,
        ]),
        2,
        "cannot be used with",
    );
    check(
        env.run(&[
            "scan",
            "--dir",
            "repo",
            "--project-id",
            PROJECT,
            "--break-on-severity",
            "urgent",
        ]),
        2,
        "possible values: critical, high, medium, low, none",
    );
    check(
        env.run(&["scan", "--dir", "repo"]),
        2,
        "--project-id is required",
    );

    fs::create_dir_all(env.work().join("empty")).unwrap();
    check(
        env.run(&["scan", "--dir", "empty", "--project-id", PROJECT]),
        2,
        "nothing to upload",
    );
    env.write(&env.work().join("zero.zip"), "");
    check(
        env.run(&["scan", "--file", "zero.zip", "--project-id", PROJECT]),
        2,
        "is empty",
    );
    env.write(&env.work().join("text.zip"), "hello, not a zip");
    check(
        env.run(&["scan", "--file", "text.zip", "--project-id", PROJECT]),
        2,
        "not a zip archive",
    );

    // the wording every command uses, and what the scan did not do
    let out = scan_project(&env, "33333333-3333-4333-8333-333333333333");
    assert!(
        out.stderr
            .contains("project `33333333-3333-4333-8333-333333333333` was not found (HTTP 404)")
            && out
                .stderr
                .contains("`cybedefend project list` lists the projects")
            && out.stderr.contains("nothing was packaged or uploaded"),
        "{out:?}"
    );
    check(out, 1, "was not found");
    d.forbid(PROJECT);
    check(scan(&env, &[]), 4, "has no access to project");
    let out = scan(&env, &[]);
    assert!(
        out.stderr.contains("nothing was packaged or uploaded"),
        "{out:?}"
    );

    let (d, env) = setup();
    d.set_upload_mode(UploadMode::Expired);
    let out = scan(&env, &[]);
    assert!(out.stderr.contains("may have expired"), "{out:?}");
    check(out, 1, "upload failed");

    let (d, env) = setup();
    d.set_malformed_status(true);
    check(scan(&env, &[]), 1, "cannot read");

    let env = Env::new();
    check(
        env.run(&["scan", "--dir", ".", "--project-id", PROJECT, "--ci"]),
        4,
        "no credential found",
    );
}

fn scan_project(env: &Env, project: &str) -> Out {
    env.run(&[
        "scan",
        "--dir",
        "repo",
        "--project-id",
        project,
        "--interval",
        "0.2",
        "--ci",
    ])
}

#[cfg(unix)]
#[test]
fn an_unreadable_file_is_named() {
    let (_d, env) = setup();
    let secret = env.work().join("repo/src/locked.js");
    env.write(&secret, "x");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o000)).unwrap();
    let is_root = fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    let out = if is_root {
        // root reads anything: run the CLI as `nobody` so the permission bites
        if std::process::Command::new("setpriv")
            .arg("--version")
            .output()
            .is_err()
        {
            missing(
                "an_unreadable_file_is_named",
                "setpriv (to run as another user than root)",
                "install util-linux",
            );
            return;
        }
        fs::create_dir_all(env.tmp_dir()).unwrap();
        for dir in [
            env.tmp.path().to_path_buf(),
            env.home(),
            env.work(),
            env.work().join("repo"),
            env.tmp_dir(),
        ] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        }
        // The checkout may sit in a folder `nobody` cannot enter: run a copy of the binary.
        let bin = env.tmp.path().join("cybedefend");
        fs::copy(env!("CARGO_BIN_EXE_cybedefend"), &bin).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        let c = env.command_with(
            bin.to_str().unwrap(),
            &[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
            ],
            &["scan", "--dir", "repo", "--project-id", PROJECT, "--ci"],
        );
        Env::output_of(c, None)
    } else {
        scan(&env, &[])
    };
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("locked.js") && out.stderr.contains("permission denied"),
        "{out:?}"
    );
    assert!(env.leftovers().is_empty(), "{:?}", env.leftovers());
}

#[test]
fn dry_run_needs_no_account_and_makes_no_request() {
    let (d, mut env) = setup();
    env.vars.retain(|(k, _)| k != "CYBEDEFEND_PAT");
    let out = env.run(&[
        "scan",
        "--dir",
        "repo",
        "--dry-run",
        "--archive-out",
        "kept.zip",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("Would upload 5 files"), "{out:?}");
    assert!(
        out.stdout.contains("node_modules/"),
        "the ignore rules' removals are listed: {out:?}"
    );
    assert!(d.requests().is_empty(), "no network call");
    let mut bytes = Vec::new();
    fs::File::open(env.work().join("kept.zip"))
        .unwrap()
        .read_to_end(&mut bytes)
        .unwrap();
    assert_eq!(zip_names(&bytes).len(), 5);
    let all = env.run(&["scan", "--dir", "repo", "--dry-run", "--no-ignore"]);
    assert!(all.stdout.contains("Would upload 6 files"), "{all:?}");
}

#[cfg(unix)]
#[test]
fn ctrl_c_or_sigterm_mid_upload_exits_130_and_removes_the_temp_archive() {
    for signal in ["-INT", "-TERM", "-HUP"] {
        let (d, env) = setup();
        d.set_upload_mode(UploadMode::Stall(std::time::Duration::from_secs(20)));
        let child = env
            .command(&["scan", "--dir", "repo", "--project-id", PROJECT, "--ci"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // wait until the upload has started: the PUT reached the double
        let mut waited = 0;
        while !d.requests().iter().any(|r| r.method == "PUT") && waited < 200 {
            std::thread::sleep(std::time::Duration::from_millis(50));
            waited += 1;
        }
        assert!(
            env.leftovers()
                .iter()
                .any(|f| f.starts_with("cybedefend-scan-")),
            "the temp archive exists mid-upload: {:?}",
            env.leftovers()
        );
        std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        let start = std::time::Instant::now();
        let out = child.wait_with_output().unwrap();
        assert!(start.elapsed().as_secs() < 10, "stopped promptly");
        assert_eq!(
            out.status.code(),
            Some(130),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stderr).contains("interrupted"));
        assert!(
            env.leftovers().is_empty(),
            "temp archive removed: {:?}",
            env.leftovers()
        );
    }
}

/// A zip file of `mib` MiB that does not compress (the storage reads it as it comes).
fn big_zip(env: &Env, mib: usize) -> std::path::PathBuf {
    let path = env.work().join("big.zip");
    let mut bytes = b"PK\x03\x04".to_vec();
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    bytes.extend((0..mib << 20).map(|_| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x as u8
    }));
    fs::write(&path, &bytes).unwrap();
    path
}

#[test]
fn an_upload_that_takes_longer_than_any_time_limit_finishes_while_it_makes_progress() {
    let (d, mut env) = setup();
    // a 66 s upload on a slow link: longer than the old 60 s cut, with the idle limit at 30 s
    let file = big_zip(&env, 33);
    d.set_upload_mode(UploadMode::Throttle(512 * 1024));
    env.set("CYBEDEFEND_HTTP_TIMEOUT", "30s");
    let start = std::time::Instant::now();
    let out = env.run(&[
        "scan",
        "--file",
        file.to_str().unwrap(),
        "--project-id",
        PROJECT,
        "--wait=false",
        "--ci",
    ]);
    let took = start.elapsed();
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        took > std::time::Duration::from_secs(60),
        "the upload was not slow: {took:?}"
    );
    let puts = d.requests().iter().filter(|r| r.method == "PUT").count();
    assert_eq!(puts, 1, "the upload was cut and started again");
}

#[test]
fn a_storage_that_stops_reading_gives_up_after_the_idle_limit_and_names_it() {
    let (d, mut env) = setup();
    let file = big_zip(&env, 1);
    // it reads nothing for 60 s: the client's idle limit (2 s) ends each attempt
    d.set_upload_mode(UploadMode::Stall(std::time::Duration::from_secs(60)));
    env.set("CYBEDEFEND_HTTP_TIMEOUT", "2s");
    let start = std::time::Instant::now();
    let out = env.run(&[
        "scan",
        "--file",
        file.to_str().unwrap(),
        "--project-id",
        PROJECT,
        "--wait=false",
        "--ci",
    ]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr
            .contains("did not answer within 2s after the whole archive was sent")
            || out.stderr.contains("made no progress for 2s"),
        "{out:?}"
    );
    assert!(out.stderr.contains("http_timeout"), "{out:?}");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(40),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn a_429_on_the_upload_is_retried_after_its_retry_after() {
    let (d, env) = setup();
    d.set_upload_mode(UploadMode::TooMany(2));
    let out = env.run(&[
        "scan",
        "--dir",
        "repo",
        "--project-id",
        PROJECT,
        "--wait=false",
        "--ci",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let puts = d.requests().iter().filter(|r| r.method == "PUT").count();
    assert_eq!(puts, 3, "two 429s, then the upload");
}

#[test]
fn scan_timeout_bounds_the_status_requests_and_their_retries() {
    let (d, env) = setup();
    d.set_api_stall("GET", "/scan/", std::time::Duration::from_secs(60));
    let start = std::time::Instant::now();
    let out = env.run(&[
        "scan",
        "--dir",
        "repo",
        "--project-id",
        PROJECT,
        "--timeout",
        "3s",
        "--ci",
    ]);
    let took = start.elapsed();
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        took < std::time::Duration::from_secs(20),
        "gave up after {took:?}: {out:?}"
    );
    assert!(out.stderr.contains("--timeout 3s"), "{out:?}");
}

#[test]
fn a_full_disk_while_packaging_is_one_clear_error() {
    if !crate::plugins::running_as_root() {
        missing(
            "a_full_disk_while_packaging_is_one_clear_error",
            "root (to mount a small tmpfs in a mount namespace of its own)",
            "run the tests as root",
        );
        return;
    }
    let (d, env) = setup();
    // 2 MiB that do not compress, for a temporary folder of 256 KiB
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let noise: Vec<u8> = (0..2 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    env.write(&env.work().join("repo/noise.bin"), "");
    fs::write(env.work().join("repo/noise.bin"), &noise).unwrap();
    let small = env.tmp_dir();
    fs::create_dir_all(&small).unwrap();
    let c = env.command_with(
        "unshare",
        &[],
        &[
            "-m",
            "sh",
            "-c",
            &format!(
                "mount -t tmpfs -o size=256k none '{}' && exec '{}' scan --dir repo --project-id {PROJECT} --ci",
                small.display(),
                env!("CARGO_BIN_EXE_cybedefend")
            ),
        ],
    );
    let out = Env::output_of(c, None);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(!out.stderr.contains("ZipWriter"), "{out:?}");
    assert!(
        out.stderr.contains("No space left on device") || out.stderr.contains("no space left"),
        "{out:?}"
    );
    assert!(
        !d.requests().iter().any(|r| r.method == "PUT"),
        "nothing was uploaded"
    );
}

/// Under a memory limit (`ulimit -v`) too tight for packaging, every outcome is the archive or
/// one error with a hint, exit 1: never a panic's bug report, never SIGABRT. The limits tried
/// go up one MiB at a time from the lowest this binary can start with (the loader's own
/// failures come before any code of ours) until the archive is written three times in a row.
#[test]
fn a_memory_limit_while_packaging_is_an_error_with_a_hint() {
    let (_d, env) = setup();
    for i in 0..40 {
        env.write(
            &env.work().join(format!("repo/src/gen/f{i}.js")),
            &format!("export const v{i} = {:?};\n", "x".repeat(20_000 + i)),
        );
    }
    let bin = env!("CARGO_BIN_EXE_cybedefend");
    let under = |kib: u64, args: &str| {
        let mut c = env.command_with(
            "sh",
            &[],
            &["-c", &format!("ulimit -v {kib} && exec '{bin}' {args}")],
        );
        // glibc's own fatal messages go to the terminal unless this is set
        c.env("LIBC_FATAL_STDERR_", "1");
        Env::output_of(c, None)
    };
    // the lowest limit this binary starts under (debug builds map more than release ones)
    let mut kib = 16 << 10;
    while under(kib, "--version").code != 0 {
        kib += 1 << 10;
        assert!(kib < 1 << 20, "the binary does not start under 1 GiB");
    }
    let (mut clean_errors, mut in_a_row, mut glibc) = (Vec::new(), 0, Vec::new());
    while in_a_row < 3 {
        let out = under(kib, "scan --dir repo --dry-run --archive-out out.zip");
        match out.code {
            0 => {
                assert!(
                    out.stdout.contains("Wrote") || out.stderr.contains("Wrote"),
                    "{out:?}"
                );
                in_a_row += 1;
            }
            // (the same window, when the thread's failure reached us as an error: glibc's
            // message, then ours)
            1 if out.stderr.contains("Fatal glibc error") => glibc.push(kib),
            1 => {
                assert!(
                    !out.stderr.contains("internal error"),
                    "at {kib} KiB: {out:?}"
                );
                assert!(out.stderr.contains("memory"), "at {kib} KiB: {out:?}");
                assert!(out.stderr.contains("hint: "), "at {kib} KiB: {out:?}");
                assert_eq!(
                    out.stderr.matches("error:").count(),
                    1,
                    "at {kib} KiB: {out:?}"
                );
                clean_errors.push(kib);
                in_a_row = 0;
            }
            // A new thread's start-up registers its thread-locals with glibc, which aborts when
            // it cannot allocate for that (before any code of ours runs in the thread): a
            // narrow window, tolerated only with glibc's own message, and only rarely.
            -1 if out.stderr.contains("Fatal glibc error") => glibc.push(kib),
            code => panic!("at {kib} KiB: exit {code}: {out:?}"),
        }
        kib += 1 << 10;
        assert!(kib < 1 << 20, "packaging still fails under 1 GiB");
    }
    eprintln!(
        "clean errors at {clean_errors:?} KiB, glibc's abort at {glibc:?}, the archive from {kib} KiB on"
    );
    assert!(
        !clean_errors.is_empty(),
        "no limit was tight enough to fail packaging: the test proves nothing"
    );
    assert!(
        glibc.len() * 3 <= clean_errors.len(),
        "glibc aborted at {glibc:?} KiB, clean errors only at {clean_errors:?}"
    );
}

/// Checks before packaging, and what --archive-out and --dry-run leave behind.
mod packaging_checks {
    use super::*;
    use crate::common::{DEMO_PAT as PAT, DEMO_PROJECT as PROJECT, demo as setup};

    use std::fs;

    use std::process::Stdio;
    use std::time::{Duration, Instant};

    fn scan(env: &Env, extra: &[&str]) -> Out {
        let mut args = vec!["scan", "--dir", "repo", "--project-id", PROJECT, "--ci"];
        args.extend_from_slice(extra);
        env.run(&args)
    }

    #[test]
    fn archive_out_replaces_a_planted_link_instead_of_writing_through_it() {
        let env = Env::new();
        env.write(&env.work().join("repo/a.js"), "x");
        let victim = env.tmp.path().join("victim.txt");
        fs::write(&victim, "precious").unwrap();
        std::os::unix::fs::symlink(&victim, env.work().join("repo/out.zip")).unwrap();
        let out = env.run(&[
            "scan",
            "--dir",
            "repo",
            "--dry-run",
            "--archive-out",
            "repo/out.zip",
        ]);
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(fs::read_to_string(&victim).unwrap(), "precious");
        let meta = fs::symlink_metadata(env.work().join("repo/out.zip")).unwrap();
        assert!(meta.file_type().is_file());
        assert_eq!(
            &fs::read(env.work().join("repo/out.zip")).unwrap()[..2],
            b"PK"
        );
    }

    #[test]
    fn ctrl_c_during_archive_out_leaves_no_file_under_the_final_name() {
        let env = Env::new();
        // Incompressible data, so that packaging takes long enough to be interrupted.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..160 {
            let mut data = vec![0u8; 512 * 1024];
            for b in data.iter_mut() {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                *b = seed as u8;
            }
            env.write(&env.work().join(format!("big/f{i:03}.bin")), "");
            fs::write(env.work().join(format!("big/f{i:03}.bin")), data).unwrap();
        }
        let mut cmd = env.command(&[
            "scan",
            "--dir",
            "big",
            "--dry-run",
            "--archive-out",
            "out.zip",
        ]);
        cmd.stdout(Stdio::null()).stderr(Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        let start = Instant::now();
        // wait until the archive is being written
        let part = loop {
            let found = fs::read_dir(env.work())
                .unwrap()
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .find(|n| n.starts_with(".out.zip.") && n.ends_with(".part"));
            if let Some(p) = found {
                break p;
            }
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "no archive started"
            );
            assert!(
                child.try_wait().unwrap().is_none(),
                "finished before it could be interrupted"
            );
            std::thread::sleep(Duration::from_millis(5));
        };
        let killed = std::process::Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(130), "{stderr}");
        assert!(stderr.contains("interrupted"), "{stderr}");
        assert!(
            !env.work().join("out.zip").exists(),
            "a partial out.zip was left"
        );
        assert!(
            !env.work().join(&part).exists(),
            "the temporary {part} was left"
        );
        let leftovers: Vec<String> = fs::read_dir(env.work())
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "big")
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }

    #[test]
    fn dry_run_lists_every_file_and_names_the_ones_that_look_like_secrets() {
        let env = Env::new();
        for i in 0..10 {
            env.write(&env.work().join(format!("app/src/m{i}.js")), "x\n");
        }
        env.write(&env.work().join("app/.env"), "DB_PASSWORD=hunter2\n");
        env.write(&env.work().join("app/.env.example"), "DB_PASSWORD=\n");
        env.write(
            &env.work().join("app/deploy/id_rsa"),
            "-----BEGIN OPENSSH PRIVATE KEY-----\n",
        );
        env.write(&env.work().join("app/big.js"), &"y".repeat(2048));
        let out = env.run(&["scan", "--dir", "app", "--dry-run"]);
        assert_eq!(out.code, 0, "{out:?}");
        for name in [".env", ".env.example", "deploy/id_rsa", "src/m9.js"] {
            assert!(out.stdout.contains(name), "{name} is listed: {out:?}");
        }
        assert!(
            out.stdout.contains("Would upload 14 files, 2.14 kB"),
            "{out:?}"
        );
        assert!(out.stderr.contains(".env looks like a secret"), "{out:?}");
        assert!(
            out.stderr.contains("deploy/id_rsa looks like a secret"),
            "{out:?}"
        );
        assert!(!out.stderr.contains(".env.example looks like"), "{out:?}");

        let list = env.run(&["scan", "--dir", "app", "--dry-run", "--list"]);
        assert_eq!(list.code, 0, "{list:?}");
        assert_eq!(list.stdout.lines().count(), 14, "{list:?}");

        let json = env.run(&["scan", "--dir", "app", "--dry-run", "--json"]);
        let v = json.json();
        assert_eq!(v["total_files"], 14);
        let env_file = v["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["path"] == ".env")
            .unwrap();
        assert_eq!(env_file["looks_like_secret"], "environment file");
    }

    #[test]
    fn cheap_checks_come_before_packaging() {
        // a missing folder is a usage error, reported before the (missing) credential
        let env = Env::new();
        let out = env.run(&[
            "scan",
            "--dir",
            "/nonexistent/folder",
            "--project-id",
            PROJECT,
        ]);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains("does not exist"), "{out:?}");

        // a rejected PAT: nothing is packaged
        let (d, env) = setup();
        d.set_token_mode(TokenMode::InvalidGrant);
        let out = scan(&env, &[]);
        assert_eq!(out.code, 4, "{out:?}");
        assert!(!out.stderr.contains("Packaging"), "{out:?}");

        // an unknown project: nothing is packaged, no scan started
        let (d, env) = setup();
        let out = env.run(&[
            "scan",
            "--dir",
            "repo",
            "--project-id",
            "55555555-5555-4555-8555-555555555555",
            "--ci",
        ]);
        assert_eq!(out.code, 1, "{out:?}");
        assert!(out.stderr.contains("was not found"), "{out:?}");
        assert!(!out.stderr.contains("Packaging"), "{out:?}");
        assert!(d.scan_ids().is_empty());

        // an unreachable server: exit 3 before packaging
        let mut env = Env::new();
        env.set("CYBEDEFEND_API_URL", "http://127.0.0.1:1")
            .set("CYBEDEFEND_AUTH_ENDPOINT", "http://127.0.0.1:1")
            .set("CYBEDEFEND_PAT", PAT);
        env.write(&env.work().join("repo/a.js"), "x");
        let out = scan(&env, &[]);
        assert_eq!(out.code, 3, "{out:?}");
        assert!(!out.stderr.contains("Packaging"), "{out:?}");
        assert!(
            !out.stderr.contains("cause:"),
            "causes only with --debug: {out:?}"
        );
        // --debug shows what the libraries said, down to the system's own words
        let out = scan(&env, &["--debug"]);
        assert_eq!(out.code, 3, "{out:?}");
        let causes: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.starts_with("  cause: "))
            .collect();
        assert!(
            causes.iter().any(|c| c.contains("Connection refused")),
            "{out:?}"
        );
    }
}

/// What a person reads from a dry run and from the first mistakes, whole.
#[test]
fn dry_run_and_usage_errors_are_pinned() {
    let (_d, env) = setup();
    let out = env.run(&["scan", "--dir", "repo", "--dry-run"]);
    assert_eq!(out.code, 0, "{out:?}");
    insta::assert_snapshot!("dry_run", env.human(&out, None));
    let out = env.run(&["scan", "--dir", "repo", "--dry-run", "--list"]);
    assert_eq!(out.code, 0, "{out:?}");
    insta::assert_snapshot!("dry_run_list", env.human(&out, None));
    let out = env.run(&["scan", "--project-id", PROJECT]);
    assert_eq!(out.code, 2, "{out:?}");
    insta::assert_snapshot!("no_folder", env.human(&out, None));
}

/// An upload that cannot connect, under --debug: the causes are shown, the signed URL's
/// signature never is (reqwest's own message quotes the whole URL; the causes start below it).
#[test]
fn a_failed_upload_under_debug_never_shows_the_signature() {
    let (d, env) = setup();
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    d.set_upload_base(&format!("http://127.0.0.1:{closed}"));
    let out = scan(&env, &["--wait=false", "--debug"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("  cause: "), "{out:?}");
    assert!(!out.all().contains("deadbeef"), "{out:?}");
}

/// A real scan names a file that looks like a secret before it leaves, in CI too, with advice
/// that works (`--exclude`, `.gitignore`: never `.cybedefend`, which hides findings after the
/// upload); `--exclude` keeps it out, with --no-ignore too, and the dry run shows what it left out.
#[test]
fn secret_looking_files_are_named_before_every_upload_and_exclude_keeps_them_out() {
    let (d, env) = setup();
    let out = scan(&env, &["--wait=false"]);
    assert_eq!(out.code, 0, "{out:?}");
    let warning = out
        .stderr
        .lines()
        .find(|l| l.contains(".env looks like a secret"))
        .unwrap_or_else(|| panic!("no warning before the upload: {out:?}"));
    assert!(warning.contains("will be uploaded"), "{warning}");
    assert!(warning.contains("--exclude /.env "), "{warning}");
    assert!(!warning.contains(".cybedefend"), "{warning}");
    let packaging = out.stderr.find("Packaging").unwrap();
    assert!(
        out.stderr.find(".env looks like").unwrap() < packaging,
        "{out:?}"
    );
    assert!(zip_names(&d.uploaded(&d.scan_ids()[0]).unwrap()).contains(&".env".to_owned()));

    // the advice, followed: nothing of it leaves, and nothing warns
    for extra in [
        &["--exclude", "/.env"][..],
        &["--exclude", "/.env", "--no-ignore"],
    ] {
        let before = d.scan_ids().len();
        let mut args = vec!["--wait=false"];
        args.extend_from_slice(extra);
        let out = scan(&env, &args);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(!out.stderr.contains("looks like a secret"), "{out:?}");
        let id = &d.scan_ids()[before];
        let names = zip_names(&d.uploaded(id).unwrap());
        assert!(!names.contains(&".env".to_owned()), "{extra:?}: {names:?}");
        assert!(
            names.contains(&"src/app.js".to_owned()),
            "{extra:?}: {names:?}"
        );
    }

    // a folder pattern, in the dry run: listed as left out by --exclude, not by ignore rules
    let out = env.run(&[
        "scan",
        "--dir",
        "repo",
        "--dry-run",
        "--exclude",
        "src/util/",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("Left out by --exclude: 1 file:\n  src/util/helpers.js"),
        "{out:?}"
    );
    assert!(out.stdout.contains("Would upload 4 files"), "{out:?}");
    // a pattern that does not parse is a usage error naming it
    let out = env.run(&["scan", "--dir", "repo", "--dry-run", "--exclude", "{a"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("pattern `{a`"), "{out:?}");
}

/// `scan.secret_files` and `scan.exclude` in config: `fail` refuses the upload before anything
/// is packaged (exit 2, each file named, nothing uploaded); a repository's `config.yaml` may
/// tighten the mode but not loosen it; `--secret-files exclude` leaves such files out with a
/// note; the exclude lists of the user's file, the repository's file and the flag add up.
#[test]
fn secret_files_setting_refuses_or_leaves_out_and_a_repository_only_tightens_it() {
    let (d, env) = setup();
    env.write(&env.work().join("repo/README.md"), "# demo\n");
    env.write(&env.work().join("repo/notes.txt"), "todo\n");
    env.write(
        &env.dot().join("config.yaml"),
        "scan:\n  secret_files: fail\n  exclude: ['src/util/']\n",
    );
    let refused = |out: &Out| {
        assert_eq!(out.code, 2, "{out:?}");
        assert!(
            out.stderr.contains(".env (environment file)")
                && out.stderr.contains("`scan.secret_files: fail`"),
            "{out:?}"
        );
        assert!(out.stderr.contains("--secret-files exclude"), "{out:?}");
        assert!(!out.stderr.contains("Packaging"), "{out:?}");
        assert!(d.scan_ids().is_empty(), "nothing uploaded");
    };
    refused(&scan(&env, &["--wait=false"]));

    // the repository's file (the working directory's) cannot loosen it
    env.write(
        &env.work().join("config.yaml"),
        "scan:\n  secret_files: warn\n  exclude: ['/README.md']\n",
    );
    let out = scan(&env, &["--wait=false"]);
    refused(&out);
    assert!(
        out.stderr
            .contains("`scan.secret_files: warn` (looser than `fail`"),
        "{out:?}"
    );

    // the flag decides for one command; every exclude list applies
    let out = scan(
        &env,
        &[
            "--wait=false",
            "--secret-files",
            "exclude",
            "--exclude",
            "notes.txt",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("note: .env looks like a secret (environment file) and is left out (--secret-files exclude)"),
        "{out:?}"
    );
    let names = zip_names(&d.uploaded(&d.scan_ids()[0]).unwrap());
    assert!(names.contains(&"src/app.js".to_owned()), "{names:?}");
    for gone in [".env", "src/util/helpers.js", "README.md", "notes.txt"] {
        assert!(!names.contains(&gone.to_owned()), "{gone}: {names:?}");
    }

    // the dry run shows them apart, and says what a real scan would do
    let out = env.run(&[
        "scan",
        "--dir",
        "repo",
        "--dry-run",
        "--secret-files",
        "exclude",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("Left out as secrets (secret files: exclude): 1 file:\n  .env"),
        "{out:?}"
    );
    assert!(
        !out.stdout.contains("Left out by ignore rules: 2"),
        "{out:?}"
    );
    // a dry run under `fail` lists the plan, then fails as the real scan would (a pre-commit
    // check sees it)
    let out = env.run(&["scan", "--dir", "repo", "--dry-run"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stdout.contains("Would upload"), "{out:?}");
    assert!(
        out.stderr.contains("a real scan refuses to upload it")
            && out.stderr.contains("refuses to upload them: .env"),
        "{out:?}"
    );

    // a repository's file cannot empty the user's settings either: `scan: []`, a null mode,
    // a pattern that takes one of the user's back (`!`), or a pattern that does not compile
    for repo in [
        "region: us\nscan: []\n",
        "region: us\nscan: {secret_files: null}\n",
        "region: us\nscan: {exclude: ['!src/util/**', '!.env', 'a/[z-a]']}\n",
    ] {
        env.write(&env.work().join("config.yaml"), repo);
        let out = env.run(&["scan", "--dir", "repo", "--dry-run", "--list"]);
        assert_eq!(out.code, 2, "{repo}: still refused: {out:?}");
        assert!(
            !out.stdout.contains("src/util/helpers.js"),
            "{repo}: the user's exclude holds: {out:?}"
        );
        assert!(
            out.stderr.contains("note: ./config.yaml: "),
            "{repo}: {out:?}"
        );
    }
}

/// `scan --file`: the archive's entries are checked too. `warn` names a secret-looking entry,
/// `fail` refuses the upload, `exclude` cannot take it out of an archive made elsewhere and
/// refuses with the way to do it; `--exclude` does not apply to an archive (usage error).
#[test]
fn a_given_archive_is_checked_for_secret_files() {
    let (d, env) = setup();
    let zip = env.work().join("given.zip");
    let out = env.run(&[
        "scan",
        "--dir",
        "repo",
        "--dry-run",
        "--archive-out",
        zip.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let scan_file = |extra: &[&str]| {
        let mut args = vec![
            "scan",
            "--file",
            zip.to_str().unwrap(),
            "--project-id",
            PROJECT,
            "--ci",
            "--wait=false",
        ];
        args.extend_from_slice(extra);
        env.run(&args)
    };
    let out = scan_file(&[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains(".env in ") && out.stderr.contains("looks like a secret"),
        "{out:?}"
    );
    assert_eq!(d.scan_ids().len(), 1);
    for (mode, says) in [
        ("fail", "refuses to upload them: .env"),
        (
            "exclude",
            "cannot leave files out of an archive made elsewhere",
        ),
    ] {
        let out = scan_file(&["--secret-files", mode]);
        assert_eq!(out.code, 2, "{mode}: {out:?}");
        assert!(out.stderr.contains(says), "{mode}: {out:?}");
        assert_eq!(d.scan_ids().len(), 1, "{mode}: nothing uploaded");
    }
    let out = scan_file(&["--exclude", "*.pem"]);
    assert_eq!(out.code, 2, "{out:?}");
}

/// A file name is shown with its control characters escaped (a newline cannot split or forge a
/// line), and the advice holds a pattern that matches that file alone, quoted for a shell.
#[test]
fn odd_file_names_are_escaped_and_the_advice_matches_them() {
    let env = Env::new();
    env.write(&env.work().join("repo/a.js"), "x");
    env.write(&env.work().join("repo/it's [1].pem"), "k");
    env.write(&env.work().join("repo/x\n✓ forged.js"), "x");
    let out = env.run(&["scan", "--dir", "repo", "--dry-run"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("x\\x0a✓ forged.js"), "{out:?}");
    assert!(
        !out.all().lines().any(|l| l.starts_with("✓ forged")),
        "{out:?}"
    );
    let warning = out
        .stderr
        .lines()
        .find(|l| l.contains("looks like a secret"))
        .unwrap_or_else(|| panic!("{out:?}"));
    let pattern = "'/it'\\''s \\[1].pem'";
    assert!(
        warning.contains(&format!("--exclude {pattern}")),
        "{warning}"
    );
    // the advice, followed, works
    let out = env.run(&[
        "scan",
        "--dir",
        "repo",
        "--dry-run",
        "--list",
        "--exclude",
        "/it's \\[1].pem",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains(".pem"), "{out:?}");
}
