//! `config validate [FILE]`: syntax, types, keys and the credential chain. Unknown keys are
//! errors here (they are warnings for other commands).

use std::path::PathBuf;

use cybedefend_core::config::{ConfigSources, LoadedConfig};
use cybedefend_core::credentials::Chain;
use cybedefend_core::platform::Endpoints;
use cybedefend_core::{Error, Result};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::output::Printer;

fn unknown_keys_error(unknown: &[String]) -> Error {
    Error::usage(format!(
        "{} unknown key{}: {}",
        unknown.len(),
        if unknown.len() == 1 { "" } else { "s" },
        unknown.join("; ")
    ))
    .with_hint("fix the key names; `cybedefend config show` lists what is in effect")
}

pub(crate) fn run(
    global: GlobalArgs,
    out: Printer,
    file: Option<PathBuf>,
    system: bool,
) -> Result<Exit> {
    match file {
        Some(file) => validate_file(file, system, out),
        None => {
            let app = App::load(global, out)?;
            app.endpoints()?;
            let chain = app.chain()?;
            if !app.config.unknown.is_empty() {
                return Err(unknown_keys_error(&app.config.unknown));
            }
            if app.config.files.is_empty() {
                app.out.info(
                    "No config file found; built-in defaults, environment and flags are valid",
                );
            }
            for f in &app.config.files {
                app.out
                    .success(&format!("{} is valid", cybedefend_core::home::tilde(f)));
            }
            app.out
                .info(&format!("credential chain: {}", chain.ids().join(", ")));
            Ok(Exit::Success)
        }
    }
}

fn validate_file(file: PathBuf, system: bool, out: Printer) -> Result<Exit> {
    // The file alone, trusted, with no environment, flags or other files mixed in; as the
    // user's file, or as the system file with `--system`.
    let shown = cybedefend_core::home::tilde(&file);
    if !file.is_file() {
        return Err(Error::usage(format!(
            "{shown} does not exist or is not a regular file"
        )));
    }
    let sources = if system {
        ConfigSources::only_system(file)
    } else {
        ConfigSources::only(file)
    };
    let config = LoadedConfig::load(&sources, &Default::default())?;
    for w in &config.warnings {
        out.warn(w);
    }
    if !config.unknown.is_empty() {
        return Err(unknown_keys_error(&config.unknown));
    }
    Endpoints::resolve(&config, None)?;
    let chain = Chain::from_config(&config)?;
    out.success(&format!(
        "{shown} is valid (credential chain: {})",
        chain.ids().join(", ")
    ));
    Ok(Exit::Success)
}
