use std::path::Path;

use crate::common::*;

#[test]
fn show_origin_names_file_env_variable_and_flag() {
    let mut env = Env::new();
    env.write(
        &env.dot().join("config.yaml"),
        "project_id: from-user-file\nbranch: develop\n",
    );
    env.set("CYBEDEFEND_REGION", "eu");
    let out = env.run(&[
        "config",
        "show",
        "--origin",
        "--json",
        "--api-url",
        "https://api.example.test",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let j = out.json();
    assert_eq!(j["region"]["value"], "eu");
    assert_eq!(j["region"]["origin"], "CYBEDEFEND_REGION");
    assert_eq!(j["api_url"]["value"], "https://api.example.test");
    assert_eq!(j["api_url"]["origin"], "--api-url");
    assert_eq!(
        j["auth_endpoint"]["value"],
        "https://auth-eu.cybedefend.com"
    );
    assert_eq!(j["project_id"]["value"], "from-user-file");
    let user_file = env.dot().join("config.yaml");
    assert!(
        j["project_id"]["origin"]
            .as_str()
            .unwrap()
            .ends_with(".cybedefend/config.yaml"),
        "{} vs {}",
        j["project_id"]["origin"],
        user_file.display()
    );
    let plain = env.run(&["config", "show", "--json"]).json();
    assert_eq!(plain["branch"], "develop");
}

#[test]
fn flags_beat_env_beat_files() {
    let mut env = Env::new();
    env.write(&env.system_config(), "region: us\nbranch: system\n");
    env.write(&env.dot().join("config.yaml"), "region: eu\n");
    let j = env.run(&["config", "show", "--origin", "--json"]).json();
    assert_eq!(j["region"]["value"], "eu");
    assert_eq!(j["branch"]["value"], "system");
    assert!(
        j["branch"]["origin"]
            .as_str()
            .unwrap()
            .ends_with("etc/config.yaml")
    );
    env.set("CYBEDEFEND_REGION", "us");
    assert_eq!(
        env.run(&["config", "show", "--json"]).json()["region"],
        "us"
    );
    assert_eq!(
        env.run(&["config", "show", "--json", "--region", "EU"])
            .json()["region"],
        "eu"
    );
}

#[test]
fn yaml_syntax_error_names_file_and_line() {
    let env = Env::new();
    env.write(
        &env.dot().join("config.yaml"),
        "region: eu\nbranch: [main\nproject_id: x\n",
    );
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains(".cybedefend/config.yaml"), "{out:?}");
    assert!(out.stderr.contains("line"), "{out:?}");
    assert_eq!(
        out.stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count(),
        1,
        "{out:?}"
    );
}

#[test]
fn wrong_type_names_key_and_file() {
    let env = Env::new();
    env.write(&env.dot().join("config.yaml"), "region: 5\n");
    let out = env.run(&["config", "show"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("`region`"), "{out:?}");
    assert!(out.stderr.contains("config.yaml"), "{out:?}");

    env.write(&env.dot().join("config.yaml"), "region: mars\n");
    let out = env.run(&["config", "show"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("`us`, `eu`"), "{out:?}");
    assert!(out.stderr.contains("config.yaml"), "{out:?}");
}

#[test]
fn unknown_region_flag_lists_valid_regions() {
    let env = Env::new();
    let out = env.run(&["--region", "mars", "auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    // refused by the argument parser, before anything runs, with the valid values
    assert!(out.stderr.contains("'mars'"), "{out:?}");
    assert!(
        out.stderr.contains("us, eu") && out.stderr.contains("--region"),
        "{out:?}"
    );
}

#[test]
fn working_directory_config_cannot_redirect_tokens_unless_trusted() {
    let mut env = Env::new();
    env.set("CYBEDEFEND_PAT", "cdp_env_pat_trust1");
    env.write(
        &env.work().join("config.yaml"),
        "project_id: repo-project\napi_url: https://attacker.example\nauth_endpoint: https://attacker.example\npat: cdp_planted_pat_1\ncredentials:\n  chain: [config]\n",
    );
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let j = out.json();
    assert_eq!(j["api_url"], "https://api-us.cybedefend.com");
    assert_eq!(j["source"], "env", "the planted chain and pat are ignored");
    let warnings = out.stderr.clone() + &j["warnings"].to_string();
    for key in ["api_url", "auth_endpoint", "pat", "credentials"] {
        assert!(
            warnings.contains("config.yaml: ")
                && warnings.contains("ignoring")
                && warnings.contains(&format!("`{key}` (")),
            "{key}: {warnings}"
        );
    }
    let shown = env.run(&["config", "show", "--json"]).json();
    assert_eq!(
        shown["project_id"], "repo-project",
        "harmless keys still apply"
    );

    // explicitly trusted with --config
    let out = env.run(&[
        "--config",
        "config.yaml",
        "auth",
        "status",
        "--offline",
        "--json",
    ]);
    assert_eq!(out.json()["api_url"], "https://attacker.example");

    // or through trusted_directories in the user's file
    env.write(
        &env.dot().join("config.yaml"),
        &format!("trusted_directories:\n  - {}\n", env.work().display()),
    );
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    assert_eq!(out.json()["source"], "config");
}

#[test]
fn explicit_config_replaces_file_layers_and_must_exist() {
    let env = Env::new();
    env.write(&env.dot().join("config.yaml"), "branch: user\n");
    env.write(&env.work().join("team.yaml"), "region: eu\n");
    let j = env
        .run(&["--config", "team.yaml", "config", "show", "--json"])
        .json();
    assert_eq!(j["region"], "eu");
    assert!(j.get("branch").is_none(), "user file is replaced: {j}");
    let out = env.run(&["--config", "missing.yaml", "config", "show"]);
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("missing.yaml") && out.stderr.contains("does not exist"),
        "{out:?}"
    );
}

#[test]
fn plain_http_is_refused_except_on_loopback() {
    let env = Env::new();
    let out = env.run(&[
        "--api-url",
        "http://api.example.com",
        "auth",
        "status",
        "--offline",
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("plain http") && out.stderr.contains("--api-url"),
        "{out:?}"
    );
    let ok = env.run(&[
        "--api-url",
        "http://127.0.0.1:9",
        "config",
        "show",
        "--json",
    ]);
    assert_eq!(ok.code, 0, "{ok:?}");
    let out = env.run(&["--auth-endpoint", "http://10.0.0.1", "config", "show"]);
    assert_eq!(out.code, 2, "{out:?}");
}

#[test]
fn deprecated_api_key_fails_with_migration_steps_wherever_it_is() {
    let check = |out: Out| {
        assert_eq!(out.code, 2, "{out:?}");
        assert!(
            out.stderr.contains("API keys are no longer accepted"),
            "{out:?}"
        );
        assert!(
            out.stderr.contains("CYBEDEFEND_PAT") && out.stderr.contains("`pat:`"),
            "{out:?}"
        );
        assert!(!out.all().contains("old_key_value"), "{out:?}");
    };
    let env = Env::new();
    check(env.run(&["--api-key", "old_key_value", "auth", "status"]));
    let mut env2 = Env::new();
    env2.set("CYBEDEFEND_API_KEY", "");
    check(env2.run(&["auth", "status"]));
    let env3 = Env::new();
    env3.write(&env3.dot().join("config.yaml"), "api_key: old_key_value\n");
    let out = env3.run(&["auth", "status"]);
    assert!(out.stderr.contains("config.yaml"), "{out:?}");
    check(out);
}

#[test]
fn unknown_keys_warn_with_a_suggestion() {
    let env = Env::new();
    env.write(&env.dot().join("config.yaml"), "regoin: eu\n");
    let out = env.run(&["config", "show"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("unknown key `regoin`") && out.stderr.contains("did you mean `region`"),
        "{out:?}"
    );
}

#[test]
fn chain_config_errors_list_valid_names_and_origin() {
    let env = Env::new();
    env.write(
        &env.dot().join("config.yaml"),
        "credentials:\n  chain: [flag, envv]\n",
    );
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("unknown provider `envv`"), "{out:?}");
    assert!(out.stderr.contains("did you mean `env`"), "{out:?}");
    assert!(out.stderr.contains("flag, env, config, stored"), "{out:?}");
    assert!(out.stderr.contains(".cybedefend/config.yaml"), "{out:?}");

    env.write(
        &env.dot().join("config.yaml"),
        "credentials:\n  providers:\n    team:\n      type: nosuchtype\n",
    );
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("unknown type `nosuchtype`") && out.stderr.contains("valid types"),
        "{out:?}"
    );
}

#[test]
fn chain_can_be_reordered_and_custom_env_variables_used() {
    let mut env = Env::new();
    env.write(
        &env.dot().join("config.yaml"),
        "credentials:\n  chain: [team-env, stored, env]\n  providers:\n    team-env:\n      type: env\n      variable: TEAM_PAT\n",
    );
    env.write(
        &env.creds(),
        "{\"type\":\"pat\",\"region\":\"us\",\"pat\":\"cdp_stored_0001\"}",
    );
    env.set("CYBEDEFEND_PAT", "cdp_env_pat_00001");
    let j = env.run(&["auth", "status", "--offline", "--json"]).json();
    assert_eq!(
        j["source"], "stored",
        "stored comes before env in this chain: {j}"
    );
    env.set("TEAM_PAT", "cdp_team_pat_0001");
    let j = env.run(&["auth", "status", "--offline", "--json"]).json();
    assert_eq!(j["source"], "team-env");
    assert_eq!(j["chain"][0]["type"], "env");
    assert_eq!(j["chain"][0]["detail"], "TEAM_PAT");
}

fn validate(env: &Env, file: &Path) -> Out {
    env.run(&["config", "validate", file.to_str().unwrap()])
}

#[test]
fn validate_reports_ok_and_errors_with_exit_codes() {
    let env = Env::new();
    let good = env.work().join("good.yaml");
    env.write(&good, "region: eu\nproject_id: p\n");
    let out = validate(&env, &good);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("is valid"), "{out:?}");

    let bad = env.work().join("bad.yaml");
    env.write(&bad, "api_url: http://example.com\n");
    assert_eq!(validate(&env, &bad).code, 2);
    env.write(&bad, "region: [\n");
    let out = validate(&env, &bad);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("bad.yaml"), "{out:?}");
}

#[test]
fn every_config_example_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config-examples");
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if !matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("yaml" | "yml")
        ) {
            continue;
        }
        let env = Env::new();
        // the CA file an example names exists (validate reads it)
        env.write(
            &env.dot().join("corp-root-ca.pem"),
            &cybedefend_platform_double::TestCa::new("example CA").ca_pem,
        );
        // policy files are checked in their role (there `plugins.allow` is honoured)
        let system = path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("system-");
        let out = if system {
            let as_user = validate(&env, &path);
            assert!(
                as_user.stderr.contains("`plugins.allow` in")
                    && as_user.stderr.contains("is ignored"),
                "a user file cannot allow plugins: {as_user:?}"
            );
            env.run(&["config", "validate", "--system", path.to_str().unwrap()])
        } else {
            validate(&env, &path)
        };
        assert_eq!(out.code, 0, "{}: {out:?}", path.display());
        assert!(
            !out.stderr.contains("warning"),
            "{}: {out:?}",
            path.display()
        );
        count += 1;
    }
    assert!(count >= 3, "config-examples has {count} files");
}

