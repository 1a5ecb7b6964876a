//! Findings: one page, every page of a type (paging that does not trust the server, several
//! pages in flight at once: [`Pages`]), and the normalised [`Finding`] every report is built
//! from.

use serde::{Deserialize, Serialize};

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::error::{Error, Result};
use crate::platform::api::{Api, seg};
use crate::platform::de;

mod grouped;
pub use grouped::{Grouped, grouped};

/// Result types in the order reports list them.
pub const RESULT_TYPES: &[&str] = &["sast", "sca", "iac", "secret", "cicd", "container"];

/// Severities from most to least severe.
pub const SEVERITIES: &[&str] = &["critical", "high", "medium", "low"];

/// States that no longer count as open findings.
pub const CLOSED_STATES: &[&str] = &["resolved", "not_exploitable", "ignored"];

/// Most pages read for one result type.
pub const MAX_PAGES: u64 = 5_000;
/// Most findings held for one command, over every type.
pub const MAX_FINDINGS: usize = 500_000;
/// Most bytes of finding text held for one command.
pub const MAX_FINDING_BYTES: usize = 512 << 20;

/// One finding, normalised across result types and response shapes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Finding {
    /// Finding id.
    pub id: String,
    /// Result type (`sast`, `sca`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Rule or vulnerability name.
    pub name: String,
    /// Description (markdown).
    pub description: String,
    /// `critical`, `high`, `medium`, `low` or what the API said, lower-case.
    pub severity: String,
    /// `to_verify`, `confirmed`, ...
    pub state: String,
    /// Language or ecosystem.
    pub language: String,
    /// File path, or `package@version` for dependencies.
    pub path: String,
    /// First line.
    pub start_line: Option<u64>,
    /// Last line.
    pub end_line: Option<u64>,
    /// The branch the finding was seen on (empty when the server did not say).
    pub branch: String,
    /// How to fix (markdown).
    pub how_to_prevent: String,
    /// CWE ids.
    pub cwe: Vec<String>,
    /// OWASP Top 10 tags.
    pub owasp_top10: Vec<String>,
    /// Dependencies: the manifest that brings the package in (`package.json`), when the API
    /// says which.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub manifest: Option<String>,
    /// Dependencies: the advisory (`GHSA-…`, `CVE-…`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advisory: Option<String>,
    /// Dependencies: the first version without the vulnerability, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_version: Option<String>,
    /// When the platform first saw it (`createdAt`), as sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_seen: Option<String>,
}

impl Finding {
    /// Whether the finding is still open.
    pub fn is_open(&self) -> bool {
        !CLOSED_STATES.contains(&self.state.as_str())
    }

