//! `proxy`: the loopback gateway ([`crate::forward`]) until Ctrl-C or SIGTERM.

use clap::Args;
use cybedefend_core::{Error, Result};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::forward::{self, Gateway, SessionKey};
use crate::output::Printer;

/// `proxy`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Other tools (the CybeDefend MCP server, an IDE extension, curl) reach the API through this
proxy with a session key instead of a PAT or a token: the key works only on this port, only
while the proxy runs. Each request gets a fresh access token from the credential every command
uses (exchanged once, cached, refreshed before it expires), and goes to the API of the active
profile and region only. Requests without the key, or for a Host that is not this machine, get
401 or 403 and are not forwarded.

On start it prints, on stdout, then closes it (so that `eval \"$(cybedefend proxy &)\"` goes on):
  CYBEDEFEND_API_URL=http://127.0.0.1:PORT
  CYBEDEFEND_API_KEY=cdsk_…
and logs one line per request on stderr. It stops on Ctrl-C or SIGTERM.

Examples:
  cybedefend proxy --listen 127.0.0.1:8787
  curl -H \"x-api-key: $CYBEDEFEND_API_KEY\" \"$CYBEDEFEND_API_URL/user/profile\"
  cybedefend exec --proxy -- node dist/index.js   # one program's proxy")]
pub(crate) struct ProxyArgs {
    /// Where to listen: 127.0.0.1:PORT, [::1]:PORT or localhost:PORT (loopback only; port 0
    /// picks a free one)
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:0")]
    pub(crate) listen: String,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: ProxyArgs) -> Result<Exit> {
    let addr = forward::loopback_address(&args.listen)?;
    let app = App::load(global, out)?;
    // its clients run as the same user: they must not read the PAT from this process
    forward::keep_private();
    let connected = app.connect().await?;
    let key = SessionKey::new()?;
    let out = &app.out;
    let log = |line: &str| out.info(line);
    let gateway = Gateway::new(
        &app.http,
        app.bearer(&connected),
        &connected.endpoints.api_url,
        &key,
        &log,
    )?;
    // a credential that does not work fails here, not at the first client's request
    gateway.bearer.lasting(forward::TOKEN_LEFT).await?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        Error::usage(format!("cannot listen on {addr}: {e}"))
            .with_hint("choose another port with --listen 127.0.0.1:PORT (0 picks a free one)")
    })?;
    let bound = listener
        .local_addr()
        .map_err(|e| Error::failure(format!("cannot read the address listened on: {e}")))?;
    let url = forward::url_of(bound);
    app.out.secret(&format!(
        "CYBEDEFEND_API_URL={url}\nCYBEDEFEND_API_KEY={}",
        key.value()
    ));
    // all that goes to stdout: a reader waiting for its end goes on
    if let Err(e) = cybedefend_core::stdio::close_stdout() {
        tracing::debug!("proxy: cannot close stdout: {e}");
    }
    app.out.info(&format!(
        "Forwarding {url} to {} with the credential of provider `{}`; Ctrl-C stops",
        connected.endpoints.api_url, connected.winner.provider
    ));
    gateway.serve(listener, stopped()).await;
    app.out.info("Stopped");
    Ok(Exit::Success)
}

/// Completes on Ctrl-C, SIGTERM or SIGHUP.
pub(crate) async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            return std::future::pending().await;
        };
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
            _ = hup.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
