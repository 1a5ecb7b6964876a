//! Browser login: OAuth 2.0 Authorization Code with PKCE (S256) against the platform's auth
//! server, a loopback-only callback listener, refresh and revocation.
//!
//! The callback listener serves connections concurrently, each with a short read limit, so an
//! idle local connection cannot delay the real callback; a callback whose `state` is not this
//! login's (from any local process or web page) is answered and ignored, and the login keeps
//! waiting for the real one or the time limit.
//!
//! Refresh is safe across processes: a process that finds the access token expired (or
//! refused) takes the credentials lock, reads the session again, and refreshes only if no other
//! process did so in the meantime. Rotated refresh tokens are therefore used once, never twice
//! (a reused one revokes the whole grant on servers that detect reuse).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::Secret;
use crate::credentials::{Credential, OAuthSession, store};
use crate::error::{Error, Result};
use crate::fsutil::FileLock;
use crate::home::Home;
use crate::platform::Endpoints;
use crate::platform::exchange::{OAuthErrorBody, checked_token, client_id, expiry_from};
use crate::platform::http::{self, Http};
use crate::region::Region;

/// The callback port registered for the platform's CLI client.
pub const DEFAULT_CALLBACK_PORT: u16 = 9877;
/// Access tokens are refreshed this long before they expire.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(30);
/// How long one callback connection may take to send its request line.
const CALLBACK_READ_LIMIT: Duration = Duration::from_secs(3);

fn random_b64(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| Error::failure(format!("no randomness available: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

/// Whether an access token expiring at `t` must be refreshed now.
pub fn needs_refresh(t: Option<OffsetDateTime>) -> bool {
    t.is_none_or(|t| t - REFRESH_MARGIN <= OffsetDateTime::now_utc())
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: Option<String>,
    refresh_token: Option<String>,
    expires_in: Option<serde_json::Value>,
}

impl TokenAnswer {
    /// The answer as a session; an empty access token is an error (the official CLI accepts it).
    fn into_session(self, what: &str, old_refresh: Option<Secret>) -> Result<OAuthSession> {
        let access = checked_token(what, self.access_token)?;
        let refresh = match self.refresh_token.filter(|t| !t.trim().is_empty()) {
            Some(t) => Some(checked_token(what, Some(t))?),
            // Servers that do not rotate keep the old refresh token valid.
            None => old_refresh,
        };
        Ok(OAuthSession {
            access_token: access,
            refresh_token: refresh,
            expires_at: expiry_from(self.expires_in.as_ref()),
        })
    }
}

/// A login in progress: the listener is bound, the URL is ready.
pub struct PendingLogin {
    listeners: Vec<TcpListener>,
    verifier: String,
    state: String,
    /// The redirect URI sent to the server.
    pub redirect_uri: String,
    /// Where the user signs in.
    pub authorize_url: String,
    client_id: String,
}

/// Binds the callback listener on loopback only (127.0.0.1 and, when available, ::1) and builds
/// the authorization URL. `port` 0 picks a free port (for servers that accept any loopback port,
/// RFC 8252).
pub async fn prepare_login(http: &Http, endpoints: &Endpoints, port: u16) -> Result<PendingLogin> {
    let v4 = TcpListener::bind(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port))
        .await
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                Error::failure(format!("cannot listen for the login callback: port {port} is in use"))
                    .with_hint("another login may be running; stop it, or pass --callback-port 0 if your auth server accepts any loopback port")
            } else {
                Error::failure(format!("cannot listen for the login callback on 127.0.0.1:{port}: {e}"))
            }
        })?;
    let bound = v4
        .local_addr()
        .map_err(|e| Error::failure(format!("cannot read the callback address: {e}")))?
        .port();
    let mut listeners = vec![v4];
    // `localhost` may resolve to ::1 first in the browser; listen there too when we can.
    if let Ok(v6) = TcpListener::bind(SocketAddr::new(IpAddr::V6(Ipv6Addr::LOCALHOST), bound)).await
    {
        listeners.push(v6);
    }
    let verifier = random_b64(32)?;
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    let state = random_b64(16)?;
    let redirect_uri = format!("http://localhost:{bound}/callback");
    let client_id = client_id(http, endpoints).await;
    let mut url = url::Url::parse(&format!("{}/oidc/auth", endpoints.auth_endpoint))
        .map_err(|e| Error::usage(format!("auth endpoint is not a URL: {e}")))?;
    url.query_pairs_mut()
        .append_pair("client_id", &client_id)
        .append_pair("redirect_uri", &redirect_uri)
        .append_pair("response_type", "code")
        .append_pair("scope", "openid offline_access")
        .append_pair("state", &state)
        .append_pair("code_challenge", &challenge)
        .append_pair("code_challenge_method", "S256")
        .append_pair("prompt", "consent")
        .append_pair("resource", &endpoints.resource);
    Ok(PendingLogin {
        listeners,
        verifier,
        state,
        redirect_uri,
        authorize_url: url.into(),
        client_id,
    })
}

