//! `auth token`: a valid access token for the current credential on stdout (exchanged or
//! refreshed as needed, through the same path as every API call).

use cybedefend_core::Result;

use crate::app::App;

pub(crate) async fn run(app: &App) -> Result<u8> {
    let connected = app.connect().await?;
    let token = app.bearer(&connected).token().await?;
    app.out.secret(token.expose());
    Ok(0)
}
