//! A local test double of the CybeDefend platform: the API (`/client-apps`, later the scan
//! and results endpoints) and the auth server's token endpoint (`/oidc/token`), on one
//! loopback port. It records every request so tests can assert what the CLI sent, and it can
//! be switched into failure modes (rejections, HTML, slowness, missing fields).
//!
//! Response bodies follow `openapi.json` of the platform; the token endpoint follows RFC 8693
//! as the platform's auth server (Logto) implements it.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// The CLI client id the double's `/client-apps` announces.
pub const CLI_APP_ID: &str = "double-cli-app";

/// How the token endpoint behaves.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenMode {
    /// Known PATs get a token; unknown ones `400 invalid_grant`.
    Normal,
    /// Every exchange gets `401`.
    Unauthorized,
    /// Every exchange gets `400 {"error":"invalid_grant"}`.
    InvalidGrant,
    /// `400` with `token_exchange_not_allowed`.
    NotAllowed,
    /// `200 {}` with no access token.
    NoAccessToken,
    /// `200` with an HTML page.
    Html,
    /// `500`.
    ServerError,
    /// Answers normally after this delay.
    Slow(Duration),
    /// Echoes the subject token back in an error body (a misbehaving server), `401`.
    EchoSecret,
    /// Echoes the subject token back in the OAuth `error` code itself, `400`.
    EchoSecretInCode,
    /// `307` to this URL (another origin, or plain http).
    Redirect(String),
    /// `200` with this raw `expires_in` value (a number out of range, a string, ...).
    ExpiresIn(serde_json::Value),
    /// `200` with an access token that holds terminal escape sequences.
    ControlToken,
}

