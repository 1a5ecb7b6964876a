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

pub(crate) const PAT: &str = "cdp_plugin_pat_000001";

/// The workspace's target folder (where the example plugins are built).
pub(crate) fn target_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cybedefend"))
        .parent()
        .unwrap()
        .to_owned()
}

/// Builds the example plugins once (a no-op when `cargo test --workspace` built them).
pub(crate) fn examples() -> &'static PathBuf {
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

pub(crate) fn native_example() -> PathBuf {
    examples().join("libcybedefend_credential_example_native.so")
}

pub(crate) fn exec_example() -> PathBuf {
    examples().join("cybedefend-credential-example")
}

pub(crate) fn python_example() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../plugins/examples/python/cybedefend-credential-example-py")
}

/// A private plugin folder in the env's home, with `files` copied in (mode 0755).
pub(crate) fn plugin_dir(env: &Env, files: &[(&Path, &str)]) -> PathBuf {
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
pub(crate) fn script(env: &Env, name: &str, body: &str) -> PathBuf {
    let dir = plugin_dir(env, &[]);
    let path = dir.join(format!("cybedefend-credential-{name}"));
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

pub(crate) fn config(env: &Env, yaml: &str) {
    env.write(&env.dot().join("config.yaml"), yaml);
}

pub(crate) fn status(env: &Env) -> (Out, Value) {
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    let j = out.json();
    (out, j)
}

/// A chain of one plugin provider `t`, the plugin named `t`.
pub(crate) const ONE_PLUGIN_T: &str =
    "credentials:\n  chain: [t]\n  providers:\n    t: {type: plugin, plugin: t}\n";

pub(crate) const HELLO: &str = r#"printf '{"v":[1],"name":"t","version":"1"}\n'; read -r req"#;

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
    assert!(!cached(), "logout forgets the PAT's cached tokens: {out:?}");

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
    config(&env, ONE_PLUGIN_T);
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
    assert!(
        out.stderr
            .contains("never adds, points to or pins a plugin, even when trusted"),
        "{out:?}"
    );
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
    let chain = ONE_PLUGIN_T;
    config(&env, &format!("{chain}plugins:\n  dirs: [corp-plugins]\n"));
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains(
            "`plugins.dirs` entry `corp-plugins` in ~/.cybedefend/config.yaml is not an absolute folder"
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
            ok_answer.clone(),
            "printed an answer without its hello line first",
        ),
        (
            r#"printf '{"v":1}\n'; read -r req; printf '{"ok":{}}\n'"#.to_owned(),
            "a hello whose `v` is not a list of protocol versions (such as [1])",
        ),
        (
            r#"printf '{"v":[99999999999999]}\n'; read -r req; printf '{"ok":{}}\n'"#.to_owned(),
            "a hello whose `v` lists something that is not a protocol version",
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
    assert!(gone("sleep 46.75"), "the plugin outlived the CLI");

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
pub(crate) fn c_library(env: &Env, file: &str, source: &str) -> PathBuf {
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

/// The native ABI in C (plugins/PROTOCOL.md), for plugins compiled by the tests.
pub(crate) const C_ABI: &str = r#"
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
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
"#;

/// A table that answers `ANSWER` (of length `CLAIMED`) for every action, with ABI `ABI`.
pub(crate) const C_TABLE: &str = r#"
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
            "#define ABI {abi}\n#define ANSWER \"{}\"\n{C_ABI}{C_TABLE}",
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
        "#define ABI 1\n#define ANSWER \"{}\"\n#define CLAIMED ((size_t)1 << 40)\n{C_ABI}{C_TABLE}",
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
    // a path with terminal escapes: the panic message quotes it
    let dir = env.tmp.path().join("esc\u{1b}]0;title\u{7}");
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("pat.txt");
    fs::write(&file, "panic\n").unwrap();
    env.set("CYBEDEFEND_PAT", "cdp_after_a_panic_01");
    config(
        &env,
        &format!(
            "credentials:\n  chain: [n, env]\n  providers:\n    n: {{type: plugin, plugin: example-native, on_error: continue, config: {{file: \"{}\"}}}}\n",
            file.display()
                .to_string()
                .replace('\u{1b}', "\\e")
                .replace('\u{7}', "\\a")
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
    // the plugin's panic hook stays quiet: no raw message, no backtrace, no escape
    assert!(!out.stderr.contains("panicked at"), "{out:?}");
    assert!(!out.all().contains('\u{1b}'), "{out:?}");
    let human = env.run(&["auth", "status", "--offline"]);
    assert!(!human.stderr.contains("panicked at"), "{human:?}");
    assert!(!human.all().contains('\u{1b}'), "{human:?}");
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
        assert!(
            out.stdout.contains(" ms to its hello (median of 3;"),
            "{name}: {out:?}"
        );
    }
    // a plugin slow to start is told what that costs, and why it may be slow
    script(
        &env,
        "slow",
        &format!("sleep 0.2\n{HELLO}\nprintf '{{\"ok\":{{}}}}\\n'"),
    );
    let out = env.run(&["plugin", "verify", "slow"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("`slow` takes") && out.stderr.contains("#!/usr/bin/env"),
        "{out:?}"
    );
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
        if lang == "python" {
            // the system's Python by its path, not a shim found through `env`
            let first = fs::read_to_string(&exe).unwrap();
            assert!(first.starts_with("#!/usr/bin/python3\n"), "{first}");
        }
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

        // installed as its README says, configured by name, with its own variable and a
        // config key that shares a name with a request field
        let mut e3 = Env::new();
        let plugins = e3.dot().join("plugins");
        for cmd in [
            vec![
                "install".to_owned(),
                "-d".into(),
                "-m".into(),
                "0700".into(),
                e3.dot().display().to_string(),
                plugins.display().to_string(),
            ],
            vec![
                "install".to_owned(),
                "-m".into(),
                "0755".into(),
                exe.display().to_string(),
                plugins.display().to_string(),
            ],
        ] {
            assert!(
                Command::new(&cmd[0])
                    .args(&cmd[1..])
                    .status()
                    .unwrap()
                    .success()
            );
        }
        e3.set("MY_TEAM_PAT", PAT);
        e3.write(
            &e3.dot().join("config.yaml"),
            "credentials:\n  chain: [a]\n  providers:\n    a: {type: plugin, plugin: acme-vault, config: {action: rotate, variable: MY_TEAM_PAT}}\n",
        );
        let (out, j) = status(&e3);
        assert_eq!(out.code, 0, "{lang}: {out:?}");
        assert_eq!(j["fingerprint"], fingerprint(PAT), "{lang}");
        assert_eq!(j["chain"][0]["detail"], "$MY_TEAM_PAT", "{lang}");
        let out = e3.run(&["plugin", "verify", "acme-vault"]);
        assert_eq!(out.code, 0, "{lang}: {out:?}");
        assert!(
            out.stdout.contains("answers: acme-vault 0.1.0"),
            "{lang}: {out:?}"
        );
    }
    let out = env.run(&["plugin", "new", "cybedefend-credential-corp"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("`cybedefend plugin new corp` writes `cybedefend-credential-corp`"),
        "{out:?}"
    );
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

/// A plugin script that answers `PAT` (after `body`), in `dir`, mode 0755.
pub(crate) fn answering(dir: &Path, file: &str, body: &str) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    let path = dir.join(file);
    fs::write(
        &path,
        format!(
            "#!/bin/sh\n{HELLO}\n{body}\nprintf '{{\"ok\":{{\"kind\":\"pat\",\"secret\":\"{PAT}\"}}}}\\n'\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    path
}

pub(crate) fn refused_with(env: &Env, needles: &[&str]) {
    let start = Instant::now();
    let (out, j) = status(env);
    assert!(start.elapsed() < Duration::from_secs(10), "slow: {out:?}");
    assert_eq!(out.code, 2, "{needles:?}: {out:?}");
    let e = format!("{} {}", j["error"], j["hint"]);
    for n in needles {
        assert!(e.contains(n), "{n}: {e}");
    }
    assert!(!out.all().contains(PAT), "{out:?}");
}

#[test]
fn links_special_files_and_interpreters_are_checked_before_anything_runs() {
    let env = Env::new();
    let plugins = plugin_dir(&env, &[]);
    config(&env, ONE_PLUGIN_T);
    let name = plugins.join("cybedefend-credential-t");

    // a link in a private folder to a private file runs the real file, shown as such
    let private = env.home().join("private");
    let real = answering(&private, "real-plugin", "");
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    std::os::unix::fs::symlink(&real, &name).unwrap();
    let (out, _) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    let out = env.run(&["plugin", "verify", "t"]);
    assert!(out.stdout.contains("~/private/real-plugin"), "{out:?}");

    // a link in a folder others can write could be repointed at any moment: refused
    let shared = env.tmp.path().join("shared");
    fs::create_dir_all(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();
    let link = shared.join("cybedefend-credential-t");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    config(
        &env,
        &format!(
            "credentials:\n  chain: [t]\n  providers:\n    t: {{type: plugin, path: '{}'}}\n",
            link.display()
        ),
    );
    refused_with(&env, &["shared can be written by group or others"]);

    // a FIFO, a link to /dev/zero, a folder: refused at once, never read
    fs::remove_file(&name).unwrap();
    let fifo = env.tmp.path().join("fifo");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    for (target, needle) in [
        (fifo.as_path(), "it is not a regular file"),
        (Path::new("/dev/zero"), "it is not a regular file"),
    ] {
        config(
            &env,
            &format!(
                "credentials:\n  chain: [t]\n  providers:\n    t: {{type: plugin, path: '{}', sha256: '{}'}}\n",
                target.display(),
                "0".repeat(64)
            ),
        );
        refused_with(&env, &[needle]);
    }
    std::os::unix::fs::symlink("/dev/zero", &name).unwrap();
    let start = Instant::now();
    let out = env.run(&["plugin", "list"]);
    assert!(start.elapsed() < Duration::from_secs(10), "{out:?}");
    assert!(
        out.stdout.contains("refused: it is not a regular file"),
        "{out:?}"
    );
    fs::remove_file(&name).unwrap();
    fs::create_dir_all(&name).unwrap();
    config(&env, ONE_PLUGIN_T);
    refused_with(
        &env,
        &[
            "it is not a regular file but a folder",
            "install the plugin's file itself",
        ],
    );
    fs::remove_dir(&name).unwrap();

    // scripts: no `#!`, Windows line endings, a missing interpreter, one others can change
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!("{HELLO}\n"),
            vec![
                "neither a program nor a script with a `#!` first line",
                "#!/bin/sh",
            ],
        ),
        (
            "#!/bin/sh\r\necho\r\n".to_owned(),
            vec!["carriage return (Windows line endings)", "sed -i"],
        ),
        (
            "#!/nowhere/bin/sh\necho\n".to_owned(),
            vec!["its interpreter /nowhere/bin/sh (from its `#!` line) does not exist"],
        ),
        (
            "#!/usr/bin/env no-such-interpreter-xyz\necho\n".to_owned(),
            vec!["its interpreter `no-such-interpreter-xyz` (from its `#!` line) is not on PATH"],
        ),
    ];
    for (text, needles) in cases {
        fs::write(&name, text).unwrap();
        fs::set_permissions(&name, fs::Permissions::from_mode(0o755)).unwrap();
        refused_with(&env, &needles);
    }
    let sh = shared.join("sh");
    fs::copy("/bin/sh", &sh).unwrap();
    fs::set_permissions(&sh, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(&name, format!("#!{}\n{HELLO}\n", sh.display())).unwrap();
    refused_with(
        &env,
        &[
            "its interpreter's folder",
            "shared can be written by group or others",
        ],
    );
    fs::remove_file(&name).unwrap();

    // a name given to `plugin verify` is a name, even when a file of that name is here
    answering(&env.work(), "t2", "");
    let out = env.run(&["plugin", "verify", "t2"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("plugin `t2` was not found"), "{out:?}");
    let out = env.run(&["plugin", "verify", "./t2"]);
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn a_missing_plugin_shows_the_providers_install_hint() {
    let env = Env::new();
    plugin_dir(&env, &[]);
    config(
        &env,
        "credentials:\n  chain: [t]\n  providers:\n    t: {type: plugin, plugin: corp-vault, install_hint: 'apt install corp-cybedefend-plugin (see https://wiki.corp.example/cli)'}\n",
    );
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("plugin `corp-vault` was not found"),
        "{out:?}"
    );
    assert!(
        out.stderr
            .contains("hint: apt install corp-cybedefend-plugin (see https://wiki.corp.example/cli) (the provider's install_hint)"),
        "{out:?}"
    );
    // by path too
    config(
        &env,
        "credentials:\n  chain: [t]\n  providers:\n    t: {type: plugin, path: /opt/corp/cybedefend-credential-x, install_hint: ask the platform team}\n",
    );
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("/opt/corp/cybedefend-credential-x does not exist"),
        "{out:?}"
    );
    assert!(out.stderr.contains("ask the platform team"), "{out:?}");
}

#[test]
fn misplaced_misnamed_and_pinned_plugins_are_explained() {
    let env = Env::new();
    let plugins = plugin_dir(&env, &[]);
    config(
        &env,
        "credentials:\n  chain: [t]\n  providers:\n    t: {type: plugin, plugin: corp-secrets}\n",
    );
    answering(&plugins, "corp-secrets.py", "");
    let (out, j) = status(&env);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        j["hint"].as_str().unwrap().contains("corp-secrets.py"),
        "{out:?}"
    );
    let human = env.run(&["auth", "status", "--offline"]);
    assert!(
        human.stderr.contains("found ~/.cybedefend/plugins/corp-secrets.py, but a plugin file is named exactly cybedefend-credential-corp-secrets"),
        "{human:?}"
    );
    answering(&plugins, "cybedefend-credential-Corp_Secrets", "");
    let out = env.run(&["plugin", "list"]);
    assert!(
        out.stdout.contains("Ignored (not named as a plugin")
            && out.stdout.contains("cybedefend-credential-Corp_Secrets"),
        "{out:?}"
    );

    // `plugin verify` honours the pin of the configuration
    let path = answering(&plugins, "cybedefend-credential-corp-secrets", "");
    let out = env.run(&["plugin", "verify", "corp-secrets"]);
    assert_eq!(out.code, 0, "{out:?}");
    config(
        &env,
        &format!(
            "credentials:\n  chain: [t]\n  providers:\n    t: {{type: plugin, plugin: corp-secrets, sha256: '{}'}}\n",
            "ab".repeat(32)
        ),
    );
    let out = env.run(&["plugin", "verify", "corp-secrets"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stdout
            .contains(&format!("the configuration pins {}", "ab".repeat(32))),
        "{out:?}"
    );
    let out = env.run(&["plugin", "list", "--json"]);
    let row = &out.json()["plugins"][0];
    assert_eq!(row["trusted"], false, "{row}");

    // a plugin without its hello fails one conformance case, not every one
    config(&env, "{}\n");
    fs::write(&path, "#!/bin/sh\nread -r req\necho '{\"ok\":{}}'\n").unwrap();
    let out = env.run(&[
        "plugin",
        "test",
        "./../home/.cybedefend/plugins/cybedefend-credential-corp-secrets",
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    assert_eq!(out.stdout.matches('✗').count(), 1, "{out:?}");
    assert!(out.stdout.contains("not run"), "{out:?}");
}

#[test]
fn a_plugin_is_held_to_its_time_limit_and_leaves_nothing_behind() {
    let env = Env::new();
    let plugins = plugin_dir(&env, &[]);
    // a background child that would outlive the plugin, and a secret cut by a long line
    answering(
        &plugins,
        "cybedefend-credential-t",
        &format!("sleep 47.25 >/dev/null 2>&1 &\nprintf 'debug: %0275d token={PAT}\\n' 0 >&2"),
    );
    config(
        &env,
        "credentials:\n  chain: [t]\n  providers:\n    t: {type: plugin, plugin: t, timeout: 1s}\n",
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        !out.all().contains("cdp_plugin"),
        "no part of the secret: {out:?}"
    );
    assert!(
        j["warnings"].to_string().contains("plugin says: debug: "),
        "{j}"
    );
    assert!(gone("sleep 47.25"), "the plugin's child outlived the CLI");

    // the configured time limit applies, not a built-in one; the error quotes what the plugin
    // last wrote on stderr (what it was waiting for)
    answering(
        &plugins,
        "cybedefend-credential-t",
        "echo 'opening the vault' >&2\necho 'waiting for the hardware token' >&2\nsleep 3",
    );
    let start = Instant::now();
    let (out, j) = status(&env);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(start.elapsed() < Duration::from_millis(2500), "{out:?}");
    let e = j["error"].as_str().unwrap();
    assert!(e.contains("did not answer within 1s"), "{j}");
    assert!(
        e.contains("opening the vault | waiting for the hardware token"),
        "{j}"
    );
}

#[test]
fn a_trusted_working_directory_cannot_repoint_or_repin_a_users_plugin() {
    let env = Env::new();
    let plugins = plugin_dir(&env, &[]);
    answering(&plugins, "cybedefend-credential-t", "");
    let evil = env.work().join("evil");
    fs::write(&evil, "#!/bin/sh\necho repository code ran >&2\n").unwrap();
    fs::set_permissions(&evil, fs::Permissions::from_mode(0o755)).unwrap();
    config(
        &env,
        &format!(
            "trusted_directories: ['{}']\ncredentials:\n  chain: [x]\n  providers:\n    x: {{type: plugin, plugin: t}}\n",
            env.work().display()
        ),
    );
    env.write(
        &env.work().join("config.yaml"),
        &format!(
            "credentials:\n  providers:\n    x: {{path: '{}', sha256: '{}'}}\n",
            evil.display(),
            "0".repeat(64)
        ),
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint(PAT), "{j}");
    assert!(!out.all().contains("repository code ran"), "{out:?}");
    assert!(
        out.stdout
            .contains("never adds, points to or pins a plugin")
            || j["warnings"]
                .to_string()
                .contains("never adds, points to or pins a plugin")
            || out
                .stderr
                .contains("never adds, points to or pins a plugin"),
        "{out:?}"
    );

    // untrusted: the warning does not send the user to `trusted_directories` for a plugin
    config(
        &env,
        "credentials:\n  chain: [x]\n  providers:\n    x: {type: plugin, plugin: t}\n",
    );
    env.write(
        &env.work().join("config.yaml"),
        "credentials:\n  chain: [y]\n  providers:\n    y: {type: plugin, plugin: t}\n",
    );
    let out = env.run(&["auth", "status", "--offline"]);
    assert!(
        out.stderr
            .contains("never a plugin or exec provider (`y`), even in a trusted folder"),
        "{out:?}"
    );
}

#[test]
fn under_the_allow_list_only_what_the_administrator_installed_loads() {
    let env = Env::new();
    let root = running_as_root();
    // The plugin the administrator installed: root's file in root's folder.
    let sys_plugins = env.tmp.path().join("sys-plugins");
    answering(&sys_plugins, "cybedefend-credential-corp", "");
    fs::set_permissions(&sys_plugins, fs::Permissions::from_mode(0o755)).unwrap();
    let home_plugins = plugin_dir(&env, &[]);
    let mine = answering(
        &home_plugins,
        "cybedefend-credential-corp",
        "echo 'my own copy' >&2",
    );
    let other = answering(&env.home().join("mine"), "anything-else", "");
    env.write(
        &env.system_config(),
        &format!(
            "plugins:\n  dirs: ['{}']\n  allow: [corp]\n",
            sys_plugins.display()
        ),
    );
    config(
        &env,
        "credentials:\n  chain: [c]\n  providers:\n    c: {type: plugin, plugin: corp}\n",
    );
    // root may install anything; the rule is about other users: run as one
    let run = |args: &[&str]| -> Out {
        if !root {
            return env.run(args);
        }
        let bin = env.tmp.path().join("cybedefend");
        if !bin.exists() {
            fs::copy(env!("CARGO_BIN_EXE_cybedefend"), &bin).unwrap();
            fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        }
        let c = env.command_with(
            bin.to_str().unwrap(),
            &[
                "setpriv",
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--",
            ],
            args,
        );
        Env::output_of(c, None)
    };
    if root {
        if Command::new("setpriv").arg("--version").output().is_err() {
            missing(
                "under_the_allow_list_only_what_the_administrator_installed_loads",
                "setpriv (to run as another user than root)",
                "install util-linux",
            );
            return;
        }
        for dir in [
            env.tmp.path().to_path_buf(),
            env.work(),
            env.system_config().parent().unwrap().to_owned(),
        ] {
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::create_dir_all(env.tmp_dir()).unwrap();
        fs::set_permissions(env.tmp_dir(), fs::Permissions::from_mode(0o777)).unwrap();
        let ok = Command::new("chown")
            .args(["-R", "65534:65534"])
            .arg(env.home())
            .status()
            .unwrap()
            .success();
        assert!(ok);
    }
    let status_of = |args: &[&str]| {
        let out = run(args);
        let j = out.json();
        (out, j)
    };
    let args = ["auth", "status", "--offline", "--json"];

    // the user's own copy of an allowed name is not the administrator's
    let (out, j) = status_of(&args);
    assert_eq!(out.code, 2, "{out:?}");
    let e = format!("{} {}", j["error"], j["hint"]);
    assert!(
        e.contains(
            "`corp` is in plugins.allow, but this file is not one the administrator installed"
        ) && e.contains("use the copy the administrator installed"),
        "{e}"
    );
    assert!(!out.all().contains("my own copy"), "{out:?}");

    // nor is any file the user names `corp`
    config(
        &env,
        &format!(
            "credentials:\n  chain: [c]\n  providers:\n    c: {{type: plugin, path: '{}'}}\n",
            other.parent().unwrap().join("corp").display()
        ),
    );
    fs::copy(&other, other.parent().unwrap().join("corp")).unwrap();
    if root {
        Command::new("chown")
            .args(["65534:65534"])
            .arg(other.parent().unwrap().join("corp"))
            .status()
            .unwrap();
    }
    let (out, j) = status_of(&args);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("not one the administrator installed"),
        "{j}"
    );

    // nor is a link named `corp` to another file root installed
    let other_sys = answering(&sys_plugins, "cybedefend-credential-other", "");
    fs::remove_file(&mine).unwrap();
    std::os::unix::fs::symlink(&other_sys, &mine).unwrap();
    config(
        &env,
        "credentials:\n  chain: [c]\n  providers:\n    c: {type: plugin, plugin: corp}\n",
    );
    let (out, j) = status_of(&args);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        j["error"]
            .as_str()
            .unwrap()
            .contains("but the file it leads to is"),
        "{j}"
    );

    // the administrator's copy loads (root mode: the user's copy removed)
    fs::remove_file(&mine).unwrap();
    config(
        &env,
        "credentials:\n  chain: [c]\n  providers:\n    c: {type: plugin, plugin: corp}\n",
    );
    if root {
        let (out, j) = status_of(&args);
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(j["fingerprint"], fingerprint(PAT));
    }

    // a `sha256:` entry allows that very file, wherever it is
    let sum = Command::new("sha256sum").arg(&other).output().unwrap();
    let sum = String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    env.write(
        &env.system_config(),
        &format!(
            "plugins:\n  allow: [corp, 'SHA256: {}']\n",
            sum.to_ascii_uppercase()
        ),
    );
    config(
        &env,
        &format!(
            "credentials:\n  chain: [c]\n  providers:\n    c: {{type: plugin, path: '{}'}}\n",
            other.display()
        ),
    );
    let (out, j) = status_of(&args);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint(PAT));
}

pub(crate) fn running_as_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn every_link_and_interpreter_on_the_way_is_checked() {
    let mut env = Env::new();
    let plugins = plugin_dir(&env, &[]);
    config(&env, ONE_PLUGIN_T);
    let name = plugins.join("cybedefend-credential-t");
    let private = env.home().join("private");
    let real = answering(&private, "real-plugin", "");
    fs::set_permissions(&private, fs::Permissions::from_mode(0o700)).unwrap();
    let shared = env.tmp.path().join("shared");
    fs::create_dir_all(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o777)).unwrap();

    // a chain of links whose middle link sits in a folder others can write
    std::os::unix::fs::symlink(&real, shared.join("mid")).unwrap();
    std::os::unix::fs::symlink(shared.join("mid"), &name).unwrap();
    refused_with(&env, &["shared can be written by group or others"]);
    fs::remove_file(&name).unwrap();

    // interpreters: behind a link in such a folder, a script run by a script in one, `env`
    // without a program
    std::os::unix::fs::symlink("/bin/sh", shared.join("shlink")).unwrap();
    let sh_copy = shared.join("sh");
    fs::copy("/bin/sh", &sh_copy).unwrap();
    fs::set_permissions(&sh_copy, fs::Permissions::from_mode(0o755)).unwrap();
    let wrapper = private.join("wrapper");
    fs::write(&wrapper, format!("#!{}\n", sh_copy.display())).unwrap();
    fs::set_permissions(&wrapper, fs::Permissions::from_mode(0o755)).unwrap();
    for (first_line, needles) in [
        (
            format!("#!{}", shared.join("shlink").display()),
            vec!["its interpreter's folder", "shared can be written"],
        ),
        (
            format!("#!{}", wrapper.display()),
            vec!["its interpreter's folder", "shared can be written"],
        ),
        (
            "#!/usr/bin/env".to_owned(),
            vec!["runs `env` without a program"],
        ),
        (
            "#!sh".to_owned(),
            vec!["its interpreter `sh` is not an absolute path"],
        ),
    ] {
        fs::write(&name, format!("{first_line}\n{HELLO}\n")).unwrap();
        fs::set_permissions(&name, fs::Permissions::from_mode(0o755)).unwrap();
        refused_with(&env, &needles);
    }
    // `env` options and assignments would change what runs and with which PATH: refused
    for (line, needle) in [
        ("#!/usr/bin/env -S PATH=/tmp sh", "passes options to `env`"),
        ("#!/usr/bin/env A=1 sh", "sets variables through `env`"),
    ] {
        fs::write(&name, format!("{line}\n{HELLO}\n")).unwrap();
        refused_with(&env, &[needle, "#!/usr/bin/env NAME"]);
    }
    fs::remove_file(&name).unwrap();

    // a relative PATH entry cannot swap the interpreter `env` finds
    plugin_dir(
        &env,
        &[(&python_example(), "cybedefend-credential-example-py")],
    );
    let file = env.tmp.path().join("pat.txt");
    fs::write(&file, format!("{PAT}\n")).unwrap();
    let marker = env.tmp.path().join("repository-python-ran");
    let fake = env.work().join("python3");
    fs::write(
        &fake,
        format!("#!/bin/sh\ntouch '{}'\n{HELLO}\n", marker.display()),
    )
    .unwrap();
    fs::set_permissions(&fake, fs::Permissions::from_mode(0o755)).unwrap();
    env.set(
        "PATH",
        &format!(".:{}", std::env::var("PATH").unwrap_or_default()),
    );
    config(
        &env,
        &format!(
            "credentials:\n  chain: [p]\n  providers:\n    p: {{type: plugin, plugin: example-py, config: {{file: '{}'}}}}\n",
            file.display()
        ),
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint(PAT));
    assert!(!marker.exists(), "the repository's python3 ran");
}

#[test]
fn signals_stop_the_plugins_a_command_started() {
    let env = Env::new();
    let plugins = plugin_dir(&env, &[]);
    answering(&plugins, "cybedefend-credential-t", "sleep 44.5");
    config(&env, ONE_PLUGIN_T);
    for signal in ["TERM", "INT", "HUP"] {
        let mut child = env
            .command(&["auth", "status", "--offline"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let seen = Instant::now();
        while Command::new("pgrep")
            .args(["-f", "sleep 44.5"])
            .output()
            .unwrap()
            .stdout
            .is_empty()
        {
            assert!(
                seen.elapsed() < Duration::from_secs(10),
                "the plugin never started"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        Command::new("kill")
            .args([format!("-{signal}"), child.id().to_string()])
            .status()
            .unwrap();
        let start = Instant::now();
        let status = child.wait().unwrap();
        assert!(start.elapsed() < Duration::from_secs(5), "{signal}");
        assert_eq!(status.code(), Some(130), "{signal}");
        assert!(gone("sleep 44.5"), "{signal}: the plugin outlived the CLI");
    }
}

#[test]
fn a_native_library_that_never_finishes_loading_does_not_hang_the_cli() {
    let mut env = Env::new();
    c_library(
        &env,
        "libcybedefend_credential_slow.so",
        "#include <unistd.h>\n__attribute__((constructor)) static void stuck(void) { for (;;) pause(); }\nint cybedefend_plugin(void) { return 0; }\n",
    );
    env.set("CYBEDEFEND_PAT", "cdp_after_a_stuck_library");
    config(
        &env,
        "credentials:\n  chain: [s, env]\n  providers:\n    s: {type: plugin, plugin: slow, timeout: 1s, on_error: continue}\n",
    );
    // run with a deadline of our own: the failure this guards against is a hang
    let mut child = env
        .command(&["auth", "status", "--offline", "--json"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the CLI did not exit after the library's time limit");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    assert_eq!(status.code(), Some(0), "{stdout}");
    let j: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(j["source"], "env");
    let detail = j["chain"][0]["detail"].as_str().unwrap();
    assert!(detail.contains("1s"), "{j}");
}

#[test]
fn cut_text_never_shows_part_of_a_secret() {
    let env = Env::new();
    let plugins = plugin_dir(&env, &[]);
    let secret = "cdp_cut_secret_0123456789abcdef";
    // the end of a long stderr is kept: the secret is cut at the start of what is kept
    let path = plugins.join("cybedefend-credential-t");
    fs::write(
        &path,
        format!(
            "#!/bin/sh\n{HELLO}\nprintf '%01000d{secret}%065516d\\n' 0 0 | tr 0 y >&2\nprintf '{{\"ok\":{{\"kind\":\"pat\",\"secret\":\"{secret}\",\"detail\":\"%0190dhunter2hunter2\"}}}}\\n' 0\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
    config(
        &env,
        "credentials:\n  chain: [t]\n  providers:\n    t: {type: plugin, plugin: t, config: {password: hunter2hunter2, apiKey: camel_case_key_value}}\n",
    );
    let (out, _) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    for fragment in ["0123456789abcdef", "456789", "hunter2"] {
        assert!(!out.all().contains(fragment), "{fragment}: {out:?}");
    }
    // a camelCase secret key of the config is masked when the plugin echoes it
    fs::write(
        &path,
        format!("#!/bin/sh\n{HELLO}\necho \"$req\" >&2\nprintf '{{\"err\":{{\"kind\":\"not-found\",\"message\":\"m\"}}}}\\n'\n"),
    )
    .unwrap();
    let out = env.run(&["auth", "status", "--offline"]);
    assert!(out.stderr.contains("apiKey"), "{out:?}");
    assert!(!out.all().contains("camel_case_key_value"), "{out:?}");
    assert!(!out.all().contains("hunter2"), "{out:?}");
}

#[test]
fn the_policy_decides_where_login_may_keep_a_pat() {
    let d = Double::start();
    d.add_pat(PAT);
    let mut env = Env::new();
    env.use_double(&d);
    env.write(
        &env.system_config(),
        "credentials:\n  allowed_providers: [env]\n",
    );
    let out = env.run(&["login", "--pat", PAT, "--store", "file"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("provider `stored` (type `stored`) may not be used on this machine"),
        "{out:?}"
    );
    let out = env.run(&["login", "--pat", PAT]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(!env.creds().exists());
    assert!(
        d.requests_to("/oidc/token").is_empty(),
        "checked before the server"
    );
}
