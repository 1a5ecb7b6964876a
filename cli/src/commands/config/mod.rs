//! `config`: the effective configuration with origins, and checks of config files.

pub(crate) mod show;
pub(crate) mod validate;

use std::path::PathBuf;

use clap::Subcommand;
use cybedefend_core::Result;

use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::output::Printer;

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print the effective configuration
    #[command(after_help = "\
Examples:
  cybedefend config show --origin
  cybedefend --profile acme config show --json")]
    Show {
        /// Also say where each value comes from (file, environment variable, flag)
        #[arg(long)]
        origin: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Check a config file (or the effective configuration): syntax, types, keys, CA files,
    /// chain. What other commands would ignore (an unknown key, say) is an error here (exit 2)
    #[command(after_help = "\
Examples:
  cybedefend config validate
  cybedefend config validate ~/.cybedefend/config.yaml
  sudo cybedefend config validate --system /etc/cybedefend/config.yaml")]
    Validate {
        /// The file to check on its own [default: every layer in effect]
        file: Option<PathBuf>,
        /// Check FILE as the machine's system configuration (/etc/cybedefend/config.yaml),
        /// where policy keys such as `plugins.allow` take effect
        #[arg(long, requires = "file")]
        system: bool,
    },
}

pub(crate) fn run(global: GlobalArgs, out: Printer, cmd: ConfigCommand) -> Result<Exit> {
    match cmd {
        ConfigCommand::Show { origin, json } => show::run(global, out, origin, json),
        ConfigCommand::Validate { file, system } => validate::run(global, out, file, system),
    }
}
