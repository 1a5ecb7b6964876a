//! Corporate networks: a real forward proxy (tinyproxy, from Debian) in front of the platform
//! double served over TLS with a CA made by the test; `NO_PROXY`; a proxy that asks for a
//! password; certificate authorities from `ca_cert`, `SSL_CERT_FILE` and `SSL_CERT_DIR`; and
//! every bad input a user can give these settings.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cybedefend_platform_double::TestCa;

use crate::common::*;

const PAT: &str = "cdp_network_pat_0001";
const PROJECT: &str = "22222222-2222-4222-8222-222222222222";
const PROXY_PASSWORD: &str = "pr0xy-s3cret-pw";

/// Starts a server on a free loopback port: `spawn` starts it for a port, `ready` says when
/// it serves. Up to five ports are tried (another process may take one in between).
fn on_free_port(
    what: &str,
    limit: Duration,
    mut spawn: impl FnMut(u16) -> Child,
    ready: impl Fn() -> bool,
) -> (Child, u16) {
    for _ in 0..5 {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = spawn(port);
        let start = Instant::now();
        while start.elapsed() < limit {
            if ready() && TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return (child, port);
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }
    panic!("{what} did not start on a free port in five tries");
}

/// tinyproxy on loopback, logging every request it relays.
struct Tinyproxy {
    child: Child,
    port: u16,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tinyproxy {
    /// Starts one (with `BasicAuth` when `auth` is given), or records it as missing.
    fn start(test: &str, auth: Option<(&str, &str)>) -> Option<Self> {
        let present = Command::new("tinyproxy")
            .arg("-v")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !present {
            missing(
                test,
                "tinyproxy",
                "scripts/test.sh installs Debian's tinyproxy-bin",
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("tinyproxy.log");
        let conf = dir.path().join("tinyproxy.conf");
        let (child, port) = on_free_port(
            "tinyproxy",
            Duration::from_secs(5),
            |port| {
                let mut text = format!(
                    "Port {port}\nListen 127.0.0.1\nTimeout 30\nLogFile \"{}\"\nLogLevel Info\nMaxClients 50\n",
                    log.display()
                );
                if let Some((user, password)) = auth {
                    text.push_str(&format!("BasicAuth {user} {password}\n"));
                }
                std::fs::write(&conf, text).unwrap();
                Command::new("tinyproxy")
                    .arg("-d")
                    .arg("-c")
                    .arg(&conf)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            },
            || true,
        );
        Some(Self {
            child,
            port,
            log,
            _dir: dir,
        })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// CONNECT requests relayed to `port` so far.
    fn connects_to(&self, port: u16) -> usize {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("): CONNECT ") && l.contains(&format!(":{port} HTTP/")))
            .count()
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn unset(env: &mut Env, name: &str) {
    env.vars.retain(|(k, _)| k != name);
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

/// The TLS double (CA `ca_name`, written to `ca.pem` in the env's temp folder) and an env
/// pointed at it with a PAT it accepts.
fn tls_setup(ca_name: &str) -> (Double, Env, TestCa, PathBuf) {
    let ca = TestCa::new(ca_name);
    let d = Double::start_tls(&ca);
    d.add_pat(PAT);
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", PAT);
    let ca_file = env.tmp.path().join("ca.pem");
    env.write(&ca_file, &ca.ca_pem);
    (d, env, ca, ca_file)
}

fn status(env: &Env, extra: &[&str]) -> (Out, Value) {
    let mut args = vec!["auth", "status", "--json"];
    args.extend_from_slice(extra);
    let out = env.run(&args);
    let j = out.json();
    (out, j)
}

#[test]
fn api_token_exchange_upload_and_vault_go_through_a_real_proxy_unless_no_proxy_says_otherwise() {
    let Some(proxy) = Tinyproxy::start(
        "api_token_exchange_upload_and_vault_go_through_a_real_proxy_unless_no_proxy_says_otherwise",
        None,
    ) else {
        return;
    };
    let (d, mut env, _ca, ca_file) = tls_setup("cybedefend test CA");
    let port = port_of(&d.url());
    env.set("CYBEDEFEND_CA_CERT", ca_file.to_str().unwrap());
    env.set("HTTPS_PROXY", &proxy.url());

    // API and token exchange (auth status checks the PAT with the server)
    let (out, j) = status(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["proxy"]["url"], proxy.url(), "{j}");
    assert_eq!(j["proxy"]["origin"], "HTTPS_PROXY", "{j}");
    let trust = j["tls_trust"].as_str().unwrap();
    assert!(
        trust.starts_with("the system's trust store + ca_cert ")
            && trust.contains("(from CYBEDEFEND_CA_CERT) (1 certificate)"),
        "{trust}"
    );
    let after_status = proxy.connects_to(port);
    assert!(after_status >= 1, "the proxy relayed nothing");

    // the same in words
    let out = env.run(&["auth", "status"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains(&format!(
            "proxy:         {} (from HTTPS_PROXY)",
            proxy.url()
        )),
        "{out:?}"
    );

    // a scan: API calls and the pre-signed upload
    d.add_project(PROJECT, "demo");
    env.write(&env.work().join("repo/src/app.js"), "console.log(1)\n");
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
    let after_scan = proxy.connects_to(port);
    assert!(after_scan > after_status, "the scan did not use the proxy");

    // lower-case https_proxy is read too
    unset(&mut env, "HTTPS_PROXY");
    env.set("https_proxy", &proxy.url());
    let (out, j) = status(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["proxy"]["origin"], "https_proxy", "{j}");

    // NO_PROXY: the host is reached directly, the proxy sees nothing
    let before = proxy.connects_to(port);
    env.set("NO_PROXY", "example.com, localhost");
    let (out, j) = status(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(j["proxy"].is_null(), "{j}");
    assert!(
        j["proxy_route"]
            .as_str()
            .unwrap()
            .contains("NO_PROXY lists this host"),
        "{j}"
    );
    assert_eq!(proxy.connects_to(port), before, "NO_PROXY was not honoured");
    unset(&mut env, "NO_PROXY");

    // a Vault provider with its own CA goes through the same proxy
    let vault_ca = TestCa::new("vault test CA");
    let vault = vault_with_pat(&vault_ca);
    let vault_port = port_of(&vault.url());
    let vault_ca_file = env.tmp.path().join("vault-ca.pem");
    env.write(&vault_ca_file, &vault_ca.ca_pem);
    unset(&mut env, "CYBEDEFEND_PAT");
    env.set("VAULT_TOKEN", "hvs.network-test-token");
    env.write(
        &env.dot().join("config.yaml"),
        &format!(
            "credentials:\n  chain: [v]\n  providers:\n    v: {{type: vault, address: '{}', ca_cert: '{}', path: cd}}\n",
            vault.url(),
            vault_ca_file.display()
        ),
    );
    let (out, j) = status(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["source"], "v", "{j}");
    assert!(
        proxy.connects_to(vault_port) >= 1,
        "the Vault request did not use the proxy"
    );
    assert!(!out.all().contains("hvs.network-test-token"));
}

#[test]
fn a_proxy_that_asks_for_a_password_gets_it_from_the_url_and_it_is_never_shown() {
    let Some(proxy) = Tinyproxy::start(
        "a_proxy_that_asks_for_a_password_gets_it_from_the_url_and_it_is_never_shown",
        Some(("alice", PROXY_PASSWORD)),
    ) else {
        return;
    };
    let (d, mut env, _ca, ca_file) = tls_setup("cybedefend test CA");
    let port = port_of(&d.url());
    env.set("CYBEDEFEND_CA_CERT", ca_file.to_str().unwrap());

    // no credentials: the proxy answers 407, and the message says what to do
    env.set("HTTPS_PROXY", &proxy.url());
    let (out, j) = status(&env, &[]);
    assert_eq!(out.code, 2, "{out:?}");
    let error = j["error"].as_str().unwrap();
    assert!(
        error.contains(&format!(
            "through the proxy {} (from HTTPS_PROXY)",
            proxy.url()
        )),
        "{error}"
    );
    assert!(
        j["hint"]
            .as_str()
            .unwrap()
            .contains("asks for a user name and password"),
        "{j}"
    );

    // a wrong password
    let wrong = format!("http://alice:nope@127.0.0.1:{}", proxy.port);
    let (out, j) = status(&env, &["--proxy", &wrong]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        j["hint"]
            .as_str()
            .unwrap()
            .contains("check the user name and password in its URL"),
        "{j}"
    );
    assert!(!out.all().contains("nope"), "{out:?}");

    // the right one, from --proxy (which wins over HTTPS_PROXY), in every output
    let with_password = format!("http://alice:{PROXY_PASSWORD}@127.0.0.1:{}", proxy.port);
    let masked = format!("http://***@127.0.0.1:{}", proxy.port);
    let before = proxy.connects_to(port);
    let (out, j) = status(&env, &["--proxy", &with_password, "--debug"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["proxy"]["url"], masked, "{j}");
    assert_eq!(j["proxy"]["origin"], "--proxy", "{j}");
    assert!(proxy.connects_to(port) > before);
    let out_text = env.run(&["auth", "status", "--proxy", &with_password]);
    assert!(out_text.stdout.contains(&masked), "{out_text:?}");
    let shown = env.run(&["config", "show", "--origin", "--proxy", &with_password]);
    assert_eq!(shown.code, 0, "{shown:?}");
    assert!(
        shown.stdout.contains(&masked) && shown.stdout.contains("--proxy"),
        "{shown:?}"
    );
    for o in [&out, &out_text, &shown] {
        assert!(!o.all().contains(PROXY_PASSWORD), "{o:?}");
        assert!(!o.all().contains("alice"), "{o:?}");
    }
}

#[test]
fn an_untrusted_certificate_is_explained_with_host_proxy_issuer_and_the_setting_to_fix() {
    let Some(proxy) = Tinyproxy::start(
        "an_untrusted_certificate_is_explained_with_host_proxy_issuer_and_the_setting_to_fix",
        None,
    ) else {
        return;
    };
    let (d, mut env, _ca, _ca_file) = tls_setup("Acme Intercept CA");
    let port = port_of(&d.url());

    // no CA given, through a proxy
    env.set("HTTPS_PROXY", &proxy.url());
    let (out, j) = status(&env, &[]);
    assert_eq!(out.code, 2, "{out:?}");
    let error = j["error"].as_str().unwrap();
    for part in [
        format!("the TLS connection to localhost:{port}"),
        format!("through the proxy {} (from HTTPS_PROXY)", proxy.url()),
        "issued by `CN=Acme Intercept CA`".to_owned(),
        "not signed by a trusted certificate authority".to_owned(),
    ] {
        assert!(error.contains(&part), "missing {part:?} in {error}");
    }
    let hint = j["hint"].as_str().unwrap();
    assert!(
        hint.contains("`ca_cert`")
            && hint.contains("CYBEDEFEND_CA_CERT")
            && hint.contains("a proxy that inspects TLS"),
        "{hint}"
    );

    // direct, with a CA that did not sign it: the hint names the file in force
    unset(&mut env, "HTTPS_PROXY");
    let other = TestCa::new("Some Other CA");
    let other_file = env.tmp.path().join("other.pem");
    env.write(&other_file, &other.ca_pem);
    env.write(
        &env.dot().join("config.yaml"),
        &format!("ca_cert: {}\n", other_file.display()),
    );
    let (out, j) = status(&env, &[]);
    assert_eq!(out.code, 2, "{out:?}");
    let error = j["error"].as_str().unwrap();
    assert!(!error.contains("through the proxy"), "{error}");
    assert!(error.contains("`CN=Acme Intercept CA`"), "{error}");
    let hint = j["hint"].as_str().unwrap();
    assert!(
        hint.contains(&format!("ca_cert {}", other_file.display()))
            && hint.contains("did not sign it either"),
        "{hint}"
    );
    assert!(d.requests().is_empty(), "{:?}", d.requests());
}

#[test]
fn ca_files_come_from_ca_cert_ssl_cert_file_or_ssl_cert_dir_and_can_replace_the_system_store() {
    let (d, mut env, _ca, ca_file) = tls_setup("cybedefend test CA");

    // not trusted without them
    let (out, _) = status(&env, &[]);
    assert_eq!(out.code, 2, "{out:?}");

    // the conventional variables, added to the system store
    env.set("SSL_CERT_FILE", ca_file.to_str().unwrap());
    let (out, j) = status(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        j["tls_trust"]
            .as_str()
            .unwrap()
            .starts_with("the system's trust store + SSL_CERT_FILE="),
        "{j}"
    );
    unset(&mut env, "SSL_CERT_FILE");
    let dir = env.tmp.path().join("certs");
    env.write(
        &dir.join("corp.pem"),
        &std::fs::read_to_string(&ca_file).unwrap(),
    );
    env.write(&dir.join("README"), "not a certificate\n");
    // a 1 GiB (sparse) file in the folder is skipped, never read whole
    std::fs::File::create(dir.join("huge.pem"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    env.set("SSL_CERT_DIR", dir.to_str().unwrap());
    let (out, _) = status(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    unset(&mut env, "SSL_CERT_DIR");

    // ca_cert alone, replacing the system store
    env.set("CYBEDEFEND_CA_CERT", ca_file.to_str().unwrap());
    env.set("CYBEDEFEND_CA_CERT_ONLY", "true");
    let (out, j) = status(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        j["tls_trust"]
            .as_str()
            .unwrap()
            .starts_with("only ca_cert "),
        "{j}"
    );
    let shown = env.run(&["config", "show", "--origin"]);
    for line in [
        "CYBEDEFEND_CA_CERT_ONLY",
        "CYBEDEFEND_CA_CERT",
        ca_file.to_str().unwrap(),
    ] {
        assert!(shown.stdout.contains(line), "{line}: {shown:?}");
    }

    // ca_cert_only with no file at all
    unset(&mut env, "CYBEDEFEND_CA_CERT");
    let requests = d.requests().len();
    let (out, j) = status(&env, &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        j["error"].as_str().unwrap().contains("none is given"),
        "{j}"
    );
    assert_eq!(d.requests().len(), requests, "a request went out");
}

/// One bad input: the variables to set, the exit code, and what the message must say.
struct Bad {
    what: &'static str,
    vars: Vec<(&'static str, String)>,
    args: Vec<String>,
    code: i32,
    says: Vec<String>,
}

#[test]
fn bad_network_settings_are_refused_with_what_to_fix() {
    let (d, env, _ca, ca_file) = tls_setup("cybedefend test CA");
    let port = port_of(&d.url());
    let tmp = env.tmp.path().to_owned();
    let not_pem = tmp.join("not-pem.crt");
    env.write(&not_pem, "this is a certificate, honest\n");
    let der = tmp.join("ca.der");
    std::fs::write(&der, [0x30u8, 0x82, 0x01, 0x0a, 0x02, 0x82]).unwrap();
    let broken_pem = tmp.join("broken.pem");
    env.write(
        &broken_pem,
        "-----BEGIN CERTIFICATE-----\nnot base64 at all!!\n-----END CERTIFICATE-----\n",
    );
    let missing_file = tmp.join("no-such-ca.pem");
    let ca = ca_file.to_str().unwrap().to_owned();
    let p = |s: &Path| s.to_str().unwrap().to_owned();
    let cases = vec![
        Bad {
            what: "a CA file that does not exist",
            vars: vec![("CYBEDEFEND_CA_CERT", p(&missing_file))],
            args: vec![],
            code: 2,
            says: vec![
                format!("cannot read the CA file of ca_cert {}", p(&missing_file)),
                "(from CYBEDEFEND_CA_CERT)".into(),
            ],
        },
        Bad {
            what: "a folder as CA file",
            vars: vec![("CYBEDEFEND_CA_CERT", p(&tmp))],
            args: vec![],
            code: 2,
            says: vec!["not a regular file".into()],
        },
        Bad {
            what: "a /proc file that says it is empty",
            vars: vec![("CYBEDEFEND_CA_CERT", "/proc/self/pagemap".into())],
            args: vec![],
            code: 2,
            says: vec!["cannot read the CA file of ca_cert /proc/self/pagemap".into()],
        },
        Bad {
            what: "a CA file that is not PEM",
            vars: vec![("CYBEDEFEND_CA_CERT", p(&not_pem))],
            args: vec![],
            code: 2,
            says: vec!["holds no PEM certificate".into()],
        },
        Bad {
            what: "a DER CA file",
            vars: vec![("CYBEDEFEND_CA_CERT", p(&der))],
            args: vec![],
            code: 2,
            says: vec![
                "holds no PEM certificate".into(),
                "openssl x509 -inform der".into(),
            ],
        },
        Bad {
            what: "a PEM block that is not base64",
            vars: vec![("CYBEDEFEND_CA_CERT", p(&broken_pem))],
            args: vec![],
            code: 2,
            says: vec!["is not valid PEM".into()],
        },
        Bad {
            what: "an unreadable SSL_CERT_FILE",
            vars: vec![("SSL_CERT_FILE", p(&missing_file))],
            args: vec![],
            code: 2,
            says: vec![
                format!("SSL_CERT_FILE={}", p(&missing_file)),
                "unset SSL_CERT_FILE".into(),
            ],
        },
        Bad {
            what: "an SSL_CERT_DIR without certificates",
            vars: vec![("SSL_CERT_DIR", p(&env.work()))],
            args: vec![],
            code: 2,
            says: vec!["holds no PEM certificate".into(), "SSL_CERT_DIR".into()],
        },
        Bad {
            what: "an unreachable proxy",
            vars: vec![
                ("CYBEDEFEND_CA_CERT", ca.clone()),
                ("HTTPS_PROXY", "http://127.0.0.1:9".into()),
            ],
            args: vec![],
            code: 3,
            says: vec![
                format!(
                    "cannot reach localhost:{port} through the proxy http://127.0.0.1:9 (from HTTPS_PROXY)"
                ),
                "is running and reachable".into(),
            ],
        },
        Bad {
            what: "a SOCKS proxy",
            vars: vec![("CYBEDEFEND_CA_CERT", ca.clone())],
            args: vec![
                "--proxy".into(),
                "socks5://bob:hunter22@127.0.0.1:1080".into(),
            ],
            code: 2,
            says: vec![
                "only http:// and https:// proxies".into(),
                "socks5://***@127.0.0.1:1080".into(),
            ],
        },
        Bad {
            what: "a proxy password with a slash, not percent-encoded",
            vars: vec![(
                "CYBEDEFEND_PROXY",
                "http://bob:hunter22/x#y@127.0.0.1:8081".into(),
            )],
            args: vec![],
            code: 2,
            says: vec!["http://***@127.0.0.1:8081".into(), "percent-encode".into()],
        },
        Bad {
            what: "a proxy URL with a path",
            vars: vec![("CYBEDEFEND_PROXY", "http://proxy.corp:3128/pac.js".into())],
            args: vec![],
            code: 2,
            says: vec!["(from CYBEDEFEND_PROXY)".into(), "has a path".into()],
        },
        Bad {
            what: "a malformed HTTPS_PROXY",
            vars: vec![
                ("CYBEDEFEND_CA_CERT", ca.clone()),
                ("HTTPS_PROXY", "http://bob:hunter22@[::1:3128".into()),
            ],
            args: vec![],
            code: 2,
            says: vec!["(from HTTPS_PROXY) is not a valid URL".into()],
        },
    ];
    for case in cases {
        let mut e = Env::new();
        e.use_double(&d);
        e.set("CYBEDEFEND_PAT", PAT);
        for (k, v) in &case.vars {
            e.set(k, v);
        }
        let before = d.requests().len();
        let mut args = vec!["auth", "status", "--json"];
        args.extend(case.args.iter().map(String::as_str));
        let out = e.run(&args);
        assert_eq!(out.code, case.code, "{}: {out:?}", case.what);
        let text = out.all();
        for s in &case.says {
            assert!(
                text.contains(s.as_str()),
                "{}: missing {s:?} in {out:?}",
                case.what
            );
        }
        assert!(!text.contains("hunter22"), "{}: {out:?}", case.what);
        assert_eq!(
            d.requests().len(),
            before,
            "{}: a request reached the server",
            case.what
        );
    }

    // a CA problem is a setting to fix: the PAT is not reported as rejected
    let mut e = Env::new();
    e.use_double(&d);
    e.set("CYBEDEFEND_PAT", PAT);
    e.set("CYBEDEFEND_CA_CERT", not_pem.to_str().unwrap());
    let (out, j) = status(&e, &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert_eq!(j["server_check"], "not_checked", "{j}");
    assert_eq!(j["checked_with_server"], false, "{j}");
    let out = e.run(&["auth", "status"]);
    assert!(
        out.stdout.contains("a local setting must be fixed"),
        "{out:?}"
    );

    // `config validate` refuses a proxy URL that every command would refuse
    let bad = tmp.join("bad-proxy.yaml");
    env.write(&bad, "proxy: htp://proxy.corp:3128\n");
    let out = env.run(&["config", "validate", bad.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("scheme `htp`"), "{out:?}");

    // a malformed HTTPS_PROXY does not stop commands that send nothing
    let mut e = Env::new();
    e.use_double(&d);
    e.set("CYBEDEFEND_PAT", PAT);
    e.set("HTTPS_PROXY", "http://[::1:3128");
    let out = e.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");

    // malformed NO_PROXY entries are named and skipped; the good ones still apply
    e.set("HTTPS_PROXY", "http://127.0.0.1:9");
    e.set("NO_PROXY", "10.0.0.0/33,http://x.example/,localhost");
    e.set("CYBEDEFEND_CA_CERT", &ca);
    let (out, j) = status(&e, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("NO_PROXY: `10.0.0.0/33` is not a host")
            && out.stderr.contains("`http://x.example/`"),
        "{out:?}"
    );
    assert!(
        j["warnings"].to_string().contains("10.0.0.0/33"),
        "--json lists the warning too: {j}"
    );
    assert!(j["proxy"].is_null(), "{j}");
}

#[test]
fn a_repository_config_never_sets_the_proxy_or_the_trusted_cas_even_when_trusted() {
    let (d, mut env, _ca, ca_file) = tls_setup("cybedefend test CA");
    env.set("SSL_CERT_FILE", ca_file.to_str().unwrap());
    let evil = env.work().join("evil.pem");
    env.write(&evil, &TestCa::new("Evil CA").ca_pem);
    env.write(
        &env.work().join("config.yaml"),
        "proxy: http://127.0.0.1:9\nca_cert: evil.pem\nca_cert_only: true\n",
    );
    // even in a folder the user trusts
    env.write(
        &env.dot().join("config.yaml"),
        &format!("trusted_directories: [{}]\n", env.work().display()),
    );
    let (out, j) = status(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let warnings = j["warnings"].to_string();
    for key in ["proxy", "ca_cert", "ca_cert_only"] {
        assert!(
            warnings.contains("config.yaml: ")
                && warnings.contains("ignoring")
                && warnings.contains(&format!("`{key}` (")),
            "{key}: {warnings}"
        );
    }
    assert!(j["proxy"].is_null(), "{j}");
    let trust = j["tls_trust"].as_str().unwrap();
    assert!(
        trust.starts_with("the system's trust store + SSL_CERT_FILE=") && !trust.contains("evil"),
        "{trust}"
    );
    assert!(!d.requests().is_empty());
}

/// mitmdump (mitmproxy) on loopback: a proxy that inspects TLS and re-signs every certificate
/// with its own CA, as company proxies do.
struct Mitmdump {
    child: Child,
    port: u16,
    confdir: tempfile::TempDir,
    out: PathBuf,
}

impl Mitmdump {
    /// Starts one trusting `upstream_ca` for the servers behind it, or records it as missing.
    fn start(test: &str, upstream_ca: &Path) -> Option<Self> {
        let Some(bin) = std::env::var_os("CYBEDEFEND_TEST_MITMDUMP") else {
            missing(
                test,
                "mitmproxy",
                "scripts/test.sh installs it from PyPI into .tools/mitmproxy",
            );
            return None;
        };
        let confdir = tempfile::tempdir().unwrap();
        let out = confdir.path().join("flows.log");
        let ca = confdir.path().join("mitmproxy-ca-cert.pem");
        let (child, port) = on_free_port(
            "mitmdump",
            Duration::from_secs(20),
            |port| {
                Command::new(&bin)
                    .args(["--listen-host", "127.0.0.1", "--listen-port"])
                    .arg(port.to_string())
                    .arg("--set")
                    .arg(format!("confdir={}", confdir.path().display()))
                    .arg("--set")
                    .arg(format!(
                        "ssl_verify_upstream_trusted_ca={}",
                        upstream_ca.display()
                    ))
                    .stdout(std::fs::File::create(&out).unwrap())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap()
            },
            || ca.is_file(),
        );
        Some(Self {
            child,
            port,
            confdir,
            out,
        })
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn ca(&self) -> PathBuf {
        self.confdir.path().join("mitmproxy-ca-cert.pem")
    }

    /// The requests it relayed, as it logs them (`GET https://localhost:1234/path`).
    fn flows(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }
}

impl Drop for Mitmdump {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn a_tls_inspecting_proxy_works_once_its_ca_is_given_and_is_named_until_then() {
    let (d, mut env, _ca, ca_file) = tls_setup("cybedefend test CA");
    let Some(mitm) = Mitmdump::start(
        "a_tls_inspecting_proxy_works_once_its_ca_is_given_and_is_named_until_then",
        &ca_file,
    ) else {
        return;
    };
    let port = port_of(&d.url());
    env.set("HTTPS_PROXY", &mitm.url());

    // the proxy's CA is not trusted yet: the message names it and what to do
    let (out, j) = status(&env, &[]);
    assert_eq!(out.code, 2, "{out:?}");
    let error = j["error"].as_str().unwrap();
    assert!(
        error.contains("issued by `CN=mitmproxy, O=mitmproxy`")
            && error.contains(&format!(
                "through the proxy {} (from HTTPS_PROXY)",
                mitm.url()
            )),
        "{error}"
    );
    assert!(
        j["hint"]
            .as_str()
            .unwrap()
            .contains("a proxy that inspects TLS"),
        "{j}"
    );
    assert!(d.requests().is_empty(), "the request got through");

    // given its CA: the requests go through it (it sees them in clear, as such proxies do)
    env.set("CYBEDEFEND_CA_CERT", mitm.ca().to_str().unwrap());
    let (out, j) = status(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["authenticated"], true, "{j}");
    assert!(!d.requests().is_empty());
    let flows = mitm.flows();
    assert!(
        flows.contains(&format!("https://localhost:{port}/")),
        "mitmproxy did not relay the requests: {flows}"
    );
}

#[test]
fn a_relative_ca_file_from_the_environment_is_refused_not_read_from_the_working_directory() {
    let env = Env::new();
    // a repository's PEM, in the folder the command runs in
    env.write(
        &env.work().join("ca.pem"),
        &TestCa::new("Repository CA").ca_pem,
    );
    std::fs::create_dir_all(env.work().join("certs")).unwrap();
    for (var, value) in [
        ("CYBEDEFEND_CA_CERT", "ca.pem"),
        ("SSL_CERT_FILE", "ca.pem"),
        ("SSL_CERT_DIR", "certs"),
    ] {
        // (the CA files are read when a connection is about to be made)
        let mut c = env.command(&["auth", "status", "--pat", "cdp_relative_ca_01"]);
        c.env(var, value);
        let out = Env::output_of(c, None);
        assert_eq!(out.code, 2, "{var}: {out:?}");
        assert!(
            out.stderr.contains("is not an absolute path")
                && out
                    .stderr
                    .contains("a repository's PEM would become a trusted CA")
                && out.stderr.contains("$PWD/"),
            "{var}: {out:?}"
        );
    }
}

/// A Vault over TLS (its certificate signed by `ca`) whose KV v2 secret `cd` holds PAT.
fn vault_with_pat(ca: &TestCa) -> Double {
    let vault = Double::start_tls(ca);
    vault.can(
        "GET",
        "/v1/secret/data/cd",
        json_canned(200, &format!(r#"{{"data":{{"data":{{"pat":"{PAT}"}}}}}}"#)),
    );
    vault
}

#[test]
fn vault_follows_the_same_trust_rule_as_every_connection() {
    // one company CA signs the platform's and Vault's certificates; `ca_cert` names it once
    let (_d, mut env, ca, ca_file) = tls_setup("company CA");
    let vault = vault_with_pat(&ca);
    unset(&mut env, "CYBEDEFEND_PAT");
    env.set("VAULT_TOKEN", "hvs.trust-rule-token");
    env.write(
        &env.dot().join("config.yaml"),
        &format!(
            "ca_cert: '{}'\nca_cert_only: true\ncredentials:\n  chain: [v]\n  providers:\n    v: {{type: vault, address: '{}', path: cd}}\n",
            ca_file.display(),
            vault.url()
        ),
    );
    let (out, j) = status(&env, &["--offline"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["source"], "v", "{j}");
    // and a Vault whose CA the configuration does not trust is refused, naming the fix
    let other = TestCa::new("another CA");
    let vault2 = Double::start_tls(&other);
    env.write(
        &env.dot().join("config.yaml"),
        &format!(
            "ca_cert: '{}'\nca_cert_only: true\ncredentials:\n  chain: [v]\n  providers:\n    v: {{type: vault, address: '{}', path: cd}}\n",
            ca_file.display(),
            vault2.url()
        ),
    );
    let (out, j) = status(&env, &["--offline"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        j["error"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot verify Vault's TLS certificate"),
        "{j}"
    );
    assert!(!out.all().contains("hvs.trust-rule-token"));
}

#[test]
fn a_proxy_that_drops_the_tunnel_is_a_network_failure_retried_not_a_setting() {
    use std::io::Read;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let (_d, mut env, _ca, ca_file) = tls_setup("company CA");
    env.set("CYBEDEFEND_CA_CERT", ca_file.to_str().unwrap());
    // a proxy that reads the CONNECT request and hangs up without an answer
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let connects = std::sync::Arc::new(AtomicUsize::new(0));
    let seen = connects.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(20) {
            let Ok(mut s) = stream else { continue };
            seen.fetch_add(1, Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let mut got = Vec::new();
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
        }
    });
    env.set(
        "HTTPS_PROXY",
        &format!("http://user:pw-not-shown@127.0.0.1:{port}"),
    );
    env.set("CYBEDEFEND_HTTP_TIMEOUT", "2s");
    let out = env.run(&["auth", "status"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr
            .contains("closed the connection while it opened the tunnel")
            && !out.stderr.contains("check the user name and password"),
        "{out:?}"
    );
    assert!(!out.all().contains("pw-not-shown"), "{out:?}");
    assert!(connects.load(Ordering::SeqCst) >= 2, "not retried");
}

/// Redirects that would carry a credential elsewhere, and waits a server asks for.
mod redirects_and_waits {
    use super::*;
    use crate::common::{
        DEMO_PAT as PAT, DEMO_PROJECT as PROJECT, demo as setup, demo_results as results,
    };
    use cybedefend_platform_double::Canned;

    use std::time::{Duration, Instant};

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
        d.can("GET", "/moved/sast", json_canned(200, &page.to_string()));
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
}