/// A canned answer for one method and path, served before anything else.
#[derive(Debug, Clone)]
pub struct Canned {
    /// HTTP status.
    pub status: u16,
    /// Extra headers.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

/// One request as the double received it.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// Path without the query.
    pub path: String,
    /// Query parameters (repeated keys keep every value).
    pub query: Vec<(String, String)>,
    /// Headers, lower-case names.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

impl Recorded {
    /// The body parsed as an HTML form.
    pub fn form(&self) -> BTreeMap<String, String> {
        url_decode_pairs(&String::from_utf8_lossy(&self.body))
            .into_iter()
            .collect()
    }
}

struct State {
    token_mode: TokenMode,
    pats: HashSet<String>,
    expires_in: u64,
    requests: Vec<Recorded>,
    client_apps_ok: bool,
    issued: HashSet<String>,
    /// Refresh tokens that still work (each is rotated when used).
    refresh_tokens: HashSet<String>,
    projects: BTreeMap<String, Project>,
    forbidden: HashSet<String>,
    scans: BTreeMap<String, Scan>,
    scan_mode: ScanMode,
    upload_mode: UploadMode,
    evaluation: EvaluationMode,
    api_failures: Vec<u16>,
    malformed_status: bool,
    base_url: String,
    /// Where upload URLs point instead of the double itself (a closed port, say).
    upload_base: Option<String>,
    canned: BTreeMap<(String, String), Canned>,
    retry_after: String,
    /// Statuses the next token requests answer, in order (429 with `Retry-After: 1`).
    token_failures: Vec<u16>,
    /// Project pages of this many new projects each, without end (a hostile server).
    project_flood: Option<u64>,
    /// API calls of this method whose path holds this text are done at once but answered only
    /// after this long (an answer lost when the client goes away meanwhile).
    slow_answer: Option<(String, String, Duration)>,
    /// API calls of this method whose path holds this text answer only after this long (a
    /// stalled server).
    api_stall: Option<(String, String, Duration)>,
    accept_any_but: Option<HashSet<String>>,
    orgs: BTreeMap<String, Org>,
    teams: BTreeMap<String, TeamRec>,
    user_pats: Vec<UserPat>,
    teams_wrapped: bool,
    report_size: usize,
    /// Largest results page served (25 by default, as the spec's examples; the live API gives
    /// the 100 the official CLI asks for).
    pub(crate) page_cap: u64,
    batch_raw: bool,
    batch_filename: Option<String>,
    profile_email: String,
    served: Vec<Served>,
    report_stall: Option<Duration>,
    /// The value of the next PAT created (a hostile server's answer).
    next_pat_value: Option<String>,
}

/// A project and its findings by result type.
#[derive(Debug, Clone)]
struct Project {
    name: String,
    team: String,
    ai_merge_request: bool,
    /// Shared: a request clones the project, not its findings (benchmarks serve 100,000s).
    findings: BTreeMap<String, std::sync::Arc<Vec<serde_json::Value>>>,
    /// Which findings a filter keeps, by result type and filter (paging a large list must not
    /// filter it again for every page).
    filtered: std::sync::Arc<Mutex<std::collections::HashMap<String, std::sync::Arc<Vec<usize>>>>>,
}

impl Project {
    fn new(name: &str, team: &str) -> Self {
        Self {
            name: name.to_owned(),
            team: team.to_owned(),
            ai_merge_request: false,
            findings: RESULT_TYPES
                .iter()
                .map(|t| ((*t).to_owned(), std::sync::Arc::new(sample_findings(t))))
                .collect(),
            filtered: Default::default(),
        }
    }
}

#[derive(Debug, Clone)]
struct Org {
    name: String,
}

#[derive(Debug, Clone)]
struct TeamRec {
    org: String,
    name: String,
    description: String,
    members: Vec<serde_json::Value>,
}

/// A personal access token of the double's user.
#[derive(Debug, Clone)]
struct UserPat {
    name: String,
    value: String,
    created_at: i64,
    expires_at: Option<i64>,
}

/// The organisation every double starts with.
pub const ORG_ID: &str = "00000000-0000-4000-8000-000000008000";
/// The team every double starts with (projects belong to it).
pub const TEAM_ID: &str = "00000000-0000-4000-8000-000000007000";

#[derive(Debug, Clone)]
struct Scan {
    project: String,
    polls: u32,
    uploaded: Option<Vec<u8>>,
}

/// How scans progress.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanMode {
    /// `queued`, then `running`, then this final state, one status call each.
    Finishes(&'static str),
    /// Always `running`.
    NeverFinishes,
}

/// How the pre-signed upload URL answers.
#[derive(Debug, Clone, PartialEq)]
pub enum UploadMode {
    /// 200.
    Ok,
    /// 403, as an expired signature.
    Expired,
    /// 503 this many times, then 200.
    FailTimes(u32),
    /// Answers only after this long (to interrupt a client mid-upload).
    Stall(std::time::Duration),
    /// Reads the body at about this many bytes a second (a slow link), then answers 200.
    Throttle(u64),
    /// 429 with `Retry-After: 1` this many times, then 200.
    TooMany(u32),
}

/// What the policy evaluation says.
#[derive(Debug, Clone, PartialEq)]
pub enum EvaluationMode {
    /// `NOT_STARTED`: no policies.
    NotStarted,
    /// `IN_PROGRESS` once, then `COMPLETED` with these violations.
    Completed(Vec<serde_json::Value>),
    /// `FAILED`.
    Failed,
    /// `IN_PROGRESS` forever.
    Stuck,
}

struct Shared {
    state: Mutex<State>,
    counter: AtomicU64,
    /// Results requests being answered now, and the most at once.
    in_flight: AtomicU64,
    most_in_flight: AtomicU64,
}

/// Counts a results request while it is answered (also when the client goes away).
struct InFlight<'a>(&'a Shared);

impl<'a> InFlight<'a> {
    fn new(shared: &'a Shared) -> Self {
        let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        shared.most_in_flight.fetch_max(now, Ordering::SeqCst);
        Self(shared)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        match self.state.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        }
    }
}

