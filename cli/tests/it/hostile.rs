//! What a hostile server, repository or local file can do (issue 15): each test is one class
//! of input, and failed before the fix.

use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use cybedefend_platform_double::Canned;

use crate::common::*;

const PROJECT: &str = "66666666-6666-4666-8666-666666666666";
const PAT: &str = "cdp_hostile_pat_000001";

fn setup() -> (Double, Env) {
    let d = Double::start();
    d.add_pat(PAT);
    d.add_project(PROJECT, "demo");
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", PAT);
    (d, env)
}

fn canned(status: u16, body: &str) -> Canned {
    Canned {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn results(env: &Env, extra: &[&str]) -> Out {
    let mut args = vec!["results", "--project-id", PROJECT];
    args.extend_from_slice(extra);
    env.run(&args)
}

#[test]
fn a_secret_a_server_echoes_never_reaches_stdout_or_stderr() {
    let (d, env) = setup();
    for mode in [TokenMode::EchoSecret, TokenMode::EchoSecretInCode] {
        d.set_token_mode(mode.clone());
        for args in [
            &["auth", "status", "--json"][..],
            &["auth", "status"],
            &["auth", "token"],
            &["--debug", "results", "--project-id", PROJECT],
        ] {
            let out = env.run(args);
            assert_ne!(out.code, 0, "{mode:?} {args:?}: {out:?}");
            assert!(
                !out.all().contains(PAT),
                "{mode:?} {args:?} leaked: {out:?}"
            );
        }
    }
}

#[test]
fn a_pat_never_follows_a_redirect_to_another_origin() {
    let (d, mut env) = setup();
    let other = Double::start();
    other.add_pat(PAT);
    d.set_token_mode(TokenMode::Redirect(format!("{}/oidc/token", other.url())));
    env.set("CYBEDEFEND_DEBUG", "1");
    let out = env.run(&["auth", "token"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("not followed"), "{out:?}");
    assert!(out.stderr.contains("another origin"), "{out:?}");
    assert!(
        other.requests().is_empty(),
        "the other origin got {:?}",
        other.requests()
    );
    assert!(
        !env.dot().join("token-cache.json").exists(),
        "nothing cached"
    );
    assert!(!out.all().contains(PAT));
}

#[test]
fn api_redirects_are_followed_only_within_the_origin_and_logged() {
    let (d, mut env) = setup();
    let page = serde_json::json!({"projectId": PROJECT, "projectName": "moved", "page": 1, "total": 0, "totalPages": 1, "vulnerabilities": []});
    d.can(
        "GET",
        &format!("/project/{PROJECT}/results/sast"),
        Canned {
            status: 307,
            headers: vec![("location".into(), "/moved/sast".into())],
            body: Vec::new(),
        },
    );
    d.can("GET", "/moved/sast", canned(200, &page.to_string()));
    env.set("CYBEDEFEND_DEBUG", "1");
    let out = results(&env, &["-t", "sast"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("(same origin, followed)"), "{out:?}");
    let moved = d.requests_to("/moved/sast");
    assert_eq!(moved.len(), 1);
    assert!(moved[0].headers["authorization"].starts_with("Bearer "));

    let other = Double::start();
    d.can(
        "GET",
        &format!("/project/{PROJECT}/results/sast"),
        Canned {
            status: 307,
            headers: vec![("location".into(), format!("{}/stolen", other.url()))],
            body: Vec::new(),
        },
    );
    let out = results(&env, &["-t", "sast"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("not followed"), "{out:?}");
    assert!(other.requests().is_empty(), "{:?}", other.requests());
}

#[test]
fn absurd_expiries_never_crash_a_command() {
    for value in [
        serde_json::json!(1e30),
        serde_json::json!("1e30"),
        serde_json::json!(u64::MAX),
        serde_json::json!(-1),
        serde_json::json!("soon"),
    ] {
        let (d, env) = setup();
        d.set_token_mode(TokenMode::ExpiresIn(value.clone()));
        let out = env.run(&["auth", "token"]);
        assert_eq!(out.code, 0, "{value}: {out:?}");
        assert!(!out.stderr.contains("internal error"), "{value}: {out:?}");
        if let Ok(text) = fs::read_to_string(env.dot().join("token-cache.json")) {
            // cached at most for a day
            let v: Value = serde_json::from_str(&text).unwrap();
            for e in v["entries"].as_object().unwrap().values() {
                let year: i32 = e["expires_at"].as_str().unwrap()[..4].parse().unwrap();
                assert!(year < 2200, "{value}: {text}");
            }
        }
    }
}

#[test]
fn results_never_claim_no_findings_when_nothing_could_be_fetched() {
    // the token endpoint fails for every type: no report, and a non-zero exit
    let (d, env) = setup();
    d.set_token_mode(TokenMode::ServerError);
    let out = results(&env, &["-o", "sarif"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        !env.work().join("results.sarif").exists(),
        "no empty report"
    );

    // the API fails for every type
    let (d, mut env) = setup();
    env.set("CYBEDEFEND_HTTP_TIMEOUT", "1");
    for t in ["sast", "sca", "iac", "secret", "cicd", "container"] {
        d.can(
            "GET",
            &format!("/project/{PROJECT}/results/{t}"),
            canned(400, r#"{"message":"nope"}"#),
        );
    }
    let out = results(&env, &["-o", "sarif"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("no report was written"), "{out:?}");
    assert!(!env.work().join("results.sarif").exists());

    // one type fails: the report says what it has, and the exit code says it is partial
    let (d, env) = setup();
    d.can(
        "GET",
        &format!("/project/{PROJECT}/results/iac"),
        canned(400, r#"{"message":"nope"}"#),
    );
    let out = results(&env, &[]);
    assert_eq!(out.code, 5, "{out:?}");
    assert!(
        out.stderr.contains("partial") && out.stderr.contains("iac"),
        "{out:?}"
    );
    let v: Value =
        serde_json::from_str(&fs::read_to_string(env.work().join("results.json")).unwrap())
            .unwrap();
    assert!(!v["sast"].as_array().unwrap().is_empty());
}

fn mkfifo(path: &std::path::Path) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    let ok = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

#[test]
fn fifos_in_place_of_files_never_hang_a_command() {
    let (_d, mut env) = setup();
    env.vars.retain(|(k, _)| k != "CYBEDEFEND_PAT");
    mkfifo(&env.creds());
    let start = Instant::now();
    let out = env.run(&["auth", "status", "--offline"]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.all().contains("FIFO"), "{out:?}");
    fs::remove_file(env.creds()).unwrap();

    env.set("CYBEDEFEND_PAT", PAT);
    mkfifo(&env.dot().join("token-cache.json"));
    let out = env.run(&["auth", "token"]);
    assert_eq!(
        out.code, 0,
        "a cache that cannot be read is just empty: {out:?}"
    );

    env.write(&env.work().join("repo/a.js"), "x");
    mkfifo(&env.work().join("repo/sub/.gitignore"));
    let start = Instant::now();
    let out = env.run(&["scan", "--dir", "repo", "--dry-run"]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains(".gitignore is not a regular file"),
        "{out:?}"
    );
    let out = env.run(&["scan", "--dir", "repo", "--dry-run", "--no-ignore"]);
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn non_utf8_settings_are_refused_not_ignored() {
    for var in [
        "CYBEDEFEND_API_URL",
        "CYBEDEFEND_HOME",
        "CYBEDEFEND_REGION",
        "CYBEDEFEND_PAT",
    ] {
        let env = Env::new();
        let mut c = env.command(&["auth", "status", "--offline"]);
        c.env(var, OsStr::from_bytes(b"caf\xe9"));
        let out = Env::output_of(c, None);
        assert_eq!(out.code, 2, "{var}: {out:?}");
        assert!(out.stderr.contains(var), "{var}: {out:?}");
        assert!(out.stderr.contains("UTF-8"), "{var}: {out:?}");
    }
}

#[test]
fn exec_helpers_do_not_inherit_the_pat_unless_asked() {
    let (_d, env) = setup();
    let seen = env.tmp.path().join("seen");
    let script = format!(
        "echo \"${{CYBEDEFEND_PAT:-none}}\" > {}; echo cdp_from_the_helper_01",
        seen.display()
    );
    let yaml = |pass: &str| {
        format!(
            "credentials:\n  chain: [helper]\n  providers:\n    helper: {{type: exec, shell: true, command: '{script}'{pass}}}\n"
        )
    };
    env.write(&env.dot().join("config.yaml"), &yaml(""));
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(fs::read_to_string(&seen).unwrap().trim(), "none");
    env.write(
        &env.dot().join("config.yaml"),
        &yaml(", pass_env: [CYBEDEFEND_PAT]"),
    );
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(fs::read_to_string(&seen).unwrap().trim(), PAT);
}

#[test]
fn config_show_masks_secrets_in_provider_options() {
    let env = Env::new();
    env.write(
        &env.dot().join("config.yaml"),
        "credentials:\n  providers:\n    op: {type: exec, command: [op, read, 'op://x/y/z'], env: {OP_SERVICE_ACCOUNT_TOKEN: ops_very_secret_value, LANG: C}}\n",
    );
    for args in [
        &["config", "show"][..],
        &["config", "show", "--json", "--origin"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(!out.all().contains("ops_very_secret_value"), "{out:?}");
        assert!(out.stdout.contains("<masked>"), "{out:?}");
    }
}

#[test]
fn a_shared_home_folder_is_refused_and_never_chmodded() {
    let (_d, mut env) = setup();
    let shared = env.tmp.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    env.set("CYBEDEFEND_HOME", shared.to_str().unwrap());
    let out = env.run(&["login", "--pat", PAT]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("sticky"), "{out:?}");
    assert_eq!(
        fs::metadata(&shared).unwrap().permissions().mode() & 0o7777,
        0o1777
    );

    // ~/.cybedefend as a link to a folder of ours: used, not chmodded
    let (_d, env) = setup();
    let real = env.tmp.path().join("dotfiles/cybedefend");
    fs::create_dir_all(&real).unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink(&real, env.dot()).unwrap();
    let out = env.run(&["login", "--pat", PAT]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        fs::metadata(&real).unwrap().permissions().mode() & 0o777,
        0o750
    );
    assert_eq!(mode(&real.join("credentials.json")), 0o600);
}

#[test]
fn a_planted_link_as_lock_file_creates_nothing() {
    let (_d, env) = setup();
    fs::create_dir_all(env.dot()).unwrap();
    fs::set_permissions(env.dot(), fs::Permissions::from_mode(0o700)).unwrap();
    let target = env.tmp.path().join("created-by-the-link");
    std::os::unix::fs::symlink(&target, env.dot().join(".credentials.lock")).unwrap();
    let out = env.run(&["login", "--pat", PAT]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("symbolic link"), "{out:?}");
    assert!(!target.exists());
}

#[test]
fn readable_credentials_are_flagged_and_made_private_on_the_next_write() {
    let (d, mut env) = setup();
    env.vars.retain(|(k, _)| k != "CYBEDEFEND_PAT");
    d.add_pat("cdp_stored_readable_1");
    env.write(
        &env.creds(),
        r#"{"type":"pat","region":"us","pat":"cdp_stored_readable_1"}"#,
    );
    fs::set_permissions(env.creds(), fs::Permissions::from_mode(0o644)).unwrap();
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("can be read by other users"), "{out:?}");
    let out = env.run(&["login", "--pat", PAT]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(mode(&env.creds()), 0o600);
}

#[test]
fn files_and_answers_are_read_with_a_size_cap() {
    let (d, mut env) = setup();
    env.vars.retain(|(k, _)| k != "CYBEDEFEND_PAT");
    fs::create_dir_all(env.dot()).unwrap();
    std::os::unix::fs::symlink("/dev/zero", env.creds()).unwrap();
    let start = Instant::now();
    let out = env.run(&["auth", "status", "--offline"]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.all().contains("device"), "{out:?}");
    fs::remove_file(env.creds()).unwrap();

    env.set("CYBEDEFEND_PAT", PAT);
    let huge = format!(
        "{{\"vulnerabilities\": [], \"pad\": \"{}\"}}",
        "x".repeat(17 << 20)
    );
    d.can(
        "GET",
        &format!("/project/{PROJECT}/results/sast"),
        canned(200, &huge),
    );
    let out = results(&env, &["-t", "sast"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("larger than 16 MiB"), "{out:?}");
}

#[test]
fn control_characters_never_reach_the_terminal_raw() {
    let (d, env) = setup();
    d.set_token_mode(TokenMode::ControlToken);
    let out = env.run(&["auth", "token"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("not plain visible ASCII"), "{out:?}");
    assert!(!out.all().contains('\u{1b}'), "{out:?}");
    assert!(!env.dot().join("token-cache.json").exists());

    let (d, env) = setup();
    d.can(
        "GET",
        &format!("/project/{PROJECT}"),
        canned(
            400,
            "{\"message\":\"\\u001b]0;pwned\\u0007bad\\nFAKE LINE \\u001b[31m\"}",
        ),
    );
    env.write(&env.work().join("repo/a.js"), "x");
    let out = env.run(&["scan", "--dir", "repo", "--project-id", PROJECT]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        !out.all().contains('\u{1b}') && !out.all().contains('\u{7}'),
        "{out:?}"
    );
    assert!(out.stderr.contains("\\x1b]0;pwned"), "{out:?}");
    assert!(!out.stderr.contains("\nFAKE LINE"), "{out:?}");

    // file names from a repository
    let env = Env::new();
    env.write(&env.work().join("repo/evil\u{1b}[2Jname.js"), "x");
    let out = env.run(&["scan", "--dir", "repo", "--dry-run"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.all().contains('\u{1b}'), "{out:?}");
    assert!(out.stdout.contains("evil\\x1b[2Jname.js"), "{out:?}");
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
fn odd_grouped_answers_and_endless_paging_end_with_an_error_or_stop() {
    let (d, env) = setup();
    let path = format!("/project/{PROJECT}/results/sast/grouped");
    for body in [
        "[]",
        "\"x\"",
        "5",
        "true",
        "{\"groupedVulnerabilities\": 3}",
    ] {
        d.can("GET", &path, canned(200, body));
        let out = results(&env, &["-t", "sast", "--grouped"]);
        assert_eq!(out.code, 1, "{body}: {out:?}");
        assert!(!out.stderr.contains("internal error"), "{body}: {out:?}");
    }

    // a server that repeats the same page and announces a billion of them
    let group = serde_json::json!({"groupedVulnerabilities": [{"ruleId": "r1", "occurrenceCount": 1}], "totalPages": 1e9, "page": 1});
    d.can("GET", &path, canned(200, &group.to_string()));
    d.clear_requests();
    let start = Instant::now();
    let out = results(&env, &["-t", "sast", "--grouped"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(start.elapsed() < Duration::from_secs(20));
    assert!(
        d.requests_to(&path).len() <= 3,
        "{}",
        d.requests_to(&path).len()
    );

    let flat = format!("/project/{PROJECT}/results/sast");
    let page = serde_json::json!({"projectId": PROJECT, "projectName": "p", "page": 1, "total": 1, "totalPages": 1_000_000_000u64,
        "vulnerabilities": [cybedefend_platform_double::sample_finding("sast", 1, "high", "to_verify")]});
    d.can("GET", &flat, canned(200, &page.to_string()));
    d.clear_requests();
    let out = results(&env, &["-t", "sast"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        d.requests_to(&flat).len() <= 3,
        "{}",
        d.requests_to(&flat).len()
    );
}

#[test]
fn an_absurd_retry_after_is_never_waited_for_and_says_when_to_come_back() {
    let (d, mut env) = setup();
    env.set("CYBEDEFEND_HTTP_TIMEOUT", "2");
    d.set_retry_after("1e30");
    d.fail_next_api_calls(&[429]);
    let start = Instant::now();
    let out = env.run(&["results", "--project-id", PROJECT, "-t", "sast"]);
    assert_eq!(out.code, 3, "{out:?}");
    // read as at most a day, beyond what the command has left: it fails now, naming the time
    assert!(
        out.stderr.contains("the next try would be in 1d")
            && out.stderr.contains("run the command again after"),
        "{out:?}"
    );
    assert!(start.elapsed() < Duration::from_secs(5));
    // a short one is waited for, and said
    d.set_retry_after("2");
    d.fail_next_api_calls(&[429]);
    let out = env.run(&["results", "--project-id", PROJECT, "-t", "sast"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("retrying in 2s"), "{out:?}");
}
