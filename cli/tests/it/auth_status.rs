use std::fs;

use crate::common::*;

fn stored(env: &Env, pat: &str, region: &str) {
    env.write(
        &env.creds(),
        &format!("{{\"type\":\"pat\",\"region\":\"{region}\",\"pat\":\"{pat}\"}}"),
    );
    // as `login` writes it
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(env.creds(), fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn status_json_has_the_contract_shape() {
    let mut env = Env::new();
    env.set("CYBEDEFEND_PAT", "cdp_env_pat_000001");
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let j = out.json();
    assert_eq!(j["authenticated"], true);
    assert_eq!(j["source"], "env");
    assert_eq!(j["credential_type"], "pat");
    assert_eq!(j["fingerprint"], fingerprint("cdp_env_pat_000001"));
    assert_eq!(j["region"], "us");
    assert_eq!(j["api_url"], "https://api-us.cybedefend.com");
    assert_eq!(j["auth_endpoint"], "https://auth-us.cybedefend.com");
    assert_eq!(j["storage"], Value::Null);
    let chain = j["chain"].as_array().unwrap();
    let outcomes: Vec<(&str, &str)> = chain
        .iter()
        .map(|e| {
            (
                e["provider"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        vec![
            ("flag", "not_found"),
            ("env", "found"),
            ("config", "not_reached"),
            ("stored", "not_reached"),
            ("keyring", "not_reached")
        ]
    );
    for e in chain {
        assert!(e["elapsed_ms"].is_number() && e["type"].is_string() && e["detail"].is_string());
    }
    assert!(j["warnings"].as_array().unwrap().is_empty());
}

#[test]
fn documented_priority_flag_env_config_stored() {
    let mut env = Env::new();
    stored(&env, "cdp_stored_pat_01", "us");
    env.write(&env.dot().join("config.yaml"), "pat: cdp_config_pat_01\n");
    env.set("CYBEDEFEND_PAT", "cdp_env_pat_00001");

    let source = |env: &Env, args: &[&str]| {
        let mut a = vec!["auth", "status", "--offline", "--json"];
        a.extend_from_slice(args);
        let out = env.run(&a);
        assert_eq!(out.code, 0, "{out:?}");
        let j = out.json();
        (
            j["source"].as_str().unwrap().to_owned(),
            j["fingerprint"].as_str().unwrap().to_owned(),
            j["warnings"].clone(),
        )
    };

    let (src, fp, warnings) = source(&env, &["--pat", "cdp_flag_pat_0001"]);
    assert_eq!(
        (src.as_str(), fp),
        ("flag", fingerprint("cdp_flag_pat_0001"))
    );
    // every hidden credential is named
    let w = warnings.to_string();
    assert!(
        w.contains("`env`") && w.contains("`config`") && w.contains("`stored`"),
        "{w}"
    );
    assert!(w.contains(&fingerprint("cdp_stored_pat_01")), "{w}");

    let (src, _, _) = source(&env, &[]);
    assert_eq!(src, "env");

    env.vars.clear();
    let (src, fp, warnings) = source(&env, &[]);
    assert_eq!(
        (src.as_str(), fp),
        ("config", fingerprint("cdp_config_pat_01"))
    );
    assert!(warnings.to_string().contains("`stored`"));

    fs::remove_file(env.dot().join("config.yaml")).unwrap();
    let (src, _, warnings) = source(&env, &[]);
    assert_eq!(src, "stored");
    assert!(warnings.as_array().unwrap().is_empty());
}

#[test]
fn same_credential_in_two_places_is_not_a_warning() {
    let mut env = Env::new();
    stored(&env, "cdp_same_pat_0001", "us");
    env.set("CYBEDEFEND_PAT", "cdp_same_pat_0001");
    let j = env.run(&["auth", "status", "--offline", "--json"]).json();
    assert!(j["warnings"].as_array().unwrap().is_empty(), "{j}");
}

#[test]
fn no_credential_is_exit_4_with_null_source_and_a_remedy() {
    let env = Env::new();
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(out.code, 4, "{out:?}");
    let j = out.json();
    assert_eq!(j["authenticated"], false);
    assert_eq!(j["source"], Value::Null);
    assert!(
        j["chain"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["outcome"] == "not_found")
    );

    let human = env.run(&["auth", "status", "--offline"]);
    assert_eq!(human.code, 4);
    assert!(human.stdout.contains("Not authenticated"));
    assert!(human.stderr.contains("cybedefend login --pat"), "{human:?}");
}

#[test]
fn empty_env_pat_is_treated_as_unset_and_whitespace_is_trimmed() {
    let mut env = Env::new();
    env.set("CYBEDEFEND_PAT", "");
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(out.code, 4);
    assert_eq!(out.json()["chain"][1]["detail"], "CYBEDEFEND_PAT is empty");

    let mut env = Env::new();
    env.set("CYBEDEFEND_PAT", "  cdp_padded_pat_01\n");
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(out.code, 0);
    assert_eq!(out.json()["fingerprint"], fingerprint("cdp_padded_pat_01"));
    assert!(!out.all().contains("cdp_padded_pat_01"));

    let mut env = Env::new();
    env.set("CYBEDEFEND_PAT", "cdp_two words");
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("CYBEDEFEND_PAT"), "{out:?}");
    assert!(!out.all().contains("cdp_two"), "{out:?}");
}

#[test]
fn corrupt_truncated_or_unknown_credentials_are_explained_and_left_alone() {
    for (content, needle) in [
        (
            "{\"type\":\"pat\",\"region\":\"eu\",\"pat\":\"cdp_trunc",
            "not valid JSON",
        ),
        ("not json at all", "not valid JSON"),
        ("", "empty"),
        (
            "{\"type\":\"saml\",\"region\":\"eu\"}",
            "unknown type `saml`",
        ),
        (
            "{\"type\":\"pat\",\"region\":\"mars\",\"pat\":\"cdp_x123456\"}",
            "unknown region `mars`",
        ),
    ] {
        let env = Env::new();
        env.write(&env.creds(), content);
        let out = env.run(&["auth", "status", "--offline", "--json"]);
        assert_eq!(out.code, 4, "{content:?}: {out:?}");
        let j = out.json();
        assert_eq!(j["authenticated"], false);
        assert!(
            j["error"].as_str().unwrap().contains(needle),
            "{content:?}: {j}"
        );
        let stored = &j["chain"][3];
        assert_eq!(stored["outcome"], "error");

        let human = env.run(&["auth", "token"]);
        assert_eq!(human.code, 4, "{human:?}");
        assert!(human.stderr.contains("credentials.json"), "{human:?}");
        assert!(human.stderr.contains("cybedefend login"), "{human:?}");
        assert!(!human.all().contains("cdp_trunc"));
        assert_eq!(
            fs::read_to_string(env.creds()).unwrap(),
            content,
            "file must be untouched"
        );
    }
}

#[test]
fn online_status_checks_the_credential_with_one_exchange() {
    let d = Double::start();
    d.add_pat("cdp_good_pat_0001");
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", "cdp_good_pat_0001");
    let out = env.run(&["auth", "status", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["checked_with_server"], true);
    assert_eq!(d.requests_to("/oidc/token").len(), 1);

    env.vars.retain(|(k, _)| k != "CYBEDEFEND_PAT");
    env.set("CYBEDEFEND_PAT", "cdp_revoked_pat_1");
    let out = env.run(&["auth", "status", "--json"]);
    assert_eq!(out.code, 4, "{out:?}");
    let j = out.json();
    assert_eq!(j["authenticated"], false);
    assert_eq!(j["source"], "env");
    assert!(j["error"].as_str().unwrap().contains("invalid_grant"));

    let offline = env.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(offline.code, 0);
    assert_eq!(
        d.requests_to("/oidc/token").len(),
        2,
        "--offline makes no request"
    );
}

#[test]
fn stored_oauth_session_reports_expiry() {
    let env = Env::new();
    env.write(
        &env.creds(),
        r#"{"type":"oauth","region":"eu","access_token":"at_valid_123456","refresh_token":"rt_valid_123456","token_expiry":"2099-01-01T00:00:00Z"}"#,
    );
    let j = env.run(&["auth", "status", "--json"]).json();
    assert_eq!(j["credential_type"], "oauth");
    assert_eq!(j["expires_at"], "2099-01-01T00:00:00Z");
    assert_eq!(j["authenticated"], true);

    env.write(
        &env.creds(),
        r#"{"type":"oauth","region":"eu","access_token":"at_old_1234567","token_expiry":"2001-01-01T00:00:00Z"}"#,
    );
    let out = env.run(&["auth", "status", "--json"]);
    assert_eq!(out.code, 4);
    assert!(out.json()["error"].as_str().unwrap().contains("expired"));
}

#[test]
fn binary_registers_every_built_in_provider_type() {
    let env = Env::new();
    let out = env.run(&["auth", "providers", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let j = out.json();
    let types: Vec<&str> = j["types"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["type"].as_str().unwrap())
        .collect();
    for t in cybedefend_providers::BUILT_IN_TYPES {
        assert!(
            types.contains(t),
            "{t} not registered in the binary: {types:?}"
        );
    }
    assert_eq!(
        j["default_chain"],
        serde_json::json!(["flag", "env", "config", "stored", "keyring"])
    );
}

#[test]
fn output_that_cannot_be_written_fails_the_command_and_a_closed_pipe_ends_it_quietly() {
    let mut env = Env::new();
    env.set("CYBEDEFEND_PAT", "cdp_full_disk_out_01");
    // every way out to stdout is checked: a completion script too (it used to panic)
    for args in [
        &["auth", "status", "--offline", "--json"][..],
        &["completion", "bash"],
        &["config", "show"],
        &["scan", "--dir", ".", "--dry-run", "--list"],
        &["--help"],
        &["--version"],
    ] {
        let mut c = env.command(args);
        c.stdout(
            std::fs::OpenOptions::new()
                .write(true)
                .open("/dev/full")
                .unwrap(),
        )
        .stderr(std::process::Stdio::piped());
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("the output could not be written"), "{err}");
        assert!(!err.contains("internal error"), "{err}");
    }
    // a reader that stops early (`| head -c1`): no error, the command's own exit code
    let mut c = env.command(&["auth", "status", "--offline", "--json"]);
    c.env("CYBEDEFEND_PAT", "cdp_full_disk_out_01");
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("could not be written"));
}

/// `auth status --json` whole, against a file: a field renamed, dropped, added or moved shows
/// here as a diff (`UPDATE_GOLDEN=1` rewrites the files after a deliberate change; review the
/// diff like code). Durations and times are replaced (after a check of their form) and so
/// is the double's address, nothing else.
#[test]
fn status_json_is_pinned_by_golden_files() {
    fn normalised(out: &Out, double: Option<&str>) -> String {
        let mut v = out.json();
        for e in v["chain"].as_array_mut().unwrap() {
            e["elapsed_ms"] = Value::from(0);
        }
        if let Some(t) = v["expires_at"].as_str() {
            assert!(t.ends_with('Z') && t.contains('T'), "not RFC 3339 UTC: {t}");
            v["expires_at"] = Value::from("RFC3339");
        }
        let mut text = serde_json::to_string_pretty(&v).unwrap();
        if let Some(url) = double {
            text = text.replace(url, "http://DOUBLE");
        }
        text + "\n"
    }
    fn check(name: &str, actual: &str) {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/it/golden")
            .join(name);
        if std::env::var_os("UPDATE_GOLDEN").is_some() {
            fs::write(&path, actual).unwrap();
        }
        let expected = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("{}: {e} (UPDATE_GOLDEN=1 writes it)", path.display()));
        assert_eq!(
            expected, actual,
            "{name} differs from the golden file (UPDATE_GOLDEN=1 rewrites it)"
        );
    }

    // offline, a PAT from the environment
    let mut env = Env::new();
    env.set("CYBEDEFEND_PAT", "cdp_golden_pat_0001");
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    check("auth_status_offline.json", &normalised(&out, None));

    // online: accepted, with the account and its organisations
    let d = Double::start();
    d.add_pat("cdp_golden_pat_0002");
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", "cdp_golden_pat_0002");
    let out = env.run(&["auth", "status", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    check("auth_status_online.json", &normalised(&out, Some(&d.url())));

    // nothing found: the error, its kind and hint
    let env = Env::new();
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(out.code, 4, "{out:?}");
    check("auth_status_none.json", &normalised(&out, None));
}

/// What auth status says the server decided.
mod server_verdicts {
    use super::*;
    use crate::common::{DEMO_PAT as PAT, demo as setup};

    use std::time::Duration;

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
}

/// What a person reads from `auth status`, whole (`cargo insta review`, or INSTA_UPDATE=always,
/// after a deliberate change).
#[test]
fn status_text_is_pinned() {
    let mut env = Env::new();
    env.set("CYBEDEFEND_PAT", "cdp_snapshot_pat_001");
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 0, "{out:?}");
    insta::assert_snapshot!("status_offline_env_pat", env.human(&out, None));

    let env = Env::new();
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 4, "{out:?}");
    insta::assert_snapshot!("status_nothing_found", env.human(&out, None));
}
