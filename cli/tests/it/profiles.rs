//! Profiles: chosen by `--profile`, `CYBEDEFEND_PROFILE`, the working directory or the git
//! remote; each with its own login; never defined by a repository's config.

use std::path::Path;

use crate::common::*;

const PAT_DEFAULT: &str = "cdp_profile_default_01";
const PAT_ACME: &str = "cdp_profile_acme_0001";
const PAT_STAGING: &str = "cdp_profile_staging_01";

/// A user config with two profiles: `acme` (its own platform, matched by folder and git
/// remote) and `staging` (its own credential chain).
fn setup() -> (Double, Double, Env) {
    let default = Double::start();
    default.add_pat(PAT_DEFAULT);
    let acme = Double::start();
    acme.add_pat(PAT_ACME);
    acme.add_pat(PAT_STAGING);
    let mut env = Env::new();
    env.use_double(&default);
    // the API URL comes from the profile, not from the environment
    env.vars.retain(|(k, _)| !k.starts_with("CYBEDEFEND_"));
    let acme_dir = env.work().join("clients/acme");
    std::fs::create_dir_all(&acme_dir).unwrap();
    env.write(
        &env.dot().join("config.yaml"),
        &format!(
            "api_url: {default}\nauth_endpoint: {default}\n\
             profiles:\n\
             \x20 staging:\n\
             \x20   api_url: {acme}\n\
             \x20   auth_endpoint: {acme}\n\
             \x20   credentials:\n\
             \x20     chain: [cmd]\n\
             \x20     providers:\n\
             \x20       cmd: {{type: exec, command: [printf, '%s', {PAT_STAGING}]}}\n\
             \x20 acme:\n\
             \x20   api_url: {acme}\n\
             \x20   auth_endpoint: {acme}\n\
             \x20   project_id: acme-project\n\
             \x20   match: {{directories: ['{}/**'], git_remotes: ['github.com/acme/*']}}\n",
            acme_dir.display(),
            default = default.url(),
            acme = acme.url(),
        ),
    );
    (default, acme, env)
}

fn status_in(env: &Env, dir: &Path, extra: &[&str]) -> (Out, Value) {
    let mut args = vec!["auth", "status", "--json"];
    args.extend_from_slice(extra);
    let mut c = env.command(&args);
    c.current_dir(dir);
    let out = Env::output_of(c, None);
    let j = out.json();
    (out, j)
}

