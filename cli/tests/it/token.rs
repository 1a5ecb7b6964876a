use crate::common::*;

#[test]
fn ten_token_calls_cost_one_exchange_across_processes() {
    let d = Double::start();
    d.add_pat("cdp_cached_pat_01");
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", "cdp_cached_pat_01");
    let mut tokens = Vec::new();
    for _ in 0..10 {
        let out = env.run(&["auth", "token"]);
        assert_eq!(out.code, 0, "{out:?}");
        tokens.push(out.stdout.trim().to_owned());
    }
    assert_eq!(d.requests_to("/oidc/token").len(), 1);
    assert!(
        tokens.iter().all(|t| t == "double-access-token-000001"),
        "{tokens:?}"
    );
    #[cfg(unix)]
    assert_eq!(mode(&env.dot().join("token-cache.json")), 0o600);
    let cache = std::fs::read_to_string(env.dot().join("token-cache.json")).unwrap();
    assert!(
        !cache.contains("cdp_cached_pat_01"),
        "the cache must not hold the PAT"
    );
}

#[test]
fn parallel_processes_share_one_exchange() {
    let d = Double::start();
    d.add_pat("cdp_parallel_pat1");
    d.set_token_mode(TokenMode::Slow(std::time::Duration::from_millis(300)));
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", "cdp_parallel_pat1");
    let children: Vec<_> = (0..8)
        .map(|_| {
            env.command(&["auth", "token"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            "double-access-token-000001"
        );
    }
    assert_eq!(d.requests_to("/oidc/token").len(), 1);
}

#[test]
fn short_lived_tokens_are_not_reused_past_expiry_margin() {
    let d = Double::start();
    d.add_pat("cdp_short_pat_001");
    d.set_expires_in(30); // below the 60 s margin: never served from cache
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", "cdp_short_pat_001");
    assert_eq!(env.run(&["auth", "token"]).code, 0);
    assert_eq!(env.run(&["auth", "token"]).code, 0);
    assert_eq!(d.requests_to("/oidc/token").len(), 2);
}

#[test]
fn a_different_pat_or_endpoint_gets_its_own_token() {
    let d = Double::start();
    d.add_pat("cdp_first_pat_001");
    d.add_pat("cdp_second_pat_01");
    let mut env = Env::new();
    env.use_double(&d);
    let a = env.run(&["auth", "token", "--pat", "cdp_first_pat_001"]);
    let b = env.run(&["auth", "token", "--pat", "cdp_second_pat_01"]);
    assert_eq!((a.code, b.code), (0, 0));
    assert_ne!(a.stdout, b.stdout);
    assert_eq!(d.requests_to("/oidc/token").len(), 2);
}

#[test]
fn token_without_credential_is_exit_4() {
    let env = Env::new();
    let out = env.run(&["auth", "token"]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stdout.is_empty());
    assert!(out.stderr.contains("no credential found"));
}

#[test]
fn a_home_that_cannot_be_written_works_without_the_token_cache_and_says_so() {
    // as root every folder is writable: run as another user
    let Some(alice) = local_user(
        "a_home_that_cannot_be_written_works_without_the_token_cache_and_says_so",
        "cbd-alice",
    ) else {
        return;
    };
    let d = Double::start();
    d.add_pat("cdp_read_only_home_01");
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", "cdp_read_only_home_01");
    std::fs::create_dir_all(env.dot()).unwrap();
    env.as_user(&alice);
    env.hand_over();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(env.dot(), std::fs::Permissions::from_mode(0o500)).unwrap();
    }
    let mut exchanges = 0;
    for _ in 0..2 {
        let out = env.run(&["auth", "status", "--json"]);
        assert_eq!(out.code, 0, "{out:?}");
        assert_eq!(out.json()["authenticated"], true, "{out:?}");
        assert_eq!(
            out.stderr.matches("the token cache is off").count(),
            1,
            "{out:?}"
        );
        // without the cache, each command exchanges again
        let now = d.requests_to("/oidc/token").len();
        assert!(now > exchanges, "{now} exchanges after {exchanges}");
        exchanges = now;
    }
}

#[test]
fn a_busy_or_failing_auth_server_is_asked_again_within_the_retry_budget() {
    let d = Double::start();
    d.add_pat("cdp_retried_exchange_1");
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", "cdp_retried_exchange_1");
    // a 503, then a 429 with Retry-After: 1, then an answer
    d.fail_next_token_calls(&[503, 429]);
    let out = env.run(&["auth", "token"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(d.requests_to("/oidc/token").len(), 3);
    // a server that keeps failing: bounded, and exit 3
    d.add_pat("cdp_retried_exchange_2");
    env.vars.retain(|(k, _)| k != "CYBEDEFEND_PAT");
    env.set("CYBEDEFEND_PAT", "cdp_retried_exchange_2");
    d.fail_next_token_calls(&[500; 10]);
    env.set("CYBEDEFEND_HTTP_TIMEOUT", "2s");
    let before = d.requests_to("/oidc/token").len();
    let out = env.run(&["auth", "token"]);
    assert_eq!(out.code, 3, "{out:?}");
    let tries = d.requests_to("/oidc/token").len() - before;
    assert!((2..=4).contains(&tries), "{tries} tries");
}

/// Expiry times a server sends, and the token cache switched off.
mod expiries_and_the_cache {
    use super::*;
    use crate::common::demo as setup;

    use std::fs;

    #[test]
    fn absurd_expiries_never_crash_a_command() {
        for value in [
            serde_json::json!(1e30),
            serde_json::json!("1e30"),
            serde_json::json!(u64::MAX),
            serde_json::json!(-1),
            serde_json::json!("soon"),
        ] {
            let (d, env) = setup();
            d.set_token_mode(TokenMode::ExpiresIn(value.clone()));
            let out = env.run(&["auth", "token"]);
            assert_eq!(out.code, 0, "{value}: {out:?}");
            assert!(!out.stderr.contains("internal error"), "{value}: {out:?}");
            if let Ok(text) = fs::read_to_string(env.dot().join("token-cache.json")) {
                // cached at most for a day
                let v: Value = serde_json::from_str(&text).unwrap();
                for e in v["entries"].as_object().unwrap().values() {
                    let year: i32 = e["expires_at"].as_str().unwrap()[..4].parse().unwrap();
                    assert!(year < 2200, "{value}: {text}");
                }
            }
        }
    }

    #[test]
    fn token_cache_off_keeps_no_file_and_costs_an_exchange_per_command() {
        let d = Double::start();
        d.add_pat("cdp_cache_off_pat_01");
        let mut env = Env::new();
        env.use_double(&d);
        env.set("CYBEDEFEND_PAT", "cdp_cache_off_pat_01");
        env.write(
            &env.dot().join("config.yaml"),
            "credentials:\n  token_cache: off\n",
        );
        for _ in 0..2 {
            assert_eq!(env.run(&["auth", "token"]).code, 0);
        }
        assert_eq!(d.requests_to("/oidc/token").len(), 2);
        assert!(!env.dot().join("token-cache.json").exists());

        env.write(
            &env.dot().join("config.yaml"),
            "credentials:\n  token_cache: file\n",
        );
        for _ in 0..2 {
            assert_eq!(env.run(&["auth", "token"]).code, 0);
        }
        assert_eq!(
            d.requests_to("/oidc/token").len(),
            3,
            "one more exchange, then the cache"
        );
        assert!(env.dot().join("token-cache.json").exists());
    }
}
