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
    List {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Check a plugin: trust rules (owner, permissions, folders, pin, allow-list) and a
    /// handshake. Never prints a secret
    Verify {
        /// A plugin name (`corp-secrets`) or a file
        plugin: String,
        /// Also check the file's SHA-256 against this value
        #[arg(long, value_name = "HEX")]
        sha256: Option<String>,
    },
    /// Run the conformance cases against a plugin (for plugin authors): one line per case,
    /// exit 1 on any failure
    #[command(after_help = "\
The cases: the hello and its protocol version (or the native ABI version), `get` found and
not found, each error kind, unknown fields and actions, `store` and `erase` answered or
`unsupported`, every answer within the time limit. The requests ask for these answers through
the reserved `cybedefend-conformance` config key (plugins/PROTOCOL.md): no real secret is read.")]
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

pub(crate) async fn run(global: GlobalArgs, out: Printer, cmd: PluginCommand) -> Result<u8> {
    if let PluginCommand::New { name, lang, dir } = cmd {
        return new::run(out, &name, lang, dir);
    }
    let app = App::load(global, out)?;
    match cmd {
        PluginCommand::List { json } => list::run(&app, json).await,
        PluginCommand::Verify { plugin, sha256 } => {
            verify::run(&app, &plugin, sha256.as_deref()).await
        }
        PluginCommand::Test {
            plugin,
            timeout,
            case,
        } => test::run(&app, &plugin, timeout, case).await,
        PluginCommand::New { .. } => Ok(0),
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
