//! Native plugins that misbehave inside the CLI's process: NULL functions in their table,
//! `exit()` in a call, `printf` to stdout, crashes during `plugin test`; what `plugin list`
//! and `plugin verify` call; a library named like a program. Each plugin is compiled here
//! from C.

use std::fs;
use std::path::Path;

use crate::common::*;
use crate::plugins::{C_ABI, PAT, c_library, config, plugin_dir, status};

/// A native plugin in C. `GET`, `CREATE` and `DESTROY` are statements run first in those
/// functions; `STORE` and `ERASE` name a function or `NULL`. `get` answers the conformance
/// requests of `plugin test` (`found`, `not-found`, `error:KIND`) and a PAT otherwise.
const C_PLUGIN: &str = r#"
static Buffer reply(const char *a) {
    size_t len = strlen(a);
    Buffer b = { malloc(len), len, len };
    memcpy(b.ptr, a, len);
    return b;
}
static void *create(void) { CREATE; return (void *)1; }
static Buffer get(void *i, const uint8_t *r, size_t n) {
    (void)i;
    GET;
    char req[8192];
    if (n >= sizeof req) n = sizeof req - 1;
    memcpy(req, r, n); req[n] = 0;
    static char out[512];
    const char *hook = strstr(req, "\"cybedefend-conformance\":\"");
    if (hook) {
        hook += strlen("\"cybedefend-conformance\":\"");
        if (!strncmp(hook, "not-found", 9))
            return reply("{\"err\":{\"kind\":\"not-found\",\"message\":\"none\"}}");
        if (!strncmp(hook, "error:", 6)) {
            const char *k = hook + 6; const char *end = strchr(k, '"');
            snprintf(out, sizeof out, "{\"err\":{\"kind\":\"%.*s\",\"message\":\"asked\"}}", (int)(end - k), k);
            return reply(out);
        }
    }
    return reply("{\"ok\":{\"kind\":\"pat\",\"secret\":\"" PAT_TEXT "\"}}");
}
static void release(Buffer b) { free(b.ptr); }
static void destroy(void *i) { (void)i; DESTROY; }
static const PluginTable table = { 1, "c-native", "1.0", CREATE_FN, GET_FN, STORE, ERASE, release, destroy };
const PluginTable *cybedefend_plugin(void) { return &table; }
"#;

struct Native<'a> {
    /// C code before the table (includes, helper functions).
    prelude: &'a str,
    get: &'a str,
    create: &'a str,
    destroy: &'a str,
    store: &'a str,
    erase: &'a str,
    create_fn: &'a str,
    get_fn: &'a str,
}

impl Default for Native<'_> {
    fn default() -> Self {
        Self {
            prelude: "",
            get: "",
            create: "",
            destroy: "",
            store: "NULL",
            erase: "NULL",
            create_fn: "create",
            get_fn: "get",
        }
    }
}

fn native(env: &Env, p: &Native<'_>) {
    let src = format!(
        "{C_ABI}{}\n#define PAT_TEXT \"{PAT}\"\n#define GET {}\n#define CREATE {}\n#define DESTROY {}\n#define STORE {}\n#define ERASE {}\n#define CREATE_FN {}\n#define GET_FN {}\n{C_PLUGIN}",
        p.prelude,
        if p.get.is_empty() { "(void)0" } else { p.get },
        if p.create.is_empty() {
            "(void)0"
        } else {
            p.create
        },
        if p.destroy.is_empty() {
            "(void)0"
        } else {
            p.destroy
        },
        p.store,
        p.erase,
        p.create_fn,
        p.get_fn,
    );
    c_library(env, "libcybedefend_credential_n.so", &src);
    config(
        env,
        "credentials:\n  chain: [n]\n  providers:\n    n: {type: plugin, plugin: n}\n",
    );
}

fn touch(path: &Path) -> String {
    format!("fclose(fopen(\"{}\", \"w\"))", path.display())
}

