//! What runs when a plugin runs, against another local user and against the plugin's owner:
//! the interpreter `env` finds, the bytes that were hashed, the configuration files that may
//! define what runs, the libraries the loader opens, links in shared folders, the
//! environment, descriptors and memory a plugin can reach. Tests that need a second user
//! create one as root (see `common::local_user`).

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::common::*;
use crate::plugins::{
    HELLO, ONE_PLUGIN_T, PAT, answering, config, plugin_dir, refused_with, status,
};

fn mode(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn chown(path: &Path, user: &User) {
    let ok = Command::new("chown")
        .arg("-h")
        .arg(format!("{}:{}", user.uid, user.gid))
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// An executable file with `text`.
fn program(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    mode(path, 0o755);
}

/// A shell script at `path` that answers PAT, mode 0755.
fn answering_at(path: &Path) {
    program(
        path,
        &format!(
            "#!/bin/sh\n{HELLO}\nprintf '{{\"ok\":{{\"kind\":\"pat\",\"secret\":\"{PAT}\"}}}}\\n'\n"
        ),
    );
}

/// A plugin `t` answering PAT whose first line is `first_line`; its stderr lists its PATH.
fn plugin_t(env: &Env, first_line: &str, body: &str) -> PathBuf {
    let name = plugin_dir(env, &[]).join("cybedefend-credential-t");
    program(
        &name,
        &format!(
            "{first_line}\n{HELLO}\necho \"PATH=$PATH\" >&2\n{body}\nprintf '{{\"ok\":{{\"kind\":\"pat\",\"secret\":\"{PAT}\"}}}}\\n'\n"
        ),
    );
    config(env, ONE_PLUGIN_T);
    name
}

/// The SHA-256 of a file, as `sha256sum` prints it.
fn sha256(path: &Path) -> String {
    let sum = Command::new("sha256sum").arg(path).output().unwrap();
    String::from_utf8_lossy(&sum.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

/// A chain of one provider `t`, plugin `t` pinned to the hash of `file`.
fn pinned_t(env: &Env, file: &Path) {
    config(
        env,
        &format!(
            "credentials:\n  chain: [t]\n  providers:\n    t: {{type: plugin, plugin: t, sha256: '{}'}}\n",
            sha256(file)
        ),
    );
}

#[test]
fn env_finds_its_program_only_in_path_folders_that_pass_the_checks() {
    let mut env = Env::new();
    let marker = env.tmp.path().join("team-interpreter-ran");
    // a team tools folder that others can write, first on PATH, with the program `env` asks for
    let team = env.tmp.path().join("team-tools");
    program(
        &team.join("cbd-test-interp"),
        &format!(
            "#!/bin/sh\ntouch '{}'\nexec /bin/sh \"$@\"\n",
            marker.display()
        ),
    );
    mode(&team, 0o777);
    // the user's own copy, later on PATH
    let mine = env.home().join("bin");
    program(
        &mine.join("cbd-test-interp"),
        "#!/bin/sh\nexec /bin/sh \"$@\"\n",
    );
    mode(&mine, 0o755);
    env.set(
        "PATH",
        &format!(
            "{}:{}:{}",
            team.display(),
            mine.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    plugin_t(&env, "#!/usr/bin/env cbd-test-interp", "");
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint(PAT));
    assert!(
        !marker.exists(),
        "the interpreter of a folder others can write ran"
    );
    // the plugin's own PATH is the checked one: the team folder is not in it
    let path_line = j["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|w| w.as_str())
        .find(|w| w.contains("PATH="))
        .unwrap_or_else(|| panic!("{j}"))
        .to_owned();
    assert!(path_line.contains("/home/bin"), "{path_line}");
    assert!(!path_line.contains("team-tools"), "{path_line}");

    // with only the team folder, the program is not found, and the message says why
    env.vars.retain(|(k, _)| k != "PATH");
    env.set("PATH", &format!("{}:/usr/bin:/bin", team.display()));
    refused_with(
        &env,
        &[
            "its interpreter `cbd-test-interp` (from its `#!` line) is not on PATH",
            "team-tools (folder",
            "can be written by group or others",
        ],
    );
    assert!(!marker.exists());

    // a folder of PATH that another user owns is left out the same way
    if let Some(mallory) = local_user(
        "env_finds_its_program_only_in_path_folders_that_pass_the_checks",
        "cbd-mallory",
    ) {
        mode(&team, 0o755);
        chown(&team, &mallory);
        refused_with(&env, &["team-tools (folder", "belongs to another user"]);
        assert!(!marker.exists());
    }
}

#[test]
fn bytes_that_were_hashed_are_the_bytes_that_run_while_the_file_is_swapped() {
    let env = Env::new();
    let dir = plugin_dir(&env, &[]);
    let name = dir.join("cybedefend-credential-t");
    let hits = env.tmp.path().join("evil-ran");
    let good = format!(
        "#!/bin/sh\n{HELLO}\nprintf '{{\"ok\":{{\"kind\":\"pat\",\"secret\":\"{PAT}\"}}}}\\n'\n"
    );
    let evil = format!(
        "#!/bin/sh\necho ran >> '{}'\n{}",
        hits.display(),
        &good[10..]
    );
    program(&name, &good);
    pinned_t(&env, &name);
    for swap in ["renamed into place", "rewritten in place"] {
        let stop = Arc::new(AtomicBool::new(false));
        let swapper = {
            let (stop, name, dir) = (stop.clone(), name.clone(), dir.clone());
            let (good, evil) = (good.clone(), evil.clone());
            let rename = swap.starts_with("renamed");
            std::thread::spawn(move || {
                let mut i = 0u64;
                while !stop.load(Ordering::SeqCst) {
                    let text = if i.is_multiple_of(2) { &evil } else { &good };
                    if rename {
                        let tmp = dir.join(format!(".swap{i}"));
                        fs::write(&tmp, text).unwrap();
                        fs::set_permissions(&tmp, fs::Permissions::from_mode(0o755)).unwrap();
                        fs::rename(&tmp, &name).unwrap();
                    } else {
                        use std::io::Write;
                        let mut f = fs::OpenOptions::new().write(true).open(&name).unwrap();
                        f.write_all(text.as_bytes()).unwrap();
                        f.set_len(text.len() as u64).unwrap();
                    }
                    i += 1;
                }
                i
            })
        };
        let (mut ran, mut refused) = (0, 0);
        for _ in 0..60 {
            let out = env.run(&["auth", "status", "--offline", "--json"]);
            match out.code {
                0 => ran += 1,
                2 | 1 => refused += 1,
                _ => panic!("{out:?}"),
            }
        }
        stop.store(true, Ordering::SeqCst);
        let swaps = swapper.join().unwrap();
        program(&name, &good);
        let hit_count = fs::read_to_string(&hits).map_or(0, |t| t.lines().count());
        eprintln!(
            "{swap}: {swaps} swaps, {ran} runs of the pinned file, {refused} refused, {hit_count} hits"
        );
        assert!(swaps > 100, "the file was hardly swapped ({swaps})");
        assert_eq!(hit_count, 0, "{swap}: a file other than the hashed one ran");
        assert!(
            ran > 0 && refused > 0,
            "{swap}: {ran} ran, {refused} refused"
        );
    }
}

#[test]
fn a_configuration_another_user_could_change_may_not_define_what_runs() {
    let env = Env::new();
    let marker = env.tmp.path().join("exec-ran");
    let exec_provider = format!(
        "credentials:\n  chain: [e]\n  providers:\n    e: {{type: exec, command: [/bin/sh, -c, \"touch '{}'; echo {PAT}\"]}}\n",
        marker.display()
    );
    // a user config group members can write: the exec provider is refused, with the fix
    config(&env, &exec_provider);
    let user_config = env.dot().join("config.yaml");
    mode(&user_config, 0o664);
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    let e = out.stderr.clone();
    assert!(
        e.contains("may not set what runs code or where a credential goes (`credentials.chain`, `credentials.providers`)")
            && e.contains("group or others can write to it (mode 664)")
            && e.contains("chmod go-w"),
        "{e}"
    );
    assert!(!marker.exists());
    // nor where the PAT is sent
    config(
        &env,
        "api_url: http://127.0.0.1:9\nauth_endpoint: http://127.0.0.1:9\n",
    );
    mode(&user_config, 0o664);
    let out = env.run(&["auth", "status", "--offline", "--pat", PAT]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("(`api_url`, `auth_endpoint`)"),
        "{out:?}"
    );
    // nor through a link in a folder others can write, to a file that is the user's own
    let open = env.tmp.path().join("open");
    fs::create_dir_all(&open).unwrap();
    mode(&open, 0o777);
    let dotfile = env.home().join("dotfiles/config.yaml");
    env.write(&dotfile, &exec_provider);
    std::os::unix::fs::symlink(&dotfile, open.join("current.yaml")).unwrap();
    fs::remove_file(&user_config).unwrap();
    std::os::unix::fs::symlink(open.join("current.yaml"), &user_config).unwrap();
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("open can be written by group or others"),
        "{out:?}"
    );
    assert!(!marker.exists());
    fs::remove_file(&user_config).unwrap();
    // settings that run nothing still apply from it
    config(&env, "region: eu\n");
    mode(&user_config, 0o664);
    let (out, j) = status(&env);
    assert_eq!(j["region"], "eu", "{out:?}");
    // nor may a folder others can write hold it
    config(&env, &exec_provider);
    mode(&user_config, 0o644);
    mode(&env.dot(), 0o777);
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("its folder"), "{out:?}");
    mode(&env.dot(), 0o700);
    let (out, _) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(marker.exists(), "the user's own exec provider runs");
    fs::remove_file(&marker).unwrap();

    let Some(alice) = local_user(
        "a_configuration_another_user_could_change_may_not_define_what_runs",
        "cbd-alice",
    ) else {
        return;
    };
    // root with alice's HOME (sudo -E): alice's exec provider does not run as root
    let chown_all = |p: &Path| {
        assert!(
            Command::new("chown")
                .arg("-R")
                .arg(format!("{}:{}", alice.uid, alice.gid))
                .arg(p)
                .status()
                .unwrap()
                .success()
        );
    };
    chown_all(&env.home());
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    let e = out.stderr.clone();
    assert!(
        e.contains("belongs to another user") && e.contains("sudo -E"),
        "{e}"
    );
    assert!(!marker.exists(), "root ran another user's exec provider");

    // a --config file of alice's
    let theirs = env.tmp.path().join("theirs.yaml");
    fs::write(&theirs, &exec_provider).unwrap();
    chown_all(&theirs);
    let out = env.run(&[
        "auth",
        "status",
        "--offline",
        "--config",
        theirs.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("may not set what runs code"), "{out:?}");
    assert!(!marker.exists());

    // the system file must be root's for plugin folders and code
    fs::remove_dir_all(env.home()).unwrap();
    fs::create_dir_all(env.home()).unwrap();
    env.write(
        &env.system_config(),
        &format!("plugins:\n  dirs: ['{}']\n", env.tmp.path().display()),
    );
    chown_all(&env.system_config());
    let out = env.run(&["auth", "status", "--offline"]);
    assert_eq!(out.code, 2, "{out:?}");
    let e = out.stderr.clone();
    assert!(
        e.contains("`plugins.dirs`") && e.contains("must be root's") && e.contains("chown root"),
        "{e}"
    );
}

#[test]
fn under_the_allow_list_every_interpreter_is_the_administrators() {
    let Some(alice) = local_user(
        "under_the_allow_list_every_interpreter_is_the_administrators",
        "cbd-alice",
    ) else {
        return;
    };
    let mut env = Env::new();
    // root installs `corp`, a `#!/usr/bin/env cbd-admin-interp` script, and that interpreter
    let sys = env.tmp.path().join("sys");
    let sys_bin = sys.join("bin");
    program(
        &sys_bin.join("cbd-admin-interp"),
        "#!/bin/sh\nexec /bin/sh \"$@\"\n",
    );
    let sys_plugins = sys.join("plugins");
    program(
        &sys_plugins.join("cybedefend-credential-corp"),
        &format!(
            "#!/usr/bin/env cbd-admin-interp\n{HELLO}\necho \"user-site=${{PYTHONNOUSERSITE:-yes}}\" >&2\nprintf '{{\"ok\":{{\"kind\":\"pat\",\"secret\":\"{PAT}\"}}}}\\n'\n"
        ),
    );
    for d in [&sys, &sys_bin, &sys_plugins] {
        mode(d, 0o755);
    }
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
    // alice puts her own interpreter of that name first on PATH
    let marker = env.tmp.path().join("users-interpreter-ran");
    let mine = env.home().join("bin");
    program(
        &mine.join("cbd-admin-interp"),
        &format!(
            "#!/bin/sh\ntouch '{}'\nexec /bin/sh \"$@\"\n",
            marker.display()
        ),
    );
    env.set(
        "PATH",
        &format!("{}:{}:/usr/bin:/bin", mine.display(), sys_bin.display()),
    );
    env.as_user(&alice);
    mode(&env.tmp_dir(), 0o1777);
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint(PAT));
    assert!(
        !marker.exists(),
        "the user's own interpreter ran for an allowed plugin"
    );
    // with no administrator's copy on PATH, the user's is not taken instead
    env.vars.retain(|(k, _)| k != "PATH");
    env.set("PATH", &format!("{}:/usr/bin:/bin", mine.display()));
    fs::remove_file(sys_bin.join("cbd-admin-interp")).unwrap();
    let (out, j) = status(&env);
    assert_eq!(out.code, 2, "{out:?}");
    let e = format!("{} {}", j["error"], j["hint"]);
    assert!(
        e.contains("is not on PATH") && e.contains("is yours, not root's"),
        "{e}"
    );
    assert!(!marker.exists());
}

/// Compiles a C program or library; `link` are extra linker arguments.
fn cc(out: &Path, source: &str, shared: bool, link: &[&str]) {
    let c = out.with_extension("c");
    fs::write(&c, source).unwrap();
    let mut cmd = Command::new("cc");
    if shared {
        cmd.args(["-shared", "-fPIC"]);
    }
    let status = cmd.arg("-o").arg(out).arg(&c).args(link).status().unwrap();
    assert!(status.success(), "cc failed");
    fs::remove_file(&c).unwrap();
    mode(out, 0o755);
}

const C_EXEC_PLUGIN: &str = r#"
#include <stdio.h>
extern int helper(void);
int main(int argc, char **argv) {
    char line[4096];
    printf("{\"v\":[1],\"name\":\"t\",\"version\":\"1\"}\n");
    fflush(stdout);
    if (!fgets(line, sizeof line, stdin)) return 1;
    printf("{\"ok\":{\"kind\":\"pat\",\"secret\":\"cdp_plugin_pat_%06d\"}}\n", helper());
    return 0;
}
"#;

#[test]
fn the_loader_and_library_folders_of_an_elf_plugin_are_checked() {
    let env = Env::new();
    let dir = plugin_dir(&env, &[]);
    let name = dir.join("cybedefend-credential-t");
    config(&env, ONE_PLUGIN_T);
    // its library, in a folder next to it ($ORIGIN) that only the user can write
    let lib_dir = dir.join("lib");
    fs::create_dir_all(&lib_dir).unwrap();
    mode(&lib_dir, 0o755);
    cc(
        &lib_dir.join("libhelper.so"),
        "int helper(void) { return 1; }\n",
        true,
        &["-Wl,-soname,libhelper.so"],
    );
    cc(
        &name,
        C_EXEC_PLUGIN,
        false,
        &[
            "-L",
            lib_dir.to_str().unwrap(),
            "-lhelper",
            "-Wl,-rpath,$ORIGIN/lib",
        ],
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint(PAT));
    // the same folder writable by others: anyone could put their libhelper.so there
    mode(&lib_dir, 0o777);
    refused_with(
        &env,
        &[
            "its library folder",
            "/lib can be written by group or others",
            "chmod go-w",
        ],
    );
    mode(&lib_dir, 0o755);
    // a relative or empty entry means the working directory
    cc(
        &name,
        C_EXEC_PLUGIN,
        false,
        &[
            "-L",
            lib_dir.to_str().unwrap(),
            "-lhelper",
            "-Wl,-rpath,lib",
        ],
    );
    refused_with(
        &env,
        &["library search path `lib` is relative to the working directory"],
    );
    // a folder that does not exist yet, under one others can write
    let shared = env.tmp.path().join("shared");
    fs::create_dir_all(&shared).unwrap();
    mode(&shared, 0o777);
    let later = shared.join("not-yet");
    cc(
        &name,
        C_EXEC_PLUGIN,
        false,
        &[
            "-L",
            lib_dir.to_str().unwrap(),
            "-lhelper",
            &format!("-Wl,-rpath,{}:$ORIGIN/lib", later.display()),
        ],
    );
    refused_with(&env, &["shared can be written by group or others"]);
    // `$ORIGIN_lib` is no `$ORIGIN` for the loader: a folder of that name in the working directory
    cc(
        &name,
        C_EXEC_PLUGIN,
        false,
        &[
            "-L",
            lib_dir.to_str().unwrap(),
            "-lhelper",
            "-Wl,-rpath,$ORIGIN_lib",
        ],
    );
    refused_with(&env, &["`$ORIGIN_lib`", "other than the $ORIGIN token"]);
    // a library needed by its path (one without a DT_SONAME, linked by path), in a folder
    // others can write
    cc(
        &shared.join("libbypath.so"),
        "int helper(void) { return 1; }\n",
        true,
        &[],
    );
    cc(
        &name,
        C_EXEC_PLUGIN,
        false,
        &[shared.join("libbypath.so").to_str().unwrap()],
    );
    refused_with(
        &env,
        &[
            "its library folder",
            "shared can be written by group or others",
        ],
    );
    // and a plugin's own folder may not be one where others can add files (a sticky /tmp)
    let sticky = env.tmp.path().join("sticky");
    fs::create_dir_all(&sticky).unwrap();
    mode(&sticky, 0o1777);
    let in_sticky = sticky.join("cybedefend-credential-t");
    answering_at(&in_sticky);
    config(
        &env,
        &format!(
            "credentials:\n  chain: [t]\n  providers:\n    t: {{type: plugin, path: '{}'}}\n",
            in_sticky.display()
        ),
    );
    refused_with(
        &env,
        &["sticky can be written by group or others (mode 1777)"],
    );
}

#[test]
fn native_plugins_find_their_own_libraries_through_origin() {
    let env = Env::new();
    let dir = plugin_dir(&env, &[]);
    config(
        &env,
        "credentials:\n  chain: [n]\n  providers:\n    n: {type: plugin, plugin: n}\n",
    );
    let lib_dir = dir.join("n-libs");
    fs::create_dir_all(&lib_dir).unwrap();
    mode(&lib_dir, 0o755);
    let source = format!(
        "#define ABI 1\n#define ANSWER \"{{\\\"ok\\\":{{\\\"kind\\\":\\\"pat\\\",\\\"secret\\\":\\\"{PAT}\\\"}}}}\"\nextern int helper(void);\nint use_helper(void) {{ return helper(); }}\n{}{}",
        crate::plugins::C_ABI,
        crate::plugins::C_TABLE
    );
    let plugin = dir.join("libcybedefend_credential_n.so");
    for (soname, works) in [(true, true), (false, false)] {
        let link: Vec<&str> = if soname {
            vec!["-Wl,-soname,libhelper.so"]
        } else {
            vec![]
        };
        cc(
            &lib_dir.join("libhelper.so"),
            "int helper(void) { return 1; }\n",
            true,
            &link,
        );
        cc(
            &plugin,
            &source,
            true,
            &[
                "-L",
                lib_dir.to_str().unwrap(),
                "-lhelper",
                "-Wl,-rpath,$ORIGIN/n-libs",
            ],
        );
        let (out, j) = status(&env);
        if works {
            assert_eq!(out.code, 0, "{out:?}");
            assert_eq!(j["fingerprint"], fingerprint(PAT));
        } else {
            assert_eq!(out.code, 2, "{out:?}");
            let e = format!("{} {}", j["error"], j["hint"]);
            assert!(
                e.contains("DT_SONAME") && e.contains("-Wl,-soname,libhelper.so"),
                "{e}"
            );
        }
    }
}

#[test]
fn a_plugin_gets_no_loader_or_interpreter_variables_and_a_neutral_directory() {
    let mut env = Env::new();
    let report = env.tmp.path().join("plugin-env.txt");
    plugin_t(
        &env,
        "#!/bin/sh",
        &format!("{{ env; echo \"PWD=$(pwd)\"; }} > '{}'", report.display()),
    );
    for (k, v) in [
        ("LD_LIBRARY_PATH", "/tmp/evil-libs"),
        ("PYTHONPATH", "/tmp/evil-python"),
        ("PYTHONSTARTUP", "/tmp/evil.py"),
        ("BASH_ENV", "/tmp/evil.sh"),
        ("ENV", "/tmp/evil.sh"),
        ("PERL5LIB", "/tmp/evil-perl"),
        ("RUBYOPT", "-r/tmp/evil"),
        ("NODE_OPTIONS", "--require /tmp/evil.js"),
        ("LD_AUDIT", "/tmp/evil-audit.so"),
        ("KEEP_ME", "harmless"),
    ] {
        env.set(k, v);
    }
    let (out, _) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    let seen = fs::read_to_string(&report).unwrap();
    for gone in [
        "LD_LIBRARY_PATH=",
        "PYTHONPATH=",
        "PYTHONSTARTUP=",
        "BASH_ENV=",
        "\nENV=",
        "PERL5LIB=",
        "RUBYOPT=",
        "NODE_OPTIONS=",
        "LD_AUDIT=",
    ] {
        assert!(!seen.contains(gone), "{gone} reached the plugin:\n{seen}");
    }
    assert!(seen.contains("KEEP_ME=harmless"), "{seen}");
    assert!(seen.contains("PWD=/\n"), "{seen}");
    assert!(seen.contains("CYBEDEFEND_PLUGIN_FILE="), "{seen}");
}

#[test]
fn only_stdin_stdout_stderr_and_its_own_script_reach_a_plugin() {
    let env = Env::new();
    let report = env.tmp.path().join("plugin-fds.txt");
    let secret = env.tmp.path().join("inherited-secret.txt");
    fs::write(&secret, "cdp_inherited_secret_1\n").unwrap();
    plugin_t(
        &env,
        "#!/bin/sh",
        &format!("ls -l /proc/$$/fd > '{}'", report.display()),
    );
    // the CLI is started with descriptor 7 open on a secret file (a careless parent)
    let cmd = env.command_with(
        "/bin/sh",
        &[],
        &[
            "-c",
            &format!(
                "exec 7<'{}'; exec '{}' auth status --offline --json",
                secret.display(),
                env!("CARGO_BIN_EXE_cybedefend")
            ),
        ],
    );
    let out = Env::output_of(cmd, None);
    assert_eq!(out.code, 0, "{out:?}");
    let fds = fs::read_to_string(&report).unwrap();
    assert!(!fds.contains("inherited-secret"), "{fds}");
    assert!(!fds.contains(" 7 -> "), "{fds}");
    // stdio, the script (its descriptor and the shell's own), the shell's saved stdout
    let open: Vec<&str> = fds.lines().filter(|l| l.contains(" -> ")).collect();
    assert!(open.len() <= 6, "{fds}");
}

#[test]
fn a_plugin_cannot_read_the_clis_environment_or_memory() {
    let mut env = Env::new();
    let report = env.tmp.path().join("parent.txt");
    plugin_t(
        &env,
        "#!/bin/sh",
        &format!(
            "{{ tr '\\0' '\\n' < /proc/$PPID/environ && echo environ-read; head -c 16 /proc/$PPID/mem >/dev/null && echo mem-read; }} > '{}' 2>&1",
            report.display()
        ),
    );
    env.set("CYBEDEFEND_PAT", "cdp_parent_env_secret_1");
    // as root, everything is readable whatever the process says: run as another user
    let Some(alice) = local_user(
        "a_plugin_cannot_read_the_clis_environment_or_memory",
        "cbd-alice",
    ) else {
        return;
    };
    env.as_user(&alice);
    fs::write(&report, "").unwrap();
    mode(&report, 0o666);
    let (out, _) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    let seen = fs::read_to_string(&report).unwrap();
    assert!(!seen.contains("cdp_parent_env_secret_1"), "{seen}");
    assert!(
        !seen.contains("environ-read") && !seen.contains("mem-read"),
        "{seen}"
    );
    assert!(seen.contains("Permission denied"), "{seen}");
}

#[test]
fn pat_from_standard_input_and_a_warning_for_one_in_the_arguments() {
    let env = Env::new();
    let out = env.run_stdin(
        &["auth", "status", "--offline", "--json", "--pat", "-"],
        Some("cdp_from_stdin_pat_01\n"),
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.json()["fingerprint"],
        fingerprint("cdp_from_stdin_pat_01")
    );
    assert!(!out.all().contains("cdp_from_stdin_pat_01"), "{out:?}");
    let out = env.run_stdin(&["auth", "status", "--offline", "--pat", "-"], Some("\n"));
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("standard input held no PAT"), "{out:?}");
    // a machine where another account can log in and /proc shows every command line
    let passwd = fs::read_to_string("/etc/passwd").unwrap_or_default();
    let me = fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2)?.parse::<u32>().ok());
    let shared = passwd.lines().any(|l| {
        let f: Vec<&str> = l.split(':').collect();
        f.get(2)
            .and_then(|u| u.parse::<u32>().ok())
            .is_some_and(|u| u >= 1000 && u != 65534 && Some(u) != me)
            && f.get(6)
                .is_some_and(|s| !s.ends_with("nologin") && !s.ends_with("false") && !s.is_empty())
    });
    let out = env.run(&[
        "auth",
        "status",
        "--offline",
        "--pat",
        "cdp_in_the_arguments_1",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        out.stderr
            .contains("other users of this machine can read in the process list")
            && out.stderr.contains("`--pat -`"),
        shared,
        "{out:?}"
    );
}

#[test]
fn a_link_another_user_owns_in_a_shared_sticky_folder_is_not_followed() {
    let Some(alice) = local_user(
        "a_link_another_user_owns_in_a_shared_sticky_folder_is_not_followed",
        "cbd-alice",
    ) else {
        return;
    };
    let Some(mallory) = local_user(
        "a_link_another_user_owns_in_a_shared_sticky_folder_is_not_followed",
        "cbd-mallory",
    ) else {
        return;
    };
    let mut env = Env::new();
    // a shared sticky folder of root's, like /tmp
    let shared = env.tmp.path().join("shared-tmp");
    fs::create_dir_all(&shared).unwrap();
    mode(&shared, 0o1777);
    let real = answering(&env.home().join("private"), "real-plugin", "");
    let link = shared.join("cybedefend-credential-t");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    config(
        &env,
        &format!(
            "credentials:\n  chain: [t]\n  providers:\n    t: {{type: plugin, path: '{}'}}\n",
            link.display()
        ),
    );
    let yaml_link = shared.join("config.yaml");
    std::os::unix::fs::symlink(env.dot().join("config.yaml"), &yaml_link).unwrap();
    env.as_user(&alice);
    // alice's own link: followed
    chown(&link, &alice);
    chown(&yaml_link, &alice);
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint(PAT));
    // mallory's link (she could repoint it at any moment): not followed
    chown(&link, &mallory);
    refused_with(
        &env,
        &[
            "is a symbolic link in a folder everyone can write",
            "belongs to another user",
        ],
    );
    chown(&yaml_link, &mallory);
    let out = env.run(&[
        "auth",
        "status",
        "--offline",
        "--config",
        yaml_link.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("belongs to another user"), "{out:?}");
}

#[test]
fn a_trusted_working_directory_cannot_change_a_provider_that_runs_code() {
    let env = Env::new();
    let report = env.tmp.path().join("config-seen.txt");
    let name = plugin_dir(&env, &[]).join("cybedefend-credential-t");
    program(
        &name,
        &format!(
            "#!/bin/sh\nprintf '{{\"v\":[1],\"name\":\"t\",\"version\":\"1\"}}\\n'\nread -r req\necho \"$req\" > '{}'\nprintf '{{\"ok\":{{\"kind\":\"pat\",\"secret\":\"{PAT}\"}}}}\\n'\n",
            report.display()
        ),
    );
    config(
        &env,
        &format!(
            "trusted_directories: ['{}']\ncredentials:\n  chain: [t, e]\n  providers:\n    t: {{type: plugin, plugin: t, timeout: 10s, config: {{role: mine}}}}\n    e: {{type: exec, command: [/bin/echo, {PAT}]}}\n",
            env.work().display()
        ),
    );
    env.write(
        &env.work().join("config.yaml"),
        "credentials:\n  providers:\n    t: {config: {role: the-repositorys}, timeout: 1ms, on_error: continue}\n    e: {command: [/bin/sh, -c, 'touch repo-ran']}\n    x: {type: exec, command: [/bin/true]}\n",
    );
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint(PAT));
    let seen = fs::read_to_string(&report).unwrap();
    assert!(seen.contains("\"role\":\"mine\""), "{seen}");
    assert!(!env.work().join("repo-ran").exists());
    let warnings = out.stderr.clone() + &j["warnings"].to_string();
    for provider in ["`t`", "`e`", "`x`"] {
        assert!(
            warnings.contains(&format!("ignoring provider {provider}")),
            "{provider}: {out:?}"
        );
    }
    assert!(
        warnings.contains("never defines or changes a provider that runs code"),
        "{out:?}"
    );
}

#[test]
fn a_secret_in_an_answer_that_does_not_parse_is_still_masked() {
    let env = Env::new();
    let hello = r#"{"v":[1],"name":"t","version":"1"}"#;
    for (secret, stdout) in [
        // cut mid-line
        (
            "cdp_mask_cut_000001",
            r#"{"ok":{"kind":"pat","secret":"cdp_mask_cut_000001"#.to_owned(),
        ),
        // a field of the wrong type breaks the protocol parse
        (
            "cdp_mask_type_00001",
            r#"{"ok":{"kind":"pat","secret":"cdp_mask_type_00001","detail":5}}"#.to_owned(),
        ),
        // a lone surrogate escape: not valid JSON text for a string
        (
            "cdp_mask_surr_00001",
            r#"{"ok":{"kind":"pat","secret":"cdp_mask_surr_00001\ud800"}}"#.to_owned(),
        ),
        // a secret with more than the token in it: the token alone is masked too
        (
            "cdp_mask_word_00001",
            r#"{"ok":{"kind":"pat","secret":"cdp_mask_word_00001 and-more"}}"#.to_owned(),
        ),
        // nested, under another key
        (
            "cdp_mask_nest_00001",
            r#"{"ok":{"kind":"pat","x":{"secret":"cdp_mask_nest_00001"}},"y":[1,"#.to_owned(),
        ),
    ] {
        let name = plugin_dir(&env, &[]).join("cybedefend-credential-t");
        program(
            &name,
            &format!(
                "#!/bin/sh\nprintf '%s\\n' '{hello}'\nread -r req\nprintf '%s\\n' '{stdout}'\necho \"debug: the token is {secret}\" >&2\n"
            ),
        );
        config(&env, ONE_PLUGIN_T);
        for args in [
            &["auth", "status", "--offline", "--json"][..],
            &["auth", "status", "--offline"],
        ] {
            let out = env.run(args);
            assert_ne!(out.code, 0, "{secret}: {out:?}");
            assert!(!out.all().contains(secret), "{secret}: {out:?}");
        }
    }
    // `\r` ends lines too: an answer after a carriage return is found
    let secret = "cdp_mask_cr_0000001";
    let name = plugin_dir(&env, &[]).join("cybedefend-credential-t");
    program(
        &name,
        &format!(
            "#!/bin/sh\nprintf '%s\\r' '{hello}'\nread -r req\nprintf '%s\\r%s\\n' '{{\"ok\":{{\"kind\":\"pat\",\"secret\":\"{secret}\"}}}}' 'trailing'\necho \"debug: {secret}\" >&2\n"
        ),
    );
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    assert!(!out.all().contains(secret), "{out:?}");
}

#[test]
fn a_hash_decides_also_where_memory_files_may_not_run() {
    if !crate::plugins::running_as_root() {
        missing(
            "a_hash_decides_also_where_memory_files_may_not_run",
            "root (to set vm.memfd_noexec in a new PID namespace with unshare)",
            "run the tests as root",
        );
        return;
    }
    let env = Env::new();
    let dir = plugin_dir(&env, &[]);
    let name = dir.join("cybedefend-credential-t");
    let pinned = |env: &Env| pinned_t(env, &name);
    let noexec_status = |env: &Env| {
        let c = env.command_with(
            "unshare",
            &[],
            &[
                "-pf",
                "--mount-proc",
                "sh",
                "-c",
                &format!(
                    "sysctl -qw vm.memfd_noexec=2 && exec '{}' auth status --offline --json",
                    env!("CARGO_BIN_EXE_cybedefend")
                ),
            ],
        );
        Env::output_of(c, None)
    };
    // a script is only read from its sealed copy: it runs
    answering_at(&name);
    pinned(&env);
    let out = noexec_status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json()["fingerprint"], fingerprint(PAT));
    // a program would run from it: refused, saying why and what to do
    cc(
        &name,
        &C_EXEC_PLUGIN.replace(
            "extern int helper(void);",
            "static int helper(void) { return 1; }",
        ),
        false,
        &[],
    );
    pinned(&env);
    let out = noexec_status(&env);
    assert_eq!(out.code, 2, "{out:?}");
    let j = out.json();
    let e = format!("{} {}", j["error"], j["hint"]);
    assert!(
        e.contains("vm.memfd_noexec") && e.contains("allow it by name"),
        "{e}"
    );
}

