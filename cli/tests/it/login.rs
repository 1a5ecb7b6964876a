use std::fs;

use crate::common::*;

const PAT: &str = "cdp_login_pat_0001";

#[test]
fn pat_login_validates_once_stores_official_format_privately_and_remembers_region() {
    let d = Double::start();
    d.add_pat(PAT);
    let mut env = Env::new();
    env.use_double(&d);

    let out = env.run(&["login", "--pat", PAT, "--region", "eu"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("Logged in to region eu"), "{out:?}");
    assert!(out.stdout.is_empty(), "login prints no data: {out:?}");

    // exactly one exchange, with the fields of the platform's token exchange
    let exchanges = d.requests_to("/oidc/token");
    assert_eq!(exchanges.len(), 1);
    let form = exchanges[0].form();
    assert_eq!(
        form["grant_type"],
        "urn:ietf:params:oauth:grant-type:token-exchange"
    );
    assert_eq!(
        form["subject_token_type"],
        "urn:logto:token-type:personal_access_token"
    );
    assert_eq!(form["subject_token"], PAT);
    assert_eq!(
        form["client_id"], "double-cli-app",
        "client id comes from /client-apps"
    );
    assert_eq!(form["resource"], d.url());

    let text = fs::read_to_string(env.creds()).unwrap();
    let stored: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        stored,
        serde_json::json!({"type": "pat", "region": "eu", "pat": PAT})
    );
    assert!(
        text.starts_with("{\n  \"type\""),
        "2-space indented like the official CLI"
    );
    #[cfg(unix)]
    {
        assert_eq!(mode(&env.creds()), 0o600);
        assert_eq!(mode(&env.dot()), 0o700);
    }

    // the region is remembered: no --region, and status says where it came from
    let mut env2 = Env {
        tmp: env.tmp,
        vars: vec![],
        user: None,
    };
    env2.set("CYBEDEFEND_AUTH_ENDPOINT", &d.url());
    let status = env2.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(status.code, 0, "{status:?}");
    let j = status.json();
    assert_eq!(j["region"], "eu");
    assert_eq!(j["api_url"], "https://api-eu.cybedefend.com");
    assert_eq!(j["source"], "stored");
    assert_eq!(j["storage"], "file");
    assert_eq!(j["fingerprint"], fingerprint(PAT));
}

#[test]
fn with_token_reads_stdin_and_trims_whitespace() {
    let d = Double::start();
    d.add_pat(PAT);
    let mut env = Env::new();
    env.use_double(&d);
    let out = env.run_stdin(&["login", "--with-token"], Some(&format!("  {PAT}  \n\n")));
    assert_eq!(out.code, 0, "{out:?}");
    let stored: Value = serde_json::from_str(&fs::read_to_string(env.creds()).unwrap()).unwrap();
    assert_eq!(stored["pat"], PAT);
    assert_eq!(stored["region"], "us");
    assert!(!out.all().contains(PAT));

    let empty = env.run_stdin(&["login", "--with-token"], Some("\n"));
    assert_eq!(empty.code, 2, "{empty:?}");
    assert!(empty.stderr.contains("no PAT"), "{empty:?}");
}