#[test]
fn a_profile_is_chosen_by_flag_then_variable_then_folder_or_git_remote() {
    let (default, acme, mut env) = setup();
    env.set("CYBEDEFEND_PAT", PAT_ACME);

    // nowhere special: no profile, today's behaviour
    default.add_pat(PAT_ACME);
    let (out, j) = status_in(&env, &env.work(), &["--offline"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        j["profile"].is_null() && j["profile_reason"].is_null(),
        "{j}"
    );
    assert_eq!(j["api_url"], default.url(), "{j}");

    // a folder under the acme pattern
    let deep = env.work().join("clients/acme/api/src");
    std::fs::create_dir_all(&deep).unwrap();
    let (out, j) = status_in(&env, &deep, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["profile"], "acme", "{j}");
    assert!(
        j["profile_reason"]
            .as_str()
            .unwrap()
            .starts_with("the working directory is under `"),
        "{j}"
    );
    assert_eq!(j["api_url"], acme.url(), "{j}");
    assert!(
        !acme.requests().is_empty(),
        "the acme platform was not asked"
    );

    // a repository elsewhere whose remote is acme's
    let repo = env.work().join("elsewhere/api");
    env.write(
        &repo.join(".git/config"),
        "[core]\n\trepositoryformatversion = 0\n[remote \"origin\"]\n\turl = git@github.com:ACME/api.git\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n",
    );
    env.write(&repo.join(".git/HEAD"), "ref: refs/heads/main\n");
    std::fs::create_dir_all(repo.join("src")).unwrap();
    let (out, j) = status_in(&env, &repo.join("src"), &["--offline"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["profile"], "acme", "{j}");
    assert_eq!(
        j["profile_reason"], "the git remote github.com/ACME/api matches `github.com/acme/*`",
        "{j}"
    );
    // the profile's values name it as their origin
    let mut c = env.command(&["config", "show", "--origin", "--json"]);
    c.current_dir(&repo);
    let shown = Env::output_of(c, None);
    let j = shown.json();
    assert_eq!(j["project_id"]["value"], "acme-project", "{j}");
    assert!(
        j["project_id"]["origin"]
            .as_str()
            .unwrap()
            .starts_with("profile `acme` ("),
        "{j}"
    );
    assert_eq!(j["profile"]["value"], "acme", "{j}");

    // the variable beats the folder, the flag beats the variable
    env.set("CYBEDEFEND_PROFILE", "staging");
    let (out, j) = status_in(&env, &deep, &["--offline"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        (j["profile"].as_str(), j["profile_reason"].as_str()),
        (Some("staging"), Some("CYBEDEFEND_PROFILE")),
        "{j}"
    );
    let (_, j) = status_in(&env, &env.work(), &["--offline", "--profile", "acme"]);
    assert_eq!(
        (j["profile"].as_str(), j["profile_reason"].as_str()),
        (Some("acme"), Some("--profile")),
        "{j}"
    );

    // a profile's own credential chain
    env.vars.retain(|(k, _)| k != "CYBEDEFEND_PAT");
    let (out, j) = status_in(&env, &env.work(), &[]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["source"], "cmd", "{j}");
    assert_eq!(j["fingerprint"], fingerprint(PAT_STAGING), "{j}");

    // the text form names it too
    let mut c = env.command(&["auth", "status", "--offline"]);
    c.current_dir(env.work());
    let out = Env::output_of(c, None);
    assert!(
        out.stderr
            .contains("Profile staging (CYBEDEFEND_PROFILE; defined in"),
        "{out:?}"
    );
}

#[test]
fn each_profile_keeps_its_own_login_and_the_default_keeps_the_official_file() {
    let (default, _acme, env) = setup();
    let out = env.run(&["login", "--pat", PAT_DEFAULT]);
    assert_eq!(out.code, 0, "{out:?}");
    let official = std::fs::read_to_string(env.creds()).unwrap();
    assert!(official.contains(PAT_DEFAULT), "{official}");

    let out = env.run(&["login", "--profile", "acme", "--pat", PAT_ACME]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("Logged in (profile `acme`)"), "{out:?}");
    let acme_file = env.dot().join("profiles/acme/credentials.json");
    assert_eq!(mode(&acme_file), 0o600);
    assert_eq!(mode(acme_file.parent().unwrap()), 0o700);
    assert!(
        std::fs::read_to_string(&acme_file)
            .unwrap()
            .contains(PAT_ACME)
    );
    assert_eq!(
        std::fs::read_to_string(env.creds()).unwrap(),
        official,
        "the default login changed"
    );

    let (_, j) = status_in(&env, &env.work(), &[]);
    assert_eq!(j["fingerprint"], fingerprint(PAT_DEFAULT), "{j}");
    assert_eq!(j["api_url"], default.url(), "{j}");
    let (_, j) = status_in(&env, &env.work().join("clients/acme"), &[]);
    assert_eq!(j["profile"], "acme", "{j}");
    assert_eq!(j["fingerprint"], fingerprint(PAT_ACME), "{j}");
    assert_eq!(j["authenticated"], true, "{j}");

    let out = env.run(&["logout", "--profile", "acme"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("Logged out (profile `acme`)"),
        "{out:?}"
    );
    assert!(!acme_file.exists());
    assert_eq!(std::fs::read_to_string(env.creds()).unwrap(), official);
}

#[test]
fn unknown_or_invalid_profile_names_are_usage_errors_listing_the_known_ones() {
    let (default, _acme, env) = setup();
    let out = env.run(&["auth", "status", "--profile", "acmee"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("there is no profile `acmee` (from --profile)")
            && out.stderr.contains("did you mean `acme`?")
            && out
                .stderr
                .contains("the profiles defined are: acme, staging"),
        "{out:?}"
    );
    let mut e = Env::new();
    e.use_double(&default);
    e.set("CYBEDEFEND_PROFILE", "work");
    let out = e.run(&["auth", "status"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("(from CYBEDEFEND_PROFILE)")
            && out.stderr.contains("no profiles are defined"),
        "{out:?}"
    );
    // `default` is no profile, even where one matches; no profile may take that name
    let (out, j) = status_in(
        &env,
        &env.work().join("clients/acme"),
        &["--offline", "--profile", "default"],
    );
    assert!(j["profile"].is_null(), "{out:?}");
    let user = std::fs::read_to_string(env.dot().join("config.yaml")).unwrap();
    let e = Env::new();
    e.write(
        &e.dot().join("config.yaml"),
        &format!("{user}  default:\n    region: eu\n"),
    );
    let out = e.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("that name is reserved"), "{out:?}");
    // a wrong case gets the right name suggested
    let out = env.run(&["auth", "status", "--profile", "ACME"]);
    assert!(out.stderr.contains("did you mean `acme`?"), "{out:?}");

    let out = env.run(&["login", "--profile", "../../etc", "--pat", PAT_ACME]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("is not a profile name"), "{out:?}");
    assert!(!env.dot().join("profiles").exists());
}

#[test]
fn a_repository_cannot_define_a_profile_and_profiles_keep_to_account_settings() {
    let (_default, _acme, env) = setup();
    // a repository's config, in a folder the user trusts, defining a profile that matches it
    let user = std::fs::read_to_string(env.dot().join("config.yaml")).unwrap();
    env.write(
        &env.dot().join("config.yaml"),
        &format!(
            "trusted_directories: [{}]\n{}\
             \x20 typo:\n\
             \x20   regoin: eu\n\
             \x20   plugins: {{dirs: [/tmp]}}\n",
            env.work().display(),
            user
        ),
    );
    env.write(
        &env.work().join("config.yaml"),
        "profiles:\n  evil:\n    api_url: https://evil.example\n    match: {directories: ['/**']}\n",
    );
    let (out, j) = status_in(&env, &env.work(), &["--offline"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(j["profile"].is_null(), "{j}");
    let warnings = j["warnings"].to_string();
    assert!(
        warnings.contains("`profiles` (never read from a working directory"),
        "{warnings}"
    );

    let (out, j) = status_in(&env, &env.work(), &["--offline", "--profile", "typo"]);
    assert_eq!(j["profile"], "typo", "{out:?}");
    let warnings = j["warnings"].to_string();
    assert!(
        warnings.contains("unknown key `profiles.typo.regoin`")
            && warnings.contains("did you mean `region`?"),
        "{warnings}"
    );
    assert!(
        warnings.contains("`plugins` in profile `typo`") && warnings.contains("is ignored"),
        "{warnings}"
    );
}

#[test]
fn only_a_real_repository_of_this_user_can_choose_a_profile_by_its_remote() {
    let (_default, _acme, env) = setup();
    let remote = "[remote \"origin\"]\n\turl = https://github.com/acme/api.git\n";
    // a lone .git/config is no repository
    let lone = env.work().join("lone");
    env.write(&lone.join(".git/config"), remote);
    let (_, j) = status_in(&env, &lone, &["--offline"]);
    assert!(j["profile"].is_null(), "{j}");

    // a real one, but another user's (a shared folder above the working directory)
    let shared = env.work().join("shared");
    env.write(&shared.join(".git/config"), remote);
    env.write(&shared.join(".git/HEAD"), "ref: refs/heads/main\n");
    std::fs::create_dir_all(shared.join("work")).unwrap();
    let (_, j) = status_in(&env, &shared.join("work"), &["--offline"]);
    assert_eq!(
        j["profile"], "acme",
        "a repository of this user matches: {j}"
    );
    if let Err(e) = std::os::unix::fs::chown(shared.join(".git"), Some(65534), Some(65534)) {
        missing(
            "only_a_real_repository_of_this_user_can_choose_a_profile_by_its_remote",
            "root (to give a folder to another user)",
            &format!("run the tests as root, as CI does ({e})"),
        );
        return;
    }
    let (_, j) = status_in(&env, &shared.join("work"), &["--offline"]);
    assert!(
        j["profile"].is_null(),
        "another user's .git chose a profile: {j}"
    );
    // a folder of another user holding a link to a real repository of this user's
    let real = env.work().join("real");
    env.write(&real.join(".git/config"), remote);
    env.write(&real.join(".git/HEAD"), "ref: refs/heads/main\n");
    let theirs = env.work().join("theirs");
    std::fs::create_dir_all(theirs.join("sub")).unwrap();
    std::os::unix::fs::symlink(real.join(".git"), theirs.join(".git")).unwrap();
    let (_, j) = status_in(&env, &theirs.join("sub"), &["--offline"]);
    assert_eq!(j["profile"], "acme", "while the folder is this user's: {j}");
    std::os::unix::fs::chown(&theirs, Some(65534), Some(65534)).unwrap();
    let (_, j) = status_in(&env, &theirs.join("sub"), &["--offline"]);
    assert!(
        j["profile"].is_null(),
        "another user's folder chose a profile: {j}"
    );

    // a huge config with thousands of remotes is read quickly and capped
    let big = env.work().join("big");
    let mut text = String::from("[remote \"o\"]\n");
    let mut i = 0;
    while text.len() < 1_000_000 {
        text.push_str(&format!("\turl = git@example.com:x/{i}\n"));
        i += 1;
    }
    env.write(&big.join(".git/config"), &text);
    env.write(&big.join(".git/HEAD"), "ref: refs/heads/main\n");
    let (out, j) = status_in(&env, &big, &["--offline"]);
    assert_eq!(out.code, 4, "no credential is set here: {out:?}");
    assert!(j["profile"].is_null(), "{j}");
}

#[test]
fn config_validate_type_checks_every_profile_and_refuses_a_relative_ca_file() {
    let env = Env::new();
    let file = env.work().join("profiles.yaml");
    for (body, says) in [
        ("    region: mars\n", "profiles"),
        ("    http_timeout: forever\n", "http_timeout"),
        ("    ca_cert_only: maybe\n", "ca_cert_only"),
        (
            "    proxy: socks5://h:1\n",
            "only http:// and https:// proxies",
        ),
    ] {
        env.write(&file, &format!("profiles:\n  acme:\n{body}"));
        let out = env.run(&["config", "validate", file.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{body}: {out:?}");
        assert!(out.stderr.contains(says), "{body}: {out:?}");
    }
    // a relative CA file in a config file would be read from wherever a command runs
    env.write(&env.dot().join("config.yaml"), "ca_cert: corp.pem\n");
    env.write(&env.work().join("corp.pem"), "not used\n");
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("is not an absolute path"), "{out:?}");
}

#[test]
fn config_validate_checks_urls_and_paths_inside_profiles() {
    let env = Env::new();
    let file = env.work().join("p.yaml");
    for (body, says) in [
        ("    api_url: 'ftp://x'\n", "scheme `ftp`"),
        ("    auth_endpoint: 'http://example.com'\n", "plain http"),
        ("    ca_cert: rel.pem\n", "is not an absolute path"),
    ] {
        env.write(&file, &format!("profiles:\n  p1:\n{body}"));
        let out = env.run(&["config", "validate", file.to_str().unwrap()]);
        assert_eq!(out.code, 2, "{body}: {out:?}");
        assert!(out.stderr.contains(says), "{body}: {out:?}");
    }
}

#[test]
fn inside_a_profile_a_credential_from_outside_it_is_never_sent() {
    let (default, acme, env) = setup();
    default.add_pat("cdp_personal_pat_0001");
    let marker = env.tmp.path().join("outside-provider-ran");
    // the user's personal PAT and a provider of theirs, both outside any profile
    let mut text = std::fs::read_to_string(env.dot().join("config.yaml")).unwrap();
    text = format!(
        "pat: cdp_personal_pat_0001\ncredentials:\n  providers:\n    mine: {{type: exec, command: [/bin/sh, -c, \"touch '{}'; echo cdp_personal_pat_0002\"]}}\n{text}",
        marker.display()
    );
    env.write(&env.dot().join("config.yaml"), &text);
    // in a folder of acme's, the acme profile applies: neither goes to acme's endpoints
    let acme_dir = env.work().join("clients/acme");
    let (out, j) = status_in(&env, &acme_dir, &[]);
    assert_eq!(j["profile"], "acme", "{out:?}");
    assert_eq!(j["authenticated"], false, "{out:?}");
    assert!(j["source"].is_null(), "{j}");
    let aside = j["outside_profile"].to_string();
    assert!(
        aside.contains("`pat` from ~/.cybedefend/config.yaml")
            && aside.contains("provider `mine` from ~/.cybedefend/config.yaml"),
        "{j}"
    );
    assert!(!marker.exists(), "a provider from outside the profile ran");
    let sent: Vec<String> = acme
        .requests()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert!(
        !sent.iter().any(|b| b.contains("cdp_personal_pat")),
        "the personal PAT went to acme's endpoint: {sent:?}"
    );
    let (out, _) = {
        let mut c = env.command(&["auth", "status"]);
        c.current_dir(&acme_dir);
        (Env::output_of(c, None), ())
    };
    assert!(
        out.stdout.contains("Not used in profile acme")
            || out.stderr.contains("Not used in profile acme"),
        "{out:?}"
    );
    // what the user gives for this command still applies, to the profile's account
    let mut c = env.command(&["auth", "status", "--json", "--pat", PAT_ACME]);
    c.current_dir(&acme_dir);
    let out = Env::output_of(c, None);
    let j = out.json();
    assert_eq!(j["authenticated"], true, "{out:?}");
    // and outside the profile, the personal PAT is the user's as before
    let (out, j) = status_in(&env, &env.work(), &[]);
    assert_eq!(j["authenticated"], true, "{out:?}");
    assert_eq!(
        j["fingerprint"],
        fingerprint("cdp_personal_pat_0001"),
        "{out:?}"
    );
}