const PAGE_STYLE: &str = "font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:2rem;border-radius:.75rem;background:#f8fafc;border:1px solid #e2e8f0";

fn page(title: &str, text: &str) -> String {
    let esc = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title></head><body><div style=\"{PAGE_STYLE}\"><h1>{}</h1><p>{}</p></div></body></html>",
        esc(title),
        esc(title),
        esc(text)
    )
}

async fn respond(stream: &mut TcpStream, status: &str, body: &str) {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n\r\n",
        body.len()
    );
    let _ = stream.write_all(head.as_bytes()).await;
    let _ = stream.write_all(body.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn read_request_target(stream: &mut TcpStream) -> Option<String> {
    let mut buf = vec![0u8; 8192];
    let mut len = 0;
    let read = async {
        while len < buf.len() {
            let n = stream.read(&mut buf[len..]).await.ok()?;
            if n == 0 {
                break;
            }
            len += n;
            if buf[..len].windows(4).any(|w| w == b"\r\n\r\n") {
                break;
            }
        }
        Some(())
    };
    tokio::time::timeout(CALLBACK_READ_LIMIT, read)
        .await
        .ok()??;
    let text = String::from_utf8_lossy(&buf[..len]);
    let line = text.lines().next()?;
    let mut parts = line.split_whitespace();
    (parts.next()? == "GET").then_some(())?;
    parts.next().map(str::to_owned)
}

/// What one callback connection decided.
enum Callback {
    /// The authorization code of this login.
    Code(String),
    /// The auth server refused this login.
    Refused(Error),
    /// Not this login's callback (another path, a wrong `state`, garbage): keep waiting.
    Ignored,
}

async fn handle_callback(mut stream: TcpStream, state: String) -> Callback {
    let Some(target) = read_request_target(&mut stream).await else {
        return Callback::Ignored;
    };
    let Ok(url) = url::Url::parse(&format!("http://localhost{target}")) else {
        return Callback::Ignored;
    };
    if url.path() != "/callback" {
        respond(
            &mut stream,
            "404 Not Found",
            &page(
                "Not found",
                "This address only receives the cybedefend login callback.",
            ),
        )
        .await;
        return Callback::Ignored;
    }
    let q: std::collections::HashMap<String, String> = url.query_pairs().into_owned().collect();
    if q.get("state") != Some(&state) {
        tracing::debug!("oauth: a callback with a wrong `state` was ignored");
        respond(
            &mut stream,
            "400 Bad Request",
            &page(
                "Not this login",
                "This callback does not belong to the login in progress; it was ignored.",
            ),
        )
        .await;
        return Callback::Ignored;
    }
    if let Some(err) = q.get("error") {
        let err = crate::text::one_line(err, 80);
        let desc = q
            .get("error_description")
            .map(|d| crate::text::one_line(d, 200))
            .unwrap_or_default();
        respond(
            &mut stream,
            "400 Bad Request",
            &page(
                "Login failed",
                &format!("{err}: {desc}. You can close this tab."),
            ),
        )
        .await;
        let detail = if desc.is_empty() {
            String::new()
        } else {
            format!(" ({desc})")
        };
        let mut e = Error::auth(format!("the auth server refused the login: {err}{detail}"));
        if err == "access_denied" {
            e = e.with_hint(
                "the sign-in or consent was declined; run `cybedefend login` again to retry",
            );
        }
        return Callback::Refused(e);
    }
    let Some(code) = q.get("code").filter(|c| !c.is_empty()) else {
        respond(
            &mut stream,
            "400 Bad Request",
            &page(
                "Login failed",
                "The callback carried no authorization code.",
            ),
        )
        .await;
        return Callback::Refused(Error::auth("login callback without an authorization code"));
    };
    crate::secret::redact::register(code);
    respond(
        &mut stream,
        "200 OK",
        &page(
            "Logged in",
            "cybedefend is logged in. You can close this tab and return to the terminal.",
        ),
    )
    .await;
    Callback::Code(code.clone())
}

impl PendingLogin {
    /// Waits for the callback of this login (or the time limit). Connections are served
    /// concurrently; callbacks that are not this login's are answered and ignored. The
    /// listeners close when this returns, on every path.
    pub async fn wait_for_code(self, timeout: Duration) -> Result<(String, CodeVerifier)> {
        let PendingLogin {
            listeners,
            verifier,
            state,
            redirect_uri,
            client_id,
            ..
        } = self;
        let wait = async {
            let mut handlers = tokio::task::JoinSet::new();
            loop {
                let accepted = tokio::select! {
                    Some(done) = handlers.join_next(), if !handlers.is_empty() => {
                        match done {
                            Ok(Callback::Code(code)) => return Ok(code),
                            Ok(Callback::Refused(e)) => return Err(e),
                            Ok(Callback::Ignored) | Err(_) => continue,
                        }
                    }
                    r = listeners[0].accept() => r,
                    r = async { listeners[1].accept().await }, if listeners.len() > 1 => r,
                };
                if let Ok((stream, _)) = accepted {
                    handlers.spawn(handle_callback(stream, state.clone()));
                }
            }
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(code)) => Ok((
                code,
                CodeVerifier {
                    verifier,
                    redirect_uri,
                    client_id,
                },
            )),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(Error::auth(format!(
                "login timed out after {}: no callback came back from the browser",
                crate::duration::format(timeout)
            ))
            .with_hint("run `cybedefend login` again and finish signing in, or use a PAT: `cybedefend login --pat PAT`")),
        }
    }
}

