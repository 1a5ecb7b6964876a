//! The files the CLI reads and writes in the home folder and elsewhere, against what another
//! user or a repository can plant: FIFOs, links, shared folders, readable files, huge files.

use crate::common::*;
use crate::common::{
    DEMO_PAT as PAT, DEMO_PROJECT as PROJECT, demo as setup, demo_results as results,
};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

#[test]
fn fifos_in_place_of_files_never_hang_a_command() {
    let (_d, mut env) = setup();
    env.vars.retain(|(k, _)| k != "CYBEDEFEND_PAT");
    mkfifo(&env.creds());
    let start = Instant::now();
    let out = env.run(&["auth", "status", "--offline"]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.all().contains("FIFO"), "{out:?}");
    fs::remove_file(env.creds()).unwrap();

    env.set("CYBEDEFEND_PAT", PAT);
    mkfifo(&env.dot().join("token-cache.json"));
    let out = env.run(&["auth", "token"]);
    assert_eq!(
        out.code, 0,
        "a cache that cannot be read is just empty: {out:?}"
    );

    env.write(&env.work().join("repo/a.js"), "x");
    mkfifo(&env.work().join("repo/sub/.gitignore"));
    let start = Instant::now();
    let out = env.run(&["scan", "--dir", "repo", "--dry-run"]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains(".gitignore is not a regular file"),
        "{out:?}"
    );
    let out = env.run(&["scan", "--dir", "repo", "--dry-run", "--no-ignore"]);
    assert_eq!(out.code, 0, "{out:?}");
}

#[test]
fn a_shared_home_folder_is_refused_and_never_chmodded() {
    let (_d, mut env) = setup();
    let shared = env.tmp.path().join("shared");
    fs::create_dir(&shared).unwrap();
    fs::set_permissions(&shared, fs::Permissions::from_mode(0o1777)).unwrap();
    env.set("CYBEDEFEND_HOME", shared.to_str().unwrap());
    let out = env.run(&["login", "--pat", PAT]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("sticky"), "{out:?}");
    assert_eq!(
        fs::metadata(&shared).unwrap().permissions().mode() & 0o7777,
        0o1777
    );

    // ~/.cybedefend as a link to a folder of ours: used, not chmodded
    let (_d, env) = setup();
    let real = env.tmp.path().join("dotfiles/cybedefend");
    fs::create_dir_all(&real).unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o750)).unwrap();
    std::os::unix::fs::symlink(&real, env.dot()).unwrap();
    let out = env.run(&["login", "--pat", PAT]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        fs::metadata(&real).unwrap().permissions().mode() & 0o777,
        0o750
    );
    assert_eq!(mode(&real.join("credentials.json")), 0o600);
}

#[test]
fn a_planted_link_as_lock_file_creates_nothing() {
    let (_d, env) = setup();
    fs::create_dir_all(env.dot()).unwrap();
    fs::set_permissions(env.dot(), fs::Permissions::from_mode(0o700)).unwrap();
    let target = env.tmp.path().join("created-by-the-link");
    std::os::unix::fs::symlink(&target, env.dot().join(".credentials.lock")).unwrap();
    let out = env.run(&["login", "--pat", PAT]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("symbolic link"), "{out:?}");
    assert!(!target.exists());
}

#[test]
fn readable_credentials_are_flagged_and_made_private_on_the_next_write() {
    let (d, mut env) = setup();
    env.vars.retain(|(k, _)| k != "CYBEDEFEND_PAT");
    d.add_pat("cdp_stored_readable_1");
    env.write(
        &env.creds(),
        r#"{"type":"pat","region":"us","pat":"cdp_stored_readable_1"}"#,
    );
    fs::set_permissions(env.creds(), fs::Permissions::from_mode(0o644)).unwrap();
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("can be read by other users"), "{out:?}");
    let out = env.run(&["login", "--pat", PAT]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(mode(&env.creds()), 0o600);
}

#[test]
fn files_and_answers_are_read_with_a_size_cap() {
    let (d, mut env) = setup();
    env.vars.retain(|(k, _)| k != "CYBEDEFEND_PAT");
    fs::create_dir_all(env.dot()).unwrap();
    std::os::unix::fs::symlink("/dev/zero", env.creds()).unwrap();
    let start = Instant::now();
    let out = env.run(&["auth", "status", "--offline"]);
    assert!(start.elapsed() < Duration::from_secs(10));
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.all().contains("device"), "{out:?}");
    fs::remove_file(env.creds()).unwrap();

    env.set("CYBEDEFEND_PAT", PAT);
    let huge = format!(
        "{{\"vulnerabilities\": [], \"pad\": \"{}\"}}",
        "x".repeat(17 << 20)
    );
    d.can(
        "GET",
        &format!("/project/{PROJECT}/results/sast"),
        json_canned(200, &huge),
    );
    let out = results(&env, &["-t", "sast"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("larger than 16 MiB"), "{out:?}");
}
