//! `api`: any request to the platform's API with this CLI's credential (as `gh api`).

use std::io::Read;

use clap::Args;
use cybedefend_core::platform::Method;
use cybedefend_core::platform::body_excerpt;
use cybedefend_core::platform::http::{JSON_BODY_CAP, read_body};
use cybedefend_core::{Error, Result};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::output::{Printer, json_safe};

/// Largest answer printed.
const ANSWER_CAP: usize = 64 << 20;
/// Largest body sent with `--input` or read by `-F key=@file`.
const INPUT_CAP: u64 = 64 << 20;
/// Most pages `--paginate` follows.
const MAX_PAGES: u64 = 10_000;
/// How much of an error's body goes to stderr.
const ERROR_BODY_CAP: usize = 16 * 1024;

/// `api`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
PATH is an API path (`/project/ID`, `project/ID/results/sast?pageNumber=2`), sent to the API URL
of the active profile and region, or a whole URL on that same origin; no other host is reached.
The credential is the one every command finds (--pat, CYBEDEFEND_PAT, a login, the keyring or
a provider); the request carries an access token exchanged from it, never the PAT itself.

With -f/-F the fields make a JSON body and the method becomes POST (with -X GET they go into the
query string instead). Keys may nest: -f 'filter[severity]=high' -f 'tags[]=a' -f 'tags[]=b'.

Exit codes: 0 for a 2xx answer; 1 for 404 and other failures; 3 when the API cannot be
reached (or answers 5xx or 429 after the retries); 4 for 401/403; 5 when --paginate had to stop
before the last page (a page sent twice, or 10,000 pages). The answer's body goes to stdout; an
error's body to stderr.

Examples:
  cybedefend api /project/ID
  cybedefend api /project/ID/results/sast --paginate > findings.json
  cybedefend api -X PATCH /project/ID -f name=renamed
  cybedefend api /organization/ORG/projects -X GET -F page=2 -F pageSize=50
  cybedefend api --include /user/profile
  echo '{\"name\":\"demo\"}' | cybedefend api -X POST /project --input -")]
pub(crate) struct ApiArgs {
    /// An API path, or a URL on the API's own origin
    #[arg(value_name = "PATH")]
    pub(crate) path: String,
    /// HTTP method: GET by default, POST when fields are given
    #[arg(short = 'X', long = "method", value_name = "METHOD")]
    pub(crate) method: Option<String>,
    /// A string field of the JSON body: KEY=VALUE (repeatable)
    #[arg(short = 'f', long = "raw-field", value_name = "KEY=VALUE")]
    pub(crate) raw_fields: Vec<String>,
    /// A typed field: true, false, null and integers become JSON values, @FILE a file's text
    /// (@- standard input); repeatable
    #[arg(short = 'F', long = "field", value_name = "KEY=VALUE")]
    pub(crate) fields: Vec<String>,
    /// Send FILE (- for standard input) as the body, as it is
    #[arg(long, value_name = "FILE", conflicts_with_all = ["raw_fields", "fields"])]
    pub(crate) input: Option<String>,
    /// A request header, 'Name: value' (repeatable); the credential's headers are the CLI's
    #[arg(short = 'H', long = "header", value_name = "NAME: VALUE")]
    pub(crate) headers: Vec<String>,
    /// Follow the pages (`page` or `pageNumber` against `totalPages`) and print every page's
    /// items as one JSON array
    #[arg(long)]
    pub(crate) paginate: bool,
    /// Print the status line and the answer's headers before its body
    #[arg(short = 'i', long)]
    pub(crate) include: bool,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: ApiArgs) -> Result<Exit> {
    let app = App::load(global, out)?;
    let request = Prepared::of(&args)?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let url = target(&connected.endpoints.api_url, &args.path)?;
    if args.paginate {
        return paginate(&app, &api, &request, url).await;
    }
    let mut url = url;
    if let Some(q) = &request.query {
        append_query(&mut url, q);
    }
    let what = format!("{} {}", request.method, url.path());
    let resp = api
        .raw(&what, request.method.clone(), &url, &|r| request.apply(r))
        .await?;
    let status = resp.status();
    if args.include {
        let mut head = format!(
            "HTTP/1.1 {} {}\n",
            status.as_u16(),
            status.canonical_reason().unwrap_or("")
        );
        for (name, value) in resp.headers() {
            let v = if name == reqwest::header::SET_COOKIE {
                "(hidden)".into()
            } else {
                String::from_utf8_lossy(value.as_bytes()).into_owned()
            };
            head.push_str(&format!("{name}: {v}\n"));
        }
        app.out.data(&head);
    }
    if status.is_success() {
        let body = read_body(&what, resp, ANSWER_CAP).await?;
        print_body(&app, &body);
        return Ok(Exit::Success);
    }
    let body = read_body(&what, resp, ERROR_BODY_CAP)
        .await
        .unwrap_or_default();
    Err(failed(&app, &what, status.as_u16(), &body))
}