#[test]
fn version_help_and_completion() {
    let env = Env::new();
    let v = env.run(&["--version"]);
    assert_eq!(v.code, 0);
    assert!(v.stdout.starts_with("cybedefend "));
    let v = env.run(&["version"]);
    assert!(v.stdout.contains(env!("CARGO_PKG_VERSION")));
    let h = env.run(&["--help"]);
    assert!(h.stdout.contains("first match wins") && h.stdout.contains("Exit codes"));
    let c = env.run(&["completion", "bash"]);
    assert_eq!(c.code, 0);
    assert!(c.stdout.contains("_cybedefend") && c.stdout.contains("login"));
    let bad = env.run(&["frobnicate"]);
    assert_eq!(bad.code, 2);
    // help asked before a command still lists every command (the tree is built whole), and a
    // flag given before the command it belongs to gets clap's hint
    for line in [
        &["--help", "auth", "status"][..],
        &["--region", "eu", "--help", "project", "list"],
    ] {
        let h = env.run(line);
        assert_eq!(h.code, 0, "{line:?}");
        for command in ["scan", "results", "login", "auth", "project", "plugin"] {
            assert!(
                h.stdout.contains(&format!("\n  {command} ")),
                "{line:?} does not list {command}: {}",
                h.stdout
            );
        }
    }
    let misplaced = env.run(&["--dry-run", "auth", "scan"]);
    assert_eq!(misplaced.code, 2);
    assert!(
        misplaced.stderr.contains("'scan --dry-run' exists"),
        "{misplaced:?}"
    );
    // a group's help lists all its commands, typos in them get a suggestion
    let group = env.run(&["auth", "--help"]);
    for verb in ["status", "token", "migrate", "providers"] {
        assert!(group.stdout.contains(&format!("\n  {verb} ")), "{group:?}");
    }
    let typo = env.run(&["auth", "statsu"]);
    assert_eq!(typo.code, 2);
    assert!(typo.stderr.contains("'status'"), "{typo:?}");
}

