//! The enterprise providers against a misbehaving Vault, helper commands and secret files
//! (issue 13). A Vault that misbehaves on purpose is played by the platform double's canned
//! answers (a real OpenBao does not redirect to plain http or echo tokens); the helpers are
//! real processes.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::time::{Duration, Instant};

use cybedefend_platform_double::{Canned, TestCa};

use crate::common::*;

const VAULT_TOKEN: &str = "hvs.hostile_test_token_0001";
const SECRET_ID: &str = "secret-id-hostile-000001";

fn config(env: &Env, providers: &str) {
    env.write(
        &env.dot().join("config.yaml"),
        &format!("credentials:\n  chain: [p]\n  providers:\n    p: {providers}\n"),
    );
}

fn status(env: &Env) -> (Out, Value) {
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    let j = out.json();
    (out, j)
}

fn json_canned(status: u16, body: &str) -> Canned {
    Canned {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

fn redirect(to: String) -> Canned {
    Canned {
        status: 307,
        headers: vec![("location".into(), to)],
        body: Vec::new(),
    }
}

/// A Vault over TLS (the double, with a CA written to `ca.pem`) and the env to reach it.
fn tls_vault() -> (Double, Env, TestCa) {
    let ca = TestCa::new("cybedefend test CA");
    let vault = Double::start_tls(&ca);
    let env = Env::new();
    env.write(&env.tmp.path().join("ca.pem"), &ca.ca_pem);
    (vault, env, ca)
}

#[test]
fn vault_never_resends_a_token_or_secret_id_after_a_redirect() {
    let (vault, mut env, _ca) = tls_vault();
    let plain = Double::start();
    let ca_file = env.tmp.path().join("ca.pem");
    let base = format!(
        "{{type: vault, address: '{}', ca_cert: '{}', path: cd",
        vault.url(),
        ca_file.display()
    );

    // a KV read redirected to plain http: not followed, token not sent there
    env.set("VAULT_TOKEN", VAULT_TOKEN);
    config(&env, &format!("{base}}}"));
    vault.can(
        "GET",
        "/v1/secret/data/cd",
        redirect(format!("{}/v1/secret/data/cd", plain.url())),
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(j["error"].as_str().unwrap().contains("not followed"), "{j}");
    assert!(plain.requests().is_empty(), "{:?}", plain.requests());
    assert!(!out.all().contains(VAULT_TOKEN));

    // an AppRole login redirected to another https origin: role_id/secret_id not re-sent
    let ca2 = TestCa::new("other CA");
    let other = Double::start_tls(&ca2);
    env.vars.clear();
    env.set("VAULT_ROLE_ID", "role-id-0001")
        .set("VAULT_SECRET_ID", SECRET_ID);
    config(&env, &format!("{base}, auth: {{method: approle}}}}"));
    vault.can(
        "POST",
        "/v1/auth/approle/login",
        redirect(format!("{}/v1/auth/approle/login", other.url())),
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        j["error"].as_str().unwrap().contains("another origin"),
        "{j}"
    );
    assert!(other.requests().is_empty());
    assert!(!out.all().contains(SECRET_ID));
}

#[test]
fn vault_answers_are_capped_and_their_texts_are_safe() {
    let (vault, mut env, _ca) = tls_vault();
    env.set("VAULT_TOKEN", VAULT_TOKEN);
    config(
        &env,
        &format!(
            "{{type: vault, address: '{}', ca_cert: '{}', path: cd}}",
            vault.url(),
            env.tmp.path().join("ca.pem").display()
        ),
    );
    // far too large
    let big = format!("{{\"data\": \"{}\"}}", "x".repeat(2 << 20));
    vault.can("GET", "/v1/secret/data/cd", json_canned(200, &big));
    let (out, j) = status(&env);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        j["error"].as_str().unwrap().contains("larger than 1 MiB"),
        "{j}"
    );

    // an error that echoes the token and carries escape sequences
    let echo = format!(
        "{{\"errors\": [\"permission denied for {VAULT_TOKEN}\\u001b]0;pwned\\u0007\\nFAKE\"]}}"
    );
    vault.can("GET", "/v1/secret/data/cd", json_canned(500, &echo));
    for args in [
        &["auth", "status", "--offline", "--json"][..],
        &["auth", "status", "--offline"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 1, "{out:?}");
        assert!(!out.all().contains(VAULT_TOKEN), "{out:?}");
        assert!(!out.all().contains('\u{1b}'), "{out:?}");
        assert!(!out.all().contains("\nFAKE"), "{out:?}");
    }
}

fn mkfifo(path: &std::path::Path) {
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

#[test]
fn blocking_files_are_bounded_by_the_time_limit_and_type_checks() {
    let env = Env::new();
    let fifo = env.tmp.path().join("pat.fifo");
    mkfifo(&fifo);
    config(
        &env,
        &format!("{{type: file, path: '{}', timeout: 2s}}", fifo.display()),
    );
    let start = Instant::now();
    let (out, j) = status(&env);
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(out.code, 1, "{out:?}");
    assert!(j["error"].as_str().unwrap().contains("FIFO"), "{j}");

    let zero = env.tmp.path().join("zero");
    std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
    config(&env, &format!("{{type: file, path: '{}'}}", zero.display()));
    let start = Instant::now();
    let (out, j) = status(&env);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(out.code, 1, "{out:?}");
    assert!(j["error"].as_str().unwrap().contains("device"), "{j}");

    // Vault's token file as a FIFO
    let plain = Double::start();
    config(
        &env,
        &format!(
            "{{type: vault, address: '{}', path: cd, auth: {{method: token, token_file: '{}'}}, timeout: 2s}}",
            plain.url(),
            fifo.display()
        ),
    );
    let start = Instant::now();
    let (out, j) = status(&env);
    assert!(start.elapsed() < Duration::from_secs(5));
    assert_eq!(out.code, 1, "{out:?}");
    assert!(j["error"].as_str().unwrap().contains("FIFO"), "{j}");
}

#[test]
fn a_byte_order_mark_in_a_secret_file_is_dropped() {
    let env = Env::new();
    let file = env.tmp.path().join("pat.txt");
    fs::write(&file, "\u{feff}cdp_bom_pat_000001\r\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    config(&env, &format!("{{type: file, path: '{}'}}", file.display()));
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint("cdp_bom_pat_000001"));
}

fn running(pattern: &str) -> bool {
    !Command::new("pgrep")
        .args(["-f", pattern])
        .output()
        .unwrap()
        .stdout
        .is_empty()
}

#[test]
fn helpers_are_read_until_they_exit_and_their_group_is_killed_at_the_limit() {
    let env = Env::new();
    // prints the PAT and exits, leaving a child that holds stdout open
    config(
        &env,
        "{type: exec, shell: true, command: 'echo cdp_lingering_pat_01; sleep 43.25 &', timeout: 10s}",
    );
    let start = Instant::now();
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(j["fingerprint"], fingerprint("cdp_lingering_pat_01"));
    let _ = Command::new("pkill").args(["-f", "sleep 43.25"]).status();

    // hangs with a child: at the limit the whole group goes
    config(
        &env,
        "{type: exec, shell: true, command: 'sleep 44.25 & sleep 45.25', timeout: 1s}",
    );
    let (out, _) = status(&env);
    assert_eq!(out.code, 1, "{out:?}");
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !running("sleep 44.25"),
        "the helper's child outlived the CLI"
    );
    assert!(!running("sleep 45.25"), "the helper outlived the CLI");
}

#[test]
fn helper_output_is_capped() {
    let env = Env::new();
    config(&env, "{type: exec, command: [yes], timeout: 20s}");
    let start = Instant::now();
    let (out, j) = status(&env);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(
        j["error"].as_str().unwrap().contains("more than 64 KiB"),
        "{j}"
    );
    assert!(!running("^yes$"));
}

#[test]
fn a_failing_helpers_quoted_stderr_is_redacted_and_safe() {
    let mut env = Env::new();
    env.set("OP_SERVICE_ACCOUNT_TOKEN", "ops_env_secret_abcdef01");
    config(
        &env,
        "{type: exec, shell: true, command: 'echo cdp_printed_then_failed; printf \"token %s and cdp_printed_then_failed \\033[2J\\n\" \"$OP_SERVICE_ACCOUNT_TOKEN\" >&2; exit 3'}",
    );
    for args in [
        &["auth", "status", "--offline", "--json"][..],
        &["auth", "status", "--offline"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 1, "{out:?}");
        assert!(out.all().contains("exit code 3"), "{out:?}");
        assert!(!out.all().contains("ops_env_secret_abcdef01"), "{out:?}");
        assert!(!out.all().contains("cdp_printed_then_failed"), "{out:?}");
        assert!(!out.all().contains('\u{1b}'), "{out:?}");
    }
}

#[test]
fn logout_with_an_unreachable_keyring_keeps_what_is_needed_to_retry() {
    let env = Env::new();
    env.write(
        &env.creds(),
        r#"{"type":"pat","region":"eu","storage":"keyring"}"#,
    );
    // no D-Bus session: the keyring cannot be reached
    let out = env.run(&["logout"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("could not be erased"), "{out:?}");
    assert!(
        env.creds().exists(),
        "credentials.json still says where the PAT is"
    );
}

#[test]
fn secure_storage_policy_counts_a_readable_secret_file_as_plaintext() {
    let env = Env::new();
    let file = env.tmp.path().join("pat.txt");
    fs::write(&file, "cdp_file_pat_policy_1\n").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o644)).unwrap();
    env.write(
        &env.system_config(),
        "credentials:\n  require_secure_storage: true\n",
    );
    config(&env, &format!("{{type: file, path: '{}'}}", file.display()));
    let (out, j) = status(&env);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        j["chain"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("refused"),
        "{j}"
    );
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    let (out, _) = status(&env);
    assert_eq!(
        out.code, 0,
        "an owner-only secret file is accepted: {out:?}"
    );
}

#[test]
fn token_cache_off_keeps_no_file_and_costs_an_exchange_per_command() {
    let d = Double::start();
    d.add_pat("cdp_cache_off_pat_01");
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", "cdp_cache_off_pat_01");
    env.write(
        &env.dot().join("config.yaml"),
        "credentials:\n  token_cache: off\n",
    );
    for _ in 0..2 {
        assert_eq!(env.run(&["auth", "token"]).code, 0);
    }
    assert_eq!(d.requests_to("/oidc/token").len(), 2);
    assert!(!env.dot().join("token-cache.json").exists());

    env.write(
        &env.dot().join("config.yaml"),
        "credentials:\n  token_cache: file\n",
    );
    for _ in 0..2 {
        assert_eq!(env.run(&["auth", "token"]).code, 0);
    }
    assert_eq!(
        d.requests_to("/oidc/token").len(),
        3,
        "one more exchange, then the cache"
    );
    assert!(env.dot().join("token-cache.json").exists());
}