/// The error of an answer that is not 2xx, after its body went to stderr (neutralised,
/// secrets masked).
fn failed(app: &App, what: &str, code: u16, body: &[u8]) -> Error {
    let text = String::from_utf8_lossy(body);
    for line in text.trim().lines() {
        app.out.info(line);
    }
    status_error(what, code, body)
}

/// What the flags say to send.
struct Prepared {
    method: Method,
    headers: HeaderMap,
    body: Option<Vec<u8>>,
    /// Fields that go into the query string (`-X GET` with fields).
    query: Option<Vec<(String, String)>>,
}

impl Prepared {
    fn of(args: &ApiArgs) -> Result<Self> {
        let has_fields = !args.raw_fields.is_empty() || !args.fields.is_empty();
        let method = match &args.method {
            Some(m) => {
                let m = m.trim().to_ascii_uppercase();
                Method::from_bytes(m.as_bytes())
                    .ok()
                    .filter(|_| !m.is_empty() && m != "CONNECT")
                    .ok_or_else(|| {
                        Error::usage(format!(
                            "-X {}: not an HTTP method",
                            cybedefend_core::text::one_line(&m, 40)
                        ))
                        .with_hint("use GET, POST, PUT, PATCH or DELETE")
                    })?
            }
            None if has_fields || args.input.is_some() => Method::POST,
            None => Method::GET,
        };
        if args.paginate && method != Method::GET {
            return Err(
                Error::usage("--paginate follows the pages of a GET request")
                    .with_hint("leave out -X, or use -X GET"),
            );
        }
        let mut headers = HeaderMap::new();
        for h in &args.headers {
            let (name, value) = h.split_once(':').ok_or_else(|| {
                Error::usage(format!(
                    "-H {}: a header is `Name: value`",
                    cybedefend_core::text::one_line(h, 80)
                ))
            })?;
            let name = HeaderName::from_bytes(name.trim().as_bytes()).map_err(|_| {
                Error::usage(format!(
                    "-H: `{}` is not a header name",
                    cybedefend_core::text::one_line(name, 80)
                ))
            })?;
            if matches!(
                name.as_str(),
                "authorization" | "proxy-authorization" | "cookie" | "host"
            ) {
                return Err(Error::usage(format!(
                    "-H {name}: the CLI sets this header itself (the credential is found as for every command)"
                ))
                .with_hint("choose the credential with --pat, CYBEDEFEND_PAT, `login` or --profile"));
            }
            let value = HeaderValue::from_str(value.trim()).map_err(|_| {
                Error::usage(format!(
                    "-H {name}: the value holds characters a header cannot"
                ))
            })?;
            headers.append(name, value);
        }
        let mut fields = Map::new();
        let mut pairs = Vec::new();
        for (raw, list) in [(true, &args.raw_fields), (false, &args.fields)] {
            for f in list {
                let (key, value) = f.split_once('=').ok_or_else(|| {
                    Error::usage(format!(
                        "{} {}: a field is KEY=VALUE",
                        if raw { "-f" } else { "-F" },
                        cybedefend_core::text::one_line(f, 80)
                    ))
                })?;
                let value = if raw {
                    Value::String(value.to_owned())
                } else {
                    typed(value)?
                };
                pairs.push((key.to_owned(), query_text(&value)));
                insert(&mut fields, key, value)?;
            }
        }
        let mut query = None;
        let body = if let Some(input) = &args.input {
            Some(read_input(input)?)
        } else if fields.is_empty() {
            None
        } else if method == Method::GET || method == Method::HEAD {
            query = Some(pairs);
            None
        } else {
            Some(Value::Object(fields).to_string().into_bytes())
        };
        if body.is_some() && !headers.contains_key(reqwest::header::CONTENT_TYPE) {
            headers.insert(
                reqwest::header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if !headers.contains_key(reqwest::header::ACCEPT) {
            headers.insert(
                reqwest::header::ACCEPT,
                HeaderValue::from_static("application/json"),
            );
        }
        Ok(Self {
            method,
            headers,
            body,
            query,
        })
    }

    fn apply(&self, r: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        let r = r.headers(self.headers.clone());
        match &self.body {
            Some(b) => r.body(b.clone()),
            None => r,
        }
    }
}

/// `-F`'s value: `true`, `false`, `null`, an integer, `@FILE`'s text, or the text itself.
fn typed(value: &str) -> Result<Value> {
    Ok(match value {
        "true" => Value::Bool(true),
        "false" => Value::Bool(false),
        "null" => Value::Null,
        v if v.starts_with('@') => {
            let bytes = read_input(&v[1..])?;
            Value::String(String::from_utf8(bytes).map_err(|_| {
                Error::usage(format!(
                    "-F {}: the file is not UTF-8 text",
                    cybedefend_core::text::one_line(v, 80)
                ))
            })?)
        }
        v => match v.parse::<i64>() {
            Ok(n) => Value::from(n),
            Err(_) => Value::String(v.to_owned()),
        },
    })
}

/// A field's value in a query string.
fn query_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Puts `value` at `key` (`a`, `a[b]`, `a[b][]`) in `fields`.
fn insert(fields: &mut Map<String, Value>, key: &str, value: Value) -> Result<()> {
    let bad = || {
        Error::usage(format!(
            "field key `{}`: use `name`, `name[key]` or `name[]`",
            cybedefend_core::text::one_line(key, 80)
        ))
    };
    let (first, mut rest) = match key.find('[') {
        Some(i) => (&key[..i], &key[i..]),
        None => (key, ""),
    };
    if first.is_empty() || first.contains(']') {
        return Err(bad());
    }
    let mut parts = Vec::new();
    while !rest.is_empty() {
        let end = rest.find(']').ok_or_else(bad)?;
        if !rest.starts_with('[') {
            return Err(bad());
        }
        parts.push(&rest[1..end]);
        rest = &rest[end + 1..];
    }
    let mut slot = fields.entry(first.to_owned()).or_insert(Value::Null);
    for p in parts {
        if p.is_empty() {
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            let Value::Array(a) = slot else {
                unreachable!()
            };
            a.push(Value::Null);
            slot = a.last_mut().ok_or_else(bad)?;
        } else {
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            let Value::Object(o) = slot else {
                unreachable!()
            };
            slot = o.entry(p.to_owned()).or_insert(Value::Null);
        }
    }
    *slot = value;
    Ok(())
}

/// A file's bytes (`-` for standard input), at most [`INPUT_CAP`].
fn read_input(name: &str) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let too_big = || {
        Error::usage(format!(
            "{}: larger than {} MB, more than an API request takes",
            if name == "-" { "standard input" } else { name },
            INPUT_CAP >> 20
        ))
    };
    if name == "-" {
        std::io::stdin()
            .lock()
            .take(INPUT_CAP + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::failure(format!("cannot read standard input: {e}")))?;
    } else {
        let path = std::path::Path::new(name);
        let file = cybedefend_core::fsutil::open_regular(path, true)
            .map_err(|e| e.into_error("file", path))?;
        (&file)
            .take(INPUT_CAP + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| cybedefend_core::fsutil::io_error("cannot read", path, &e))?;
    }
    if bytes.len() as u64 > INPUT_CAP {
        return Err(too_big());
    }
    Ok(bytes)
}

/// The URL of `path` on `api_url`'s origin.
fn target(api_url: &str, path: &str) -> Result<url::Url> {
    let base = url::Url::parse(api_url)
        .map_err(|e| Error::usage(format!("the API URL is not valid: {e}")))?;
    let shown = cybedefend_core::text::one_line(path, 120);
    let url = if path.starts_with("http://") || path.starts_with("https://") {
        let u =
            url::Url::parse(path).map_err(|e| Error::usage(format!("{shown}: not a URL ({e})")))?;
        if u.origin() != base.origin() {
            return Err(Error::usage(format!(
                "{shown} is not on the API's origin ({}): `api` sends the credential to the API only",
                base.origin().ascii_serialization()
            ))
            .with_hint("give a path (`/project/ID`), or choose the API with --region or --api-url"));
        }
        u
    } else {
        let joined = format!(
            "{}/{}",
            api_url.trim_end_matches('/'),
            path.trim_start_matches('/')
        );
        url::Url::parse(&joined).map_err(|e| Error::usage(format!("{shown}: not a path ({e})")))?
    };
    let literal = path.split(['?', '#']).next().unwrap_or("");
    if crate::forward::dot_segments(literal) {
        return Err(Error::usage(format!(
            "{shown}: a path with `.` or `..` segments (plain or percent-encoded) would be rewritten before it is sent"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::usage(format!(
            "{shown}: a URL with a user name or password would send a second credential"
        ))
        .with_hint("give the path alone (`/project/ID`)"));
    }
    if url.origin() != base.origin() {
        return Err(Error::usage(format!("{shown} leaves the API's origin")));
    }
    Ok(url)
}

fn append_query(url: &mut url::Url, pairs: &[(String, String)]) {
    let mut q = url.query_pairs_mut();
    for (k, v) in pairs {
        q.append_pair(k, v);
    }
}

/// An answer's body on stdout: JSON as it came (pretty at a terminal), its characters that a
/// terminal would act on escaped; other text neutralised.
fn print_body(app: &App, body: &[u8]) {
    if body.is_empty() {
        return;
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(v) if std::io::IsTerminal::is_terminal(&std::io::stdout()) => {
            let _ = app.out.json(&v);
        }
        Ok(_) => app.out.data(&json_safe(&String::from_utf8_lossy(body))),
        Err(_) => app.out.data(&String::from_utf8_lossy(body)),
    }
}

/// The error of a final answer that is not 2xx: its kind from the status, the body's first
/// line in the message.
fn status_error(what: &str, code: u16, body: &[u8]) -> Error {
    let message = format!("{what}: HTTP {code}: {}", body_excerpt(body));
    let e = match code {
        401 | 403 => Error::auth(message)
            .with_hint("`cybedefend auth status` shows which credential is used and its account"),
        404 => Error::not_found(message).with_hint("check the path and the region (`--region`)"),
        429 | 500..=599 => {
            Error::network(message).with_hint("the platform had a problem or is busy; retry later")
        }
        _ => Error::failure(message),
    };
    e.with_status(code)
}

/// `--paginate`: every page's items, in order, as one JSON array on stdout (written as pages
/// arrive, so memory does not grow with the pages).
async fn paginate(
    app: &App,
    api: &cybedefend_core::platform::Api<'_>,
    request: &Prepared,
    url: url::Url,
) -> Result<Exit> {
    let param = if url.query_pairs().any(|(k, _)| k == "pageNumber") {
        "pageNumber"
    } else {
        "page"
    };
    let first: u64 = url
        .query_pairs()
        .find(|(k, _)| k == param)
        .and_then(|(_, v)| v.parse().ok())
        .filter(|p| (1..=MAX_PAGES).contains(p))
        .unwrap_or(1);
    let mut held: Option<String> = None;
    let mut partial = false;
    let mut previous: Option<Vec<Value>> = None;
    let mut page = first;
    let mut started = false;
    loop {
        let mut u = url.clone();
        let kept: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != param)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        u.set_query(None);
        {
            let mut q = u.query_pairs_mut();
            for (k, v) in &kept {
                q.append_pair(k, v);
            }
            if let Some(extra) = &request.query {
                for (k, v) in extra {
                    q.append_pair(k, v);
                }
            }
            q.append_pair(param, &page.to_string());
        }
        let what = format!("GET {} (page {page})", u.path());
        let resp = api
            .raw(&what, Method::GET, &u, &|r| request.apply(r))
            .await?;
        let status = resp.status();
        if !status.is_success() {
            // (an array begun is left open: what was printed is not the whole list)
            let body = read_body(&what, resp, ERROR_BODY_CAP)
                .await
                .unwrap_or_default();
            return Err(failed(app, &what, status.as_u16(), &body));
        }
        let body = read_body(&what, resp, JSON_BODY_CAP).await?;
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| Error::failure(format!("{what}: the answer is not JSON ({e})")))?;
        let (items, total_pages) = page_items(&what, value)?;
        if previous.as_ref() == Some(&items) && !items.is_empty() {
            app.out.warn(&format!(
                "{what}: the server sent the same page again; the list stops here, incomplete (exit 5)"
            ));
            partial = true;
            break;
        }
        if !started {
            app.out.data("[");
            started = true;
        }
        // one item per line, each followed by a comma but the last: the item before is
        // written when the next one arrives
        let mut lines = Vec::new();
        for item in &items {
            if let Some(p) = held.take() {
                lines.push(format!("  {p},"));
            }
            held = Some(json_safe(&item.to_string()));
        }
        if !lines.is_empty() {
            app.out.data(&lines.join("\n"));
        }
        let done = items.is_empty() || total_pages.is_none_or(|t| page >= t);
        previous = Some(items);
        if done {
            break;
        }
        if page - first + 1 >= MAX_PAGES {
            app.out.warn(&format!(
                "stopped after {MAX_PAGES} pages: the server announced more; the list is incomplete (exit 5)"
            ));
            partial = true;
            break;
        }
        page += 1;
    }
    if let Some(p) = held {
        app.out.data(&format!("  {p}"));
    }
    app.out.data(if started { "]" } else { "[]" });
    Ok(if partial {
        Exit::Partial
    } else {
        Exit::Success
    })
}

/// A page's items and its `totalPages`: the answer itself when it is an array, else its one
/// field that holds an array of objects.
fn page_items(what: &str, value: Value) -> Result<(Vec<Value>, Option<u64>)> {
    match value {
        Value::Array(items) => Ok((items, None)),
        Value::Object(mut o) => {
            let total = match o.get("totalPages") {
                None | Some(Value::Null) => None,
                Some(v) => Some(v.as_u64().filter(|n| *n <= 1_000_000).ok_or_else(|| {
                    Error::failure(format!("{what}: `totalPages` is not a page count"))
                })?),
            };
            let lists: Vec<String> = o
                .iter()
                .filter(|(_, v)| {
                    v.as_array()
                        .is_some_and(|a| a.first().is_none_or(Value::is_object))
                })
                .map(|(k, _)| k.clone())
                .collect();
            let name = match lists.as_slice() {
                [one] => one.clone(),
                [] => {
                    return Err(Error::failure(format!(
                        "{what}: the answer has no list of items to follow"
                    ))
                    .with_hint("leave out --paginate for an answer that is not paged"));
                }
                many => {
                    // an empty list beside a full one: the full one is the page
                    let full: Vec<&String> = many
                        .iter()
                        .filter(|k| o[k.as_str()].as_array().is_some_and(|a| !a.is_empty()))
                        .collect();
                    match full.as_slice() {
                        [one] => (*one).clone(),
                        [] => many[0].clone(),
                        _ => {
                            return Err(Error::failure(format!(
                                "{what}: the answer has several lists ({}); --paginate cannot tell which is the page",
                                many.join(", ")
                            )));
                        }
                    }
                }
            };
            let Some(Value::Array(items)) = o.remove(&name) else {
                unreachable!()
            };
            Ok((items, total))
        }
        _ => Err(Error::failure(format!(
            "{what}: the answer is neither a list nor an object"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_keys_build_objects_and_arrays() {
        let mut m = Map::new();
        insert(&mut m, "name", Value::from("x")).unwrap();
        insert(&mut m, "filter[severity]", Value::from("high")).unwrap();
        insert(&mut m, "tags[]", Value::from("a")).unwrap();
        insert(&mut m, "tags[]", Value::from("b")).unwrap();
        assert_eq!(
            Value::Object(m),
            serde_json::json!({"name": "x", "filter": {"severity": "high"}, "tags": ["a", "b"]})
        );
        for bad in ["", "[a]", "a[b", "a]b"] {
            assert!(insert(&mut Map::new(), bad, Value::Null).is_err(), "{bad}");
        }
    }

    #[test]
    fn typed_fields() {
        assert_eq!(typed("true").unwrap(), Value::Bool(true));
        assert_eq!(typed("null").unwrap(), Value::Null);
        assert_eq!(typed("42").unwrap(), Value::from(42));
        assert_eq!(typed("4.2").unwrap(), Value::from("4.2"));
        assert_eq!(typed("abc").unwrap(), Value::from("abc"));
    }

    #[test]
    fn paths_stay_on_the_api_origin() {
        let api = "https://api-eu.cybedefend.com";
        assert_eq!(
            target(api, "project/1").unwrap().as_str(),
            "https://api-eu.cybedefend.com/project/1"
        );
        assert_eq!(
            target(api, "/project/1?page=2").unwrap().as_str(),
            "https://api-eu.cybedefend.com/project/1?page=2"
        );
        assert!(target(api, "https://api-eu.cybedefend.com/x").is_ok());
        for bad in [
            "https://evil.example/x",
            "http://api-eu.cybedefend.com/x",
            "https://api-eu.cybedefend.com:444/x",
            "/project/../user",
            "//evil.example/x",
            "/x/%2e%2e/user",
            "https://user:pw@api-eu.cybedefend.com/x",
        ] {
            let r = target(api, bad);
            assert!(
                r.as_ref().is_err_and(Error::is_usage)
                    || r.as_ref()
                        .is_ok_and(|u| u.host_str() == Some("api-eu.cybedefend.com")),
                "{bad}: {r:?}"
            );
        }
        assert!(target(api, "https://evil.example/x").is_err());
        assert!(target(api, "/project/../user").is_err());
        assert!(target(api, "/x/%2E%2e/user").is_err());
        assert!(target(api, "https://user:pw@api-eu.cybedefend.com/x").is_err());
    }

    #[test]
    fn pages_are_found_in_the_answer() {
        let (items, total) = page_items(
            "t",
            serde_json::json!({"projects": [{"a": 1}], "severity": ["high"], "totalPages": 3}),
        )
        .unwrap();
        assert_eq!((items.len(), total), (1, Some(3)));
        assert!(page_items("t", serde_json::json!({"totalPages": -1, "x": []})).is_err());
        assert!(page_items("t", serde_json::json!({"a": [{"x": 1}], "b": [{"y": 2}]})).is_err());
    }
}