/// A running double. Dropping it stops the server.
pub struct Double {
    addr: SocketAddr,
    tls: bool,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Double {
    /// Starts the double on `127.0.0.1` and a free port.
    pub fn start() -> Self {
        Self::start_on("127.0.0.1:0")
    }

    /// Starts the double on the given address.
    pub fn start_on(bind: &str) -> Self {
        Self::start_with(bind, None)
    }

    /// Starts the double on `127.0.0.1` over TLS, with a certificate for `localhost` and
    /// `127.0.0.1` signed by `ca`.
    pub fn start_tls(ca: &TestCa) -> Self {
        Self::start_with("127.0.0.1:0", Some(ca.server_config()))
    }

    fn start_with(bind: &str, tls: Option<Arc<rustls::ServerConfig>>) -> Self {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                token_mode: TokenMode::Normal,
                pats: HashSet::new(),
                expires_in: 600,
                requests: Vec::new(),
                client_apps_ok: true,
                issued: HashSet::new(),
                refresh_tokens: HashSet::new(),
                projects: BTreeMap::new(),
                forbidden: HashSet::new(),
                scans: BTreeMap::new(),
                scan_mode: ScanMode::Finishes("completed"),
                upload_mode: UploadMode::Ok,
                evaluation: EvaluationMode::NotStarted,
                api_failures: Vec::new(),
                malformed_status: false,
                base_url: String::new(),
                upload_base: None,
                canned: BTreeMap::new(),
                retry_after: "0".into(),
                api_stall: None,
                token_failures: Vec::new(),
                project_flood: None,
                slow_answer: None,
                accept_any_but: None,
                orgs: BTreeMap::from([(
                    ORG_ID.to_owned(),
                    Org {
                        name: "Double org".into(),
                    },
                )]),
                teams: BTreeMap::from([(
                    TEAM_ID.to_owned(),
                    TeamRec {
                        org: ORG_ID.to_owned(),
                        name: "Double team".into(),
                        description: "The double's first team".into(),
                        members: Vec::new(),
                    },
                )]),
                user_pats: Vec::new(),
                teams_wrapped: false,
                report_size: 2048,
                page_cap: 25,
                batch_raw: false,
                batch_filename: None,
                profile_email: "dana@example.test".into(),
                served: Vec::new(),
                report_stall: None,
                next_pat_value: None,
            }),
            counter: AtomicU64::new(0),
            in_flight: AtomicU64::new(0),
            most_in_flight: AtomicU64::new(0),
        });
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let bind = bind.to_owned();
        let is_tls = tls.is_some();
        let for_thread = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("test double runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind(&bind)
                    .await
                    .expect("test double bind");
                let _ = addr_tx.send(listener.local_addr().expect("local addr"));
                let app = Router::new().fallback(move |req: Request<Body>| {
                    let shared = for_thread.clone();
                    async move { handle(shared, req).await }
                });
                let stop = async {
                    let _ = stop_rx.await;
                };
                let _ = match tls {
                    None => {
                        axum::serve(listener, app)
                            .with_graceful_shutdown(stop)
                            .await
                    }
                    Some(config) => {
                        let listener = tls::TlsListener {
                            inner: listener,
                            acceptor: tokio_rustls::TlsAcceptor::from(config),
                        };
                        axum::serve(listener, app)
                            .with_graceful_shutdown(stop)
                            .await
                    }
                };
            });
        });
        let addr = addr_rx.recv().expect("test double address");
        // Pre-signed upload URLs point at the double itself, over TLS when it serves TLS.
        shared.lock().base_url = if is_tls {
            format!("https://localhost:{}", addr.port())
        } else {
            format!("http://{addr}")
        };
        Self {
            addr,
            tls: is_tls,
            shared,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }

    /// Base URL, e.g. `http://127.0.0.1:41234` (`https://localhost:41234` over TLS): both API
    /// and auth endpoint.
    pub fn url(&self) -> String {
        if self.tls {
            format!("https://localhost:{}", self.addr.port())
        } else {
            format!("http://{}", self.addr)
        }
    }

    /// Accepts this PAT at the token endpoint.
    pub fn add_pat(&self, pat: &str) {
        self.shared.lock().pats.insert(pat.to_owned());
    }

    /// Changes the token endpoint's behaviour.
    pub fn set_token_mode(&self, mode: TokenMode) {
        self.shared.lock().token_mode = mode;
    }

    /// Lifetime of issued access tokens, in seconds.
    pub fn set_expires_in(&self, seconds: u64) {
        self.shared.lock().expires_in = seconds;
    }

    /// Makes `/client-apps` answer 503 (the CLI must fall back to the region's id).
    pub fn set_client_apps_ok(&self, ok: bool) {
        self.shared.lock().client_apps_ok = ok;
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared.lock().requests.clone()
    }

    /// Requests to one path.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    /// Adds a project with the sample findings of [`sample_findings`].
    pub fn add_project(&self, id: &str, name: &str) {
        self.shared
            .lock()
            .projects
            .insert(id.to_owned(), Project::new(name, TEAM_ID));
    }

    /// Whether a project exists (after `project create`/`delete`).
    pub fn has_project(&self, id: &str) -> bool {
        self.shared.lock().projects.contains_key(id)
    }

    /// Project ids by name.
    pub fn project_ids_named(&self, name: &str) -> Vec<String> {
        self.shared
            .lock()
            .projects
            .iter()
            .filter(|(_, p)| p.name == name)
            .map(|(id, _)| id.clone())
            .collect()
    }

    pub fn add_org(&self, id: &str, name: &str) {
        self.shared.lock().orgs.insert(
            id.to_owned(),
            Org {
                name: name.to_owned(),
            },
        );
    }

    pub fn add_team(&self, org: &str, id: &str, name: &str) {
        self.shared.lock().teams.insert(
            id.to_owned(),
            TeamRec {
                org: org.to_owned(),
                name: name.to_owned(),
                description: format!("{name} team"),
                members: Vec::new(),
            },
        );
    }

    /// Team name and description, if the team exists.
    pub fn team(&self, id: &str) -> Option<(String, String)> {
        self.shared
            .lock()
            .teams
            .get(id)
            .map(|t| (t.name.clone(), t.description.clone()))
    }

    /// The members of a team (as the members endpoint serves them).
    pub fn team_members(&self, id: &str) -> Vec<serde_json::Value> {
        self.shared
            .lock()
            .teams
            .get(id)
            .map(|t| t.members.clone())
            .unwrap_or_default()
    }

    pub fn add_member(&self, team: &str, user: &str, email: &str, role: &str) {
        if let Some(t) = self.shared.lock().teams.get_mut(team) {
            t.members.push(json!({"id": user, "firstName": "Member", "lastName": email, "email": email, "picture": "", "role": role}));
        }
    }

    /// Serve the team list as `{"teams": [...]}` (the official CLI's reading) instead of the
    /// spec's array.
    pub fn set_teams_wrapped(&self, on: bool) {
        self.shared.lock().teams_wrapped = on;
    }

    /// The most results requests that were being answered at once.
    pub fn most_results_in_flight(&self) -> u64 {
        self.shared.most_in_flight.load(Ordering::SeqCst)
    }

    /// Results requests being answered now.
    pub fn results_in_flight(&self) -> u64 {
        self.shared.in_flight.load(Ordering::SeqCst)
    }

    /// Largest results page served (at least 10).
    pub fn set_page_cap(&self, findings: u64) {
        self.shared.lock().page_cap = findings.max(10);
    }

    /// Size of every report the double serves.
    pub fn set_report_size(&self, bytes: usize) {
        self.shared.lock().report_size = bytes;
    }

    /// Reports send their first 64 KiB, then wait this long before the rest (a slow download,
    /// for interrupting one).
    pub fn set_report_stall(&self, wait: Duration) {
        self.shared.lock().report_stall = Some(wait);
    }

    /// Serve batch reports as the report itself instead of the base64 envelope.
    pub fn set_batch_raw(&self, on: bool) {
        self.shared.lock().batch_raw = on;
    }

    /// The `filename` of the batch envelope.
    pub fn set_batch_filename(&self, name: &str) {
        self.shared.lock().batch_filename = Some(name.to_owned());
    }

    /// The user's PATs: (name, value).
    pub fn user_pats(&self) -> Vec<(String, String)> {
        self.shared
            .lock()
            .user_pats
            .iter()
            .map(|p| (p.name.clone(), p.value.clone()))
            .collect()
    }

    /// Gives the user a PAT (also accepted by the token exchange).
    pub fn add_user_pat(&self, name: &str, value: &str) {
        let mut s = self.shared.lock();
        s.pats.insert(value.to_owned());
        s.user_pats.push(UserPat {
            name: name.to_owned(),
            value: value.to_owned(),
            created_at: 1_767_225_600_000,
            expires_at: None,
        });
    }

    /// Replaces the findings of one type.
    pub fn set_findings(&self, project: &str, kind: &str, items: Vec<serde_json::Value>) {
        if let Some(p) = self.shared.lock().projects.get_mut(project) {
            p.findings
                .insert(kind.to_owned(), std::sync::Arc::new(items));
            p.filtered = Default::default();
        }
    }

    /// Makes every API call on this project answer 403.
    /// Any id (project, team, organisation) answers 403 from now on.
    pub fn forbid(&self, id: &str) {
        self.shared.lock().forbidden.insert(id.to_owned());
    }

    /// How scans progress.
    pub fn set_scan_mode(&self, mode: ScanMode) {
        self.shared.lock().scan_mode = mode;
    }

    /// How the upload URL answers.
    pub fn set_upload_mode(&self, mode: UploadMode) {
        self.shared.lock().upload_mode = mode;
    }

    /// Signed upload URLs point at `base` (`http://127.0.0.1:PORT` where nothing listens, to
    /// make every upload fail to connect).
    pub fn set_upload_base(&self, base: &str) {
        self.shared.lock().upload_base = Some(base.to_owned());
    }

    /// What the policy evaluation says.
    pub fn set_evaluation(&self, mode: EvaluationMode) {
        self.shared.lock().evaluation = mode;
    }

    /// The next API calls answer these statuses, one each, before normal service (e.g. 429,
    /// 503); a 200 lets that call through.
    pub fn fail_next_api_calls(&self, statuses: &[u16]) {
        self.shared.lock().api_failures = statuses.to_vec();
    }

    /// Makes scan status answer with malformed JSON.
    pub fn set_malformed_status(&self, on: bool) {
        self.shared.lock().malformed_status = on;
    }

    /// Invalidates every access token issued so far (the API then answers 401 to them).
    pub fn revoke_tokens(&self) {
        self.shared.lock().issued.clear();
    }

    /// The archive uploaded for a scan.
    pub fn uploaded(&self, scan_id: &str) -> Option<Vec<u8>> {
        self.shared
            .lock()
            .scans
            .get(scan_id)
            .and_then(|s| s.uploaded.clone())
    }

    /// Ids of every started scan, in order.
    pub fn scan_ids(&self) -> Vec<String> {
        self.shared.lock().scans.keys().cloned().collect()
    }

    /// Answers a request in-process through the same routing as the server (for validating
    /// response bodies against the OpenAPI spec without a network client).
    pub fn respond(
        &self,
        method: &str,
        path_and_query: &str,
        body: &[u8],
        bearer: Option<&str>,
    ) -> (u16, Vec<u8>) {
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p.to_owned(), url_decode_pairs(q)),
            None => (path_and_query.to_owned(), Vec::new()),
        };
        let mut headers = BTreeMap::new();
        headers.insert("content-length".to_owned(), body.len().to_string());
        if let Some(b) = bearer {
            headers.insert("authorization".to_owned(), format!("Bearer {b}"));
        }
        let rec = Recorded {
            method: method.to_owned(),
            path,
            query,
            headers,
            body: body.to_vec(),
        };
        let shared = self.shared.clone();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let resp = route(&shared, &rec).await;
            let status = resp.status().as_u16();
            let bytes = to_bytes(resp.into_body(), 1 << 30)
                .await
                .unwrap_or_default()
                .to_vec();
            (status, bytes)
        })
    }

    /// Accepts every bearer token except these (tokens issued by a real auth server, such as
    /// the OpenID Connect server of the login tests, whose values the double cannot know).
    pub fn accept_any_token_but(&self, rejected: &[&str]) {
        self.shared.lock().accept_any_but =
            Some(rejected.iter().map(|s| (*s).to_owned()).collect());
    }

    /// Accepts a refresh token (a browser-login session's): a refresh with it gets a new access
    /// token and a new refresh token, and it stops working (rotation).
    pub fn add_refresh_token(&self, token: &str) {
        self.shared.lock().refresh_tokens.insert(token.to_owned());
    }

    /// Whether a refresh token still works.
    pub fn refresh_token_works(&self, token: &str) -> bool {
        self.shared.lock().refresh_tokens.contains(token)
    }

    /// Accepts an access token issued elsewhere (e.g. a browser-login session's).
    pub fn accept_token(&self, token: &str) {
        self.shared.lock().issued.insert(token.to_owned());
    }

    /// Issues an access token directly (for [`Double::respond`]).
    pub fn issue_token(&self) -> String {
        let n = self.shared.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let t = format!("double-access-token-{n:06}");
        self.shared.lock().issued.insert(t.clone());
        t
    }

    /// Serves `canned` for `method path` (no query) from now on, whatever else is set: for
    /// answers the platform should never send.
    pub fn can(&self, method: &str, path: &str, canned: Canned) {
        self.shared
            .lock()
            .canned
            .insert((method.to_owned(), path.to_owned()), canned);
    }

    /// The `Retry-After` header sent with injected 429s (default `0`).
    /// API calls of `method` whose path contains `path_part` take effect at once, but their
    /// answer comes only after `wait` (a client that goes away meanwhile never learns it).
    pub fn set_slow_answer(&self, method: &str, path_part: &str, wait: Duration) {
        self.shared.lock().slow_answer = Some((method.to_owned(), path_part.to_owned(), wait));
    }

    /// Project lists answer pages of `per_page` new projects each, and never end.
    pub fn set_project_flood(&self, per_page: u64) {
        self.shared.lock().project_flood = Some(per_page);
    }

    /// The next token requests answer these statuses, in order (429 with `Retry-After: 1`).
    pub fn fail_next_token_calls(&self, statuses: &[u16]) {
        self.shared.lock().token_failures = statuses.to_vec();
    }

    /// API calls of `method` whose path contains `path_part` answer only after `wait` (a
    /// stalled server).
    pub fn set_api_stall(&self, method: &str, path_part: &str, wait: Duration) {
        self.shared.lock().api_stall = Some((method.to_owned(), path_part.to_owned(), wait));
    }

    pub fn set_retry_after(&self, value: &str) {
        self.shared.lock().retry_after = value.to_owned();
    }

    /// Forgets recorded requests.
    /// The answers sent to `method path`, oldest first.
    pub fn served(&self, method: &str, path: &str) -> Vec<Served> {
        self.shared
            .lock()
            .served
            .iter()
            .filter(|s| s.method == method && s.path == path)
            .cloned()
            .collect()
    }

    /// The value the next created PAT has (a hostile server's: escape sequences, spaces).
    pub fn set_next_pat_value(&self, value: &str) {
        self.shared.lock().next_pat_value = Some(value.to_owned());
    }

    /// The email of the double's user.
    pub fn set_profile_email(&self, email: &str) {
        self.shared.lock().profile_email = email.to_owned();
    }

    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }
}

