//! One login for other tools: `api`, `exec` and the loopback `proxy`, with real clients (curl,
//! Python's urllib, Node's fetch) against the platform double.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::common::{DEMO_PAT, DEMO_PROJECT, Env, demo, eventually};

/// A `proxy` running in the background, its URL and key read from its first lines.
struct Proxy {
    child: Child,
    url: String,
    key: String,
}

impl Proxy {
    fn start(env: &Env, extra: &[&str]) -> Self {
        let mut args = vec!["proxy"];
        args.extend_from_slice(extra);
        let mut child = env
            .command(&args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let url = lines.next().unwrap().unwrap();
        let key = lines.next().unwrap().unwrap();
        let url = url.strip_prefix("CYBEDEFEND_API_URL=").unwrap().to_owned();
        let key = key.strip_prefix("CYBEDEFEND_API_KEY=").unwrap().to_owned();
        Self { child, url, key }
    }

    /// Stops it with SIGTERM; its exit code and stderr.
    fn stop(mut self) -> (i32, String) {
        term(self.child.id());
        let mut err = String::new();
        std::io::Read::read_to_string(self.child.stderr.as_mut().unwrap(), &mut err).unwrap();
        let status = self.child.wait().unwrap();
        (status.code().unwrap_or(-1), err)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn term(pid: u32) {
    Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
}

/// `curl -s -o - -w '\n%{http_code}' ARGS…`: the body and the status.
fn curl(args: &[&str]) -> (String, u16) {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "20", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl (apt-get install curl)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) = text.rsplit_once('\n').unwrap();
    (body.to_owned(), code.trim().parse().unwrap_or(0))
}

/// Bearer tokens the double received on API paths (not the token endpoint).
fn bearers(d: &cybedefend_platform_double::Double) -> Vec<String> {
    d.requests()
        .iter()
        .filter(|r| !r.path.contains("/oidc/"))
        .filter_map(|r| r.headers.get("authorization").cloned())
        .collect()
}

fn exchanges(d: &cybedefend_platform_double::Double) -> usize {
    d.requests_to("/oidc/token").len()
}

#[test]
fn api_prints_the_answer_and_its_exit_code_says_what_failed() {
    let (d, mut env) = demo();
    let ok = env.run(&["api", &format!("/project/{DEMO_PROJECT}")]);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.json()["name"], "demo");
    // --include: the status line and headers, then the body; the bearer never shows
    let inc = env.run(&["api", "--include", &format!("project/{DEMO_PROJECT}")]);
    assert!(
        inc.stdout.starts_with("HTTP/1.1 200 OK\n"),
        "{}",
        inc.stdout
    );
    assert!(
        inc.stdout
            .to_lowercase()
            .contains("content-type: application/json")
    );
    for b in bearers(&d) {
        let token = b.trim_start_matches("Bearer ");
        assert!(!inc.all().contains(token), "the bearer was printed");
    }
    assert!(!ok.all().contains(DEMO_PAT) && !inc.all().contains(DEMO_PAT));
    // the PAT itself never reaches the API
    assert!(bearers(&d).iter().all(|b| !b.contains(DEMO_PAT)));
    // 404: exit 1, the server's body on stderr (neutralised), nothing on stdout
    let missing = env.run(&["api", "/project/00000000-0000-4000-8000-00000000dead"]);
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(missing.stdout.is_empty());
    assert!(missing.stderr.contains("HTTP 404"), "{}", missing.stderr);
    assert!(
        missing.stderr.contains("\"statusCode\":404"),
        "{}",
        missing.stderr
    );
    // 403: exit 4
    d.forbid(DEMO_PROJECT);
    let denied = env.run(&["api", &format!("/project/{DEMO_PROJECT}")]);
    assert_eq!(denied.code, 4, "{}", denied.stderr);
    // another origin: refused before anything is sent (exit 2)
    let before = d.requests().len();
    let other = env.run(&["api", "https://evil.example/project"]);
    assert_eq!(other.code, 2, "{}", other.stderr);
    assert!(
        other.stderr.contains("not on the API's origin"),
        "{}",
        other.stderr
    );
    assert_eq!(d.requests().len(), before);
    // unreachable: exit 3
    env.set("CYBEDEFEND_API_URL", "http://127.0.0.1:9");
    let down = env.run(&["api", "/user/profile"]);
    assert_eq!(down.code, 3, "{}", down.stderr);
}

#[test]
fn api_fields_make_the_body_and_paginate_joins_the_pages() {
    let (d, env) = demo();
    let patch = env.run(&[
        "api",
        "-X",
        "PATCH",
        &format!("/project/{DEMO_PROJECT}"),
        "-f",
        "name=renamed",
        "-F",
        "sastEnabled=false",
        "-F",
        "settings[depth]=3",
        "-H",
        "X-Trace: abc",
    ]);
    let sent = d
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.method == "PATCH")
        .expect("a PATCH reached the double");
    let body: serde_json::Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"name": "renamed", "sastEnabled": false, "settings": {"depth": 3}}),
        "{}",
        patch.all()
    );
    assert_eq!(sent.headers.get("x-trace").map(String::as_str), Some("abc"));
    assert_eq!(
        sent.headers.get("content-type").map(String::as_str),
        Some("application/json")
    );
    // the credential's headers are the CLI's
    let forged = env.run(&["api", "/user/profile", "-H", "Authorization: Bearer x"]);
    assert_eq!(forged.code, 2, "{}", forged.stderr);
    // 25 findings, 10 per page: three requests, one array of 25
    d.set_findings(
        DEMO_PROJECT,
        "sast",
        (0..25)
            .map(|i| cybedefend_platform_double::sample_finding("sast", i, "high", "to_verify"))
            .collect(),
    );
    d.set_page_cap(10);
    d.clear_requests();
    let pages = env.run(&[
        "api",
        &format!("/project/{DEMO_PROJECT}/results/sast?pageNumber=1&pageSizeNumber=10"),
        "--paginate",
    ]);
    assert_eq!(pages.code, 0, "{}", pages.stderr);
    let all: serde_json::Value = serde_json::from_str(&pages.stdout).unwrap();
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["base"]["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 25, "{}", pages.stdout);
    let unique: std::collections::BTreeSet<&str> = ids.iter().copied().collect();
    assert_eq!(unique.len(), 25);
    let asked: Vec<String> = d
        .requests_to(&format!("/project/{DEMO_PROJECT}/results/sast"))
        .iter()
        .map(|r| {
            r.query
                .iter()
                .find(|(k, _)| k == "pageNumber")
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        })
        .collect();
    assert_eq!(asked, ["1", "2", "3"]);
}