#[test]
fn an_exec_provider_never_runs_a_program_from_the_working_directory() {
    let mut env = Env::new();
    let marker = env.tmp.path().join("repository-op-ran");
    program(
        &env.work().join("op-helper"),
        &format!(
            "#!/bin/sh\ntouch '{}'\necho cdp_from_the_repository_1\n",
            marker.display()
        ),
    );
    config(
        &env,
        "credentials:\n  chain: [p]\n  providers:\n    p: {type: exec, command: [op-helper]}\n",
    );
    // an empty PATH entry means the working directory to the system's own lookup
    for path in [
        format!("{}:", std::env::var("PATH").unwrap_or_default()),
        format!(":{}", std::env::var("PATH").unwrap_or_default()),
        format!(".:{}", std::env::var("PATH").unwrap_or_default()),
    ] {
        env.vars.retain(|(k, _)| k != "PATH");
        env.set("PATH", &path);
        let (out, j) = status(&env);
        assert_ne!(out.code, 0, "{out:?}");
        assert!(
            j["error"]
                .as_str()
                .unwrap()
                .contains("`op-helper` was not found on PATH"),
            "{j}"
        );
        assert!(!marker.exists(), "{path}");
    }
}

#[test]
fn a_config_file_that_is_no_configuration_is_never_quoted() {
    let env = Env::new();
    let token = env.tmp.path().join("token.txt");
    fs::write(&token, "cdp_quoted_by_parser_1\n").unwrap();
    let out = env.run(&[
        "auth",
        "status",
        "--offline",
        "--config",
        token.to_str().unwrap(),
    ]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(!out.all().contains("cdp_quoted_by_parser_1"), "{out:?}");
    assert!(out.stderr.contains("token.txt"), "{out:?}");
}

#[test]
fn a_pinned_script_whose_interpreter_needs_its_real_path_says_why_it_fails() {
    if !Path::new("/usr/bin/node").exists()
        && Command::new("node").arg("--version").output().is_err()
    {
        missing(
            "a_pinned_script_whose_interpreter_needs_its_real_path_says_why_it_fails",
            "node",
            "install Node.js",
        );
        return;
    }
    let env = Env::new();
    let name = plugin_dir(&env, &[]).join("cybedefend-credential-t");
    program(
        &name,
        &format!(
            "#!/usr/bin/env node\nconsole.log(JSON.stringify({{v:[1],name:'t',version:'1'}}));\nconsole.log(JSON.stringify({{ok:{{kind:'pat',secret:'{PAT}'}}}}));\n"
        ),
    );
    // unpinned: it runs
    config(&env, ONE_PLUGIN_T);
    let (out, j) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(j["fingerprint"], fingerprint(PAT));
    // pinned: it runs from a sealed copy, which Node cannot find by path; the hint says so
    pinned_t(&env, &name);
    let (out, j) = status(&env);
    assert_ne!(out.code, 0, "Node.js found a sealed copy by path: {out:?}");
    assert!(
        j["hint"].as_str().unwrap_or_default().contains("Node.js"),
        "{out:?}"
    );
}

#[test]
fn what_the_loader_opens_besides_needed_libraries_is_checked() {
    let env = Env::new();
    let dir = plugin_dir(&env, &[]);
    let name = dir.join("cybedefend-credential-t");
    config(&env, ONE_PLUGIN_T);
    let shared = env.tmp.path().join("shared");
    fs::create_dir_all(&shared).unwrap();
    mode(&shared, 0o777);
    let lib_dir = dir.join("lib");
    fs::create_dir_all(&lib_dir).unwrap();
    mode(&lib_dir, 0o755);
    let helper = "int helper(void) { return 1; }\n";
    cc(
        &lib_dir.join("libhelper.so"),
        helper,
        true,
        &["-Wl,-soname,libhelper.so"],
    );
    let link_helper = ["-L", lib_dir.to_str().unwrap(), "-lhelper"];
    // an audit library: the loader opens it before the program's own code
    cc(&shared.join("libaudit.so"), helper, true, &[]);
    let audit = format!("-Wl,--audit,{}", shared.join("libaudit.so").display());
    cc(
        &name,
        C_EXEC_PLUGIN,
        false,
        &[
            link_helper[0],
            link_helper[1],
            link_helper[2],
            "-Wl,-rpath,$ORIGIN/lib",
            &audit,
        ],
    );
    refused_with(
        &env,
        &[
            "names an audit or filter library",
            "link it without --audit",
        ],
    );
    // a subfolder the loader tries before the folder itself (glibc-hwcaps), writable by others
    cc(
        &name,
        C_EXEC_PLUGIN,
        false,
        &[
            link_helper[0],
            link_helper[1],
            link_helper[2],
            "-Wl,-rpath,$ORIGIN/lib",
        ],
    );
    let (out, _) = status(&env);
    assert_eq!(out.code, 0, "{out:?}");
    let hwcaps = lib_dir.join("glibc-hwcaps/x86-64-v2");
    fs::create_dir_all(&hwcaps).unwrap();
    mode(&hwcaps, 0o777);
    refused_with(&env, &["x86-64-v2 can be written by group or others"]);
    // ... or one that holds another user's copy of the library, through a link
    mode(&hwcaps, 0o755);
    fs::copy(lib_dir.join("libhelper.so"), shared.join("libhelper.so")).unwrap();
    std::os::unix::fs::symlink(shared.join("libhelper.so"), hwcaps.join("libhelper.so")).unwrap();
    refused_with(
        &env,
        &[
            "its library folder",
            "shared can be written by group or others",
        ],
    );
    fs::remove_dir_all(lib_dir.join("glibc-hwcaps")).unwrap();
    // a library found through the RPATH of the program that needs the library that needs it
    cc(
        &shared.join("libinner.so"),
        helper,
        true,
        &["-Wl,-soname,libinner.so"],
    );
    std::os::unix::fs::symlink(shared.join("libinner.so"), lib_dir.join("libinner.so")).unwrap();
    cc(
        &lib_dir.join("libouter.so"),
        "extern int helper(void); int outer(void) { return helper(); }\n",
        true,
        &[
            "-Wl,-soname,libouter.so",
            "-L",
            lib_dir.to_str().unwrap(),
            "-linner",
            "-Wl,--no-as-needed",
        ],
    );
    cc(
        &name,
        C_EXEC_PLUGIN,
        false,
        &[
            "-L",
            lib_dir.to_str().unwrap(),
            "-lhelper",
            "-Wl,--no-as-needed",
            "-louter",
            "-Wl,--disable-new-dtags,-rpath,$ORIGIN/lib",
        ],
    );
    refused_with(
        &env,
        &[
            "its library's library folder",
            "shared can be written by group or others",
        ],
    );
}

#[test]
fn scripts_and_interpreters_keep_away_from_shared_folders() {
    let mut env = Env::new();
    // a private folder inside a sticky folder everyone can write (like /tmp/mine)
    let sticky = env.tmp.path().join("sticky");
    let mine = sticky.join("mine");
    fs::create_dir_all(&mine).unwrap();
    mode(&sticky, 0o1777);
    mode(&mine, 0o700);
    let plugin = mine.join("cybedefend-credential-t");
    answering_at(&plugin);
    config(
        &env,
        &format!(
            "credentials:\n  chain: [t]\n  providers:\n    t: {{type: plugin, path: '{}'}}\n",
            plugin.display()
        ),
    );
    refused_with(
        &env,
        &[
            "a folder everyone can add files to",
            "node_modules",
            "outside shared folders",
        ],
    );
    // an interpreter started from a folder right under such a folder (Python would read a
    // pyvenv.cfg that anyone can put there)
    let bin = sticky.join("bin");
    program(
        &bin.join("cbd-near-interp"),
        "#!/bin/sh\nexec /bin/sh \"$@\"\n",
    );
    mode(&bin, 0o755);
    env.set(
        "PATH",
        &format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    );
    plugin_t(&env, "#!/usr/bin/env cbd-near-interp", "");
    refused_with(
        &env,
        &[
            "its interpreter's nearby folder",
            "sticky can be written by group or others",
        ],
    );
}