    /// Bytes of text it holds (for the memory budget).
    fn weight(&self) -> usize {
        self.id.len()
            + self.name.len()
            + self.description.len()
            + self.severity.len()
            + self.state.len()
            + self.language.len()
            + self.path.len()
            + self.branch.len()
            + self.how_to_prevent.len()
            + self
                .cwe
                .iter()
                .chain(&self.owasp_top10)
                .map(String::len)
                .sum::<usize>()
            + 256
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Vulnerability {
    #[serde(deserialize_with = "de::text")]
    name: Option<String>,
    #[serde(deserialize_with = "de::text")]
    description: Option<String>,
    #[serde(deserialize_with = "de::text")]
    severity: Option<String>,
    #[serde(rename = "howToPrevent", deserialize_with = "de::text")]
    how_to_prevent: Option<String>,
    #[serde(deserialize_with = "de::texts")]
    cwe: Vec<String>,
    #[serde(rename = "owaspTop10", deserialize_with = "de::texts")]
    owasp_top10: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Base {
    #[serde(deserialize_with = "de::text")]
    id: Option<String>,
    #[serde(rename = "currentSeverity", deserialize_with = "de::text")]
    current_severity: Option<String>,
    #[serde(rename = "currentState", deserialize_with = "de::text")]
    current_state: Option<String>,
    #[serde(deserialize_with = "de::text")]
    language: Option<String>,
    #[serde(deserialize_with = "de::text")]
    path: Option<String>,
    #[serde(rename = "vulnerableStartLine", deserialize_with = "de::count")]
    start_line: Option<u64>,
    #[serde(rename = "vulnerableEndLine", deserialize_with = "de::count")]
    end_line: Option<u64>,
    #[serde(deserialize_with = "de::text")]
    branch: Option<String>,
    #[serde(rename = "createdAt", deserialize_with = "de::text")]
    created_at: Option<String>,
    #[serde(deserialize_with = "lenient_vulnerability")]
    vulnerability: Vulnerability,
}

fn lenient_vulnerability<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Vulnerability, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(v).unwrap_or_default())
}

fn lenient_base<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Base>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(v.is_object()
        .then(|| serde_json::from_value(v).ok())
        .flatten())
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Cwe {
    #[serde(rename = "cweId", deserialize_with = "de::text")]
    cwe_id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Metadata {
    #[serde(deserialize_with = "de::text")]
    summary: Option<String>,
    #[serde(rename = "ghsaId", deserialize_with = "de::text")]
    ghsa_id: Option<String>,
    #[serde(rename = "cveId", deserialize_with = "de::text")]
    cve_id: Option<String>,
    #[serde(deserialize_with = "de::text")]
    details: Option<String>,
    #[serde(deserialize_with = "de::lenient_list")]
    cwes: Vec<Cwe>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Library {
    #[serde(rename = "packageName", deserialize_with = "de::text")]
    package_name: Option<String>,
    #[serde(rename = "packageVersion", deserialize_with = "de::text")]
    package_version: Option<String>,
    #[serde(deserialize_with = "de::text")]
    ecosystem: Option<String>,
    /// The manifests that bring the package in.
    #[serde(deserialize_with = "de::texts")]
    path: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Autofix {
    #[serde(rename = "installCommand", deserialize_with = "de::text")]
    install_command: Option<String>,
    #[serde(rename = "vulnerablePackage", deserialize_with = "de::text")]
    vulnerable_package: Option<String>,
    #[serde(rename = "recommendedProposedVersion", deserialize_with = "de::text")]
    recommended_version: Option<String>,
}

/// One item of a results page: `{base: {...}, metadata, library, autofixRecords}` (the live
/// API) or the base fields at the top level (the spec).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Item {
    #[serde(deserialize_with = "lenient_base")]
    base: Option<Base>,
    #[serde(flatten)]
    top: Base,
    #[serde(deserialize_with = "lenient_object")]
    metadata: Option<Metadata>,
    #[serde(deserialize_with = "lenient_object")]
    library: Option<Library>,
    #[serde(rename = "autofixRecords", deserialize_with = "de::lenient_list")]
    autofix: Vec<Autofix>,
}

fn lenient_object<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let v = serde_json::Value::deserialize(d)?;
    Ok(v.is_object()
        .then(|| serde_json::from_value(v).ok())
        .flatten())
}

impl Item {
    fn into_finding(self, kind: &str) -> Finding {
        let base = self.base.unwrap_or(self.top);
        let v = base.vulnerability;
        let mut f = Finding {
            id: base.id.unwrap_or_default(),
            kind: kind.to_owned(),
            name: v.name.unwrap_or_default(),
            description: v.description.unwrap_or_default(),
            severity: base
                .current_severity
                .or(v.severity)
                .unwrap_or_default()
                .to_ascii_lowercase(),
            state: base.current_state.unwrap_or_default().to_ascii_lowercase(),
            language: base.language.unwrap_or_default(),
            path: base.path.unwrap_or_default(),
            start_line: base.start_line,
            end_line: base.end_line,
            branch: base.branch.unwrap_or_default(),
            how_to_prevent: v.how_to_prevent.unwrap_or_default(),
            cwe: v.cwe,
            owasp_top10: v.owasp_top10,
            manifest: None,
            advisory: None,
            fixed_version: None,
            first_seen: base.created_at,
        };
        // Dependency findings: the name and fix live in `metadata`, `library`, `autofixRecords`.
        if let Some(meta) = self.metadata {
            if f.name.is_empty() {
                f.name = meta
                    .summary
                    .clone()
                    .or(meta.ghsa_id.clone())
                    .unwrap_or_default();
            }
            if f.description.is_empty() {
                f.description = meta.details.unwrap_or_default();
            }
            if f.cwe.is_empty() {
                f.cwe = meta.cwes.into_iter().filter_map(|c| c.cwe_id).collect();
            }
            f.advisory = meta.ghsa_id.or(meta.cve_id);
        }
        if let Some(lib) = self.library {
            if let (Some(p), Some(v)) = (lib.package_name, lib.package_version) {
                f.path = format!("{p}@{v}");
            }
            if let Some(eco) = lib.ecosystem {
                f.language = eco;
            }
            f.manifest = lib.path.into_iter().find(|p| !p.trim().is_empty());
        }
        f.fixed_version = self
            .autofix
            .first()
            .and_then(|a| a.recommended_version.clone());
        if f.how_to_prevent.is_empty()
            && let Some(first) = self.autofix.into_iter().next()
        {
            if let Some(cmd) = first.install_command {
                f.how_to_prevent = format!("Run: `{cmd}`");
            } else if let (Some(p), Some(v)) = (first.vulnerable_package, first.recommended_version)
            {
                f.how_to_prevent = format!("Update {p} to version {v} or later.");
            }
        }
        f
    }
}

/// Normalises one item of a results page.
pub fn finding(kind: &str, item: &serde_json::Value) -> Finding {
    Item::deserialize(item)
        .unwrap_or_default()
        .into_finding(kind)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RawPage {
    #[serde(rename = "projectName", deserialize_with = "de::text")]
    project_name: Option<String>,
    #[serde(deserialize_with = "de::count")]
    page: Option<u64>,
    #[serde(rename = "totalPages", deserialize_with = "de::count")]
    total_pages: Option<u64>,
    #[serde(deserialize_with = "de::count")]
    total: Option<u64>,
    vulnerabilities: Option<Vec<serde_json::Value>>,
}

/// The spec declares an array of pages; the API answers one page object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum PageAnswer {
    One(RawPage),
    Many(Vec<RawPage>),
}

/// One page of flat results.
#[derive(Debug, Clone)]
pub struct ResultsPage {
    /// For report titles.
    pub project_name: String,
    /// This page (1-based).
    pub page: u64,
    /// Pages in all (0 when the server did not say).
    pub total_pages: u64,
    /// Findings in all.
    pub total: u64,
    /// This page's findings, normalised.
    pub findings: Vec<Finding>,
}

/// Filters of a results query.
#[derive(Debug, Clone, Default)]
pub struct ResultsQuery {
    /// Only this branch.
    pub branch: Option<String>,
    /// Only these severities (empty: all four).
    pub severities: Vec<String>,
    /// Only open findings (`to_verify`, `confirmed`); otherwise every state.
    pub open_only: bool,
}

/// `GET /project/{id}/results/{type}` for one page.
pub async fn page(
    api: &Api<'_>,
    project: &str,
    kind: &str,
    page: u64,
    per_page: u64,
    q: &ResultsQuery,
) -> Result<ResultsPage> {
    let mut query: Vec<(String, String)> = vec![
        ("order".into(), "asc".into()),
        ("sort".into(), "currentSeverity".into()),
        ("pageNumber".into(), page.to_string()),
        ("pageSizeNumber".into(), per_page.to_string()),
    ];
    if matches!(kind, "container" | "sca") {
        // The spec names these two endpoints' paging `page` / `limit`.
        query.push(("page".into(), page.to_string()));
        query.push(("limit".into(), per_page.to_string()));
    }
    let sevs: Vec<String> = if q.severities.is_empty() {
        SEVERITIES.iter().map(|s| (*s).to_owned()).collect()
    } else {
        q.severities.clone()
    };
    for s in sevs {
        query.push(("severity[]".into(), s));
    }
    for p in ["critical_urgent", "urgent", "normal", "low", "very_low"] {
        query.push(("priority[]".into(), p.into()));
    }
    if q.open_only {
        query.push(("status[]".into(), "to_verify".into()));
        query.push(("status[]".into(), "confirmed".into()));
    }
    if let Some(b) = q.branch.as_deref().filter(|b| !b.is_empty()) {
        query.push(("branch".into(), b.to_owned()));
    }
    let path = format!("/project/{}/results/{kind}", seg(project));
    let what = format!("{kind} results");
    let answer: Option<PageAnswer> = api.get(&what, &path, &query).await?;
    let raw = match answer {
        Some(PageAnswer::One(p)) => p,
        Some(PageAnswer::Many(mut v)) if !v.is_empty() => v.swap_remove(0),
        _ => RawPage::default(),
    };
    let items = raw.vulnerabilities.unwrap_or_default();
    Ok(ResultsPage {
        project_name: crate::text::one_line(&raw.project_name.unwrap_or_default(), 200),
        page: raw.page.unwrap_or(page),
        total_pages: raw.total_pages.unwrap_or(0),
        total: raw.total.unwrap_or(items.len() as u64),
        findings: items.iter().map(|i| finding(kind, i)).collect(),
    })
}

/// A results page's bytes through the reader (fuzzing).
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_page(data: &[u8]) {
    if let Ok(Some(answer)) = crate::platform::parse::<Option<PageAnswer>>("fuzz", data) {
        let raw = match answer {
            PageAnswer::One(p) => p,
            PageAnswer::Many(mut v) if !v.is_empty() => v.swap_remove(0),
            PageAnswer::Many(_) => RawPage::default(),
        };
        let budget = Budget::default();
        let findings: Vec<Finding> = raw
            .vulnerabilities
            .unwrap_or_default()
            .iter()
            .map(|i| finding("sca", i))
            .collect();
        let _ = budget.take("fuzz", &findings);
    }
}

/// What [`Pages`] counts across result types, so that caps hold for the whole command (shared
/// by the types fetched at once).
#[derive(Debug, Default)]
pub struct Budget {
    findings: AtomicUsize,
    bytes: AtomicUsize,
    /// Items fetched so far, for a progress display that runs beside the fetch.
    seen: Arc<AtomicU64>,
}

/// Bytes a JSON value holds, text and structure (for the memory budget of a listing).
pub(crate) fn value_weight(v: &serde_json::Value) -> usize {
    use serde_json::Value;
    32 + match v {
        Value::String(s) => s.len(),
        Value::Array(a) => a.iter().map(value_weight).sum(),
        Value::Object(m) => m.iter().map(|(k, v)| k.len() + value_weight(v)).sum(),
        _ => 0,
    }
}

impl Budget {
    /// The number of items fetched so far, updated as pages arrive (for progress).
    pub fn seen(&self) -> Arc<AtomicU64> {
        self.seen.clone()
    }

    /// [`Budget::take`] for the server's objects of any listing (projects, teams, ...).
    pub fn take_values(&self, what: &str, items: &[serde_json::Value]) -> Result<()> {
        self.add(items.len(), items.iter().map(value_weight).sum::<usize>());
        self.check(what, "items")
    }

    fn take(&self, what: &str, findings: &[Finding]) -> Result<()> {
        self.add(
            findings.len(),
            findings.iter().map(Finding::weight).sum::<usize>(),
        );
        self.seen
            .fetch_add(findings.len() as u64, Ordering::Relaxed);
        self.check(what, "findings")
    }

    /// Whether the caps were passed (the command cannot go on with any type).
    pub fn exceeded(&self) -> bool {
        self.findings.load(Ordering::Relaxed) > MAX_FINDINGS
            || self.bytes.load(Ordering::Relaxed) > MAX_FINDING_BYTES
    }

    fn add(&self, findings: usize, bytes: usize) {
        self.findings.fetch_add(findings, Ordering::Relaxed);
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
    }

    fn check(&self, what: &str, things: &str) -> Result<()> {
        let over = self.findings.load(Ordering::Relaxed) > MAX_FINDINGS
            || self.bytes.load(Ordering::Relaxed) > MAX_FINDING_BYTES;
        if things != "findings" && over {
            return Err(Error::failure(format!(
                "{what}: the server sent more than {MAX_FINDINGS} {things} or {} MiB of them; stopped",
                MAX_FINDING_BYTES >> 20
            ))
            .with_hint("narrow the listing (`--search`), or ask CybeDefend support about this account's data"));
        }
        if over {
            return Err(Error::failure(format!(
                "{what}: the server sent more than {MAX_FINDINGS} findings or {} MiB of them; stopped",
                MAX_FINDING_BYTES >> 20
            ))
            .with_hint("narrow the query (`--type`, `--branch`), or fetch pages one at a time with `--all=false --page N`"));
        }
        Ok(())
    }
}

/// Requests of one command in flight at once when `http_concurrency` is not set: measured by
/// `scripts/bench-results.sh` (5,000 findings, 0.2 s a page: 1 → 10.6 s, 4 → 2.9 s, 8 → 1.7 s,
/// 16 → 1.1 s); 8 keeps most of the gain without pressing a server that answers slowly because
/// it is busy.
pub const DEFAULT_CONCURRENCY: usize = 8;
/// Most requests in flight at once, whatever is configured.
pub const MAX_CONCURRENCY: usize = crate::config::MAX_HTTP_CONCURRENCY;

/// Every page of result types, several requests in flight at once: the types fetched side by
/// side, and within a type the pages after the first (which says how many there are) requested
/// ahead, at most `concurrency` requests in flight over all. Each type's pages reach its sink in
/// page order. Paging stops at the last page the server announces, at an empty page, or at a page
/// that repeats the previous one (a server that ignores the page number); more than
/// [`MAX_PAGES`] pages, or more findings than the [`Budget`] allows, is an error. Requests still
/// in flight when a type stops are dropped (cancelled), and so are all of them when the future
/// is dropped (a fatal error of another type, Ctrl-C).
pub struct Pages<'a> {
    api: &'a Api<'a>,
    project: &'a str,
    query: &'a ResultsQuery,
    budget: &'a Budget,
    permits: tokio::sync::Semaphore,
    window: usize,
    /// Bytes of the pages that arrived ahead of their turn, over every type.
    held: AtomicUsize,
    /// A page was taken, or one ahead was dropped.
    freed: tokio::sync::Notify,
}

/// Most bytes of findings held in pages that arrived ahead of their turn (a slow page and fast
/// ones after it), over every type: past it, only the page each type needs next is requested.
pub const MAX_HELD_BYTES: usize = 32 << 20;

/// A page that arrived ahead: its bytes count in [`Pages`]' `held` until it is dropped.
struct Held<'p, 'a> {
    pages: &'p Pages<'a>,
    bytes: usize,
}

impl Drop for Held<'_, '_> {
    fn drop(&mut self) {
        self.pages.held.fetch_sub(self.bytes, Ordering::SeqCst);
        self.pages.freed.notify_waiters();
    }
}

/// Findings a page of [`Pages`] asks for.
pub const PAGE_SIZE: u64 = 100;

impl<'a> Pages<'a> {
    /// Pages of `project`'s results; `concurrency` is clamped to `1..=MAX_CONCURRENCY`.
    pub fn new(
        api: &'a Api<'a>,
        project: &'a str,
        query: &'a ResultsQuery,
        budget: &'a Budget,
        concurrency: usize,
    ) -> Self {
        let n = concurrency.clamp(1, MAX_CONCURRENCY);
        Self {
            api,
            project,
            query,
            budget,
            permits: tokio::sync::Semaphore::new(n),
            window: n,
            held: AtomicUsize::new(0),
            freed: tokio::sync::Notify::new(),
        }
    }