#[test]
fn exec_gives_the_program_a_token_never_the_pat() {
    let (d, mut env) = demo();
    env.set("MY_COPY", DEMO_PAT);
    let out = env.run(&["exec", "--", "sh", "-c", "env; exit 7"]);
    assert_eq!(out.code, 7, "{}", out.stderr);
    let token = out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("CYBEDEFEND_ACCESS_TOKEN="))
        .expect("a token");
    assert!(!token.is_empty() && token != DEMO_PAT);
    // a token the API takes
    let (_, code) = curl(&[
        "-H",
        &format!("Authorization: Bearer {token}"),
        &format!("{}/user/profile", d.url()),
    ]);
    assert_eq!(code, 200);
    assert!(
        out.stdout
            .contains(&format!("CYBEDEFEND_API_URL={}", d.url()))
    );
    // no variable holds the PAT: not CYBEDEFEND_PAT, nor one the user named otherwise
    assert!(!out.stdout.contains(DEMO_PAT), "{}", out.stdout);
    assert!(!out.stdout.contains("CYBEDEFEND_PAT="));
    // standard input passes through; a missing program is 127, as in a shell
    let echo = env.run_stdin(&["exec", "--", "cat"], Some("through\n"));
    assert_eq!((echo.code, echo.stdout.as_str()), (0, "through\n"));
    let missing = env.run(&["exec", "--", "no-such-program-here"]);
    assert_eq!(missing.code, 127, "{}", missing.stderr);
    assert!(missing.stderr.contains("program not found"));
    // tokens that live less than 5 minutes (a new home: nothing cached): the program is not
    // started
    d.set_expires_in(120);
    let mut fresh = Env::new();
    fresh.use_double(&d).set("CYBEDEFEND_PAT", DEMO_PAT);
    let marker = env.work().join("started");
    let short = fresh.run(&["exec", "--", "touch", marker.to_str().unwrap()]);
    assert_eq!(short.code, 4, "{}", short.stderr);
    assert!(short.stderr.contains("--proxy"), "{}", short.stderr);
    assert!(!marker.exists());
}