#[test]
fn logout_removes_the_session_and_says_so_when_there_is_none() {
    let d = Double::start();
    d.add_pat(PAT);
    let mut env = Env::new();
    env.use_double(&d);
    assert_eq!(env.run(&["login", "--pat", PAT]).code, 0);
    // the exchanged token was cached; logout forgets it too
    let cache = env.dot().join("token-cache.json");
    assert!(
        fs::read_to_string(&cache)
            .unwrap()
            .contains("double-access-token")
    );

    let out = env.run(&["logout"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("Logged out"), "{out:?}");
    assert!(!env.creds().exists());
    assert!(
        !fs::read_to_string(&cache)
            .unwrap()
            .contains("double-access-token")
    );

    let again = env.run(&["logout"]);
    assert_eq!(again.code, 0, "{again:?}");
    assert!(again.stderr.contains("Not logged in"), "{again:?}");

    let status = env.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(status.code, 4);
    assert_eq!(status.json()["authenticated"], false);
}

#[test]
fn logout_removes_a_corrupt_file_which_is_the_remedy() {
    let env = Env::new();
    env.write(&env.creds(), "{\"type\": \"pat\", \"pat\": \"cdp_trunc");
    let out = env.run(&["logout"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!env.creds().exists());
}

fn assert_login_fails_and_keeps_session(mode: TokenMode, code: i32, needle: &str) {
    let d = Double::start();
    d.add_pat(PAT);
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_HTTP_TIMEOUT", "1");
    let before =
        "{\n  \"type\": \"pat\",\n  \"region\": \"eu\",\n  \"pat\": \"cdp_previous_login\"\n}";
    env.write(&env.creds(), before);
    d.set_token_mode(mode.clone());
    let out = env.run(&["login", "--pat", PAT]);
    assert_eq!(out.code, code, "{mode:?}: {out:?}");
    assert!(out.stderr.contains(needle), "{mode:?}: {out:?}");
    assert!(
        out.stderr.contains("nothing was stored"),
        "{mode:?}: {out:?}"
    );
    let error_lines = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .count();
    assert_eq!(error_lines, 1, "one error line: {out:?}");
    assert!(out.stderr.contains("hint:"), "says what to do: {out:?}");
    assert_eq!(
        fs::read_to_string(env.creds()).unwrap(),
        before,
        "{mode:?} touched the session"
    );
    assert!(!out.all().contains(PAT), "{mode:?} leaked the PAT");
}

#[test]
fn token_endpoint_failures_give_one_line_errors_and_keep_the_stored_session() {
    assert_login_fails_and_keeps_session(TokenMode::Unauthorized, 4, "rejected the PAT");
    assert_login_fails_and_keeps_session(TokenMode::InvalidGrant, 4, "invalid_grant");
    assert_login_fails_and_keeps_session(TokenMode::NoAccessToken, 1, "without an access token");
    assert_login_fails_and_keeps_session(TokenMode::Html, 1, "HTML page");
    // the server failed or did not answer: exit 3, nothing decided about the PAT
    assert_login_fails_and_keeps_session(TokenMode::ServerError, 3, "HTTP 500");
    assert_login_fails_and_keeps_session(TokenMode::NotAllowed, 1, "does not allow token exchange");
    assert_login_fails_and_keeps_session(
        TokenMode::Slow(std::time::Duration::from_secs(4)),
        3,
        "did not answer within 1s",
    );
}

#[test]
fn unreachable_auth_server_is_explained() {
    // a port that was free a moment ago: nothing listens there
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let mut env = Env::new();
    env.set("CYBEDEFEND_API_URL", &url)
        .set("CYBEDEFEND_AUTH_ENDPOINT", &url);
    let out = env.run(&["login", "--pat", PAT]);
    // exit 3: the server could not be reached, nothing was decided about the PAT
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr.contains("cannot connect to 127.0.0.1"),
        "{out:?}"
    );
    assert!(!env.creds().exists());
}

#[test]
fn client_apps_outage_falls_back_to_the_region_client_id() {
    let d = Double::start();
    d.add_pat(PAT);
    d.set_client_apps_ok(false);
    let mut env = Env::new();
    env.use_double(&d);
    let out = env.run(&["login", "--pat", PAT, "--region", "eu"]);
    assert_eq!(out.code, 0, "{out:?}");
    let form = d.requests_to("/oidc/token")[0].form();
    assert_eq!(form["client_id"], "fm90ay05zohu8fk2q45ms");
}

#[test]
fn login_without_pat_in_ci_refuses_with_the_remedy() {
    let mut env = Env::new();
    env.set("CYBEDEFEND_PAT", "cdp_env_value_1");
    let out = env.run(&["login", "--ci"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("--pat"), "{out:?}");
    assert!(out.stderr.contains("CYBEDEFEND_PAT is set"), "{out:?}");
}

#[test]
fn login_warns_when_env_pat_will_shadow_the_new_login() {
    let d = Double::start();
    d.add_pat(PAT);
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", "cdp_other_env_pat");
    let out = env.run(&["login", "--pat", PAT]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("CYBEDEFEND_PAT is set"), "{out:?}");
}

#[test]
fn cybedefend_home_moves_the_folder() {
    let d = Double::start();
    d.add_pat(PAT);
    let mut env = Env::new();
    env.use_double(&d);
    let home = env.tmp.path().join("elsewhere");
    env.set("CYBEDEFEND_HOME", home.to_str().unwrap());
    let out = env.run(&["login", "--pat", PAT]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(home.join("credentials.json").exists());
    assert!(!env.creds().exists(), "~/.cybedefend is not used");
    env.write(&home.join("config.yaml"), "branch: from-moved-home\n");
    let j = env.run(&["config", "show", "--json"]).json();
    assert_eq!(j["branch"], "from-moved-home");
}

#[test]
fn a_write_killed_half_way_leaves_no_secret_behind_after_the_next_write_or_logout() {
    let d = Double::start();
    d.add_pat("cdp_after_a_kill_0001");
    let mut env = Env::new();
    env.use_double(&d);
    std::fs::create_dir_all(env.dot()).unwrap();
    let mode = |p: &std::path::Path, m: u32| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(m)).unwrap();
    };
    mode(&env.dot(), 0o700);
    // what a SIGKILL during an atomic write leaves: the temporary, holding the secret
    let left = env.dot().join(".credentials.json.cybedefend-AbC123.tmp");
    let cache_left = env.dot().join(".token-cache.json.cybedefend-XyZ789.tmp");
    let legacy = env.dot().join(".cybedefend-Old456.tmp");
    for f in [&left, &cache_left, &legacy] {
        std::fs::write(f, "{\"pat\":\"cdp_killed_write_secret_1\"}").unwrap();
        mode(f, 0o600);
    }
    // the old name's temporaries go only once no write of theirs can still be running
    let old = std::process::Command::new("touch")
        .args(["-d", "2 hours ago"])
        .arg(&legacy)
        .status()
        .unwrap();
    assert!(old.success());
    let out = env.run(&["login", "--pat", "cdp_after_a_kill_0001"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!left.exists() && !cache_left.exists() && !legacy.exists());
    // logout removes what a killed write left too
    std::fs::write(&left, "{\"pat\":\"cdp_killed_write_secret_2\"}").unwrap();
    mode(&left, 0o600);
    let out = env.run(&["logout"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!left.exists(), "logout left a temporary with a secret");
    let rest: Vec<String> = std::fs::read_dir(env.dot())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".tmp"))
        .collect();
    assert!(rest.is_empty(), "{rest:?}");
}

#[cfg(unix)]
#[test]
fn a_signal_during_a_session_refresh_waits_until_the_new_session_is_saved() {
    use std::os::unix::fs::PermissionsExt;
    let d = Double::start();
    let mut env = Env::new();
    env.use_double(&d);
    fs::create_dir_all(env.dot()).unwrap();
    fs::set_permissions(env.dot(), fs::Permissions::from_mode(0o700)).unwrap();
    // the refresh answers slowly: the signal comes while it is on its way
    d.set_token_mode(TokenMode::Slow(std::time::Duration::from_millis(1500)));
    let mut refresh = "rt-original-000001".to_owned();
    d.add_refresh_token(&refresh);
    for signal in ["-TERM", "-INT", "-HUP"] {
        // a stored browser session whose access token has expired
        env.write(
            &env.creds(),
            &format!(
                r#"{{"type":"oauth","region":"us","access_token":"at-expired-000001","refresh_token":"{refresh}","token_expiry":"2020-01-01T00:00:00Z"}}"#
            ),
        );
        fs::set_permissions(env.creds(), fs::Permissions::from_mode(0o600)).unwrap();
        let before = d.requests_to("/oidc/token").len();
        let child = env
            .command(&["auth", "token"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut waited = 0;
        while d.requests_to("/oidc/token").len() == before && waited < 200 {
            std::thread::sleep(std::time::Duration::from_millis(25));
            waited += 1;
        }
        assert!(waited < 200, "the refresh was never sent");
        // the request is at the server: the signal comes while the CLI waits for the answer
        std::process::Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130), "{signal}: {out:?}");
        // the rotated session was saved before the command stopped: still logged in
        let stored: Value =
            serde_json::from_str(&fs::read_to_string(env.creds()).unwrap()).unwrap();
        let new = stored["refresh_token"].as_str().unwrap().to_owned();
        assert_ne!(new, refresh, "{signal}: the rotated refresh token was lost");
        assert!(d.refresh_token_works(&new), "{signal}: {stored}");
        refresh = new;
    }
}

/// The login timeout as it is echoed, and logout when the keyring cannot be reached.
mod timeouts_and_keyrings {
    use super::*;
    use crate::common::demo as setup;

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
}

/// The project id is one step away: `login` names the account and its organisations (with the
/// id `--organization-id` takes), `project list` uses the only organisation or lists them in
/// its error, `auth status` reads `Name (id ID, role)`, and a missing `--project-id` points to
/// `project list`.
#[test]
fn login_names_the_account_and_project_list_finds_the_only_organisation() {
    use cybedefend_platform_double::ORG_ID;
    let d = Double::start();
    d.add_pat(PAT);
    d.add_project("77777777-7777-4777-8777-777777777777", "web-app");
    let mut env = Env::new();
    env.use_double(&d);
    let out = env.run(&["login", "--pat", PAT]);
    assert_eq!(out.code, 0, "{out:?}");
    let org = format!("Double org (id {ORG_ID}, admin)");
    assert!(
        out.stderr.contains("Account: ")
            && out.stderr.contains("(Dana Double)")
            && out.stderr.contains(&format!("organisation: {org}")),
        "{out:?}"
    );

    let out = env.run(&["project", "list"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains(&format!(
            "note: organisation Double org (id {ORG_ID}), the account's only one"
        )),
        "{out:?}"
    );
    assert!(out.stdout.contains("web-app"), "{out:?}");

    let out = env.run(&["auth", "status"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains(&format!("organisation:  {org}")),
        "{out:?}"
    );

    // two organisations: the error lists them, with the command to run
    let second = "00000000-0000-4000-8000-0000000080b2";
    d.add_org(second, "Second org");
    let out = env.run(&["project", "list"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("belongs to 2 organisations")
            && out.stderr.contains(&format!("Second org (id {second})"))
            && out
                .stderr
                .contains("cybedefend project list --organization-id"),
        "{out:?}"
    );

    let out = env.run(&["results"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("`cybedefend project list` shows the ids"),
        "{out:?}"
    );
}
