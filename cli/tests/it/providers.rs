//! exec, file and onepassword providers, chain configuration and system policy, with real
//! subprocesses and files (pass + gpg for exec; a stand-in `op`, since the 1Password CLI
//! cannot be installed here).

use std::fs;
use std::process::Command;

use crate::common::*;

fn config(env: &Env, yaml: &str) {
    env.write(&env.dot().join("config.yaml"), yaml);
}

#[test]
fn exec_reads_the_first_line_and_explains_failures() {
    let env = Env::new();
    config(
        &env,
        "credentials:\n  chain: [cmd]\n  providers:\n    cmd: {type: exec, command: [echo, \"cdp_exec_pat_0001\"]}\n",
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["source"], "cmd");
    assert_eq!(j["fingerprint"], fingerprint("cdp_exec_pat_0001"));

    config(
        &env,
        "credentials:\n  chain: [cmd]\n  providers:\n    cmd: {type: exec, command: \"printf 'cdp_shell_pat_01\\\\nrest'\", shell: true}\n",
    );
    let (_, j) = status(&env);
    assert_eq!(j["fingerprint"], fingerprint("cdp_shell_pat_01"));

    // a failing command: the error quotes its stderr, redacting known secrets
    config(
        &env,
        "credentials:\n  chain: [cmd]\n  providers:\n    cmd: {type: exec, command: [sh, -c, \"echo 'vault: permission denied' >&2; exit 3\"]}\n",
    );
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("exit code 3") && out.stderr.contains("permission denied"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("credential provider `cmd`"),
        "names the provider: {out:?}"
    );

    // not on PATH
    config(
        &env,
        "credentials:\n  chain: [cmd]\n  providers:\n    cmd: {type: exec, command: [no-such-tool-xyz]}\n",
    );
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("`no-such-tool-xyz` was not found on PATH"),
        "{out:?}"
    );
}

#[test]
fn exec_is_killed_at_its_timeout_and_on_error_continue_moves_on() {
    let mut env = Env::new();
    config(
        &env,
        "credentials:\n  chain: [slow, env]\n  providers:\n    slow: {type: exec, command: [sleep, \"37.25\"], timeout: 500ms, on_error: continue}\n",
    );
    env.set("CYBEDEFEND_PAT", "cdp_after_timeout");
    let start = std::time::Instant::now();
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(start.elapsed().as_secs() < 5);
    assert_eq!(j["source"], "env");
    assert_eq!(j["chain"][0]["outcome"], "error");
    assert!(
        j["chain"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("timed out after 500ms")
    );
    assert!(j["warnings"].to_string().contains("on_error: continue"));
    assert!(gone("sleep 37.25"), "the command was killed");
}

#[test]
fn pass_and_gpg_through_exec() {
    if std::env::var("CYBEDEFEND_TEST_PASS").is_err()
        && Command::new("pass").arg("version").output().is_err()
    {
        missing(
            "pass_and_gpg_through_exec",
            "pass and gpg",
            "scripts/test.sh installs them as root",
        );
        return;
    }
    let mut env = Env::new();
    let gnupg = env.tmp.path().join("gnupg");
    let store = env.tmp.path().join("password-store");
    fs::create_dir_all(&gnupg).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&gnupg, fs::Permissions::from_mode(0o700)).unwrap();
    }
    let g = gnupg.to_str().unwrap().to_owned();
    let s = store.to_str().unwrap().to_owned();
    let sh = |script: &str| {
        let out = Command::new("sh")
            .arg("-c")
            .arg(script)
            .env("GNUPGHOME", &g)
            .env("PASSWORD_STORE_DIR", &s)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    sh(
        "gpg --batch --pinentry-mode loopback --passphrase '' --quick-generate-key 'cybedefend test <t@x.invalid>' ed25519 default never 2>/dev/null",
    );
    sh(
        "fpr=$(gpg --list-secret-keys --with-colons | awk -F: '/^fpr/{print $10; exit}'); gpg --batch --pinentry-mode loopback --passphrase '' --quick-add-key \"$fpr\" cv25519 encr never 2>/dev/null && pass init \"$fpr\" >/dev/null",
    );
    sh("printf 'cdp_from_pass_0001\\nuser: ci\\n' | pass insert -m cybedefend/pat >/dev/null");
    env.set("GNUPGHOME", &g).set("PASSWORD_STORE_DIR", &s);
    config(
        &env,
        "credentials:\n  chain: [pass]\n  providers:\n    pass: {type: exec, command: [pass, show, cybedefend/pat]}\n",
    );
    let (out, j) = status(&env);
    let _ = Command::new("gpgconf")
        .args(["--kill", "all"])
        .env("GNUPGHOME", &g)
        .output();
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint("cdp_from_pass_0001"));
    assert!(!out.all().contains("cdp_from_pass_0001"));
}