#[test]
fn exec_passes_sigterm_on_and_ends_with_the_programs_code() {
    let (_d, env) = demo();
    let ready = env.work().join("ready");
    let script = format!(
        "trap 'exit 42' TERM; touch {}; while :; do sleep 0.05; done",
        ready.display()
    );
    let mut child = env
        .command(&["exec", "--", "sh", "-c", &script])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    assert!(eventually(Duration::from_secs(20), || ready.exists()));
    term(child.id());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(42));
}

#[test]
fn exec_proxy_hands_out_a_key_that_works_only_on_its_port() {
    let (d, env) = demo();
    let out = env.run(&[
        "exec",
        "--proxy",
        "--",
        "sh",
        "-c",
        "env; curl -s -H \"x-api-key: $CYBEDEFEND_API_KEY\" \"$API_BASE/user/profile\"",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let var = |name: &str| {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("{name} in {}", out.stdout))
            .to_owned()
    };
    let key = var("CYBEDEFEND_API_KEY");
    assert!(key.starts_with("cdsk_"));
    assert_eq!(var("CYBEDEFEND_ACCESS_TOKEN"), key);
    assert_eq!(var("API_BASE"), var("CYBEDEFEND_API_URL"));
    assert!(var("API_BASE").starts_with("http://127.0.0.1:"));
    assert!(out.stdout.contains("dana@example.test"), "{}", out.stdout);
    assert!(!out.stdout.contains(DEMO_PAT));
    // a cybedefend run by the program says why it cannot use the key
    let nested = env.run(&[
        "exec",
        "--proxy",
        "--",
        env!("CARGO_BIN_EXE_cybedefend"),
        "api",
        "/user/profile",
    ]);
    assert_eq!(nested.code, 2, "{}", nested.stderr);
    assert!(
        nested
            .stderr
            .contains("session key of a `cybedefend proxy`"),
        "{}",
        nested.stderr
    );
    // the API got an issued token, never the key or the PAT
    let got = bearers(&d);
    assert!(!got.is_empty());
    for b in got {
        assert!(!b.contains(&key) && !b.contains(DEMO_PAT), "{b}");
    }
}

#[test]
fn proxy_serves_curl_python_and_node_and_refuses_what_it_must() {
    let (d, env) = demo();
    let p = Proxy::start(&env, &[]);
    assert!(p.url.starts_with("http://127.0.0.1:"), "{}", p.url);
    let profile = format!("{}/user/profile", p.url);
    // curl, with the key as x-api-key; the client's cookie and key never reach the API
    let (body, code) = curl(&[
        "-H",
        &format!("x-api-key: {}", p.key),
        "-H",
        "Cookie: session=client-cookie",
        &profile,
    ]);
    assert_eq!(code, 200, "{body}");
    let seen = d.requests_to("/user/profile").pop().unwrap();
    assert!(!seen.headers.contains_key("cookie"));
    assert!(!seen.headers.contains_key("x-api-key"));
    let bearer = seen.headers.get("authorization").unwrap();
    assert!(!bearer.contains(&p.key) && !bearer.contains(DEMO_PAT));
    // Python's urllib with Authorization: Bearer KEY
    let py = Command::new("python3")
        .args([
            "-c",
            "import json,sys,urllib.request as u\n\
             r=u.Request(sys.argv[1],headers={'Authorization':'Bearer '+sys.argv[2]})\n\
             print(json.load(u.urlopen(r))['name'])",
            &format!("{}/project/{DEMO_PROJECT}", p.url),
            &p.key,
        ])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&py.stdout).trim(), "demo", "{py:?}");
    // Node's fetch, with a JSON body (POST)
    let node = Command::new("node")
        .args([
            "-e",
            "fetch(process.argv[1],{method:'POST',headers:{'x-api-key':process.argv[2],'content-type':'application/json'},body:JSON.stringify({})})\
             .then(async r=>{console.log(r.status);console.log(await r.text())})",
            &format!("{}/project/{DEMO_PROJECT}/scan/start", p.url),
            &p.key,
        ])
        .output()
        .expect("node (Node.js from the registries)");
    let node_out = String::from_utf8_lossy(&node.stdout);
    assert!(
        node_out.starts_with("200\n") && node_out.contains("scanId"),
        "{node:?}"
    );
    // refused, and nothing forwarded: no key, a wrong key, a foreign Host, another host
    let before = d.requests().len();
    assert_eq!(curl(&[&profile]).1, 401);
    let mut wrong = p.key.clone();
    wrong.pop();
    wrong.push('x');
    let (body, code) = curl(&["-H", &format!("x-api-key: {wrong}"), &profile]);
    assert_eq!(code, 401);
    assert!(body.contains("wrong session key"), "{body}");
    let key_header = format!("x-api-key: {}", p.key);
    assert_eq!(
        curl(&["-H", &key_header, "-H", "Host: rebound.example", &profile]).1,
        403
    );
    assert_eq!(
        curl(&[
            "-H",
            &key_header,
            "-x",
            &p.url,
            "http://example.com/user/profile"
        ])
        .1,
        403
    );
    assert_eq!(
        d.requests().len(),
        before,
        "a refused request was forwarded"
    );
    let key = p.key.clone();
    let (code, err) = p.stop();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("GET /user/profile -> 200"), "{err}");
    assert!(err.contains("-> 401") && err.contains("-> 403"), "{err}");
    assert!(!err.contains(&key) && !err.contains(DEMO_PAT), "{err}");
}

