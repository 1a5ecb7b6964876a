//! A native credential plugin: reads the PAT from the file named by `config.file` (first
//! line), and can keep one there too (`login --store NAME`, `logout`). Built by the workspace
//! as `libcybedefend_credential_example_native.so`.

use cybedefend_plugin_sdk::{Credential, Error, Found, Provider, Request, export_plugin};

#[derive(Default)]
struct FileStore;

fn path(request: &Request) -> Result<&str, Error> {
    request
        .option("file")
        .ok_or_else(|| Error::usage("set `config: {file: PATH}` for this provider"))
}

impl Provider for FileStore {
    fn get(&self, request: &Request) -> Result<Found, Error> {
        let path = path(request)?;
        let text = std::fs::read_to_string(path)
            .map_err(|_| Error::not_found(format!("{path} cannot be read")))?;
        let pat = text.lines().next().unwrap_or("").trim();
        if pat.is_empty() {
            return Err(Error::not_found(format!("{path} is empty")));
        }
        if pat == "panic" {
            panic!("asked to panic by {path}");
        }
        Ok(Found::new(Credential::pat(pat), path.to_owned()))
    }

    fn store(&self, request: &Request, credential: &Credential) -> Result<(), Error> {
        std::fs::write(path(request)?, credential.secret.expose())
            .map_err(|e| Error::failed(format!("cannot write: {e}")))
    }

    fn erase(&self, request: &Request) -> Result<bool, Error> {
        Ok(std::fs::remove_file(path(request)?).is_ok())
    }

    fn stores(&self) -> bool {
        true
    }
}

export_plugin!(FileStore, name = "example-native", version = "0.1.0");