#[test]
fn hostile_config_files_and_trust_entries_are_refused() {
    let d = Double::start();
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", "cdp_config_hostile_01");
    // an empty or relative trusted folder trusts nothing (it matched everywhere)
    env.write(
        &env.dot().join("config.yaml"),
        "trusted_directories: ['', '.', 'work']\n",
    );
    env.write(
        &env.work().join("config.yaml"),
        "api_url: https://evil.example\n",
    );
    let out = env.run(&["config", "show", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_ne!(out.json()["api_url"], "https://evil.example", "{out:?}");
    assert_eq!(
        out.stderr.matches("`trusted_directories` entry").count(),
        3,
        "{out:?}"
    );
    // a repository's config.yaml that is a link to an endless /proc file
    std::fs::remove_file(env.work().join("config.yaml")).unwrap();
    std::os::unix::fs::symlink("/proc/self/pagemap", env.work().join("config.yaml")).unwrap();
    let out = env.run(&["auth", "status", "--offline", "--debug"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("work/config.yaml: it is a symbolic link"),
        "said in the debug log only: {out:?}"
    );
    // and one that is merely huge
    std::fs::remove_file(env.work().join("config.yaml")).unwrap();
    std::fs::File::create(env.work().join("config.yaml"))
        .unwrap()
        .set_len(1 << 30)
        .unwrap();
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 0, "a note, not an error: {out:?}");
    assert!(
        !out.stderr.contains("config.yaml"),
        "an application's huge file is not ours to mention: {out:?}"
    );
    // a PAT of the wrong type is not quoted back
    std::fs::remove_file(env.work().join("config.yaml")).unwrap();
    env.write(&env.dot().join("config.yaml"), "pat: 918273645546372819\n");
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(!out.all().contains("918273645546372819"), "{out:?}");
    assert!(out.stderr.contains("`pat`"), "{out:?}");
}

#[test]
fn a_repository_config_that_links_to_a_secret_or_nests_deeply_is_not_read() {
    let env = Env::new();
    // a token file of the user's, and a repository whose config.yaml links to it
    let secret = env.home().join(".git-credentials");
    env.write(&secret, "https://bob:ghp_LINKEDSECRET123456@github.com\n");
    std::os::unix::fs::symlink(&secret, env.work().join("config.yaml")).unwrap();
    let out = env.run(&["config", "show", "--debug"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.all().contains("LINKEDSECRET"), "{out:?}");
    assert!(out.stderr.contains("it is a symbolic link"), "{out:?}");
    // a value of the wrong type is described, never quoted
    std::fs::remove_file(env.work().join("config.yaml")).unwrap();
    env.write(
        &env.work().join("config.yaml"),
        "project_id: [\"QUOTEDVALUE123\"]\n",
    );
    let out = env.run(&["config", "show"]);
    assert_eq!(out.code, 0, "a note, not an error: {out:?}");
    assert!(!out.all().contains("QUOTEDVALUE123"), "{out:?}");
    assert!(out.stderr.contains("`project_id` (found a list"), "{out:?}");
    // flow nesting that would keep the parser busy for minutes
    env.write(
        &env.work().join("config.yaml"),
        &format!(
            "project_id: {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        ),
    );
    let out = env.run(&["config", "show", "--debug"]);
    assert_eq!(out.code, 0, "not an error: {out:?}");
    assert!(out.stderr.contains("deeper than 64 levels"), "{out:?}");
}

#[test]
fn provider_paths_from_config_files_must_be_absolute() {
    let env = Env::new();
    env.write(&env.work().join("pat.txt"), "cdp_repository_supplied_1\n");
    for (spec, key) in [
        ("{type: file, path: pat.txt}", "`path` `pat.txt`"),
        (
            "{type: vault, address: 'https://127.0.0.1:9', path: x, ca_cert: ca.pem}",
            "`ca_cert` `ca.pem`",
        ),
        (
            "{type: vault, address: 'https://127.0.0.1:9', path: x, auth: {method: approle, secret_id_file: s.txt}}",
            "`auth.secret_id_file` `s.txt`",
        ),
        ("{type: exec, command: [./get-pat.sh]}", "relative path"),
    ] {
        env.write(
            &env.dot().join("config.yaml"),
            &format!("credentials:\n  chain: [p]\n  providers:\n    p: {spec}\n"),
        );
        let out = env.run(&["auth", "status", "--offline"]);
        assert_eq!(out.code, 2, "{spec}: {out:?}");
        assert!(out.stderr.contains(key), "{spec}: {out:?}");
        assert!(!out.all().contains("cdp_repository_supplied_1"), "{out:?}");
    }
}

/// Values checked before any work: durations, numbers, encodings, typos; help and small words.
mod values_and_typos {
    use super::*;
    use crate::common::{DEMO_PAT as PAT, DEMO_PROJECT as PROJECT, demo as setup};

    use std::ffi::OsStr;

    use std::os::unix::ffi::OsStrExt;

    fn scan(env: &Env, extra: &[&str]) -> Out {
        let mut args = vec!["scan", "--dir", "repo", "--project-id", PROJECT, "--ci"];
        args.extend_from_slice(extra);
        env.run(&args)
    }

    #[test]
    fn non_utf8_settings_are_refused_not_ignored() {
        for var in [
            "CYBEDEFEND_API_URL",
            "CYBEDEFEND_HOME",
            "CYBEDEFEND_REGION",
            "CYBEDEFEND_PAT",
        ] {
            let env = Env::new();
            let mut c = env.command(&["auth", "status", "--offline"]);
            c.env(var, OsStr::from_bytes(b"caf\xe9"));
            let out = Env::output_of(c, None);
            assert_eq!(out.code, 2, "{var}: {out:?}");
            assert!(out.stderr.contains(var), "{var}: {out:?}");
            assert!(out.stderr.contains("UTF-8"), "{var}: {out:?}");
        }
    }

    #[test]
    fn every_duration_uses_one_grammar_and_is_checked_before_any_work() {
        let (d, env) = setup();
        for (flag, value) in [
            ("--timeout", "10x"),
            ("--timeout", "99999999999999999999"),
            ("--interval", "1e300"),
            ("--policy-timeout", "1e300"),
            ("--policy-timeout", "-5"),
        ] {
            let out = scan(&env, &[&format!("{flag}={value}")]);
            assert_eq!(out.code, 2, "{flag} {value}: {out:?}");
            assert!(out.stderr.contains(flag), "{flag} {value}: {out:?}");
            assert!(!out.stderr.contains("Packaging"), "{flag} {value}: {out:?}");
        }
        assert!(
            d.requests().is_empty(),
            "nothing was sent: {:?}",
            d.requests()
        );

        // hours and combinations are durations, everywhere
        let out = scan(
            &env,
            &[
                "--timeout",
                "1h",
                "--interval",
                "0.2",
                "--policy-timeout",
                "5m",
            ],
        );
        assert_eq!(out.code, 0, "{out:?}");

        let out = env.run(&["login", "--login-timeout", "99999999999999999999"]);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains("--login-timeout"), "{out:?}");
    }

    #[test]
    fn out_of_range_numbers_from_env_and_config_are_usage_errors() {
        let (_d, mut env) = setup();
        env.set("CYBEDEFEND_HTTP_TIMEOUT", "99999999999999999999");
        let out = env.run(&["auth", "status"]);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains("CYBEDEFEND_HTTP_TIMEOUT"), "{out:?}");

        let (_d, env) = setup();
        env.write(&env.dot().join("config.yaml"), "http_timeout: 1e300\n");
        let out = env.run(&["auth", "status"]);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(
            out.stderr.contains("http_timeout") && out.stderr.contains("config.yaml"),
            "{out:?}"
        );

        // a duration with a unit, and a provider timeout as a plain number, are fine
        env.write(
        &env.dot().join("config.yaml"),
        "http_timeout: 30s\ncredentials:\n  providers:\n    x: {type: exec, command: [\"true\"], timeout: 10}\n  chain: [env, x]\n",
    );
        let out = env.run(&["config", "show", "--origin"]);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(out.stdout.contains("http_timeout"), "{out:?}");
        assert!(out.stdout.contains("30s"), "{out:?}");
    }

    #[test]
    fn a_typo_in_the_project_config_is_an_unknown_key_with_a_suggestion() {
        let mut env = Env::new();
        env.set("CYBEDEFEND_PAT", PAT);
        env.write(
            &env.work().join("config.yaml"),
            "regoin: eu\nproject_id: p1\n",
        );
        let out = env.run(&["auth", "status", "--offline"]);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(
            out.stderr
                .contains("note: ./config.yaml: using `project_id`; ignoring")
                && out.stderr.contains("`regoin` (did you mean `region`?)"),
            "{out:?}"
        );
        assert!(!out.stderr.contains("not allowed"), "{out:?}");
        assert!(!out.stderr.contains("may only set"), "{out:?}");

        let out = env.run(&["config", "validate"]);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(out.stderr.contains("did you mean `region`?"), "{out:?}");
        let out = env.run(&["config", "validate", "config.yaml"]);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(!out.stderr.contains("--config"), "{out:?}");

        let out = env.run(&["config", "show", "--origin"]);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(!out.stdout.contains("regoin"), "{out:?}");
        assert!(out.stdout.contains("project_id"), "{out:?}");
    }

    #[test]
    fn help_version_completion_and_small_words() {
        let env = Env::new();
        let help = env.run(&["scan", "--help"]);
        let own = help.stdout.find("--project-id").unwrap();
        let global = help
            .stdout
            .find("Global options:")
            .expect("a heading for global options");
        let pat = help.stdout.find("--pat <PAT>").unwrap();
        assert!(own < global && global < pat, "{}", help.stdout);

        let v1 = env.run(&["--version"]).stdout;
        let v2 = env.run(&["version"]).stdout;
        assert_eq!(v1, v2);

        let bash = env.run(&["completion", "bash"]);
        assert_eq!(bash.code, 0);
        assert!(bash.stdout.contains("--region"));
        assert!(
            !bash.stdout.contains("--api-key"),
            "hidden options are not offered"
        );

        let mut env = Env::new();
        env.set("CYBEDEFEND_PAT", PAT);
        env.write(&env.work().join("one/a.js"), "x");
        let out = env.run(&["scan", "--dir", "one", "--dry-run"]);
        assert!(out.stdout.contains("Would upload 1 file,"), "{out:?}");

        // a provider defined but left out of the chain is pointed out
        env.write(
        &env.dot().join("config.yaml"),
        "credentials:\n  chain: [env]\n  providers:\n    forgotten: {type: file, path: /nowhere}\n",
    );
        let out = env.run(&["auth", "status", "--offline", "--json"]);
        assert!(out.stderr.contains("`forgotten`"), "{out:?}");
        // elapsed times have no float noise
        let j = out.json();
        let ms = j["chain"][0]["elapsed_ms"].to_string();
        assert!(ms.split('.').nth(1).is_none_or(|d| d.len() <= 3), "{ms}");
    }
}

/// `config show` and the help of the main commands, whole: a reworded flag or a reordered
/// section shows as a diff.
#[test]
fn config_show_and_help_are_pinned() {
    let env = Env::new();
    env.write(
        &env.dot().join("config.yaml"),
        "region: eu\nproject_id: 11111111-1111-4111-8111-111111111111\nhttp_timeout: 45s\n",
    );
    let out = env.run(&["config", "show"]);
    assert_eq!(out.code, 0, "{out:?}");
    insta::assert_snapshot!("config_show", env.human(&out, None));
    for (name, args) in [
        ("help_top", &["--help"][..]),
        ("help_scan", &["scan", "--help"][..]),
        ("help_login", &["login", "--help"][..]),
        ("help_results", &["results", "--help"][..]),
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 0, "{out:?}");
        insta::assert_snapshot!(name, env.human(&out, None));
    }
}

/// An application's own `config.yaml` in the working directory is not ours: with none of our
/// keys it is not read at all; with some, unknown keys, values that do not fit and keys it may
/// not set are left out with one note naming the file and how to stop reading it, and what fits
/// still applies. Never an error, in any command. `project_config: false` (or the variable)
/// stops reading it, the user's own file stays strict, `--config /dev/null` means no file, and
/// `config validate` counts what would be ignored as problems.
#[test]
fn an_applications_config_yaml_never_breaks_a_command() {
    let mut env = Env::new();
    env.set("CYBEDEFEND_PAT", "cdp_env_pat_cwdapp1");
    let cwd_file = env.work().join("config.yaml");
    env.write(
        &cwd_file,
        "server:\n  port: 8080\ndatabase:\n  url: postgres://db\n",
    );
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        !out.stderr.contains("config.yaml"),
        "silently not ours: {out:?}"
    );

    env.write(
        &cwd_file,
        "region: eu-west-1\ndebug: yes\napi_key: app-secret-key-123\nserver:\n  port: 8080\nproject_id: p9\n",
    );
    let dry_run = ["scan", "--dir", ".", "--dry-run"];
    for args in [
        &["auth", "status", "--offline"][..],
        &dry_run,
        &["config", "show"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
        let notes: Vec<&str> = out
            .stderr
            .lines()
            .filter(|l| l.contains("config.yaml"))
            .collect();
        assert_eq!(notes.len(), 1, "{args:?}: one line: {out:?}");
        let note = notes[0];
        assert!(
            note.starts_with("note: ./config.yaml: using `project_id`; ignoring"),
            "what applies is named too: {note}"
        );
        for part in [
            "not cybedefend settings: `server`",
            "`region` (unknown region",
            "`debug` (found a text, expected a boolean)",
            "`api_key` (API keys are no longer accepted",
            "set `project_config: false` in ~/.cybedefend/config.yaml",
        ] {
            assert!(note.contains(part), "{part}: {note}");
        }
        assert!(!out.all().contains("app-secret-key"), "{out:?}");
        assert!(!out.stderr.contains("warning"), "{args:?}: {out:?}");
    }
    let shown = env.run(&["config", "show", "--json"]).json();
    assert_eq!(shown["project_id"], "p9", "what fits still applies");
    assert_eq!(shown["region"], "us", "{shown}");

    // a value is never repeated (an app's value may be a token), and an id that cannot be sent
    // is left out here, not refused by every command later
    env.write(
        &cwd_file,
        "region: cdp_SECRETTOKEN1234567890abcdef\nproject_id: projects/my-gcp-app\nbranch: main\n",
    );
    let out = env.run(&["config", "show", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.all().contains("SECRETTOKEN"), "{out:?}");
    assert!(out.json()["project_id"].is_null(), "{out:?}");
    assert!(
        out.stderr.contains("using `branch`")
            && out
                .stderr
                .contains("`project_id` (the project id must be an id"),
        "{out:?}"
    );
    env.write(
        &cwd_file,
        "region: eu-west-1\ndebug: yes\napi_key: app-secret-key-123\nserver:\n  port: 8080\nproject_id: p9\n",
    );

    // `config validate` reports what the note names, as a problem
    let out = env.run(&["config", "validate"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("1 problem found"), "{out:?}");

    // a text that does not parse: a note only when it names a key of ours
    env.write(&cwd_file, "{{ .Values.server }}\nport: {{ x }}\n");
    let out = env.run(&dry_run);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stderr.contains("config.yaml"), "{out:?}");
    env.write(&cwd_file, "project_id: {{ .Values.id }}\n  - broken\n");
    let out = env.run(&dry_run);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("note: ignoring ./config.yaml: it is not a YAML mapping"),
        "{out:?}"
    );

    // stop reading it: in the user's file, or the variable
    env.write(&cwd_file, "region: eu-west-1\nproject_id: p9\n");
    env.write(&env.dot().join("config.yaml"), "project_config: false\n");
    let out = env.run(&["config", "show", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stderr.contains("config.yaml"), "{out:?}");
    assert!(out.json()["project_id"].is_null(), "{out:?}");
    env.write(&env.dot().join("config.yaml"), "branch: dev\n");
    env.set("CYBEDEFEND_PROJECT_CONFIG", "false");
    let out = env.run(&["config", "show", "--json"]);
    assert!(!out.stderr.contains("config.yaml:"), "{out:?}");
    assert!(out.json()["project_id"].is_null(), "{out:?}");
    assert_eq!(out.json()["branch"], "dev", "{out:?}");
    env.set("CYBEDEFEND_PROJECT_CONFIG", "");

    // the user's own file stays strict, and --config /dev/null sets every file aside
    env.write(&env.dot().join("config.yaml"), "debug: yes\n");
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("`debug`: found a text"), "{out:?}");
    for null in ["/dev/null", "/dev/./null"] {
        let out = env.run(&["--config", null, "config", "show", "--json"]);
        assert_eq!(out.code, 0, "{null}: {out:?}");
        assert!(out.json()["project_id"].is_null(), "{out:?}");
    }
}

/// `config validate` opens and parses the CA file as the first request would: a file that is
/// not PEM fails here, not on the first command behind the proxy.
#[test]
fn validate_reads_the_ca_file() {
    let env = Env::new();
    let not_pem = env.work().join("corp-ca.pem");
    env.write(&not_pem, "this is not a certificate\n");
    let file = env.work().join("user.yaml");
    env.write(&file, &format!("ca_cert: {}\n", not_pem.display()));
    for args in [
        vec!["config", "validate", file.to_str().unwrap()],
        vec!["--config", file.to_str().unwrap(), "config", "validate"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(out.stderr.contains("holds no PEM certificate"), "{out:?}");
        assert!(out.stderr.contains("fix `ca_cert`"), "{out:?}");
    }
    // and what other commands would ignore is a problem there too
    env.write(&file, "regoin: eu\n");
    let out = env.run(&["config", "validate", file.to_str().unwrap()]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("did you mean `region`"), "{out:?}");
}

/// `cybedefend` alone prints the help and exits 0 (on stdout: it is what was asked for);
/// `help --help` works; `-h` names the global options in one line, `--help` describes them.
#[test]
fn bare_command_and_help_of_help_exit_0_and_short_help_is_short() {
    let env = Env::new();
    let out = env.run(&[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("Usage: cybedefend"), "{out:?}");
    let out = env.run(&["help", "--help"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("Usage: cybedefend help [COMMAND]"),
        "{out:?}"
    );
    let short = env.run(&["scan", "-h"]);
    let long = env.run(&["scan", "--help"]);
    assert_eq!((short.code, long.code), (0, 0));
    assert!(
        short
            .stdout
            .contains("Global options: --pat, --config, --profile, --region"),
        "{short:?}"
    );
    assert!(!short.stdout.contains("--auth-endpoint <URL>"), "{short:?}");
    assert!(long.stdout.contains("--auth-endpoint <URL>"), "{long:?}");
    for out in [&short, &long] {
        assert!(out.stdout.contains("Examples:"), "{out:?}");
    }
    let out = env.run(&["team", "delete", "--help"]);
    assert!(out.stdout.contains("Exit codes:"), "{out:?}");
    // a group alone is a script's mistake: the help on stderr, exit 2
    let out = env.run(&["team"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("Usage: cybedefend team"), "{out:?}");
    // global options before `help --help`
    let out = env.run(&["--debug", "help", "--help"]);
    assert_eq!(out.code, 0, "{out:?}");
    // what clap quotes back never reaches the terminal raw
    for typed in ["x\u{1b}[2J", "x\u{7}y", "x\u{202e}y"] {
        let out = env.run(&["pat", "revoke", "--name", typed]);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(
            !out.stderr.contains('\u{1b}')
                && !out.stderr.contains('\u{7}')
                && !out.stderr.contains('\u{202e}'),
            "{out:?}"
        );
    }
}
