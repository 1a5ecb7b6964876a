//! `config show` and `config validate`.

use std::path::Path;

use cybedefend_core::chain::Chain;
use cybedefend_core::config::{ConfigSources, Endpoints, FlagValues, LoadedConfig};
use cybedefend_core::error::{Error, Result};
use cybedefend_core::paths::{Home, display};
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::args::{ConfigCommand, GlobalArgs};
use crate::output::Printer;

pub(crate) async fn run(global: GlobalArgs, out: Printer, cmd: ConfigCommand) -> Result<u8> {
    match cmd {
        ConfigCommand::Show { origin, json } => {
            let app = App::load(global, out)?;
            show(&app, origin, json)
        }
        ConfigCommand::Validate { file: Some(file) } => validate_file(&file, out),
        ConfigCommand::Validate { file: None } => {
            let app = App::load(global, out)?;
            app.endpoints()?;
            let chain = app.chain()?;
            if app.config.files.is_empty() {
                app.out.info(
                    "No config file found; built-in defaults, environment and flags are valid",
                );
            }
            for f in &app.config.files {
                app.out.success(&format!("{} is valid", display(f)));
            }
            app.out
                .info(&format!("credential chain: {}", chain.ids().join(", ")));
            Ok(0)
        }
    }
}

fn show(app: &App, with_origin: bool, as_json: bool) -> Result<u8> {
    let endpoints = app.endpoints()?;
    let chain = app.chain()?;
    let mut rows: Vec<(String, Value, String)> = vec![
        (
            "region".into(),
            json!(endpoints.region.as_str()),
            endpoints.region_origin.clone(),
        ),
        (
            "api_url".into(),
            json!(endpoints.api_url),
            endpoints.api_url_origin.clone(),
        ),
        (
            "auth_endpoint".into(),
            json!(endpoints.auth_endpoint),
            endpoints.auth_endpoint_origin.clone(),
        ),
    ];
    for (key, value, origin) in app.config.entries() {
        if !rows.iter().any(|(k, _, _)| *k == key) {
            rows.push((key, value, origin));
        }
    }
    if !rows.iter().any(|(k, _, _)| k == "credentials.chain") {
        rows.push((
            "credentials.chain".into(),
            json!(chain.ids()),
            "default".into(),
        ));
    }
    if as_json {
        let mut map = Map::new();
        for (k, v, o) in rows {
            let entry = if with_origin {
                json!({"value": v, "origin": o})
            } else {
                v
            };
            map.insert(k, entry);
        }
        let text = serde_json::to_string_pretty(&Value::Object(map))
            .map_err(|e| Error::failure(format!("cannot render JSON: {e}")))?;
        app.out.data(&text);
    } else {
        let width = rows.iter().map(|(k, _, _)| k.len()).max().unwrap_or(0);
        let mut s = String::new();
        for (k, v, o) in rows {
            let shown = match &v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if with_origin {
                s.push_str(&format!("{k:width$} = {shown}  ({o})\n"));
            } else {
                s.push_str(&format!("{k:width$} = {shown}\n"));
            }
        }
        app.out.data(s.trim_end());
    }
    Ok(0)
}

fn validate_file(file: &Path, out: Printer) -> Result<u8> {
    // The file alone, trusted, with no environment or flags mixed in.
    let empty = tempdir_path();
    let sources = ConfigSources {
        system: vec![],
        home: Home::at(empty.join("no-home")),
        cwd: empty.join("no-cwd"),
        explicit: Some(file.to_owned()),
    };
    let config = LoadedConfig::load_isolated(&sources, &FlagValues::default())?;
    for w in &config.warnings {
        out.warn(w);
    }
    Endpoints::resolve(&config, None)?;
    let chain = Chain::from_config(&config)?;
    out.success(&format!(
        "{} is valid (credential chain: {})",
        display(file),
        chain.ids().join(", ")
    ));
    Ok(0)
}

fn tempdir_path() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("cybedefend-validate-{}", std::process::id()))
}
