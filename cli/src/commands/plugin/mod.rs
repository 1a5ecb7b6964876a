//! `plugin`: the credential plugins this machine has, their trust checks, the conformance run
//! for plugin authors, and a skeleton to start a new one from.

pub(crate) mod list;
pub(crate) mod new;
pub(crate) mod test;
pub(crate) mod verify;

use std::path::Path;

use clap::Subcommand;
use cybedefend_core::duration::Span;
use cybedefend_core::{Error, Result};
use cybedefend_plugin_host::discover::{self, Located};
use cybedefend_plugin_host::trust::{self, Rules, Trusted, Verdict};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::output::Printer;

/// Credential plugins: providers that a platform team ships as a program (any language) or a
/// native library, speaking plugins/PROTOCOL.md.
#[derive(Debug, Subcommand)]
#[command(after_help = "\
From nothing to a plugin in the chain:
  cybedefend plugin new corp --lang python      # or sh, rust: a skeleton that passes `plugin test`
  cybedefend plugin test ./cybedefend-credential-corp/cybedefend-credential-corp
  install -d -m 0700 ~/.cybedefend/plugins
  install -m 0755 ./cybedefend-credential-corp/cybedefend-credential-corp ~/.cybedefend/plugins/
  cybedefend plugin verify corp                 # trust checks and a handshake
then in ~/.cybedefend/config.yaml:
  credentials:
    chain: [flag, env, corp, stored]
    providers:
      corp: {type: plugin, plugin: corp, config: {variable: CORP_PAT}}
and `cybedefend auth status` shows it answer.

A plugin is refused, with the fix, when it or a folder to it can be changed by another user,
when its `sha256` pin differs, or when the system's `plugins.allow` does not allow it. The
protocol, the native ABI and every rule: plugins/PROTOCOL.md in the cybedefend repository.")]
pub(crate) enum PluginCommand {
    /// List the plugins in the plugin folders and on PATH: kind, file, version, SHA-256 and
    /// whether they may run
    #[command(after_help = "\
Examples:
  cybedefend plugin list
  cybedefend plugin list --json")]
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Check a plugin: trust rules (owner, permissions, folders, pin, allow-list) and a
    /// handshake. Never prints a secret
    #[command(after_help = "\
Examples:
  cybedefend plugin verify corp
  cybedefend plugin verify ~/.cybedefend/plugins/cybedefend-credential-corp \\
      --sha256 HEX")]
    Verify {
        /// A plugin name (`corp-secrets`) or a file
        plugin: String,
        /// Also check the file's SHA-256 against this value
        #[arg(long, value_name = "HEX")]
        sha256: Option<String>,
        /// Only load a native plugin and print its table as JSON (how `plugin list` and
        /// `plugin verify` read a native plugin: in a process of its own, which a crash in
        /// its initialisers cannot take down)
        #[arg(long, hide = true)]
        table_json: bool,
    },
    /// Run the conformance cases against a plugin (for plugin authors): one line per case,
    /// exit 1 on any failure
    #[command(after_help = "\
The cases: the hello and its protocol version (or the native ABI version), `get` found and
not found, each error kind, unknown fields and actions, `store` and `erase` answered or
`unsupported`, every answer within the time limit. The requests ask for these answers through
the reserved `cybedefend-conformance` config key (plugins/PROTOCOL.md): no real secret is read.

Examples:
  cybedefend plugin test corp
  cybedefend plugin test ./target/release/libcybedefend_credential_corp.so")]
    Test {
        /// A plugin name or a file
        plugin: String,
        /// Time limit for each answer
        #[arg(long, default_value = "5s", value_name = "DURATION")]
        timeout: Span,
        /// Run only case N and print it as JSON (how a native plugin's cases run, each in a
        /// process of its own, so that a crash names its case)
        #[arg(long, hide = true, value_name = "N")]
        case: Option<usize>,
    },
    /// Write a plugin skeleton that passes `plugin test` as it is
    #[command(after_help = "\
Examples:
  cybedefend plugin new corp --lang python
  cybedefend plugin new corp --lang rust --dir plugins/corp")]
    New {
        /// The plugin's name (lower-case letters, digits, dashes)
        name: String,
        /// Language of the skeleton
        #[arg(long, value_enum, default_value = "rust")]
        lang: new::Lang,
        /// Folder to write [default: ./cybedefend-credential-NAME]
        #[arg(long, value_name = "FOLDER")]
        dir: Option<std::path::PathBuf>,
    },
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, cmd: PluginCommand) -> Result<Exit> {
    if let PluginCommand::New { name, lang, dir } = cmd {
        return new::run(out, &name, lang, dir);
    }
    let app = App::load(global, out)?;
    match cmd {
        PluginCommand::List { json } => list::run(&app, json).await,
        PluginCommand::Verify {
            plugin,
            sha256,
            table_json,
        } => verify::run(&app, &plugin, sha256.as_deref(), table_json).await,
        PluginCommand::Test {
            plugin,
            timeout,
            case,
        } => test::run(&app, &plugin, timeout, case).await,
        PluginCommand::New { .. } => Ok(Exit::Success),
    }
}