    async fn page(&self, kind: &str, number: u64) -> Result<ResultsPage> {
        // the semaphore is never closed
        let _permit = self.permits.acquire().await;
        page(self.api, self.project, kind, number, PAGE_SIZE, self.query).await
    }

    /// Page `number`, requested ahead of its turn: while the pages held ahead pass
    /// [`MAX_HELD_BYTES`], it waits until it is the page its type needs next (`next`), which is
    /// never held back (so paging always moves on).
    async fn page_ahead<'p>(
        &'p self,
        kind: &str,
        number: u64,
        next: &AtomicU64,
    ) -> Result<(ResultsPage, Held<'p, 'a>)> {
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            if self.held.load(Ordering::SeqCst) < MAX_HELD_BYTES
                || next.load(Ordering::SeqCst) >= number
            {
                break;
            }
            freed.await;
        }
        let p = self.page(kind, number).await?;
        let bytes = p.findings.iter().map(Finding::weight).sum::<usize>();
        self.held.fetch_add(bytes, Ordering::SeqCst);
        Ok((p, Held { pages: self, bytes }))
    }

    /// Every page of `kind`, each page's findings given to `sink` in page order; returns the
    /// project's name as the first page gave it.
    pub async fn each(
        &self,
        kind: &str,
        sink: &mut (dyn FnMut(Vec<Finding>) -> Result<()> + Send),
    ) -> Result<String> {
        use futures_util::StreamExt as _;
        let what = format!("{kind} results");
        let mut previous_ids: Vec<String> = Vec::new();
        // takes a page in order; whether paging goes on after it
        let mut take = |p: ResultsPage, number: u64| -> Result<bool> {
            if p.findings.is_empty() {
                return Ok(false);
            }
            let ids: Vec<String> = p.findings.iter().map(|f| f.id.clone()).collect();
            if ids == previous_ids {
                tracing::debug!(
                    "{what}: page {number} repeats page {}; stopping",
                    number - 1
                );
                return Ok(false);
            }
            self.budget.take(&what, &p.findings)?;
            previous_ids = ids;
            sink(p.findings)?;
            Ok(number < p.total_pages)
        };
        let first = self.page(kind, 1).await?;
        let name = first.project_name.clone();
        let mut announced = first.total_pages;
        if !take(first, 1)? {
            return Ok(name);
        }
        let mut next = 2;
        // the page this type needs next, which is never held back
        let needed = AtomicU64::new(2);
        loop {
            let last = announced.min(MAX_PAGES);
            let needed = &needed;
            let mut pages = futures_util::stream::iter(next..=last)
                .map(|n| self.page_ahead(kind, n, needed))
                .buffered(self.window);
            let mut number = next - 1;
            while let Some(p) = pages.next().await {
                number += 1;
                let (p, held) = p?;
                announced = p.total_pages;
                let more = take(p, number)?;
                needed.store(number + 1, Ordering::SeqCst);
                drop(held);
                if !more {
                    return Ok(name);
                }
            }
            // every planned page was full and the last one announced more
            if last >= MAX_PAGES {
                return Err(Error::failure(format!(
                    "{what}: the server announced {announced} pages; stopped after {MAX_PAGES}"
                )));
            }
            next = last + 1;
        }
    }

    /// Whether the command's caps on findings were passed ([`Budget::exceeded`]).
    pub fn over_budget(&self) -> bool {
        self.budget.exceeded()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn findings_read_base_wrapper_and_top_level() {
        let wrapped = json!({"base": {"id": "1", "currentSeverity": "HIGH", "currentState": "to_verify", "path": "a.js",
            "vulnerableStartLine": "3", "vulnerability": {"name": "XSS", "cwe": ["CWE-79"]}}});
        let flat = json!({"id": "1", "currentSeverity": "HIGH", "currentState": "to_verify", "path": "a.js",
            "vulnerableStartLine": 3, "vulnerability": {"name": "XSS", "cwe": ["CWE-79"]}});
        assert_eq!(finding("sast", &wrapped), finding("sast", &flat));
        assert_eq!(finding("sast", &flat).severity, "high");
        assert_eq!(finding("sast", &flat).start_line, Some(3));
    }

    #[test]
    fn dependency_findings_take_name_path_and_fix_from_metadata() {
        let item = json!({"base": {"id": "9", "currentSeverity": "critical", "vulnerability": {}},
            "metadata": {"summary": "Prototype pollution", "cwes": [{"cweId": "CWE-1321"}]},
            "library": {"packageName": "lodash", "packageVersion": "4.17.20", "ecosystem": "npm"},
            "autofixRecords": [{"vulnerablePackage": "lodash", "recommendedProposedVersion": "4.17.21"}]});
        let f = finding("sca", &item);
        assert_eq!(f.name, "Prototype pollution");
        assert_eq!(f.path, "lodash@4.17.20");
        assert_eq!(f.language, "npm");
        assert_eq!(f.cwe, vec!["CWE-1321"]);
        assert_eq!(
            f.how_to_prevent,
            "Update lodash to version 4.17.21 or later."
        );
    }

    #[test]
    fn hostile_items_never_fail_or_overflow() {
        for item in [
            json!([]),
            json!("x"),
            json!(5),
            json!({"base": "x", "vulnerableStartLine": 1e30, "vulnerability": 7}),
            json!({"metadata": [], "library": 3, "autofixRecords": {}}),
        ] {
            let f = finding("sast", &item);
            assert_eq!(f.start_line, None, "{item}");
        }
    }
}