#[test]
fn file_provider_reads_mounted_secrets_and_warns_when_others_can_read_them() {
    let mut env = Env::new();
    let secret = env.tmp.path().join("secrets/cybedefend_pat");
    env.write(&secret, "cdp_file_pat_0001\n");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o644)).unwrap();
    }
    config(
        &env,
        &format!(
            "credentials:\n  chain: [k8s]\n  providers:\n    k8s: {{type: file, path: {}}}\n",
            secret.display()
        ),
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint("cdp_file_pat_0001"));
    assert!(
        j["warnings"]
            .to_string()
            .contains("can be read by other users"),
        "{j}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&secret, fs::Permissions::from_mode(0o600)).unwrap();
        let (_, j) = status(&env);
        assert!(j["warnings"].as_array().unwrap().is_empty(), "{j}");
    }
    // systemd credentials
    config(
        &env,
        "credentials:\n  chain: [sd]\n  providers:\n    sd: {type: file, credential: cybedefend_pat}\n",
    );
    let (out, _) = status(&env);
    assert_eq!(out.code, 4, "not set: not found");
    env.set(
        "CREDENTIALS_DIRECTORY",
        secret.parent().unwrap().to_str().unwrap(),
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["source"], "sd");
    // missing file
    config(
        &env,
        "credentials:\n  chain: [k8s]\n  providers:\n    k8s: {type: file, path: /nonexistent/pat}\n",
    );
    let (_, j) = status(&env);
    assert!(
        j["chain"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("does not exist")
    );
}

/// A stand-in for the 1Password CLI: `op read [--no-newline] [--account A] REF`.
fn fake_op(env: &mut Env) {
    let bin = env.tmp.path().join("bin");
    env.write(
        &bin.join("op"),
        r#"#!/bin/sh
[ "$1" = read ] || { echo "[ERROR] unknown command" >&2; exit 1; }
if [ "$OP_FAKE" = signed-out ]; then echo "[ERROR] 2026/11/27 12:00:00 You are not currently signed in. Please run \`op signin --help\` for instructions" >&2; exit 1; fi
for a in "$@"; do ref="$a"; done
case "$ref" in
  op://CI/CybeDefend/pat) printf 'cdp_from_1password_1' ;;
  *) echo "[ERROR] 2026/11/27 12:00:00 \"$ref\" isn't an item in the \"CI\" vault" >&2; exit 1 ;;
esac
"#,
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(bin.join("op"), fs::Permissions::from_mode(0o755)).unwrap();
    }
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    env.vars.push(("PATH".into(), path));
}

#[test]
fn onepassword_provider_and_op_references() {
    let mut env = Env::new();
    fake_op(&mut env);
    env.set("OP_SERVICE_ACCOUNT_TOKEN", "ops_fake_service_token");
    config(
        &env,
        "credentials:\n  chain: [op]\n  providers:\n    op: {type: onepassword, reference: \"op://CI/CybeDefend/pat\"}\n",
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint("cdp_from_1password_1"));

    // a reference anywhere a PAT goes, like `op run`
    fs::remove_file(env.dot().join("config.yaml")).unwrap();
    env.set("CYBEDEFEND_PAT", "op://CI/CybeDefend/pat");
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["source"], "env");
    assert_eq!(j["fingerprint"], fingerprint("cdp_from_1password_1"));
    assert!(
        j["chain"][1]["detail"]
            .as_str()
            .unwrap()
            .contains("1Password reference")
    );

    // missing item: the reference names it
    env.vars.retain(|(k, _)| k != "CYBEDEFEND_PAT");
    env.set("CYBEDEFEND_PAT", "op://CI/Nope/pat");
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("op://CI/Nope/pat does not exist"),
        "{out:?}"
    );

    // signed out
    env.vars.retain(|(k, _)| k != "CYBEDEFEND_PAT");
    env.set("CYBEDEFEND_PAT", "op://CI/CybeDefend/pat")
        .set("OP_FAKE", "signed-out");
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        out.stderr.contains("not signed in") && out.stderr.contains("OP_SERVICE_ACCOUNT_TOKEN"),
        "{out:?}"
    );
}