/// A plugin given by name (searched) or by file: a file only when it has a `/` (`./corp`), as
/// on a shell's command line.
pub(crate) fn locate(app: &App, plugin: &str) -> Result<Located> {
    if plugin.contains('/') {
        let path = Path::new(plugin);
        if !path.exists() {
            return Err(Error::usage(format!(
                "{} does not exist",
                cybedefend_core::text::one_line(plugin, 200)
            )));
        }
        let path = std::path::absolute(path).map_err(|e| Error::usage(format!("{plugin}: {e}")))?;
        Ok(discover::at(&path))
    } else {
        discover::find(plugin, &app.plugin_settings().dirs)
    }
}

/// The `sha256` pin that a provider of the configuration sets for this plugin, if any.
pub(crate) fn configured_pin(app: &App, plugin: &Located) -> Option<String> {
    let real = std::fs::canonicalize(&plugin.path).ok();
    app.config
        .settings
        .credentials
        .providers
        .values()
        .filter(|s| s.kind == "plugin")
        .find(|s| {
            let by_name = s.options.get("plugin").and_then(|v| v.as_str()) == Some(&plugin.name);
            let by_path = s
                .options
                .get("path")
                .and_then(|v| v.as_str())
                .and_then(|p| cybedefend_core::env::expand_home(Path::new(p)))
                .and_then(|p| std::fs::canonicalize(p).ok())
                .is_some_and(|p| Some(p) == real);
            by_name || by_path
        })
        .and_then(|s| s.options.get("sha256").and_then(|v| v.as_str()))
        .map(str::to_owned)
}

/// The trust checks with the machine's allow-list, and `pin` or else the configuration's pin;
/// the plugin held open when it may run.
pub(crate) fn check(
    app: &App,
    plugin: &Located,
    pin: Option<&str>,
) -> (Verdict, Option<std::sync::Arc<Trusted>>) {
    let settings = app.plugin_settings();
    let configured = configured_pin(app, plugin);
    let (verdict, trusted) = trust::check(
        plugin,
        &Rules {
            pin: pin.or(configured.as_deref()),
            allow: settings
                .allow
                .as_deref()
                .map(|a| (a, settings.allow_origin.as_str())),
            hash: true,
        },
    );
    (verdict, trusted.map(std::sync::Arc::new))
}

/// Time limit of a handshake.
const HANDSHAKE_LIMIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A plugin's hello or table. A native plugin is loaded in a process of its own (this binary
/// again, `plugin verify FILE --table-json`): its initialisers may crash or end the process,
/// which must not take `plugin list` down with it.
pub(crate) async fn handshake(
    app: &App,
    plugin: &std::sync::Arc<Trusted>,
    pin: Option<&str>,
) -> Result<cybedefend_plugin_host::Info> {
    use cybedefend_plugin_host::Kind;
    if plugin.kind == Kind::Exec {
        return cybedefend_plugin_host::handshake(plugin, HANDSHAKE_LIMIT).await;
    }
    let shown = cybedefend_core::home::tilde(&plugin.real_path);
    let exe = if cfg!(target_os = "linux") {
        std::path::PathBuf::from("/proc/self/exe")
    } else {
        std::env::current_exe()
            .map_err(|e| Error::failure(format!("cannot run this program again: {e}")))?
    };
    let mut cmd = tokio::process::Command::new(exe);
    cmd.args(["plugin", "verify"])
        .arg(&plugin.real_path)
        .arg("--table-json");
    if let Some(p) = pin {
        cmd.arg("--sha256").arg(p);
    }
    if let Some(c) = &app.global.config {
        cmd.arg("--config").arg(c);
    }
    if let Some(p) = &app.global.profile {
        cmd.arg("--profile").arg(p);
    }
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .map_err(|e| Error::failure(format!("cannot run this program again: {e}")))?;
    let limit = HANDSHAKE_LIMIT + std::time::Duration::from_secs(5);
    let out = match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(Ok(o)) => o,
        Ok(Err(e)) => return Err(Error::failure(format!("plugin {shown}: {e}"))),
        Err(_) => {
            return Err(Error::failure(format!(
                "plugin {shown} did not finish loading within {}",
                cybedefend_core::duration::format(limit)
            )));
        }
    };
    let json: Option<serde_json::Value> = serde_json::from_slice(&out.stdout).ok();
    if out.status.success()
        && let Some(j) = json
    {
        let text = |k: &str| j[k].as_str().unwrap_or_default().to_owned();
        return Ok(cybedefend_plugin_host::Info {
            name: text("name"),
            version: text("version"),
            versions: j["versions"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_u64().and_then(|n| u32::try_from(n).ok()))
                        .take(16)
                        .collect()
                })
                .unwrap_or_default(),
        });
    }
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with("hint:"))
        .map(|l| l.trim_start_matches("error:").trim().to_owned());
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(sig) = out.status.signal() {
            return Err(Error::failure(format!(
                "plugin {shown} crashed the process that loaded it (signal {sig})"
            ))
            .with_hint(
                "`cybedefend plugin test` runs each of its cases and names the one that crashes",
            ));
        }
    }
    Err(Error::failure(match last {
        Some(l) => cybedefend_core::text::one_line(&l, 300),
        None => format!(
            "plugin {shown} could not be loaded (exit code {})",
            out.status.code().unwrap_or(-1)
        ),
    }))
}
