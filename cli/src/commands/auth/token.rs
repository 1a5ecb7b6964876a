//! `auth token`: a valid access token for the current credential on stdout (exchanged or
//! refreshed as needed, through the same path as every API call).

use cybedefend_core::Result;

use crate::app::App;
use crate::exit::Exit;

pub(crate) async fn run(app: &App) -> Result<Exit> {
    let connected = app.connect().await?;
    let token = app.bearer(&connected).token().await?;
    app.out.secret(token.expose());
    Ok(Exit::Success)
}
