//! `config show`: every key that is in effect, with its value and (with `--origin`) the file,
//! variable or flag it came from. Keys that have no effect (unknown, or ignored in an untrusted
//! project file) are not listed; their warnings say why.

use cybedefend_core::Result;
use cybedefend_core::platform::net::{self, Route};
use serde_json::{Map, Value, json};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::output::Printer;

pub(crate) fn run(
    global: GlobalArgs,
    out: Printer,
    with_origin: bool,
    as_json: bool,
) -> Result<Exit> {
    let app = App::load(global, out)?;
    let endpoints = app.endpoints()?;
    let chain = app.chain()?;
    let mut rows: Vec<(String, Value, String)> = vec![
        match &app.config.profile {
            Some(p) => (
                "profile".into(),
                json!(p.name),
                format!("{}; defined in {}", p.reason, p.defined_in),
            ),
            None => ("profile".into(), Value::Null, "no profile applies".into()),
        },
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
    // The proxy and CA files in force, also when they come from the conventional variables.
    if !rows.iter().any(|(k, _, _)| k == "proxy")
        && let (Ok(proxies), Ok(api)) = (net::proxies(), url::Url::parse(&endpoints.api_url))
    {
        rows.push(match proxies.route(&api) {
            Route::Proxy(p) => ("proxy".into(), json!(p.shown()), p.origin.clone()),
            Route::Direct(why) => ("proxy".into(), Value::Null, format!("direct: {why}")),
        });
    }
    match net::network() {
        Ok(network) if !network.trust.extra.is_empty() => rows.push((
            "tls_trust".into(),
            json!(network.trust.describe()),
            "ca_cert, SSL_CERT_FILE, SSL_CERT_DIR".into(),
        )),
        Ok(_) => {}
        Err(e) => rows.push((
            "tls_trust".into(),
            Value::Null,
            format!("unusable: {}", e.message()),
        )),
    }
    if !rows.iter().any(|(k, _, _)| k == "credentials.chain") {
        rows.push((
            "credentials.chain".into(),
            json!(chain.ids()),
            "default".into(),
        ));
    }
    if !rows.iter().any(|(k, _, _)| k == "credentials.token_cache") {
        rows.push((
            "credentials.token_cache".into(),
            json!(app.config.token_cache()),
            if app.config.policy.require_secure_storage {
                format!("default under the policy of {}", app.config.policy.origin)
            } else {
                "default".into()
            },
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
        app.out.json(&Value::Object(map))?;
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
    Ok(Exit::Success)
}
