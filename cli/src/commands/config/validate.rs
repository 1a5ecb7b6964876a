//! `config validate [FILE]`: syntax, types, keys, CA files and the credential chain. What other
//! commands would ignore with a warning or a note (unknown keys, keys a file may not set,
//! invalid values in the working directory's `config.yaml`) is a problem here: exit 2.

use std::path::PathBuf;

use cybedefend_core::config::{ConfigSources, LoadedConfig};
use cybedefend_core::credentials::Chain;
use cybedefend_core::platform::Endpoints;
use cybedefend_core::{Error, Result};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::output::Printer;

/// What a command would ignore (printed above as warnings and notes) is a configuration that
/// does not do what its author meant: an error counting them.
fn problems_found(n: usize) -> Error {
    Error::usage(format!(
        "{n} problem{} found: other commands would ignore what the line{} above name{}",
        if n == 1 { "" } else { "s" },
        if n == 1 { "" } else { "s" },
        if n == 1 { "s" } else { "" },
    ))
    .with_hint("fix or remove those settings; `cybedefend config show --origin` lists what is in effect and where it comes from")
}

/// The configuration's CA file, opened and parsed as the first request would.
fn check_ca(config: &LoadedConfig, with_env: bool) -> Result<()> {
    cybedefend_core::platform::net::check_ca_files(&config.net_settings(), with_env)
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
            // App::load prints warnings and notes as every command does; here they count
            let app = App::load(global, out)?;
            app.endpoints()?;
            let chain = app.chain()?;
            check_ca(&app.config, true)?;
            let c = &app.config;
            let count = c.unknown.len() + c.warnings.len() + c.notes.len();
            if count > 0 {
                return Err(problems_found(count));
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
    let problems: Vec<String> = config
        .unknown
        .iter()
        .chain(&config.warnings)
        .chain(&config.notes)
        .cloned()
        .collect();
    if !problems.is_empty() {
        for p in &problems {
            out.warn(p);
        }
        return Err(problems_found(problems.len()));
    }
    Endpoints::resolve(&config, None)?;
    check_ca(&config, false)?;
    let chain = Chain::from_config(&config)?;
    out.success(&format!(
        "{shown} is valid (credential chain: {})",
        chain.ids().join(", ")
    ));
    Ok(Exit::Success)
}