#[test]
fn null_functions_are_unsupported_or_refused_never_called() {
    let d = Double::start();
    d.add_pat(PAT);
    let mut env = Env::new();
    env.use_double(&d);
    // no store, no erase: the conformance run and login --store say so, nothing crashes
    native(&env, &Native::default());
    let out = env.run(&["plugin", "test", "n"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("✓ store: answered or `unsupported`"),
        "{out:?}"
    );
    assert!(out.stdout.contains("store not supported"), "{out:?}");
    let out = env.run(&["login", "--pat", PAT, "--store", "n"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("does not store"), "{out:?}");
    let out = env.run(&["logout"]);
    assert!(
        !out.stderr.contains("SIGSEGV") && out.code != 139,
        "{out:?}"
    );
    // a NULL `get` or `create` is refused, naming it
    for (create_fn, get_fn, named) in [("create", "NULL", "`get`"), ("NULL", "get", "`create`")] {
        native(
            &env,
            &Native {
                create_fn,
                get_fn,
                ..Native::default()
            },
        );
        let (out, j) = status(&env);
        assert_eq!(out.code, 2, "{out:?}");
        let e = j["error"].as_str().unwrap();
        assert!(
            e.contains(&format!("has a table whose {named} is NULL")),
            "{e}"
        );
        let out = env.run(&["plugin", "test", "n"]);
        assert_eq!(out.code, 1, "{out:?}");
        assert!(out.stdout.contains("is NULL"), "{out:?}");
    }
}

#[test]
fn a_plugin_that_calls_exit_ends_the_command_with_a_failure_that_names_it() {
    let env = Env::new();
    native(
        &env,
        &Native {
            get: "exit(0)",
            ..Native::default()
        },
    );
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr.contains("native plugin `n`")
            && out.stderr.contains("during `get`")
            && out.stderr.contains("called exit"),
        "{out:?}"
    );
    // the same in a scan gate's place: nothing pretends to have succeeded
    let out = env.run(&["auth", "token"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
}

#[test]
fn what_a_plugin_prints_never_lands_in_the_clis_output() {
    let env = Env::new();
    native(
        &env,
        &Native {
            get: "printf(\"noise from get\\n\"); fflush(stdout); write(1, \"raw write\\n\", 10)",
            create: "printf(\"noise from create\\n\")",
            ..Native::default()
        },
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint(PAT));
    assert!(
        !out.stdout.contains("noise") && !out.stdout.contains("raw write"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("noise from get") && out.stderr.contains("raw write"),
        "{out:?}"
    );
    // buffered output flushed at the exit goes to stderr too
    assert!(out.stderr.contains("noise from create"), "{out:?}");
}

#[test]
fn a_crash_in_plugin_test_fails_its_case_by_name() {
    let env = Env::new();
    native(
        &env,
        &Native {
            get: "if (strstr((const char *)r, \"not-found\")) { volatile int *p = 0; *p = 1; }",
            ..Native::default()
        },
    );
    let out = env.run(&["plugin", "test", "n"]);
    assert_eq!(out.code, 1, "{out:?}");
    let crashed: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.contains("SIGSEGV"))
        .collect();
    assert_eq!(crashed.len(), 1, "{out:?}");
    assert!(crashed[0].contains("✗ get: error `not-found`"), "{out:?}");
    assert!(out.stdout.contains("✓ get: found"), "{out:?}");
    assert!(out.stdout.contains("every answer within"), "{out:?}");
    // an exit() in a case: named the same way
    native(
        &env,
        &Native {
            get: "if (strstr((const char *)r, \"error:auth\")) exit(3)",
            ..Native::default()
        },
    );
    let out = env.run(&["plugin", "test", "n"]);
    assert_eq!(out.code, 1, "{out:?}");
    let line = out
        .stdout
        .lines()
        .find(|l| l.contains("get: error `auth`"))
        .unwrap_or_else(|| panic!("{out:?}"));
    assert!(
        line.starts_with('✗') && line.contains("called exit"),
        "{line}"
    );
}

#[test]
fn list_and_verify_read_the_table_and_call_nothing_and_destroy_comes_last() {
    let env = Env::new();
    let created = env.tmp.path().join("created");
    let destroyed = env.tmp.path().join("destroyed");
    native(
        &env,
        &Native {
            create: &touch(&created),
            destroy: &touch(&destroyed),
            ..Native::default()
        },
    );
    for (args, shows) in [
        (&["plugin", "list"][..], "trusted; version 1.0 (ABI [1])"),
        (&["plugin", "verify", "n"], "answers: c-native 1.0"),
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(out.stdout.contains(shows), "{out:?}");
        assert!(!created.exists(), "{args:?} called create");
    }
    let (out, _) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(created.exists() && destroyed.exists(), "{out:?}");
}

#[test]
fn a_library_named_like_a_program_is_listed_as_ignored_with_its_right_name() {
    let env = Env::new();
    let dir = plugin_dir(&env, &[]);
    native(&env, &Native::default());
    fs::rename(
        dir.join("libcybedefend_credential_n.so"),
        dir.join("cybedefend-credential-x.so"),
    )
    .unwrap();
    let out = env.run(&["plugin", "list", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let j = out.json();
    assert_eq!(j["plugins"].as_array().unwrap().len(), 0, "{j}");
    assert_eq!(
        j["ignored"][0]["rename_to"], "libcybedefend_credential_x.so",
        "{j}"
    );
    let out = env.run(&["plugin", "list"]);
    assert!(
        out.stdout.contains(
            "cybedefend-credential-x.so (a library is named libcybedefend_credential_x.so)"
        ),
        "{out:?}"
    );
}

#[test]
fn an_exit_from_a_plugins_own_thread_after_its_answer_is_still_a_failure() {
    let env = Env::new();
    native(
        &env,
        &Native {
            prelude: "#include <pthread.h>\nstatic void *later(void *a) { (void)a; usleep(20000); exit(0); return NULL; }",
            get: "static pthread_t t; pthread_create(&t, NULL, later, NULL); \
                  return reply(\"{\\\"err\\\":{\\\"kind\\\":\\\"failed\\\",\\\"message\\\":\\\"no\\\"}}\")",
            ..Native::default()
        },
    );
    config(
        &env,
        "credentials:\n  chain: [n]\n  providers:\n    n: {type: plugin, plugin: n, on_error: continue}\n",
    );
    for _ in 0..5 {
        let out = env.run(&["auth", "status", "--offline", "--json"]);
        assert_ne!(out.code, 0, "{out:?}");
    }
}

#[test]
fn a_library_that_crashes_while_loading_does_not_take_plugin_list_down() {
    let env = Env::new();
    native(&env, &Native::default());
    let dir = plugin_dir(&env, &[]);
    fs::rename(
        dir.join("libcybedefend_credential_n.so"),
        dir.join("libcybedefend_credential_good.so"),
    )
    .unwrap();
    native(
        &env,
        &Native {
            prelude: "__attribute__((constructor)) static void boom(void) { volatile int *p = 0; *p = 1; }",
            ..Native::default()
        },
    );
    fs::rename(
        dir.join("libcybedefend_credential_n.so"),
        dir.join("libcybedefend_credential_boom.so"),
    )
    .unwrap();
    let out = env.run(&["plugin", "list"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("good (native)") && out.stdout.contains("trusted; version 1.0"),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("boom (native)")
            && out
                .stdout
                .contains("crashed the process that loaded it (signal 11)"),
        "{out:?}"
    );
    let out = env.run(&["plugin", "verify", "boom"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("crashed the process that loaded it"),
        "{out:?}"
    );
}