#[test]
fn proxy_shares_one_exchange_refreshes_before_expiry_and_after_a_401() {
    let (d, env) = demo();
    // tokens with 121 s to live: the proxy renews them when less than 120 s are left
    d.set_expires_in(121);
    let p = Proxy::start(&env, &[]);
    let started = exchanges(&d);
    assert_eq!(started, 1, "one exchange at start");
    // 50 concurrent requests from Python threads: all answered, one token among them
    let url = format!("{}/project/{DEMO_PROJECT}", p.url);
    let burst = || {
        Command::new("python3")
            .args([
                "-c",
                "import sys,urllib.request as u\n\
                 from concurrent.futures import ThreadPoolExecutor as T\n\
                 def get(_):\n\
                 \treturn u.urlopen(u.Request(sys.argv[1],headers={'x-api-key':sys.argv[2]})).status\n\
                 print(sorted(set(T(50).map(get,range(50)))))",
                &url,
                &p.key,
            ])
            .output()
            .unwrap()
    };
    let out = burst();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "[200]",
        "{out:?}"
    );
    let after_burst = exchanges(&d);
    assert!(
        after_burst - started <= 1,
        "50 concurrent requests cost {} exchanges",
        after_burst - started
    );
    // time passes: the next request renews the token before it expires
    assert!(eventually(Duration::from_secs(15), || {
        let (_, code) = curl(&["-H", &format!("x-api-key: {}", p.key), &url]);
        code == 200 && exchanges(&d) > after_burst
    }));
    // the API forgets every token: a GET is answered 200 after one fresh exchange
    d.set_expires_in(3600);
    d.revoke_tokens();
    let before = exchanges(&d);
    let (body, code) = curl(&["-H", &format!("x-api-key: {}", p.key), &url]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(exchanges(&d), before + 1);
    // no token to be had: a 502 that names the cause, not a hang
    d.revoke_tokens();
    d.fail_next_token_calls(&[400, 400, 400, 400, 400, 400]);
    let (body, code) = curl(&["-H", &format!("x-api-key: {}", p.key), &url]);
    assert_eq!(code, 502, "{body}");
    let j: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert!(
        j["error"].as_str().unwrap().contains("access token"),
        "{body}"
    );
    assert!(j["cause"].as_str().is_some_and(|c| !c.is_empty()), "{body}");
    assert!(!body.contains(DEMO_PAT));
}

#[test]
fn proxy_stops_on_sigterm_mid_request_and_listens_on_loopback_only() {
    let (d, env) = demo();
    let refused = env.run(&["proxy", "--listen", "0.0.0.0:0"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("loopback"), "{}", refused.stderr);
    d.set_slow_answer("GET", "/user/profile", Duration::from_secs(30));
    let p = Proxy::start(&env, &[]);
    let mut slow = Command::new("curl")
        .args([
            "-s",
            "--max-time",
            "60",
            "-H",
            &format!("x-api-key: {}", p.key),
        ])
        .arg(format!("{}/user/profile", p.url))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    assert!(eventually(Duration::from_secs(20), || !d
        .requests_to("/user/profile")
        .is_empty()));
    let pid = p.child.id();
    let (code, err) = p.stop();
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("Stopped"), "{err}");
    // the client's connection is closed, not left hanging for the slow answer (30 s)
    assert!(eventually(Duration::from_secs(15), || slow
        .try_wait()
        .unwrap()
        .is_some()));
    assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
}