/// What the code exchange needs besides the code.
pub struct CodeVerifier {
    verifier: String,
    redirect_uri: String,
    client_id: String,
}

/// A request to the token endpoint, tried again within the command's retry budget when that is
/// safe: always for a login code exchange (a code is used once: a repeat is refused, not
/// doubled), and for a refresh only when the request was not processed (never sent, 429, 503),
/// since a refresh that reached the server may have rotated the refresh token.
async fn token_request(
    http: &Http,
    endpoints: &Endpoints,
    what: &str,
    form: &[(&str, &str)],
) -> Result<TokenAnswer> {
    let rotates = form
        .iter()
        .any(|(k, v)| *k == "grant_type" && *v == "refresh_token");
    let safe = move |e: &Error| !rotates || refresh_may_repeat(e);
    crate::platform::api::with_retries(what, http, safe, || {
        token_request_once(http, endpoints, what, form)
    })
    .await
}

/// Whether a failed refresh may be sent again: only when the server did not process it (it was
/// never sent, or the answer says so: 429, 503). A refresh that reached the server may have
/// rotated the refresh token, and sending the old one again would end the session.
fn refresh_may_repeat(e: &Error) -> bool {
    e.was_not_sent() || matches!(e.http_status(), Some(429 | 503))
}

async fn token_request_once(
    http: &Http,
    endpoints: &Endpoints,
    what: &str,
    form: &[(&str, &str)],
) -> Result<TokenAnswer> {
    let url = format!("{}/oidc/token", endpoints.auth_endpoint);
    let resp = http
        .send(what, http.client()?.post(&url).form(form))
        .await?;
    if resp.status().is_redirection() {
        return Err(http::redirect_error(what, &resp));
    }
    let status = resp.status().as_u16();
    let asked = crate::platform::api::retry_after_of(&resp);
    let body = http::read_body(what, resp, http::SMALL_BODY_CAP).await?;
    if status != 200 {
        let code = OAuthErrorBody::code(&body).unwrap_or_default();
        if code == "invalid_grant" {
            return Err(Error::auth(format!(
                "{what}: the session has expired or was revoked (invalid_grant)"
            ))
            .with_hint("run `cybedefend login` to log in again"));
        }
        let e = format!(
            "{what} failed: {} answered HTTP {status} {code}",
            endpoints.auth_endpoint
        );
        return Err(if status == 429 || status >= 500 {
            Error::network(e.trim_end().to_owned())
                .with_hint("retry later")
                .with_status(status)
                .with_retry_after(asked)
        } else {
            Error::failure(e.trim_end().to_owned()).with_status(status)
        });
    }
    serde_json::from_slice(&body).map_err(|_| {
        Error::failure(format!(
            "{what}: the auth server answered with something that is not the expected JSON"
        ))
    })
}

/// Exchanges the authorization code for a session.
pub async fn exchange_code(
    http: &Http,
    endpoints: &Endpoints,
    code: &str,
    v: &CodeVerifier,
) -> Result<OAuthSession> {
    let answer = token_request(
        http,
        endpoints,
        "login code exchange",
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &v.redirect_uri),
            ("code_verifier", &v.verifier),
            ("client_id", &v.client_id),
            ("resource", &endpoints.resource),
        ],
    )
    .await?;
    answer.into_session("login code exchange", None)
}

