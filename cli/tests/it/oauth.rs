//! Browser login against a real OpenID Connect server (oidc-provider, tests/oidc/server.mjs),
//! driven through `$BROWSER` by a browserless login driver.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::common::*;

fn oidc_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../tests/oidc")
}

/// The OIDC server, stopped on drop.
struct Oidc {
    child: Child,
    url: String,
}

impl Oidc {
    /// Starts the server, or returns None (with a loud message) when the test tools are not
    /// installed; scripts/test.sh installs them and sets CYBEDEFEND_TEST_OIDC=1, which turns a
    /// missing install into a failure.
    fn start(pats: &[&str]) -> Option<Self> {
        let required = std::env::var("CYBEDEFEND_TEST_OIDC").is_ok_and(|v| v == "1");
        if !oidc_dir().join("node_modules/oidc-provider").exists() {
            assert!(
                !required,
                "CYBEDEFEND_TEST_OIDC=1 but tests/oidc/node_modules is missing"
            );
            missing(
                "oauth",
                "the OpenID Connect server (tests/oidc/node_modules)",
                "scripts/test.sh runs `npm ci` in tests/oidc",
            );
            return None;
        }
        let mut child = Command::new("node")
            .arg("server.mjs")
            .current_dir(oidc_dir())
            .env("CLIENT_ID", cybedefend_platform_double::CLI_APP_ID)
            .env("PATS", pats.join(","))
            .env("ACCESS_TTL", "600")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("node");
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let port = line
            .trim()
            .strip_prefix("READY ")
            .expect("READY line")
            .to_owned();
        // Keep draining stdout: a closed pipe would kill the server at its next notice.
        std::thread::spawn(move || {
            let mut sink = String::new();
            while reader.read_line(&mut sink).is_ok_and(|n| n > 0) {
                sink.clear();
            }
        });
        Some(Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    fn stats(&self) -> Value {
        use std::io::{Read, Write};
        let addr = self.url.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        write!(
            s,
            "GET /__stats HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
        serde_json::from_str(body).unwrap_or_else(|e| panic!("stats: {e}: {text}"))
    }
}

impl Drop for Oidc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An environment whose API is the platform double (for /client-apps) and whose auth server is
/// the OIDC server; `$BROWSER` is the login driver.
fn setup(oidc: &Oidc, d: &Double) -> Env {
    let mut env = Env::new();
    env.set("CYBEDEFEND_API_URL", &d.url())
        .set("CYBEDEFEND_AUTH_ENDPOINT", &oidc.url)
        .set("BROWSER", oidc_dir().join("browser.sh").to_str().unwrap());
    let log = env.tmp.path().join("driver.log");
    env.set("DRIVER_LOG", log.to_str().unwrap());
    env
}

fn driver_log(env: &Env) -> String {
    fs::read_to_string(env.tmp.path().join("driver.log")).unwrap_or_default()
}

/// The driver is a separate process that may still be writing when the CLI has exited.
fn wait_for_log(env: &Env, needle: &str) -> String {
    for _ in 0..100 {
        let log = driver_log(env);
        if log.contains(needle) {
            return log;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    driver_log(env)
}

fn stored(env: &Env) -> Value {
    serde_json::from_str(&fs::read_to_string(env.creds()).unwrap()).unwrap()
}

fn login(env: &Env, extra: &[&str]) -> Out {
    let mut args = vec!["login", "--callback-port", "0", "--login-timeout", "30s"];
    args.extend_from_slice(extra);
    env.run(&args)
}

fn expire(env: &Env) {
    let mut v = stored(env);
    v["token_expiry"] = "2001-01-01T00:00:00Z".into();
    fs::write(env.creds(), serde_json::to_string_pretty(&v).unwrap()).unwrap();
}

#[test]
fn browser_login_stores_a_session_with_pkce_on_the_registered_port() {
    let Some(oidc) = Oidc::start(&[]) else { return };
    let d = Double::start();
    let env = setup(&oidc, &d);
    // the default port is the one registered for the platform's client
    let out = env.run(&["login", "--login-timeout", "30s"]);
    assert_eq!(out.code, 0, "{out:?}\n{}", driver_log(&env));
    let v = stored(&env);
    assert_eq!(v["type"], "oauth");
    assert_eq!(v["region"], "us");
    assert!(v["access_token"].as_str().unwrap().len() > 20);
    assert!(v["refresh_token"].as_str().unwrap().len() > 10);
    assert!(v["token_expiry"].as_str().unwrap().ends_with('Z'));
    #[cfg(unix)]
    assert_eq!(mode(&env.creds()), 0o600);

    let log = wait_for_log(&env, "callback-page");
    let open = log.lines().find(|l| l.starts_with("open ")).unwrap();
    let url = open.trim_start_matches("open ");
    for part in [
        "/oidc/auth?",
        "client_id=double-cli-app",
        "redirect_uri=http%3A%2F%2Flocalhost%3A9877%2Fcallback",
        "response_type=code",
        "scope=openid+offline_access",
        "code_challenge_method=S256",
        "prompt=consent",
        "state=",
        "code_challenge=",
        &format!(
            "resource={}",
            d.url().replace(':', "%3A").replace('/', "%2F")
        ),
    ] {
        assert!(url.contains(part), "{part} missing from {url}");
    }
    assert!(log.contains("callback-status 200"), "{log}");
    assert!(log.contains("Logged in"), "success page shown: {log}");
    assert!(
        out.stderr.contains(url),
        "the URL is printed in case no browser opens"
    );
    assert_eq!(oidc.stats()["authorization_code"], 1);

    let status = env.run(&["auth", "status", "--json"]);
    assert_eq!(status.code, 0, "{status:?}");
    let j = status.json();
    assert_eq!(j["credential_type"], "oauth");
    assert_eq!(j["source"], "stored");
    assert!(j["expires_at"].is_string());
    assert!(!status.all().contains(v["access_token"].as_str().unwrap()));
}

#[test]
fn wrong_state_access_denied_and_no_callback_fail_cleanly() {
    let Some(oidc) = Oidc::start(&[]) else { return };
    let d = Double::start();
    let mut env = setup(&oidc, &d);

    // A callback with a forged `state` is answered 400 and ignored: the login keeps waiting
    // (here until its time limit, since no real callback comes).
    env.set("DRIVER_MODE", "wrong-state");
    let out = env.run(&["login", "--callback-port", "0", "--login-timeout", "4s"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("timed out after 4s"), "{out:?}");
    assert!(
        wait_for_log(&env, "callback-status").contains("callback-status 400"),
        "{}",
        driver_log(&env)
    );
    assert!(!env.creds().exists());

    env.vars.retain(|(k, _)| k != "DRIVER_MODE");
    env.set("DRIVER_MODE", "deny");
    let out = login(&env, &[]);
    assert_eq!(out.code, 4, "{out:?}\n{}", driver_log(&env));
    assert!(out.stderr.contains("access_denied"), "{out:?}");
    assert!(!env.creds().exists());

    env.vars.retain(|(k, _)| k != "DRIVER_MODE");
    env.set("DRIVER_MODE", "none");
    let start = std::time::Instant::now();
    let out = env.run(&["login", "--callback-port", "0", "--login-timeout", "2s"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("timed out after 2s"), "{out:?}");
    assert!(start.elapsed().as_secs() < 20);
    assert!(!env.creds().exists());
}

#[test]
fn forged_callbacks_and_idle_connections_do_not_end_or_delay_the_login() {
    // issue 15: one callback with a wrong `state` ended the pending login, and an idle local
    // connection delayed the real callback by 30 s.
    let Some(oidc) = Oidc::start(&[]) else { return };
    let d = Double::start();
    let mut env = setup(&oidc, &d);
    env.set("DRIVER_MODE", "forged-first");
    let start = std::time::Instant::now();
    let out = login(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}\n{}", driver_log(&env));
    assert!(start.elapsed().as_secs() < 15, "took {:?}", start.elapsed());
    let log = driver_log(&env);
    assert_eq!(log.matches("forged-status 400").count(), 2, "{log}");
    assert!(log.contains("callback-status 200"), "{log}");
    assert_eq!(stored(&env)["type"], "oauth");
}

#[test]
fn a_busy_callback_port_is_explained() {
    let Some(oidc) = Oidc::start(&[]) else { return };
    let d = Double::start();
    let env = setup(&oidc, &d);
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port().to_string();
    let out = env.run(&["login", "--callback-port", &port, "--login-timeout", "5s"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains(&format!("port {port} is in use")),
        "{out:?}"
    );
    assert!(out.stderr.contains("--callback-port 0"), "{out:?}");
}

#[test]
fn no_browser_prints_the_url_and_waits() {
    let Some(oidc) = Oidc::start(&[]) else { return };
    let d = Double::start();
    let env = setup(&oidc, &d);
    let out = env.run(&[
        "login",
        "--no-browser",
        "--callback-port",
        "0",
        "--login-timeout",
        "1s",
    ]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("Open this URL in a browser"), "{out:?}");
    assert!(driver_log(&env).is_empty(), "no browser was started");
}

#[test]
fn ci_refuses_browser_login_at_once() {
    let env = Env::new();
    let out = env.run(&["login", "--ci"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("use a PAT"), "{out:?}");
    let mut env = Env::new();
    env.set("CI", "true");
    let start = std::time::Instant::now();
    let out = env.run(&["login"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(start.elapsed().as_secs() < 5);
}

#[test]
fn expired_sessions_refresh_with_rotation_and_reuse_is_refused_without_damage() {
    let Some(oidc) = Oidc::start(&[]) else { return };
    let d = Double::start();
    let env = setup(&oidc, &d);
    assert_eq!(login(&env, &[]).code, 0);
    let first = stored(&env);
    expire(&env);

    let out = env.run(&["auth", "token"]);
    assert_eq!(out.code, 0, "{out:?}");
    let second = stored(&env);
    assert_eq!(out.stdout.trim(), second["access_token"].as_str().unwrap());
    assert_ne!(second["access_token"], first["access_token"]);
    assert_ne!(second["refresh_token"], first["refresh_token"], "rotated");
    assert_eq!(oidc.stats()["refresh_token"], 1);

    // fresh again: no second refresh
    assert_eq!(env.run(&["auth", "token"]).code, 0);
    assert_eq!(oidc.stats()["refresh_token"], 1);

    // an old (already rotated) refresh token is refused; the file is left as it was
    let mut stale = second.clone();
    stale["refresh_token"] = first["refresh_token"].clone();
    stale["token_expiry"] = "2001-01-01T00:00:00Z".into();
    let text = serde_json::to_string_pretty(&stale).unwrap();
    fs::write(env.creds(), &text).unwrap();
    let out = env.run(&["auth", "token"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        out.stderr.contains("expired or was revoked") && out.stderr.contains("cybedefend login"),
        "{out:?}"
    );
    assert_eq!(
        fs::read_to_string(env.creds()).unwrap(),
        text,
        "nothing touched"
    );
    assert!(oidc.stats()["invalid_grant"].as_u64().unwrap() >= 1);
}

/// Issue 8: `scan` and `results` failed with "the session has expired" once the access token
/// expired, although a refresh token was stored, and a 401 was not retried after a refresh.
/// Every API command goes through the same bearer path now.
#[test]
fn every_api_command_refreshes_an_expired_session_and_retries_once_after_a_401() {
    let Some(oidc) = Oidc::start(&[]) else { return };
    let d = Double::start();
    let project = "77777777-7777-4777-8777-777777777777";
    d.add_project(project, "refresh");
    d.accept_any_token_but(&[]);
    let env = setup(&oidc, &d);
    assert_eq!(login(&env, &[]).code, 0);
    env.write(&env.work().join("repo/a.js"), "x");

    let commands: [&[&str]; 3] = [
        &["results", "--project-id", project, "-t", "sast"],
        &[
            "scan",
            "--dir",
            "repo",
            "--project-id",
            project,
            "--wait=false",
            "--ci",
        ],
        &["auth", "token"],
    ];
    let mut refreshes = 0;
    for cmd in commands {
        // expired: refreshed before the call
        expire(&env);
        let before = stored(&env)["access_token"].clone();
        let out = env.run(cmd);
        assert_eq!(out.code, 0, "{cmd:?}: {out:?}");
        refreshes += 1;
        assert_eq!(oidc.stats()["refresh_token"], refreshes, "{cmd:?}");
        assert_ne!(stored(&env)["access_token"], before, "{cmd:?}");

        // fresh, but refused by the API: one refresh and one retry
        let current = stored(&env)["access_token"].as_str().unwrap().to_owned();
        d.accept_any_token_but(&[&current]);
        let out = env.run(cmd);
        if cmd[0] != "auth" {
            assert_eq!(out.code, 0, "{cmd:?} after a 401: {out:?}");
            refreshes += 1;
        }
        assert_eq!(oidc.stats()["refresh_token"], refreshes, "{cmd:?}");
        d.accept_any_token_but(&[]);
    }
}

#[test]
fn twenty_processes_with_an_expired_token_share_one_refresh() {
    let Some(oidc) = Oidc::start(&[]) else { return };
    let d = Double::start();
    let env = setup(&oidc, &d);
    assert_eq!(login(&env, &[]).code, 0);
    expire(&env);
    let children: Vec<_> = (0..20)
        .map(|_| {
            env.command(&["auth", "token"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut tokens = Vec::new();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        tokens.push(String::from_utf8_lossy(&out.stdout).trim().to_owned());
    }
    let stats = oidc.stats();
    eprintln!(
        "20 processes: refreshes {}, refresh errors {}",
        stats["refresh_token"], stats["refresh_errors"]
    );
    assert_eq!(stats["refresh_token"], 1, "{stats}");
    assert_eq!(stats["refresh_errors"], 0, "{stats}");
    let v = stored(&env);
    assert!(
        tokens
            .iter()
            .all(|t| t == v["access_token"].as_str().unwrap())
    );
}

#[test]
fn logout_revokes_the_refresh_token() {
    let Some(oidc) = Oidc::start(&[]) else { return };
    let d = Double::start();
    let env = setup(&oidc, &d);
    assert_eq!(login(&env, &[]).code, 0);
    let out = env.run(&["logout"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("Revoked the session's refresh token"),
        "{out:?}"
    );
    assert_eq!(oidc.stats()["revocations"], 1);
    assert!(!env.creds().exists());
}

#[test]
fn pat_login_and_exchange_work_against_the_real_server() {
    let Some(oidc) = Oidc::start(&["cdp_real_server_pat"]) else {
        return;
    };
    let d = Double::start();
    let env = setup(&oidc, &d);
    let out = env.run(&["login", "--pat", "cdp_real_server_pat"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(oidc.stats()["token_exchange"], 1);
    let out = env.run(&["login", "--pat", "cdp_unknown_pat_123"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("invalid_grant"), "{out:?}");
    assert_eq!(
        stored(&env)["pat"],
        "cdp_real_server_pat",
        "the good login stays"
    );
}
