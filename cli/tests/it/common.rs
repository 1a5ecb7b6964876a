use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

pub use cybedefend_platform_double::{Double, TokenMode};
pub use serde_json::Value;

/// An isolated user: temp HOME, a working directory, no inherited CYBEDEFEND_* variables.
pub struct Env {
    pub tmp: tempfile::TempDir,
    pub vars: Vec<(String, String)>,
    /// Commands run as this local user (see [`Env::as_user`]).
    pub user: Option<User>,
}

pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    pub fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl std::fmt::Debug for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

/// Longest a command of a test may run: far above any command's own time limits.
const COMMAND_DEADLINE: std::time::Duration = std::time::Duration::from_secs(180);

impl Env {
    /// Under the target folder, not the shared `/tmp`: a script plugin under a folder everyone
    /// can write is refused (as it should be), and a user's tools do not live there.
    pub fn new() -> Self {
        let tmp = tempfile::Builder::new()
            .prefix("env")
            .tempdir_in(scratch_root())
            .unwrap();
        fs::create_dir_all(tmp.path().join("home")).unwrap();
        fs::create_dir_all(tmp.path().join("work")).unwrap();
        Self {
            tmp,
            vars: Vec::new(),
            user: None,
        }
    }

    /// From now on, commands run as `user` (this process is root): HOME and the working
    /// directory become theirs before each command (files the test wrote there included), the
    /// folders above are opened to them, and the binary runs from a copy they can execute.
    pub fn as_user(&mut self, user: &User) -> &mut Self {
        use std::os::unix::fs::PermissionsExt;
        for dir in [
            self.tmp.path().to_path_buf(),
            self.system_config().parent().unwrap().to_owned(),
        ] {
            fs::create_dir_all(&dir).unwrap();
            fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::create_dir_all(self.tmp_dir()).unwrap();
        fs::set_permissions(self.tmp_dir(), fs::Permissions::from_mode(0o1777)).unwrap();
        let bin = self.tmp.path().join("cybedefend");
        fs::copy(env!("CARGO_BIN_EXE_cybedefend"), &bin).unwrap();
        fs::set_permissions(&bin, fs::Permissions::from_mode(0o755)).unwrap();
        self.user = Some(user.clone());
        self
    }

    /// Gives HOME and the working directory to the user commands run as.
    pub fn hand_over(&self) {
        if let Some(u) = &self.user {
            let ok = Command::new("chown")
                .arg("-R")
                .arg(format!("{}:{}", u.uid, u.gid))
                .arg(self.home())
                .arg(self.work())
                .status()
                .unwrap()
                .success();
            assert!(ok, "chown failed");
        }
    }

    pub fn home(&self) -> PathBuf {
        self.tmp.path().join("home")
    }

    pub fn work(&self) -> PathBuf {
        self.tmp.path().join("work")
    }

    pub fn dot(&self) -> PathBuf {
        self.home().join(".cybedefend")
    }

    pub fn creds(&self) -> PathBuf {
        self.dot().join("credentials.json")
    }

    pub fn system_config(&self) -> PathBuf {
        self.tmp.path().join("etc/config.yaml")
    }

    pub fn set(&mut self, k: &str, v: &str) -> &mut Self {
        self.vars.push((k.into(), v.into()));
        self
    }

    pub fn write(&self, path: &Path, content: &str) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, content).unwrap();
    }

    pub fn tmp_dir(&self) -> PathBuf {
        self.tmp.path().join("tmp")
    }

    /// Files left in this environment's TMPDIR.
    pub fn leftovers(&self) -> Vec<String> {
        fs::read_dir(self.tmp_dir())
            .map(|d| {
                d.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        match &self.user {
            None => self.command_with(env!("CARGO_BIN_EXE_cybedefend"), &[], args),
            Some(u) => {
                self.hand_over();
                let bin = self.tmp.path().join("cybedefend");
                let (reuid, regid) = (format!("--reuid={}", u.uid), format!("--regid={}", u.gid));
                self.command_with(
                    bin.to_str().unwrap(),
                    &["setpriv", &reuid, &regid, "--clear-groups", "--"],
                    args,
                )
            }
        }
    }

    /// Runs `prefix... cybedefend args...` (e.g. a privilege-dropping wrapper).
    pub fn command_with(&self, bin: &str, prefix: &[&str], args: &[&str]) -> Command {
        let (program, rest): (&str, Vec<&str>) = match prefix.split_first() {
            Some((p, more)) => (p, more.iter().copied().chain([bin]).collect()),
            None => (bin, Vec::new()),
        };
        fs::create_dir_all(self.tmp_dir()).unwrap();
        let mut c = Command::new(program);
        c.args(rest);
        c.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("TMPDIR", self.tmp_dir())
            .env("HOME", self.home())
            .env("CYBEDEFEND_SYSTEM_CONFIG", self.system_config())
            .current_dir(self.work())
            .args(args);
        for (k, v) in &self.vars {
            c.env(k, v);
        }
        c
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.run_stdin(args, None)
    }

    pub fn run_stdin(&self, args: &[&str], input: Option<&str>) -> Out {
        let c = self.command(args);
        Self::output_of(c, input)
    }

    pub fn output_of(mut c: Command, input: Option<&str>) -> Out {
        c.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        if let Some(text) = input {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        // A hang is a failure with what the command printed, never a CI run that waits for
        // its own time limit.
        let read = |mut r: Box<dyn std::io::Read + Send>| {
            std::thread::spawn(move || {
                let mut b = Vec::new();
                let _ = r.read_to_end(&mut b);
                b
            })
        };
        let out = read(Box::new(child.stdout.take().unwrap()));
        let err = read(Box::new(child.stderr.take().unwrap()));
        let start = std::time::Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if start.elapsed() > COMMAND_DEADLINE {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the command did not finish within {COMMAND_DEADLINE:?}\n--- stdout\n{}\n--- stderr\n{}",
                    String::from_utf8_lossy(&out.join().unwrap_or_default()),
                    String::from_utf8_lossy(&err.join().unwrap_or_default())
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        };
        Out {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
            stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
        }
    }

    /// Points API and auth endpoint at the double.
    pub fn use_double(&mut self, d: &Double) -> &mut Self {
        let url = d.url();
        self.set("CYBEDEFEND_API_URL", &url);
        self.set("CYBEDEFEND_AUTH_ENDPOINT", &url);
        self
    }
}

/// The first 12 hex digits of SHA-256, as the CLI prints fingerprints.
pub fn fingerprint(value: &str) -> String {
    cybedefend_core_fingerprint(value)
}

fn cybedefend_core_fingerprint(value: &str) -> String {
    // Independent implementation via the system's sha256sum would add a dependency on
    // coreutils; the formula is simple enough to restate with the sha2 crate the core uses.
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(value.as_bytes());
    format!(
        "sha256:{}",
        d.iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

#[cfg(unix)]
pub fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

/// A real component a test needs is missing. Under CI (`CI` set) that fails the test: a CI
/// run must never pass by skipping. Elsewhere the test is skipped, and the skip is recorded
/// in `$CYBEDEFEND_TEST_SKIPS` (scripts/test.sh counts them in its closing line).
pub fn missing(test: &str, component: &str, remedy: &str) {
    let ci = std::env::var_os("CI").is_some_and(|v| !v.is_empty());
    assert!(
        !ci,
        "{test}: {component} is missing, and CI must not skip it ({remedy})"
    );
    if let Some(log) = std::env::var_os("CYBEDEFEND_TEST_SKIPS") {
        use std::io::Write as _;
        // libtest names each test's thread after the test
        let name = std::thread::current()
            .name()
            .map_or_else(|| test.to_owned(), str::to_owned);
        if let Ok(mut f) = fs::OpenOptions::new().create(true).append(true).open(log) {
            let _ = writeln!(f, "{name}: {component}");
        }
    }
    eprintln!("SKIPPED {test}: {component} is missing ({remedy})");
}

/// A local user other than the one running the tests.
#[derive(Debug, Clone)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
}

fn id_of(name: &str, flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, name]).output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// The local user `name` (`cbd-alice`, `cbd-mallory`), created once with `useradd` as a system
/// account (no home, no login shell): the tests run commands as them with `setpriv`. Needs
/// root; otherwise the test is skipped with a counted skip, and fails under CI.
pub fn local_user(test: &str, name: &str) -> Option<User> {
    static CREATING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let root = fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    let have = |c: &str| Command::new(c).arg("--version").output().is_ok();
    if !root || !have("setpriv") {
        missing(
            test,
            "a second local user (created by the tests as root, run with setpriv)",
            "run the tests as root, with util-linux's setpriv and useradd",
        );
        return None;
    }
    let _one = CREATING.lock().unwrap_or_else(|e| e.into_inner());
    if id_of(name, "-u").is_none() {
        // another test binary may create it at the same moment: check again after a failure
        let useradd = if Path::new("/usr/sbin/useradd").exists() {
            "/usr/sbin/useradd"
        } else {
            "useradd"
        };
        let _ = Command::new(useradd)
            .args([
                "--system",
                "--no-create-home",
                "--user-group",
                "--shell",
                "/usr/sbin/nologin",
            ])
            .arg(name)
            .output();
    }
    let (Some(uid), Some(gid)) = (id_of(name, "-u"), id_of(name, "-g")) else {
        missing(test, "useradd", "install the passwd package");
        return None;
    };
    Some(User { uid, gid })
}

/// Where test environments are made: the target folder's scratch space, unless a folder above
/// it is one everyone can write (a clone under `/tmp`); then, as root, a folder of root's.
fn scratch_root() -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let shared_above = target
        .ancestors()
        .any(|a| fs::metadata(a).is_ok_and(|m| m.permissions().mode() & 0o002 != 0));
    let root = fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false);
    if shared_above && root {
        let own = PathBuf::from("/var/lib/cybedefend-tests");
        fs::create_dir_all(&own).unwrap();
        fs::set_permissions(&own, fs::Permissions::from_mode(0o755)).unwrap();
        return own;
    }
    target
}

