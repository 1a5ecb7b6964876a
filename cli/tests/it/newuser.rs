//! What a new user tripped over (issue 9): wrong diagnoses, late checks, partial files,
//! inconsistent units. Each test failed before the fix.

use std::fs;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::*;

const PROJECT: &str = "44444444-4444-4444-8444-444444444444";
const PAT: &str = "cdp_newuser_pat_0001";

fn setup() -> (Double, Env) {
    let d = Double::start();
    d.add_pat(PAT);
    d.add_project(PROJECT, "demo");
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", PAT);
    env.write(&env.work().join("repo/src/app.js"), "console.log(1)\n");
    (d, env)
}

fn scan(env: &Env, extra: &[&str]) -> Out {
    let mut args = vec!["scan", "--dir", "repo", "--project-id", PROJECT, "--ci"];
    args.extend_from_slice(extra);
    env.run(&args)
}

#[test]
fn every_duration_uses_one_grammar_and_is_checked_before_any_work() {
    let (d, env) = setup();
    for (flag, value) in [
        ("--timeout", "10x"),
        ("--timeout", "99999999999999999999"),
        ("--interval", "1e300"),
        ("--policy-timeout", "1e300"),
        ("--policy-timeout", "-5"),
    ] {
        let out = scan(&env, &[&format!("{flag}={value}")]);
        assert_eq!(out.code, 2, "{flag} {value}: {out:?}");
        assert!(out.stderr.contains(flag), "{flag} {value}: {out:?}");
        assert!(!out.stderr.contains("Packaging"), "{flag} {value}: {out:?}");
    }
    assert!(
        d.requests().is_empty(),
        "nothing was sent: {:?}",
        d.requests()
    );

    // hours and combinations are durations, everywhere
    let out = scan(
        &env,
        &[
            "--timeout",
            "1h",
            "--interval",
            "0.2",
            "--policy-timeout",
            "5m",
        ],
    );
    assert_eq!(out.code, 0, "{out:?}");

    let out = env.run(&["login", "--login-timeout", "99999999999999999999"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--login-timeout"), "{out:?}");
}

#[test]
fn out_of_range_numbers_from_env_and_config_are_usage_errors() {
    let (_d, mut env) = setup();
    env.set("CYBEDEFEND_HTTP_TIMEOUT", "99999999999999999999");
    let out = env.run(&["auth", "status"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("CYBEDEFEND_HTTP_TIMEOUT"), "{out:?}");

    let (_d, env) = setup();
    env.write(&env.dot().join("config.yaml"), "http_timeout: 1e300\n");
    let out = env.run(&["auth", "status"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("http_timeout") && out.stderr.contains("config.yaml"),
        "{out:?}"
    );

    // a duration with a unit, and a provider timeout as a plain number, are fine
    env.write(
        &env.dot().join("config.yaml"),
        "http_timeout: 30s\ncredentials:\n  providers:\n    x: {type: exec, command: [\"true\"], timeout: 10}\n  chain: [env, x]\n",
    );
    let out = env.run(&["config", "show", "--origin"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("http_timeout"), "{out:?}");
    assert!(out.stdout.contains("30s"), "{out:?}");
}

#[test]
fn login_timeout_is_echoed_with_its_unit() {
    let (d, env) = setup();
    let out = env.run(&[
        "login",
        "--no-browser",
        "--callback-port",
        "0",
        "--login-timeout",
        "1",
        "--pat",
        "",
    ]);
    // an empty --pat is refused before anything else
    assert_eq!(out.code, 2, "{out:?}");
    let mut env2 = Env::new();
    env2.use_double(&d);
    let out = env2.run(&[
        "login",
        "--no-browser",
        "--callback-port",
        "0",
        "--login-timeout",
        "1",
    ]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("(up to 1s)"), "{out:?}");
    assert!(out.stderr.contains("timed out after 1s"), "{out:?}");
}

fn status_json(env: &Env) -> (Out, Value) {
    let out = env.run(&["auth", "status", "--json"]);
    let j = out.json();
    (out, j)
}

#[test]
fn auth_status_says_rejected_only_when_the_server_rejected() {
    // unreachable: a port where nothing listens
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut env = Env::new();
    let url = format!("http://127.0.0.1:{port}");
    env.set("CYBEDEFEND_API_URL", &url)
        .set("CYBEDEFEND_AUTH_ENDPOINT", &url)
        .set("CYBEDEFEND_PAT", PAT);
    let (out, j) = status_json(&env);
    assert_eq!(out.code, 3, "{out:?}");
    assert_eq!(j["server_check"], "unreachable");
    assert_eq!(j["checked_with_server"], false);
    assert_eq!(j["authenticated"], false);
    let text = env.run(&["auth", "status"]);
    assert_eq!(text.code, 3);
    assert!(text.stdout.contains("could not be reached"), "{text:?}");
    assert!(!text.all().contains("rejected"), "{text:?}");

    // 5xx and a timeout: the same outcome
    let (d, mut env) = setup();
    env.set("CYBEDEFEND_HTTP_TIMEOUT", "1");
    d.set_token_mode(TokenMode::ServerError);
    let (out, j) = status_json(&env);
    assert_eq!(
        (out.code, j["server_check"].as_str()),
        (3, Some("unreachable")),
        "{out:?}"
    );
    d.set_token_mode(TokenMode::Slow(Duration::from_secs(3)));
    let (out, j) = status_json(&env);
    assert_eq!(
        (out.code, j["server_check"].as_str()),
        (3, Some("unreachable")),
        "{out:?}"
    );

    // rejected: exit 4, and said so
    d.set_token_mode(TokenMode::InvalidGrant);
    let (out, j) = status_json(&env);
    assert_eq!(
        (out.code, j["server_check"].as_str()),
        (4, Some("rejected")),
        "{out:?}"
    );
    assert_eq!(j["checked_with_server"], true);
    let text = env.run(&["auth", "status"]);
    assert!(
        text.stdout.contains("was rejected by the server"),
        "{text:?}"
    );

    d.set_token_mode(TokenMode::Normal);
    let (out, j) = status_json(&env);
    assert_eq!(
        (out.code, j["server_check"].as_str()),
        (0, Some("accepted")),
        "{out:?}"
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

#[test]
fn onepassword_diagnosis_does_not_depend_on_the_terminal() {
    let mut env = Env::new();
    // a PATH without `op`
    env.vars.push(("PATH".into(), "/usr/bin:/bin".into()));
    env.write(
        &env.dot().join("config.yaml"),
        "credentials:\n  chain: [op]\n  providers:\n    op: {type: onepassword, reference: \"op://CI/cd/pat\"}\n",
    );
    let without = env.run(&["auth", "status", "--offline"]);
    assert_eq!(without.code, 2, "{without:?}");
    assert!(
        without.stderr.contains("`op`) is not installed"),
        "{without:?}"
    );

    // the same under a terminal (`script` gives the command a pty)
    let bin = env!("CARGO_BIN_EXE_cybedefend");
    let mut c = std::process::Command::new("/usr/bin/script");
    c.args([
        "-qec",
        &format!("{bin} auth status --offline; echo EXIT=$?"),
        "/dev/null",
    ])
    .env_clear()
    .env("PATH", "/usr/bin:/bin")
    .env("HOME", env.home())
    .env("TMPDIR", env.tmp_dir())
    .env("CYBEDEFEND_SYSTEM_CONFIG", env.system_config())
    .current_dir(env.work());
    let with = Env::output_of(c, None);
    assert!(with.stdout.contains("`op`) is not installed"), "{with:?}");
    assert!(with.stdout.contains("EXIT=2"), "{with:?}");
}

#[test]
fn a_typo_in_the_project_config_is_an_unknown_key_with_a_suggestion() {
    let mut env = Env::new();
    env.set("CYBEDEFEND_PAT", PAT);
    env.write(
        &env.work().join("config.yaml"),
        "regoin: eu\nproject_id: p1\n",
    );
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("unknown key `regoin`")
            && out.stderr.contains("did you mean `region`?"),
        "{out:?}"
    );
    assert!(!out.stderr.contains("not allowed"), "{out:?}");
    assert!(!out.stderr.contains("may only set"), "{out:?}");

    let out = env.run(&["config", "validate"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("did you mean `region`?"), "{out:?}");
    let out = env.run(&["config", "validate", "config.yaml"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(!out.stderr.contains("--config"), "{out:?}");

    let out = env.run(&["config", "show", "--origin"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains("regoin"), "{out:?}");
    assert!(out.stdout.contains("project_id"), "{out:?}");
}

#[test]
fn help_version_completion_and_small_words() {
    let env = Env::new();
    let help = env.run(&["scan", "--help"]);
    let own = help.stdout.find("--project-id").unwrap();
    let global = help
        .stdout
        .find("Global options:")
        .expect("a heading for global options");
    let pat = help.stdout.find("--pat <PAT>").unwrap();
    assert!(own < global && global < pat, "{}", help.stdout);

    let v1 = env.run(&["--version"]).stdout;
    let v2 = env.run(&["version"]).stdout;
    assert_eq!(v1, v2);

    let bash = env.run(&["completion", "bash"]);
    assert_eq!(bash.code, 0);
    assert!(bash.stdout.contains("--region"));
    assert!(
        !bash.stdout.contains("--api-key"),
        "hidden options are not offered"
    );

    let mut env = Env::new();
    env.set("CYBEDEFEND_PAT", PAT);
    env.write(&env.work().join("one/a.js"), "x");
    let out = env.run(&["scan", "--dir", "one", "--dry-run"]);
    assert!(out.stdout.contains("Would upload 1 file,"), "{out:?}");

    // a provider defined but left out of the chain is pointed out
    env.write(
        &env.dot().join("config.yaml"),
        "credentials:\n  chain: [env]\n  providers:\n    forgotten: {type: file, path: /nowhere}\n",
    );
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    assert!(out.stderr.contains("`forgotten`"), "{out:?}");
    // elapsed times have no float noise
    let j = out.json();
    let ms = j["chain"][0]["elapsed_ms"].to_string();
    assert!(ms.split('.').nth(1).is_none_or(|d| d.len() <= 3), "{ms}");
}