#[test]
fn proxy_lets_a_shell_eval_its_lines_and_streams_large_bodies_both_ways() {
    let (d, env) = demo();
    let bin = env!("CARGO_BIN_EXE_cybedefend");
    // `eval "$(cybedefend proxy &)"`: the substitution ends once the two lines are printed
    let script = format!(
        "eval \"$({bin} proxy 2>/dev/null & echo PROXY_PID=$!)\"; \
         curl -s -o /dev/null -w '%{{http_code}}' -H \"x-api-key: $CYBEDEFEND_API_KEY\" \
         \"$CYBEDEFEND_API_URL/user/profile\"; kill $PROXY_PID"
    );
    let out = Env::output_of(env.command_with("sh", &[], &["-c", &script]), None);
    assert_eq!(out.stdout, "200", "{}", out.all());
    let p = Proxy::start(&env, &[]);
    let key = format!("x-api-key: {}", p.key);
    // a 20 MB report comes back whole
    d.set_report_size(20 << 20);
    let report = env.work().join("report.pdf");
    let (_, code) = curl(&[
        "-H",
        &key,
        "-o",
        report.to_str().unwrap(),
        &format!("{}/project/{DEMO_PROJECT}/owasp-report/pdf", p.url),
    ]);
    assert_eq!(code, 200);
    let token = env.run(&["auth", "token"]).stdout.trim().to_owned();
    let direct = env.work().join("direct.pdf");
    curl(&[
        "-H",
        &format!("Authorization: Bearer {token}"),
        "-o",
        direct.to_str().unwrap(),
        &format!("{}/project/{DEMO_PROJECT}/owasp-report/pdf", d.url()),
    ]);
    let (via, straight) = (
        std::fs::read(&report).unwrap(),
        std::fs::read(&direct).unwrap(),
    );
    assert!(via.len() > 20_000_000);
    assert!(
        via == straight,
        "the report through the proxy differs from the API's"
    );
    // a 12 MB body goes out whole (streamed: larger than what the proxy holds)
    let big = env.work().join("big.json");
    std::fs::write(&big, format!("{{\"pad\":\"{}\"}}", "x".repeat(12 << 20))).unwrap();
    let (_, code) = curl(&[
        "-H",
        &key,
        "-H",
        "content-type: application/json",
        "--data-binary",
        &format!("@{}", big.display()),
        &format!("{}/project/{DEMO_PROJECT}/scan/start", p.url),
    ]);
    assert_ne!(code, 0);
    let sent = d.requests_to(&format!("/project/{DEMO_PROJECT}/scan/start"));
    assert_eq!(
        sent.last().map(|r| r.body.len() as u64),
        Some(std::fs::metadata(&big).unwrap().len())
    );
    // a request head larger than 64 KB is refused, not read without end
    let before = d.requests().len();
    let huge = format!("X-Pad: {}", "y".repeat(100 * 1024));
    let (_, code) = curl(&["-H", &key, "-H", &huge, &format!("{}/user/profile", p.url)]);
    assert_eq!(code, 431);
    assert_eq!(d.requests().len(), before);
}

#[test]
fn exec_passes_network_settings_on_even_with_a_password() {
    let (_d, mut env) = demo();
    // a company proxy's password is the user's network setting: passed on as it is
    env.set("HTTPS_PROXY", "http://alice:proxy-pass-123456@127.0.0.1:9");
    env.set("NO_PROXY", "127.0.0.1,localhost");
    let out = env.run(&["exec", "--", "sh", "-c", "echo \"proxy=$HTTPS_PROXY\""]);
    assert_eq!(
        out.stdout.trim(),
        "proxy=http://alice:proxy-pass-123456@127.0.0.1:9",
        "{}",
        out.all()
    );
}

#[test]
fn proxy_fails_a_request_the_api_leaves_hanging_and_refuses_dot_segments() {
    let (d, mut env) = demo();
    // an idle limit of 4 request time limits: 4 s here, against an answer that takes 30 s
    env.set("CYBEDEFEND_HTTP_TIMEOUT", "1s");
    d.set_slow_answer("GET", "/user/profile", Duration::from_secs(30));
    let p = Proxy::start(&env, &[]);
    let key = format!("x-api-key: {}", p.key);
    let (body, code) = curl(&["-H", &key, &format!("{}/user/profile", p.url)]);
    assert_eq!(code, 502, "{body}");
    assert!(body.contains("could not be reached"), "{body}");
    // a path the server would rewrite is not forwarded
    let before = d.requests().len();
    let (body, code) = curl(&[
        "--path-as-is",
        "-H",
        &key,
        &format!("{}/project/x/%2e%2e/{DEMO_PROJECT}", p.url),
    ]);
    assert_eq!(code, 400, "{body}");
    assert_eq!(d.requests().len(), before);
}
