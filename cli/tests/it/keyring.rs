//! The OS keyring against a real Secret Service: gnome-keyring on a private D-Bus session
//! bus, unlocked non-interactively (scripts/test.sh installs the Debian packages).

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};

use crate::common::*;

struct SecretService {
    bus: Child,
    daemon: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl SecretService {
    fn start() -> Option<Self> {
        let have = |bin: &str| {
            Command::new("sh")
                .args(["-c", &format!("command -v {bin}")])
                .output()
                .is_ok_and(|o| o.status.success())
        };
        if !(have("dbus-daemon") && have("gnome-keyring-daemon") && have("dbus-send")) {
            assert!(
                std::env::var("CYBEDEFEND_TEST_KEYRING").is_err(),
                "CYBEDEFEND_TEST_KEYRING is set but dbus/gnome-keyring are missing"
            );
            missing(
                "keyring",
                "dbus + gnome-keyring",
                "scripts/test.sh installs them as root",
            );
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let xdg: Vec<(String, String)> = ["run", "data", "cache", "config"]
            .iter()
            .map(|d| {
                let p = dir.path().join(d);
                fs::create_dir_all(&p).unwrap();
                #[cfg(unix)]
                {
                    use std::os::unix::fs::PermissionsExt;
                    fs::set_permissions(&p, fs::Permissions::from_mode(0o700)).unwrap();
                }
                let var = match *d {
                    "run" => "XDG_RUNTIME_DIR",
                    "data" => "XDG_DATA_HOME",
                    "cache" => "XDG_CACHE_HOME",
                    _ => "XDG_CONFIG_HOME",
                };
                (var.to_owned(), p.to_string_lossy().into_owned())
            })
            .collect();
        let mut bus = Command::new("dbus-daemon")
            .args([
                "--session",
                "--nofork",
                "--print-address=1",
                &format!("--address=unix:path={}/bus", dir.path().display()),
            ])
            .envs(xdg.clone())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(bus.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let address = line.trim().to_owned();
        let mut daemon = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--unlock", "--components=secrets"])
            .envs(xdg)
            .env("DBUS_SESSION_BUS_ADDRESS", &address)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        daemon
            .stdin
            .take()
            .unwrap()
            .write_all(b"test-password")
            .unwrap();
        let ss = Self {
            bus,
            daemon,
            address,
            _dir: dir,
        };
        for _ in 0..100 {
            let out = Command::new("dbus-send")
                .args([
                    "--session",
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .env("DBUS_SESSION_BUS_ADDRESS", &ss.address)
                .output()
                .unwrap();
            if String::from_utf8_lossy(&out.stdout).contains("boolean true") {
                return Some(ss);
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("gnome-keyring did not come up");
    }
}

impl Drop for SecretService {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
        let _ = self.bus.kill();
        let _ = self.bus.wait();
    }
}

const PAT: &str = "cdp_keyring_pat_0001";

fn setup(ss: &SecretService) -> (Double, Env) {
    let d = Double::start();
    d.add_pat(PAT);
    let mut env = Env::new();
    env.use_double(&d);
    env.set("DBUS_SESSION_BUS_ADDRESS", &ss.address);
    (d, env)
}

fn creds(env: &Env) -> Value {
    serde_json::from_str(&fs::read_to_string(env.creds()).unwrap()).unwrap()
}

#[test]
fn login_store_keyring_keeps_only_the_region_on_disk_and_logout_erases_both() {
    let Some(ss) = SecretService::start() else {
        return;
    };
    let (_d, env) = setup(&ss);
    let out = env.run(&[
        "login", "--pat", PAT, "--region", "eu", "--store", "keyring",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        creds(&env),
        serde_json::json!({"type": "pat", "region": "eu", "storage": "keyring"})
    );
    assert!(!fs::read_to_string(env.creds()).unwrap().contains(PAT));

    let out = env.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let j = out.json();
    assert_eq!(j["source"], "keyring");
    assert_eq!(j["storage"], "keyring");
    assert_eq!(j["region"], "eu");
    assert_eq!(j["fingerprint"], fingerprint(PAT));
    assert!(
        j["chain"][3]["detail"]
            .as_str()
            .unwrap()
            .contains("keyring"),
        "stored defers to the keyring: {j}"
    );

    let out = env.run(&["logout"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("Removed the PAT from the OS keyring"),
        "{out:?}"
    );
    assert!(!env.creds().exists());
    // the entry is gone, not only the file
    env.write(
        &env.creds(),
        "{\"type\":\"pat\",\"region\":\"eu\",\"storage\":\"keyring\"}",
    );
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(
        out.json()["chain"][4]["detail"]
            .as_str()
            .unwrap()
            .contains("no cybedefend entry"),
        "{out:?}"
    );
}

#[test]
fn plaintext_is_flagged_where_a_keyring_exists_and_migrate_moves_it() {
    let Some(ss) = SecretService::start() else {
        return;
    };
    let (_d, env) = setup(&ss);
    let out = env.run(&["login", "--pat", PAT]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("stored in plaintext"), "{out:?}");
    let j = env.run(&["auth", "status", "--offline", "--json"]).json();
    assert_eq!(j["storage"], "file");
    assert!(
        j["warnings"]
            .to_string()
            .contains("auth migrate --to keyring"),
        "{j}"
    );

    let out = env.run(&["auth", "migrate", "--to", "keyring"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        creds(&env),
        serde_json::json!({"type": "pat", "region": "us", "storage": "keyring"})
    );
    let j = env.run(&["auth", "status", "--offline", "--json"]).json();
    assert_eq!(j["source"], "keyring");
    assert_eq!(j["fingerprint"], fingerprint(PAT));
    assert!(j["warnings"].as_array().unwrap().is_empty(), "{j}");
    let again = env.run(&["auth", "migrate", "--to", "keyring"]);
    assert!(
        again.stderr.contains("already in the OS keyring"),
        "{again:?}"
    );
}

#[test]
fn no_secret_service_is_explained_and_nothing_is_stored() {
    let d = Double::start();
    d.add_pat(PAT);
    let mut env = Env::new();
    env.use_double(&d);
    let before =
        "{\n  \"type\": \"pat\",\n  \"region\": \"us\",\n  \"pat\": \"cdp_previous_12345\"\n}";
    env.write(&env.creds(), before);
    let start = std::time::Instant::now();
    let out = env.run(&["login", "--pat", PAT, "--store", "keyring"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("no Secret Service on this machine")
            && out.stderr.contains("--store file"),
        "{out:?}"
    );
    assert_eq!(fs::read_to_string(env.creds()).unwrap(), before);
    // a keyring login on a machine without one: not found, with the reason, quickly
    env.write(
        &env.creds(),
        "{\"type\":\"pat\",\"region\":\"eu\",\"storage\":\"keyring\"}",
    );
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(out.code, 4);
    assert!(
        out.json()["chain"][4]["detail"]
            .as_str()
            .unwrap()
            .contains("no Secret Service")
    );
    assert!(start.elapsed().as_secs() < 10);
}

#[test]
fn secure_storage_policy_makes_keyring_the_default_and_refuses_file() {
    let Some(ss) = SecretService::start() else {
        return;
    };
    let (_d, env) = setup(&ss);
    env.write(
        &env.system_config(),
        "credentials:\n  require_secure_storage: true\n",
    );
    let out = env.run(&["login", "--pat", PAT, "--store", "file"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("requires secure storage"), "{out:?}");
    let out = env.run(&["login", "--pat", PAT]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(creds(&env)["storage"], "keyring");
    assert_eq!(
        env.run(&["auth", "status", "--offline", "--json"]).json()["source"],
        "keyring"
    );
}

#[test]
fn logout_of_a_keyring_login_also_clears_its_cached_access_tokens() {
    let Some(ss) = SecretService::start() else {
        return;
    };
    let (_d, env) = setup(&ss);
    let out = env.run(&["login", "--pat", PAT, "--store", "keyring"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(env.run(&["auth", "token"]).code, 0);
    let cache = env.dot().join("token-cache.json");
    assert!(fs::read_to_string(&cache).unwrap().contains("entries"));
    let out = env.run(&["logout"]);
    assert_eq!(out.code, 0, "{out:?}");
    let left: Value = serde_json::from_str(&fs::read_to_string(&cache).unwrap()).unwrap();
    assert!(
        left["entries"].as_object().unwrap().is_empty(),
        "access tokens of the removed PAT stayed: {left}"
    );
}

#[test]
fn token_cache_in_the_keyring_keeps_bearer_tokens_out_of_files() {
    let Some(ss) = SecretService::start() else {
        return;
    };
    let (d, mut env) = setup(&ss);
    env.set("CYBEDEFEND_PAT", PAT);
    // under require_secure_storage the keyring is the default cache
    env.write(
        &env.system_config(),
        "credentials:\n  require_secure_storage: true\n",
    );
    for _ in 0..3 {
        let out = env.run(&["auth", "token"]);
        assert_eq!(out.code, 0, "{out:?}");
    }
    assert_eq!(
        d.requests_to("/oidc/token").len(),
        1,
        "cached between commands"
    );
    assert!(!env.dot().join("token-cache.json").exists());
    let show = env.run(&["config", "show", "--origin"]);
    assert!(show.stdout.contains("credentials.token_cache"), "{show:?}");
    assert!(show.stdout.contains("keyring"), "{show:?}");

    // `file` cannot loosen the policy
    env.write(
        &env.dot().join("config.yaml"),
        "credentials:\n  token_cache: file\n",
    );
    let out = env.run(&["auth", "token"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("token_cache: file` is ignored"),
        "{out:?}"
    );
    assert!(!env.dot().join("token-cache.json").exists());
}

#[test]
fn a_profile_keeps_its_own_keyring_entry_beside_the_default_one() {
    let Some(ss) = SecretService::start() else {
        return;
    };
    let (d, env) = setup(&ss);
    const PROFILE_PAT: &str = "cdp_keyring_profile_01";
    d.add_pat(PROFILE_PAT);
    env.write(
        &env.dot().join("config.yaml"),
        "profiles:\n  acme:\n    region: eu\n",
    );
    let out = env.run(&["login", "--pat", PAT, "--store", "keyring"]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = env.run(&[
        "login",
        "--profile",
        "acme",
        "--pat",
        PROFILE_PAT,
        "--store",
        "keyring",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    // each login reads back its own entry
    let status = |extra: &[&str]| {
        let mut args = vec!["auth", "status", "--offline", "--json"];
        args.extend_from_slice(extra);
        env.run(&args).json()
    };
    assert_eq!(status(&[])["fingerprint"], fingerprint(PAT));
    let j = status(&["--profile", "acme"]);
    assert_eq!(j["fingerprint"], fingerprint(PROFILE_PAT), "{j}");
    assert_eq!(j["source"], "keyring", "{j}");
    // logging the profile out leaves the default entry
    let out = env.run(&["logout", "--profile", "acme"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(status(&[])["fingerprint"], fingerprint(PAT));
    assert_eq!(status(&["--profile", "acme"])["source"], Value::Null);
}
