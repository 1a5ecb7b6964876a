//! `auth migrate --to keyring`: moves the PAT of credentials.json into the OS keyring. The copy
//! is written, read back and compared before credentials.json loses its copy.

use cybedefend_core::credentials::{Credential, store};
use cybedefend_core::{Error, Result};

use crate::app::App;
use crate::exit::Exit;
use crate::session::builtin_provider;

pub(crate) async fn run(app: &App) -> Result<Exit> {
    let path = cybedefend_core::home::tilde(&app.home.credentials_file());
    let login = store::load(&app.home)?.ok_or_else(|| {
        Error::usage(format!("nothing to migrate: {path} does not exist"))
            .with_hint("log in with `cybedefend login --pat PAT --store keyring`")
    })?;
    if login.storage == cybedefend_core::credentials::store::Storage::Keyring {
        app.out.info("The PAT is already in the OS keyring");
        return Ok(Exit::Success);
    }
    let Some(credential @ Credential::Pat(_)) = login.credential else {
        return Err(Error::usage(
            "only a PAT login can move to the keyring (a browser session refreshes itself in credentials.json)",
        ));
    };
    let endpoints = app.endpoints()?;
    builtin_provider("keyring")?
        .store(&app.resolve_context(&endpoints), &credential, login.region)
        .await?;
    app.out.success(&format!(
        "Moved PAT {} into the OS keyring; {path} now keeps only the region",
        credential.fingerprint()
    ));
    Ok(Exit::Success)
}