impl Drop for Double {
    fn drop(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn url_decode_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (url_decode(k), url_decode(v)),
            None => (url_decode(p), String::new()),
        })
        .collect()
}

fn json_response(status: StatusCode, value: serde_json::Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

async fn handle(shared: Arc<Shared>, req: Request<Body>) -> Response {
    let (parts, body) = req.into_parts();
    let throttle = match shared.lock().upload_mode {
        UploadMode::Throttle(rate) if parts.uri.path().starts_with("/__upload/") => Some(rate),
        _ => None,
    };
    let body = match throttle {
        Some(rate) => read_slowly(body, rate).await,
        None => to_bytes(body, 1 << 30).await.unwrap_or_default().to_vec(),
    };
    let headers: BTreeMap<String, String> = parts
        .headers
        .iter()
        .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query: parts.uri.query().map(url_decode_pairs).unwrap_or_default(),
        headers,
        body,
    };
    shared.lock().requests.push(recorded.clone());
    let counted = recorded
        .path
        .contains("/results/")
        .then(|| InFlight::new(&shared));
    let resp = route(&shared, &recorded).await;
    drop(counted);
    if recorded.path.starts_with("/__") || recorded.path == "/oidc/token" {
        return resp;
    }
    // What was served, for tests that compare the CLI's output with it (JSON bodies up to 1
    // MiB; reports stream through untouched).
    let json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !json {
        return resp;
    }
    let (parts, body) = resp.into_parts();
    let bytes = to_bytes(body, 1 << 30).await.unwrap_or_default();
    if bytes.len() <= 1 << 20 {
        shared.lock().served.push(Served {
            method: recorded.method.clone(),
            path: recorded.path.clone(),
            status: parts.status.as_u16(),
            body: bytes.to_vec(),
        });
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Reads a body at about `rate` bytes a second.
async fn read_slowly(body: Body, rate: u64) -> Vec<u8> {
    use futures_util::StreamExt;
    let started = std::time::Instant::now();
    let mut out = Vec::new();
    let mut stream = body.into_data_stream();
    while let Some(Ok(chunk)) = stream.next().await {
        out.extend_from_slice(&chunk);
        let due = Duration::from_secs_f64(out.len() as f64 / rate.max(1) as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
    out
}

/// An answer the double sent.
#[derive(Debug, Clone)]
pub struct Served {
    /// Method of the request.
    pub method: String,
    /// Path of the request.
    pub path: String,
    /// Status sent.
    pub status: u16,
    /// Body sent.
    pub body: Vec<u8>,
}

async fn route(shared: &Shared, req: &Recorded) -> Response {
    let canned = shared
        .lock()
        .canned
        .get(&(req.method.clone(), req.path.clone()))
        .cloned();
    if let Some(c) = canned {
        let mut resp = (
            StatusCode::from_u16(c.status).unwrap_or(StatusCode::OK),
            c.body,
        )
            .into_response();
        for (k, v) in c.headers {
            if let (Ok(k), Ok(v)) = (
                header::HeaderName::from_bytes(k.as_bytes()),
                header::HeaderValue::from_str(&v),
            ) {
                resp.headers_mut().insert(k, v);
            }
        }
        return resp;
    }
    if req.path.starts_with("/__upload/") {
        let stall = match shared.lock().upload_mode {
            UploadMode::Stall(d) => Some(d),
            _ => None,
        };
        if let Some(d) = stall {
            tokio::time::sleep(d).await;
        }
        return upload(shared, req);
    }
    let public = matches!(
        req.path.as_str(),
        "/client-apps" | "/__double/stats" | "/oidc/token"
    );
    if !public {
        let stall =
            shared.lock().api_stall.clone().filter(|(method, part, _)| {
                req.method == *method && req.path.contains(part.as_str())
            });
        if let Some((_, _, wait)) = stall {
            tokio::time::sleep(wait).await;
        }
        if let Some(r) = api_gate(shared, req) {
            return r;
        }
        let resp = routes::serve(&mut shared.lock(), req);
        let slow = shared
            .lock()
            .slow_answer
            .clone()
            .filter(|(method, part, _)| req.method == *method && req.path.contains(part.as_str()));
        if let Some((_, _, wait)) = slow {
            tokio::time::sleep(wait).await;
        }
        return resp;
    }
    match (req.method.as_str(), req.path.as_str()) {
        ("GET", "/client-apps") => client_apps(shared),
        ("GET", "/__double/stats") => {
            let s = shared.lock();
            let exchanges = s
                .requests
                .iter()
                .filter(|r| r.path == "/oidc/token")
                .count();
            json_response(
                StatusCode::OK,
                json!({"requests": s.requests.len(), "token_exchanges": exchanges}),
            )
        }
        ("POST", "/oidc/token") => token(shared, req).await,
        _ => json_response(
            StatusCode::NOT_FOUND,
            json!({"message": format!("Cannot {} {}", req.method, req.path), "error": "Not Found", "statusCode": 404}),
        ),
    }
}

fn client_apps(shared: &Shared) -> Response {
    if !shared.lock().client_apps_ok {
        return json_response(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"message": "unavailable"}),
        );
    }
    // ClientAppsResponseDto: {cli*:{appId*}, vscode*:{appId*}, intellij*:{appId*}}
    json_response(
        StatusCode::OK,
        json!({
            "cli": {"appId": CLI_APP_ID},
            "vscode": {"appId": "double-vscode-app"},
            "intellij": {"appId": "double-intellij-app"}
        }),
    )
}

async fn token(shared: &Shared, req: &Recorded) -> Response {
    let failure = {
        let mut s = shared.lock();
        (!s.token_failures.is_empty()).then(|| s.token_failures.remove(0))
    };
    if let Some(code) = failure {
        let status = StatusCode::from_u16(code).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let mut resp = (status, "try again").into_response();
        if code == 429 {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
        }
        return resp;
    }
    let form = req.form();
    let (mode, expires_in) = {
        let s = shared.lock();
        (s.token_mode.clone(), s.expires_in)
    };
    if let TokenMode::Slow(d) = &mode {
        tokio::time::sleep(*d).await;
    }
    match mode {
        TokenMode::Unauthorized => {
            return json_response(StatusCode::UNAUTHORIZED, json!({"error": "invalid_client"}));
        }
        TokenMode::InvalidGrant => {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_grant", "error_description": "grant request is invalid"}),
            );
        }
        TokenMode::NotAllowed => {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_request", "error_description": "token_exchange_not_allowed"}),
            );
        }
        TokenMode::NoAccessToken => {
            return json_response(
                StatusCode::OK,
                json!({"token_type": "Bearer", "expires_in": 600}),
            );
        }
        TokenMode::Html => {
            return (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                "<!doctype html><html><body>Sign in</body></html>",
            )
                .into_response();
        }
        TokenMode::ServerError => {
            return (StatusCode::INTERNAL_SERVER_ERROR, "upstream failure").into_response();
        }
        TokenMode::EchoSecret => {
            let subject = form.get("subject_token").cloned().unwrap_or_default();
            return json_response(
                StatusCode::UNAUTHORIZED,
                json!({"error": "invalid_token", "error_description": format!("token {subject} is revoked")}),
            );
        }
        TokenMode::EchoSecretInCode => {
            let subject = form.get("subject_token").cloned().unwrap_or_default();
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": format!("bad_{subject}"), "error_description": format!("token {subject} is revoked")}),
            );
        }
        TokenMode::Redirect(to) => {
            return (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)], "").into_response();
        }
        TokenMode::ControlToken => {
            return json_response(
                StatusCode::OK,
                json!({"access_token": "abc\u{1b}]0;pwned\u{7}def\nX-Injected: 1", "token_type": "Bearer", "expires_in": 600}),
            );
        }
        TokenMode::ExpiresIn(_) | TokenMode::Normal | TokenMode::Slow(_) => {}
    }
    let grant = form.get("grant_type").map(String::as_str);
    if grant == Some("refresh_token") {
        // rotation: the refresh token used stops working, a new one comes with the answer
        let used = form.get("refresh_token").cloned().unwrap_or_default();
        if !shared.lock().refresh_tokens.remove(&used) {
            return json_response(
                StatusCode::BAD_REQUEST,
                json!({"error": "invalid_grant", "error_description": "grant request is invalid"}),
            );
        }
        let n = shared.counter.fetch_add(1, Ordering::SeqCst) + 1;
        let token = format!("double-access-token-{n:06}");
        let refresh = format!("double-refresh-token-{n:06}");
        {
            let mut s = shared.lock();
            s.issued.insert(token.clone());
            s.refresh_tokens.insert(refresh.clone());
        }
        return json_response(
            StatusCode::OK,
            json!({"access_token": token, "refresh_token": refresh, "token_type": "Bearer", "expires_in": expires_in, "scope": "openid offline_access"}),
        );
    }
    if grant != Some("urn:ietf:params:oauth:grant-type:token-exchange") {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported_grant_type"}),
        );
    }
    if form.get("subject_token_type").map(String::as_str)
        != Some("urn:logto:token-type:personal_access_token")
        || form.get("client_id").is_none_or(|c| c.is_empty())
    {
        return json_response(StatusCode::BAD_REQUEST, json!({"error": "invalid_request"}));
    }
    let subject = form.get("subject_token").cloned().unwrap_or_default();
    if !shared.lock().pats.contains(&subject) {
        return json_response(
            StatusCode::BAD_REQUEST,
            json!({"error": "invalid_grant", "error_description": "grant request is invalid"}),
        );
    }
    let n = shared.counter.fetch_add(1, Ordering::SeqCst) + 1;
    let token = format!("double-access-token-{n:06}");
    shared.lock().issued.insert(token.clone());
    let expires_in = match mode {
        TokenMode::ExpiresIn(v) => v,
        _ => json!(expires_in),
    };
    json_response(
        StatusCode::OK,
        json!({
            "access_token": token,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": ""
        }),
    )
}

mod manage;
mod platform;
pub mod routes;
mod tls;

pub use tls::TestCa;

pub use manage::report_bytes;
pub use platform::{RESULT_TYPES, sample_finding, sample_findings, sample_violation};
use platform::{api_gate, upload};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_forms() {
        let pairs = url_decode_pairs("a=1+2&b=%2Fx%3D&c");
        assert_eq!(
            pairs,
            vec![
                ("a".into(), "1 2".into()),
                ("b".into(), "/x=".into()),
                ("c".into(), String::new())
            ]
        );
    }
}