/// Polls `condition` every 20 ms until it holds or `limit` passes, and says whether it held:
/// what a test waits for (a process gone, a request seen), instead of a fixed sleep that is
/// too short on a loaded machine and wasted on an idle one.
pub fn eventually(limit: std::time::Duration, mut condition: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    loop {
        if condition() {
            return true;
        }
        if start.elapsed() >= limit {
            return false;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Whether no process's command line matches `pattern` (`pgrep -f`) within 5 s: for a
/// helper or plugin the CLI must have ended, whose end the kernel reports a moment later.
pub fn gone(pattern: &str) -> bool {
    eventually(std::time::Duration::from_secs(5), || {
        std::process::Command::new("pgrep")
            .args(["-f", pattern])
            .output()
            .map(|o| o.stdout.is_empty())
            .unwrap_or(false)
    })
}

/// A canned JSON answer of the double.
pub fn json_canned(status: u16, body: &str) -> cybedefend_platform_double::Canned {
    cybedefend_platform_double::Canned {
        status,
        headers: vec![("content-type".into(), "application/json".into())],
        body: body.as_bytes().to_vec(),
    }
}

/// A canned redirect (307) of the double to `to`.
pub fn redirect(to: String) -> cybedefend_platform_double::Canned {
    cybedefend_platform_double::Canned {
        status: 307,
        headers: vec![("location".into(), to)],
        body: Vec::new(),
    }
}

/// A FIFO at `path` (its folder created): a file whose reading blocks until a writer comes.
pub fn mkfifo(path: &std::path::Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(made, "mkfifo {}", path.display());
}

impl Env {
    /// What a person reads (stderr, then stdout), made stable for a snapshot: this test's
    /// temporary folder reads `<tmp>`, the double's address `<double>`, a duration `<t>`
    /// (`0.02 ms`, `0.35 s`). Nothing else changes: the rest is pinned as printed.
    pub fn human(&self, out: &Out, double: Option<&str>) -> String {
        let mut text = format!("--- stderr\n{}--- stdout\n{}", out.stderr, out.stdout);
        text = text.replace(&self.tmp.path().display().to_string(), "<tmp>");
        if let Some(url) = double {
            text = text.replace(url, "<double>");
        }
        timings_replaced(&text)
    }
}

/// `12.34 ms` and `0.35 s` as `<t> ms`, `<t> s`.
fn timings_replaced(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(|c: char| c.is_ascii_digit()) {
        let (before, from) = rest.split_at(i);
        out.push_str(before);
        let end = from
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(from.len());
        let (number, after) = from.split_at(end);
        let timed = number.contains('.') && (after.starts_with(" ms") || after.starts_with(" s"));
        let word_start = !before.ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == '.');
        if timed && word_start {
            out.push_str("<t>");
        } else {
            out.push_str(number);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[test]
fn timings_are_replaced_and_nothing_else() {
    assert_eq!(
        timings_replaced("took 0.35 s and 12.04 ms; v1.2 s3 0.5x 1.35 MB"),
        "took <t> s and <t> ms; v1.2 s3 0.5x 1.35 MB"
    );
}

/// The double with the PAT `pat` and the project `project` (named `name`), and an env that
/// reaches the double with `CYBEDEFEND_PAT` set: where most tests of an API command start.
pub fn with_project(pat: &str, project: &str, name: &str) -> (Double, Env) {
    let d = Double::start();
    d.add_pat(pat);
    d.add_project(project, name);
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", pat);
    (d, env)
}

/// `results --project-id PROJECT EXTRA…`.
pub fn results_of(env: &Env, project: &str, extra: &[&str]) -> Out {
    let mut args = vec!["results", "--project-id", project];
    args.extend_from_slice(extra);
    env.run(&args)
}

/// The PAT of [`demo`].
pub const DEMO_PAT: &str = "cdp_demo_pat_0000001";
/// The project of [`demo`].
pub const DEMO_PROJECT: &str = "66666666-6666-4666-8666-666666666666";

/// [`with_project`] with [`DEMO_PAT`] and [`DEMO_PROJECT`], and a one-file repository in
/// `repo/`: for tests of what a server, a file or a setting can do to any command.
pub fn demo() -> (Double, Env) {
    let (d, env) = with_project(DEMO_PAT, DEMO_PROJECT, "demo");
    env.write(&env.work().join("repo/src/app.js"), "console.log(1)\n");
    (d, env)
}

/// `results --project-id DEMO_PROJECT EXTRA…`.
pub fn demo_results(env: &Env, extra: &[&str]) -> Out {
    results_of(env, DEMO_PROJECT, extra)
}

/// `auth status --offline --json`, and its JSON.
pub fn status(env: &Env) -> (Out, Value) {
    let out = env.run(&["auth", "status", "--offline", "--json"]);
    let j = out.json();
    (out, j)
}