/// A valid access token of the stored browser-login session: the stored one while it is fresh
/// and was not `rejected` by the API; otherwise a refresh under the credentials lock (or the
/// token another process refreshed meanwhile). On `invalid_grant` the stored session is left as
/// it was.
pub async fn session_access_token(
    http: &Http,
    endpoints: &Endpoints,
    home: &Home,
    rejected: Option<&Secret>,
) -> Result<(Secret, Option<OffsetDateTime>)> {
    let usable =
        |s: &OAuthSession| !needs_refresh(s.expires_at) && rejected != Some(&s.access_token);
    let current = stored_session(home)?;
    if usable(&current) {
        return Ok((current.access_token, current.expires_at));
    }
    let lock = FileLock::acquire(&home.credentials_lock(), store::LOCK_WAIT)?;
    let region: Region = store::load(home)?
        .map(|l| l.region)
        .unwrap_or(endpoints.region);
    let latest = stored_session(home)?;
    // Another process refreshed while this one waited for the lock.
    if latest.access_token != current.access_token && usable(&latest) {
        tracing::debug!("oauth: another process refreshed the session");
        return Ok((latest.access_token, latest.expires_at));
    }
    let Some(refresh) = latest.refresh_token.clone() else {
        return Err(
            Error::auth("the browser-login session has expired and has no refresh token")
                .with_hint("run `cybedefend login` again"),
        );
    };
    let client_id = client_id(http, endpoints).await;
    // From the moment the refresh is sent until its answer is saved, a signal waits: the
    // server may have rotated the refresh token, and only the saved answer keeps the login.
    let shield = crate::shield::enter(http.timeout() * crate::platform::ATTEMPTS);
    let answer = token_request(
        http,
        endpoints,
        "session refresh",
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose()),
            ("client_id", &client_id),
            ("resource", &endpoints.resource),
        ],
    )
    .await?;
    let session = answer.into_session("session refresh", Some(refresh))?;
    store::save_locked(
        home,
        region,
        &Credential::OAuth(session.clone()),
        &store::Storage::File,
    )?;
    drop(shield);
    drop(lock);
    tracing::debug!("oauth: session refreshed");
    Ok((session.access_token, session.expires_at))
}

fn stored_session(home: &Home) -> Result<OAuthSession> {
    match store::load(home)? {
        Some(store::StoredLogin {
            credential: Some(Credential::OAuth(s)),
            ..
        }) => Ok(s),
        _ => {
            Err(Error::auth("no browser-login session is stored")
                .with_hint("run `cybedefend login`"))
        }
    }
}

#[derive(Deserialize)]
struct Discovery {
    revocation_endpoint: Option<String>,
}

/// Revokes a refresh token when the server's discovery document offers revocation. Returns
/// whether it was revoked.
pub async fn revoke(http: &Http, endpoints: &Endpoints, refresh_token: &Secret) -> Result<bool> {
    let url = format!(
        "{}/oidc/.well-known/openid-configuration",
        endpoints.auth_endpoint
    );
    let resp = http.send("discovery", http.client()?.get(&url)).await?;
    if !resp.status().is_success() {
        return Ok(false);
    }
    let body = http::read_body("discovery", resp, http::SMALL_BODY_CAP).await?;
    let Ok(d) = serde_json::from_slice::<Discovery>(&body) else {
        return Ok(false);
    };
    let Some(endpoint) = d.revocation_endpoint else {
        return Ok(false);
    };
    let target = crate::config::net::check_url(
        "revocation_endpoint",
        &endpoint,
        "the auth server's discovery document",
    )?;
    let auth = url::Url::parse(&endpoints.auth_endpoint)
        .map_err(|e| Error::usage(format!("auth endpoint is not a URL: {e}")))?;
    if target.origin() != auth.origin() {
        // The refresh token goes to the auth server's own origin only.
        tracing::debug!(
            "oauth: revocation endpoint {} is on another origin; not used",
            http::loggable(&target)
        );
        return Ok(false);
    }
    let client_id = client_id(http, endpoints).await;
    let form = [
        ("token", refresh_token.expose()),
        ("token_type_hint", "refresh_token"),
        ("client_id", client_id.as_str()),
    ];
    let resp = http
        .send(
            "token revocation",
            http.client()?.post(&endpoint).form(&form),
        )
        .await?;
    Ok(resp.status().is_success())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_is_repeated_only_when_the_server_did_not_process_it() {
        let net = |status: Option<u16>| {
            let e = Error::network("session refresh failed");
            match status {
                Some(s) => e.with_status(s),
                None => e,
            }
        };
        assert!(refresh_may_repeat(&net(Some(429))));
        assert!(refresh_may_repeat(&net(Some(503))));
        assert!(refresh_may_repeat(&net(None).not_sent()));
        // it may have rotated the refresh token: never sent twice
        assert!(!refresh_may_repeat(&net(Some(500))));
        assert!(!refresh_may_repeat(&net(Some(502))));
        assert!(!refresh_may_repeat(&net(None)));
    }
}
