//! No secret reaches stdout, stderr or debug logs, whatever the command.

use crate::common::*;

const CANARY: &str = "cdp_CANARY_5f3a9c_never_print_me";

fn assert_clean(label: &str, out: &Out) {
    assert!(
        !out.all().contains(CANARY),
        "{label} leaked the canary:\n{out:?}"
    );
    assert!(
        !out.all().contains("double-access-token"),
        "{label} leaked an access token:\n{out:?}"
    );
}

#[test]
fn canary_pat_never_appears_in_any_output_even_with_debug() {
    let d = Double::start();
    d.add_pat(CANARY);
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_DEBUG", "true");

    let commands: Vec<(&str, Vec<&str>, Option<String>)> = vec![
        (
            "login --pat",
            vec!["login", "--debug", "--pat", CANARY],
            None,
        ),
        (
            "login --with-token",
            vec!["login", "--debug", "--with-token"],
            Some(format!("{CANARY}\n")),
        ),
        ("auth status", vec!["auth", "status", "--debug"], None),
        (
            "auth status --json",
            vec!["auth", "status", "--debug", "--json"],
            None,
        ),
        (
            "auth status --pat",
            vec!["auth", "status", "--debug", "--pat", CANARY],
            None,
        ),
        (
            "config show",
            vec!["config", "show", "--debug", "--origin"],
            None,
        ),
        (
            "config show --json",
            vec!["config", "show", "--debug", "--origin", "--json"],
            None,
        ),
        (
            "config validate",
            vec!["config", "validate", "--debug"],
            None,
        ),
        ("auth providers", vec!["auth", "providers", "--debug"], None),
        ("version", vec!["version", "--debug"], None),
        ("logout", vec!["logout", "--debug"], None),
    ];
    for (label, args, input) in &commands {
        let out = env.run_stdin(args, input.as_deref());
        assert_clean(label, &out);
    }
    // the debug log really is on: it shows the chain and the HTTP calls
    let out = env.run(&["auth", "status", "--debug", "--pat", CANARY]);
    assert!(out.stderr.contains("chain: flag"), "{out:?}");
    assert!(out.stderr.contains("POST http://127.0.0.1"), "{out:?}");

    // with the PAT in the environment and in a config file too
    env.set("CYBEDEFEND_PAT", CANARY);
    for (label, args, input) in &commands {
        assert_clean(label, &env.run_stdin(args, input.as_deref()));
    }
    env.vars.retain(|(k, _)| k != "CYBEDEFEND_PAT");
    env.write(&env.dot().join("config.yaml"), &format!("pat: {CANARY}\n"));
    for (label, args, input) in &commands {
        assert_clean(label, &env.run_stdin(args, input.as_deref()));
    }
}

#[test]
fn auth_token_prints_only_the_access_token_never_the_pat() {
    let d = Double::start();
    d.add_pat(CANARY);
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", CANARY);
    let out = env.run(&["auth", "token", "--debug"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout, "double-access-token-000001\n");
    assert!(!out.all().contains(CANARY));
    assert!(
        !out.stderr.contains("double-access-token"),
        "debug log must not show the token: {out:?}"
    );
}

#[test]
fn a_server_echoing_the_pat_in_its_error_is_redacted() {
    let d = Double::start();
    d.set_token_mode(TokenMode::EchoSecret);
    let mut env = Env::new();
    env.use_double(&d);
    let out = env.run(&["login", "--debug", "--pat", CANARY]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(!out.all().contains(CANARY), "{out:?}");
}

#[test]
fn credentials_file_content_is_never_echoed_on_parse_errors() {
    let env = Env::new();
    env.write(
        &env.creds(),
        &format!("{{\"type\":\"pat\",\"pat\":\"{CANARY}\",,}}"),
    );
    for args in [
        vec!["auth", "status", "--debug"],
        vec!["auth", "token", "--debug"],
        vec!["auth", "status", "--json"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 4, "{out:?}");
        assert!(!out.all().contains(CANARY), "{out:?}");
    }
}