#[test]
fn onepassword_fails_fast_without_a_person_or_a_service_account() {
    let mut env = Env::new();
    fake_op(&mut env);
    env.set("CYBEDEFEND_PAT", "op://CI/CybeDefend/pat");
    let out = env.run(&["auth", "status", "--offline", "--ci"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        out.stderr.contains("nobody can give it here")
            && out.stderr.contains("OP_SERVICE_ACCOUNT_TOKEN"),
        "{out:?}"
    );
    // and without op at all
    let mut env = Env::new();
    env.set("CYBEDEFEND_PAT", "op://CI/CybeDefend/pat")
        .set("OP_SERVICE_ACCOUNT_TOKEN", "x")
        .set("PATH", "/nonexistent");
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("1Password CLI (`op`) is not installed"),
        "{out:?}"
    );
}

#[test]
fn provider_options_are_checked_with_their_origin() {
    let env = Env::new();
    config(
        &env,
        "credentials:\n  providers:\n    v: {type: vault, pth: x}\n",
    );
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("provider `v`")
            && out
                .stderr
                .contains("unknown option `pth`; did you mean `path`?")
            && out.stderr.contains("config.yaml"),
        "{out:?}"
    );
    // the common options are named too
    config(
        &env,
        "credentials:\n  providers:\n    v: {type: vault, path: x, on_eror: continue}\n",
    );
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("unknown option `on_eror`; did you mean `on_error`? (the options are: type, timeout, on_error, "),
        "{out:?}"
    );
}

#[test]
fn system_policy_restricts_types_and_refuses_plaintext_and_users_cannot_loosen_it() {
    let mut env = Env::new();
    env.write(
        &env.system_config(),
        "credentials:\n  allowed_providers: [env, vault]\n  require_secure_storage: true\n",
    );
    config(
        &env,
        "pat: cdp_plain_config_pat\ncredentials:\n  allowed_providers: [env, vault, config]\n  require_secure_storage: false\n",
    );
    env.write(
        &env.creds(),
        "{\"type\":\"pat\",\"region\":\"us\",\"pat\":\"cdp_plain_stored_pat\"}",
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 4, "{out:?}");
    let chain = j["chain"].as_array().unwrap();
    assert!(
        chain[0]["detail"]
            .as_str()
            .unwrap()
            .contains("not in allowed_providers"),
        "flag skipped: {j}"
    );
    assert!(
        chain[2]["detail"]
            .as_str()
            .unwrap()
            .contains("not in allowed_providers"),
        "config skipped even though the user allows it: {j}"
    );
    assert!(
        chain[3]["detail"]
            .as_str()
            .unwrap()
            .contains("not in allowed_providers")
    );
    let warnings = out.stderr.clone() + &j["warnings"].to_string();
    assert!(
        warnings.contains("cannot add types the system policy"),
        "{warnings}"
    );
    assert!(
        warnings.contains("require_secure_storage: false` is ignored"),
        "{warnings}"
    );

    // allowed stored, but plaintext refused with an explanation
    env.write(
        &env.system_config(),
        "credentials:\n  require_secure_storage: true\n",
    );
    fs::remove_file(env.dot().join("config.yaml")).unwrap();
    let (out, j) = status(&env);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        j["chain"][3]["detail"]
            .as_str()
            .unwrap()
            .contains("plaintext"),
        "{j}"
    );
    assert!(
        j["warnings"]
            .to_string()
            .contains("auth migrate --to keyring"),
        "{j}"
    );
    env.set("CYBEDEFEND_PAT", "cdp_env_is_fine_01");
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["source"], "env");
}

/// Helper commands and secret files that misbehave: blocking files, endless output, children left behind, a byte order mark; 1Password without a terminal.
mod helpers_and_files_that_misbehave {
    use super::*;

    use std::fs;

    use std::os::unix::fs::PermissionsExt;
    use std::process::Command;
    use std::time::{Duration, Instant};

    fn config(env: &Env, providers: &str) {
        env.write(
            &env.dot().join("config.yaml"),
            &format!("credentials:\n  chain: [p]\n  providers:\n    p: {providers}\n"),
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
        assert!(gone("sleep 44.25"), "the helper's child outlived the CLI");
        assert!(gone("sleep 45.25"), "the helper outlived the CLI");
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
        assert!(gone("^yes$"), "the helper outlived the CLI");
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
}
