//! The plugin platform with real plugins: the workspace's examples (a native library, a Rust
//! exec plugin, a Python one), broken plugins written here as shell scripts, and native
//! libraries compiled here from C (wrong ABI versions, a missing symbol, invalid UTF-8).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::common::*;

const PAT: &str = "cdp_plugin_pat_000001";

/// The workspace's target folder (where the example plugins are built).
fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cybedefend"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Builds the example plugins once (a no-op when `cargo test --workspace` built them).
fn examples() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let ok = Command::new(cargo)
            .args([
                "build",
                "--quiet",
                "-p",
                "cybedefend-credential-example",
                "-p",
                "cybedefend-credential-example-native",
            ])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .status()
            .unwrap()
            .success();
        assert!(ok, "building the example plugins failed");
        target_dir()
    })
}

fn native_example() -> PathBuf {
    examples().join("libcybedefend_credential_example_native.so")
}

fn exec_example() -> PathBuf {
    examples().join("cybedefend-credential-example")
}

fn python_example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/examples/python/cybedefend-credential-example-py")
}

/// A private plugin folder in the env's home, with `files` copied in (mode 0755).
fn plugin_dir(env: &Env, files: &[(&Path, &str)]) -> PathBuf {
    let dir = env.dot().join("plugins");
    fs::create_dir_all(&dir).unwrap();
    fs::set_permissions(env.dot(), fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();
    for (src, name) in files {
        let dst = dir.join(name);
        fs::copy(src, &dst).unwrap();
        fs::set_permissions(&dst, fs::Permissions::from_mode(0o755)).unwrap();
    }
    dir
}

/// An exec plugin written as a shell script in the plugin folder.
fn script(env: &Env, name: &str, body: &str) -> PathBuf {
    let dir = plugin_dir(env, &[]);
    let path = dir.join(format!("cybedefend-credential-{name}"));
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn config(env: &Env, yaml: &str) {
    env.write(&env.dot().join("config.yaml"), yaml);
}

fn status(env: &Env) -> (Out, Value) {
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    let j = out.json();
    (out, j)
}

const HELLO: &str = r#"printf '{"v":[1],"name":"t","version":"1"}\n'; read -r req"#;

#[test]
fn native_exec_and_python_plugins_answer_in_the_chain() {
    let mut env = Env::new();
    plugin_dir(
        &env,
        &[
            (
                &native_example(),
                "libcybedefend_credential_example_native.so",
            ),
            (&exec_example(), "cybedefend-credential-example"),
            (&python_example(), "cybedefend-credential-example-py"),
        ],
    );
    let file = env.tmp.path().join("pat.txt");
    fs::write(&file, format!("{PAT}\n")).unwrap();
    env.set("EXAMPLE_PAT", "cdp_from_exec_plugin_1");
    config(
        &env,
        &format!(
            "credentials:\n  chain: [native, exec, py]\n  providers:\n    native: {{type: plugin, plugin: example-native, config: {{file: '{}'}}}}\n    exec: {{type: plugin, plugin: example}}\n    py: {{type: plugin, plugin: example-py, config: {{file: '{}'}}}}\n",
            file.display(),
            file.display()
        ),
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["source"], "native");
    assert_eq!(j["fingerprint"], fingerprint(PAT));
    assert_eq!(j["chain"][0]["type"], "plugin");
    assert_eq!(j["chain"][0]["detail"], file.display().to_string());
    assert!(!out.all().contains(PAT));
    // --debug tells which plugin answered what, and how fast, never the secret
    let out = env.run(&["--debug", "auth", "status", "--offline"]);
    assert!(
        out.stderr.contains("plugin example-native (Native")
            && out.stderr.contains("Get in ")
            && out.stderr.contains(": ok"),
        "{out:?}"
    );
    assert!(!out.all().contains(PAT), "{out:?}");

    // not found in the native one: the chain moves on to the exec one, then python
    fs::remove_file(&file).unwrap();
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["chain"][0]["outcome"], "not_found");
    assert_eq!(j["source"], "exec");
    assert_eq!(j["fingerprint"], fingerprint("cdp_from_exec_plugin_1"));
    env.vars.retain(|(k, _)| k != "EXAMPLE_PAT");
    fs::write(&file, "cdp_from_python_01\n").unwrap();
    fs::rename(&file, env.tmp.path().join("moved")).unwrap();
    let (out, j) = status(&env);
    assert_eq!(out.code, 4, "nothing anywhere: {out:?}");
    assert_eq!(j["chain"][2]["outcome"], "not_found", "{j}");

    // the PAT from a plugin drives real commands
    let d = Double::start();
    d.add_pat("cdp_from_exec_plugin_1");
    env.use_double(&d);
    env.set("EXAMPLE_PAT", "cdp_from_exec_plugin_1");
    let out = env.run(&["auth", "token"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(d.requests_to("/oidc/token").len(), 1);
}

#[test]
fn login_and_logout_through_a_plugin_that_stores() {
    let d = Double::start();
    d.add_pat(PAT);
    let mut env = Env::new();
    env.use_double(&d);
    plugin_dir(
        &env,
        &[(
            &native_example(),
            "libcybedefend_credential_example_native.so",
        )],
    );
    let kept = env.tmp.path().join("kept-by-plugin");
    config(
        &env,
        &format!(
            "credentials:\n  chain: [env, corp]\n  providers:\n    corp: {{type: plugin, plugin: example-native, config: {{file: '{}'}}}}\n",
            kept.display()
        ),
    );
    let out = env.run(&["login", "--pat", PAT, "--store", "corp", "--region", "eu"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(fs::read_to_string(&kept).unwrap(), PAT);
    let creds: Value = serde_json::from_str(&fs::read_to_string(env.creds()).unwrap()).unwrap();
    assert_eq!(
        creds,
        serde_json::json!({"type": "pat", "region": "eu", "storage": "corp"})
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["source"], "corp");
    assert_eq!(j["region"], "eu");

    let cache = env.dot().join("token-cache.json");
    let cached = || {
        fs::read_to_string(&cache)
            .unwrap_or_default()
            .contains(&fingerprint(PAT))
    };
    assert!(cached(), "login cached the exchanged token");
    let out = env.run(&["logout"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!kept.exists());
    assert!(!env.creds().exists());
    assert!(
        !cached(),
        "logout forgets the PAT's cached tokens: {out:?}"
    );

    // what can be checked locally is checked before the server is asked
    let exchanges = d.requests_to("/oidc/token").len();
    env.write(
        &env.system_config(),
        "credentials:\n  allowed_providers: [flag, env, stored]\n",
    );
    let out = env.run(&["login", "--pat", PAT, "--store", "corp"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("provider `corp` (type `plugin`) may not be used on this machine"),
        "{out:?}"
    );
    fs::remove_file(env.system_config()).unwrap();
    fs::remove_file(
        env.dot()
            .join("plugins/libcybedefend_credential_example_native.so"),
    )
    .unwrap();
    let out = env.run(&["login", "--pat", PAT, "--store", "corp"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("provider `corp` cannot keep the PAT; nothing was stored")
            && out.stderr.contains("was not found"),
        "{out:?}"
    );
    assert_eq!(d.requests_to("/oidc/token").len(), exchanges, "{out:?}");
    assert!(!cached());

    // a plugin that does not store says so, and nothing is written
    plugin_dir(&env, &[(&exec_example(), "cybedefend-credential-example")]);
    config(
        &env,
        "credentials:\n  chain: [env, ex]\n  providers:\n    ex: {type: plugin, plugin: example}\n",
    );
    let out = env.run(&["login", "--pat", PAT, "--store", "ex"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("does not store"), "{out:?}");
    assert!(!env.creds().exists());
    assert!(!cached(), "no cached token for a PAT kept nowhere");
    let out = env.run(&["login", "--pat", PAT, "--store", "exx"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("(one of: file, keyring, ex); did you mean `ex`?"),
        "{out:?}"
    );
}

#[test]
fn untrusted_plugin_files_and_folders_are_refused() {
    let env = Env::new();
    let path = script(
        &env,
        "t",
        &format!("{HELLO}\nprintf '{{\"ok\":{{\"kind\":\"pat\",\"secret\":\"{PAT}\"}}}}\\n'"),
    );
    config(
        &env,
        "credentials:\n  chain: [t]\n  providers:\n    t: {type: plugin, plugin: t}\n",
    );
    let (out, _) = status(&env);
    assert_eq!(out.code, 0, "a private plugin runs: {out:?}");

    let refused = |env: &Env, needle: &str| {
        let (out, j) = status(env);
        assert_eq!(out.code, 2, "{needle}: {out:?}");
        assert!(
            j["error"].as_str().unwrap().contains(needle),
            "{needle}: {j}"
        );
    };
    fs::set_permissions(&path, fs::Permissions::from_mode(0o775)).unwrap();
    refused(&env, "group or others can write to it");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();

    let dir = path.parent().unwrap().to_owned();
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
    refused(&env, "can be written by group or others");
    fs::set_permissions(&dir, fs::Permissions::from_mode(0o700)).unwrap();

    // owned by another (non-root) user
    Command::new("chown")
        .args(["65534", path.to_str().unwrap()])
        .status()
        .unwrap();
    refused(&env, "belongs to another user");
    Command::new("chown")
        .args(["0", path.to_str().unwrap()])
        .status()
        .unwrap();

    // a pin that does not match names both hashes
    config(
        &env,
        &format!(
            "credentials:\n  chain: [t]\n  providers:\n    t: {{type: plugin, plugin: t, sha256: '{}'}}\n",
            "0".repeat(64)
        ),
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 2, "{out:?}");
    let e = j["error"].as_str().unwrap();
    assert!(
        e.contains(&"0".repeat(64)) && e.contains("its SHA-256 is"),
        "{e}"
    );
    let good = Command::new("sha256sum").arg(&path).output().unwrap();
    let good = String::from_utf8_lossy(&good.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    config(
        &env,
        &format!(
            "credentials:\n  chain: [t]\n  providers:\n    t: {{type: plugin, plugin: t, sha256: '{good}'}}\n"
        ),
    );
    assert_eq!(status(&env).0.code, 0);
}

#[test]
fn the_system_allow_list_is_final_and_a_repository_cannot_add_a_plugin() {
    let env = Env::new();
    script(
        &env,
        "t",
        &format!("{HELLO}\nprintf '{{\"ok\":{{\"kind\":\"pat\",\"secret\":\"{PAT}\"}}}}\\n'"),
    );
    env.write(&env.system_config(), "plugins:\n  allow: [corp-only]\n");
    config(
        &env,
        "credentials:\n  chain: [t]\n  providers:\n    t: {type: plugin, plugin: t}\nplugins:\n  allow: [t]\n",
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("not in plugins.allow"),
        "{j}"
    );
    assert!(
        out.stdout
            .contains("`plugins.allow` in ~/.cybedefend/config.yaml is ignored"),
        "{out:?}"
    );

    // a trusted working directory still cannot add or point to a plugin
    let env = Env::new();
    script(
        &env,
        "t",
        &format!("{HELLO}\nprintf '{{\"ok\":{{\"kind\":\"pat\",\"secret\":\"{PAT}\"}}}}\\n'"),
    );
    config(
        &env,
        &format!("trusted_directories: ['{}']\n", env.work().display()),
    );
    env.write(
        &env.work().join("config.yaml"),
        "credentials:\n  chain: [env, t]\n  providers:\n    t: {type: plugin, plugin: t}\nplugins:\n  dirs: [/tmp]\n",
    );
    let out = env.run(&["auth", "status", "--offline"]);
    assert!(out.stderr.contains("never adds a plugin"), "{out:?}");
    assert!(out.stderr.contains("never points to a plugin"), "{out:?}");
    assert_ne!(
        out.code, 0,
        "the chain names a provider that was dropped: {out:?}"
    );
}

#[test]
fn plugin_folders_are_absolute_or_under_home_never_relative() {
    let env = Env::new();
    let answer =
        format!("{HELLO}\nprintf '{{\"ok\":{{\"kind\":\"pat\",\"secret\":\"{PAT}\"}}}}\\n'");
    // a repository that carries a plugin under a folder name a user config might list
    let planted = env.work().join("corp-plugins/cybedefend-credential-t");
    env.write(&planted, &format!("#!/bin/sh\n{answer}\n"));
    fs::set_permissions(&planted, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(planted.parent().unwrap(), fs::Permissions::from_mode(0o700)).unwrap();
    fs::set_permissions(env.work(), fs::Permissions::from_mode(0o700)).unwrap();
    let chain = "credentials:\n  chain: [t]\n  providers:\n    t: {type: plugin, plugin: t}\n";
    config(&env, &format!("{chain}plugins:\n  dirs: [corp-plugins]\n"));
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains(
            "`plugins.dirs` entry `corp-plugins` in ~/.cybedefend/config.yaml is a relative folder"
        ) && out
            .stderr
            .contains("give an absolute folder, or one under `~/`"),
        "{out:?}"
    );
    assert!(!out.all().contains(PAT), "the planted plugin ran: {out:?}");

    // `~/` is the home folder
    let mine = env.home().join("corp-plugins/cybedefend-credential-t");
    env.write(&mine, &format!("#!/bin/sh\n{answer}\n"));
    fs::set_permissions(&mine, fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(mine.parent().unwrap(), fs::Permissions::from_mode(0o700)).unwrap();
    config(
        &env,
        &format!("{chain}plugins:\n  dirs: ['~/corp-plugins']\n"),
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint(PAT));
    let out = env.run(&["plugin", "list", "--json"]);
    assert!(
        out.json()["plugins"][0]["path"] == "~/corp-plugins/cybedefend-credential-t",
        "{out:?}"
    );
}

#[test]
fn secrets_never_reach_a_plugins_argv_or_environment() {
    let d = Double::start();
    d.add_pat(PAT);
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", "cdp_env_pat_for_plugin_1");
    let seen = env.tmp.path().join("seen");
    script(
        &env,
        "spy",
        &format!(
            "{{ echo \"$@\"; env; }} > {}\n{HELLO}\necho \"$req\" >> {}\nprintf '{{\"ok\":{{}}}}\\n'",
            seen.display(),
            seen.display()
        ),
    );
    config(
        &env,
        "credentials:\n  chain: [spy]\n  providers:\n    spy: {type: plugin, plugin: spy}\n",
    );
    let out = env.run(&["login", "--pat", PAT, "--store", "spy"]);
    assert_eq!(out.code, 0, "{out:?}");
    let text = fs::read_to_string(&seen).unwrap();
    let (head, request) = text.split_once("{\"v\":1").unwrap();
    assert!(
        !head.contains(PAT),
        "argv or environment held the PAT:\n{head}"
    );
    assert!(
        !head.contains("cdp_env_pat_for_plugin_1"),
        "CYBEDEFEND_PAT was passed:\n{head}"
    );
    assert!(head.starts_with("--cybedefend-plugin"), "{head}");
    assert!(
        request.contains(PAT),
        "the PAT travels in the request on stdin"
    );
}

#[test]
fn broken_exec_plugins_give_clear_errors() {
    let env = Env::new();
    config(
        &env,
        "credentials:\n  chain: [t, env]\n  providers:\n    t: {type: plugin, plugin: t, timeout: 2s}\n",
    );
    let ok_answer = format!("printf '{{\"ok\":{{\"kind\":\"pat\",\"secret\":\"{PAT}\"}}}}\\n'");
    // a secret a broken plugin prints on stdout is never quoted back
    let raw_secret = format!("printf '{{ok: {{secret: {PAT}}}}}\\n'");
    for (body, needle) in [
        (
            "echo 'hello world'".to_owned(),
            "printed a line that is not JSON (11 characters, not shown: stdout may carry a secret) where its hello line belongs",
        ),
        ("true".to_owned(), "printed nothing"),
        (
            format!("{ok_answer}"),
            "printed an answer without its hello line first",
        ),
        (
            r#"printf '{"v":1}\n'; read -r req; printf '{"ok":{}}\n'"#.to_owned(),
            "a hello whose `v` is not a list of protocol versions (such as [1])",
        ),
        (
            format!("{HELLO}\n{ok_answer}\n{ok_answer}"),
            "printed 2 answers; a plugin answers once",
        ),
        (
            format!("{HELLO}\necho 'DEBUG got the request'\n{ok_answer}"),
            "printed other lines besides its hello: a line that is not JSON (21 characters",
        ),
        (
            format!("{HELLO}\n{raw_secret}"),
            "answered with a line that is not JSON (",
        ),
        (
            format!("{HELLO}\n{ok_answer}\nexit 3"),
            "exited with code 3",
        ),
        (
            format!("{HELLO}\necho '{{\"answer\": 42}}'"),
            "not a protocol answer",
        ),
        (
            r#"printf '{"v":[2,3]}\n'; read -r req; printf '{"ok":{}}\n'"#.to_owned(),
            "speaks protocol versions [2, 3]; this cybedefend speaks [1]",
        ),
    ] {
        script(&env, "t", &body);
        let (out, j) = status(&env);
        assert_eq!(out.code, 1, "{needle}: {out:?}");
        assert!(
            j["error"].as_str().unwrap().contains(needle),
            "{needle}: {j}"
        );
        assert!(!out.all().contains(PAT), "{needle}: {out:?}");
        let human = env.run(&["auth", "status", "--offline"]);
        assert!(!human.all().contains(PAT), "{needle}: {human:?}");
    }

    // hangs: killed at the limit, and gone afterwards
    script(&env, "t", &format!("{HELLO}\nsleep 46.75"));
    let start = Instant::now();
    let (out, _) = status(&env);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(start.elapsed() < Duration::from_secs(8));
    std::thread::sleep(Duration::from_millis(300));
    let left = Command::new("pgrep")
        .args(["-f", "sleep 46.75"])
        .output()
        .unwrap();
    assert!(left.stdout.is_empty(), "the plugin outlived the CLI");

    // not found: the chain moves on; a secret on stderr is masked
    let mut env = env;
    env.set("CYBEDEFEND_PAT", "cdp_after_the_plugin_1");
    script(
        &env,
        "t",
        &format!(
            "echo \"leaking cdp_after_the_plugin_1 and \\033]0;title\\007\" >&2\n{HELLO}\nprintf '{{\"err\":{{\"kind\":\"not-found\",\"message\":\"nothing\"}}}}\\n'"
        ),
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["source"], "env");
    assert_eq!(j["chain"][0]["outcome"], "not_found");
    let warnings = j["warnings"].to_string();
    assert!(
        warnings.contains("plugin says: leaking [REDACTED]"),
        "{warnings}"
    );
    assert!(!out.all().contains("cdp_after_the_plugin_1"));
    assert!(!out.all().contains('\u{1b}'));

    // each error kind maps to its exit code
    env.vars.clear();
    for (kind, code) in [
        ("usage", 2),
        ("auth", 4),
        ("network", 3),
        ("failed", 1),
        ("from-the-future", 1),
    ] {
        script(
            &env,
            "t",
            &format!("{HELLO}\nprintf '{{\"err\":{{\"kind\":\"{kind}\",\"message\":\"m\"}}}}\\n'"),
        );
        let (out, _) = status(&env);
        assert_eq!(out.code, code, "{kind}: {out:?}");
    }
}

/// Compiles a shared library from C, in the plugin folder under `file`.
fn c_library(env: &Env, file: &str, source: &str) -> PathBuf {
    let dir = plugin_dir(env, &[]);
    let c = env.tmp.path().join(format!("{file}.c"));
    fs::write(&c, source).unwrap();
    let out = dir.join(file);
    let status = Command::new("cc")
        .args(["-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&c)
        .status()
        .unwrap();
    assert!(status.success(), "cc failed");
    fs::set_permissions(&out, fs::Permissions::from_mode(0o755)).unwrap();
    out
}

const C_TABLE: &str = r#"
#include <stdint.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
typedef struct { uint8_t *ptr; size_t len; size_t cap; } Buffer;
typedef struct {
    uint32_t abi_version; const char *name; const char *version;
    void *(*create)(void);
    Buffer (*get)(void *, const uint8_t *, size_t);
    Buffer (*store)(void *, const uint8_t *, size_t);
    Buffer (*erase)(void *, const uint8_t *, size_t);
    void (*free)(Buffer);
    void (*destroy)(void *);
} PluginTable;
static void *create(void) { return (void *)1; }
static Buffer answer(void *i, const uint8_t *r, size_t n) {
    (void)i; (void)r; (void)n;
    const char *a = ANSWER;
    size_t len = sizeof(ANSWER) - 1;
#ifndef CLAIMED
#define CLAIMED len
#endif
    Buffer b = { malloc(len), CLAIMED, len };
    memcpy(b.ptr, a, len);
    return b;
}
static void release(Buffer b) { free(b.ptr); }
static void destroy(void *i) { (void)i; }
static const PluginTable table = { ABI, "c-test", "1", create, answer, answer, answer, release, destroy };
const PluginTable *cybedefend_plugin(void) { return &table; }
"#;

#[test]
fn broken_native_plugins_are_refused_with_the_reason() {
    let env = Env::new();
    config(
        &env,
        "credentials:\n  chain: [n, env]\n  providers:\n    n: {type: plugin, plugin: n}\n",
    );
    let lib = "libcybedefend_credential_n.so";
    let ok = format!("{{\"ok\":{{\"kind\":\"pat\",\"secret\":\"{PAT}\"}}}}");
    for (abi, answer, code, needle) in [
        (
            "2",
            ok.clone(),
            2,
            "native ABI version 2; this cybedefend loads version 1",
        ),
        ("0", ok.clone(), 2, "native ABI version 0"),
        ("1", "\\xff\\xfe not utf-8".to_owned(), 1, "not UTF-8"),
        ("1", "no json".to_owned(), 1, "not a protocol answer"),
        ("1", ok.clone(), 0, ""),
    ] {
        let src = format!(
            "#define ABI {abi}\n#define ANSWER \"{}\"\n{C_TABLE}",
            answer.replace('"', "\\\"")
        );
        c_library(&env, lib, &src);
        let (out, j) = status(&env);
        assert_eq!(out.code, code, "{needle}: {out:?}");
        if code != 0 {
            assert!(
                j["error"].as_str().unwrap().contains(needle),
                "{needle}: {j}"
            );
        } else {
            assert_eq!(j["fingerprint"], fingerprint(PAT));
        }
    }
    // a length of a terabyte is not believed (nor read)
    let src = format!(
        "#define ABI 1\n#define ANSWER \"{}\"\n#define CLAIMED ((size_t)1 << 40)\n{C_TABLE}",
        ok.replace('"', "\\\"")
    );
    c_library(&env, lib, &src);
    let (out, j) = status(&env);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("answered with 1099511627776 bytes"),
        "{j}"
    );
    c_library(&env, lib, "int not_the_entry_point(void) { return 0; }\n");
    let (out, j) = status(&env);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("no `cybedefend_plugin` symbol"),
        "{j}"
    );
    fs::write(plugin_dir(&env, &[]).join(lib), "not a library at all").unwrap();
    let (out, j) = status(&env);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("not a shared library"),
        "{j}"
    );
}

#[test]
fn a_panicking_native_plugin_is_caught_and_the_chain_goes_on() {
    let mut env = Env::new();
    plugin_dir(
        &env,
        &[(
            &native_example(),
            "libcybedefend_credential_example_native.so",
        )],
    );
    let file = env.tmp.path().join("pat.txt");
    fs::write(&file, "panic\n").unwrap();
    env.set("CYBEDEFEND_PAT", "cdp_after_a_panic_01");
    config(
        &env,
        &format!(
            "credentials:\n  chain: [n, env]\n  providers:\n    n: {{type: plugin, plugin: example-native, on_error: continue, config: {{file: '{}'}}}}\n",
            file.display()
        ),
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["source"], "env");
    assert!(
        j["chain"][0]["detail"]
            .as_str()
            .unwrap()
            .contains("the plugin panicked"),
        "{j}"
    );
}

#[test]
fn plugin_list_verify_and_the_conformance_run() {
    let env = Env::new();
    plugin_dir(
        &env,
        &[
            (
                &native_example(),
                "libcybedefend_credential_example_native.so",
            ),
            (&exec_example(), "cybedefend-credential-example"),
            (&python_example(), "cybedefend-credential-example-py"),
        ],
    );
    let out = env.run(&["plugin", "list", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let j = out.json();
    let plugins = j["plugins"].as_array().unwrap();
    assert_eq!(plugins.len(), 3, "{j}");
    for p in plugins {
        assert_eq!(p["trusted"], true, "{p}");
        assert!(p["sha256"].as_str().unwrap().starts_with("sha256:"));
        assert_eq!(p["protocol_or_abi"], serde_json::json!([1]), "{p}");
    }
    for name in ["example", "example-native", "example-py"] {
        let out = env.run(&["plugin", "test", name]);
        assert_eq!(out.code, 0, "{name}: {out:?}");
        assert!(!out.stdout.contains('✗'), "{name}: {out:?}");
        let out = env.run(&["plugin", "verify", name]);
        assert_eq!(out.code, 0, "{name}: {out:?}");
    }
    // a plugin that answers everything with `found` fails the conformance run
    script(
        &env,
        "lazy",
        &format!("{HELLO}\nprintf '{{\"ok\":{{\"kind\":\"pat\",\"secret\":\"{PAT}\"}}}}\\n'"),
    );
    let out = env.run(&["plugin", "test", "lazy"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.contains("✗ get: error `not-found`"), "{out:?}");
    assert!(out.stderr.contains("conformance cases failed"), "{out:?}");
}

#[test]
fn new_skeletons_pass_the_conformance_run_as_they_are() {
    let env = Env::new();
    for lang in ["python", "sh"] {
        let dir = env.tmp.path().join(format!("new-{lang}"));
        let out = env.run(&[
            "plugin",
            "new",
            "acme-vault",
            "--lang",
            lang,
            "--dir",
            dir.to_str().unwrap(),
        ]);
        assert_eq!(out.code, 0, "{lang}: {out:?}");
        assert!(dir.join("README.md").exists());
        let exe = dir.join("cybedefend-credential-acme-vault");
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        let out = env.run(&["plugin", "test", exe.to_str().unwrap()]);
        assert_eq!(out.code, 0, "{lang}: {out:?}");
        // and it really reads the variable it names
        let mut e2 = Env::new();
        e2.set("ACME_VAULT_PAT", PAT);
        e2.write(
            &e2.dot().join("config.yaml"),
            &format!(
                "credentials:\n  chain: [a]\n  providers:\n    a: {{type: plugin, path: '{}'}}\n",
                exe.display()
            ),
        );
        let (out, j) = status(&e2);
        assert_eq!(out.code, 0, "{lang}: {out:?}");
        assert_eq!(j["fingerprint"], fingerprint(PAT), "{lang}");
    }
    // the Rust skeleton builds on its own and passes too
    let dir = env.tmp.path().join("new-rust");
    let out = env.run(&[
        "plugin",
        "new",
        "acme-vault",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let built = Command::new(cargo)
        .args(["build", "--quiet"])
        .env("CARGO_TARGET_DIR", target_dir().join("../plugin-skeleton"))
        .current_dir(&dir)
        .status()
        .unwrap();
    assert!(built.success(), "the Rust skeleton builds");
    let exe = target_dir().join("../plugin-skeleton/debug/cybedefend-credential-acme-vault");
    let out = env.run(&["plugin", "test", exe.to_str().unwrap()]);
    assert_eq!(out.code, 0, "{out:?}");
    let again = env.run(&[
        "plugin",
        "new",
        "acme-vault",
        "--dir",
        dir.to_str().unwrap(),
    ]);
    assert_eq!(
        again.code, 2,
        "an existing folder is not overwritten: {again:?}"
    );
}
