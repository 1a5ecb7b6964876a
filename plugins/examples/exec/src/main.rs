//! An exec credential plugin: the PAT comes from the environment variable named by
//! `config.variable` (default `EXAMPLE_PAT`). Run by cybedefend as
//! `cybedefend-credential-example --cybedefend-plugin`.
#![expect(
    clippy::disallowed_methods,
    reason = "a plugin reads its own environment"
)]

use cybedefend_plugin_sdk::{Credential, Error, Found, Provider, Request, serve};

struct FromEnv;

impl Provider for FromEnv {
    fn get(&self, request: &Request) -> Result<Found, Error> {
        let var = request.option("variable").unwrap_or("EXAMPLE_PAT");
        match std::env::var(var) {
            Ok(pat) if !pat.trim().is_empty() => {
                Ok(Found::new(Credential::pat(pat.trim()), format!("${var}")))
            }
            _ => Err(Error::not_found(format!("{var} is not set"))),
        }
    }
}

fn main() {
    serve("example", env!("CARGO_PKG_VERSION"), FromEnv)
}
