//! `results --grouped`: findings grouped by rule or package (JSON), every page merged. The
//! answer must be an object; paging stops at the last page announced, at an empty page or at a
//! page that repeats the previous one, and never goes beyond a fixed number of pages.

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::platform::api::{Api, seg};
use crate::platform::de;

/// Which pages of grouped findings to read.
#[derive(Debug, Clone, Default)]
pub struct Grouped {
    /// Every page, merged into one answer (else the one page `page`).
    pub all: bool,
    /// The page read when not `all` (from 1).
    pub page: u64,
    /// Only this branch.
    pub branch: Option<String>,
}

/// Most pages merged.
const MAX_PAGES: u64 = 1000;
/// Most groups merged.
const MAX_GROUPS: usize = 200_000;

/// `GET /project/{id}/results/{type}/grouped` (`container`:
/// `/results/container/images/grouped`): findings grouped by rule or package, the server's JSON
/// with the pages merged when `all`.
pub async fn grouped(api: &Api<'_>, project: &str, kind: &str, args: &Grouped) -> Result<Value> {
    let what = format!("grouped {kind} results");
    let container = kind == "container";
    let path = if container {
        format!("/project/{}/results/container/images/grouped", seg(project))
    } else {
        format!("/project/{}/results/{kind}/grouped", seg(project))
    };
    let per_page = if args.all { 100 } else { 50 };
    let mut page = if args.all { 1 } else { args.page };
    let list_key = if container {
        "groupedImages"
    } else {
        "groupedVulnerabilities"
    };
    let mut merged: Option<serde_json::Map<String, Value>> = None;
    let mut previous: Option<Vec<Value>> = None;
    loop {
        let mut q: Vec<(String, String)> = vec![
            ("page".into(), page.to_string()),
            ("order".into(), "DESC".into()),
        ];
        if container {
            q.push(("limit".into(), per_page.to_string()));
            q.push(("sort".into(), "latestScanAt".into()));
        } else {
            q.push(("perPage".into(), per_page.to_string()));
            q.push(("sort".into(), "occurrenceCount".into()));
            for s in ["critical", "high", "medium", "low"] {
                q.push(("severityFilter[]".into(), s.into()));
            }
            for s in ["to_verify", "confirmed"] {
                q.push(("statusFilter[]".into(), s.into()));
            }
        }
        if let Some(b) = args.branch.as_deref().filter(|b| !b.is_empty()) {
            q.push(("branch".into(), b.into()));
        }
        let v: Value = api.get(&what, &path, &q).await?;
        let Value::Object(mut obj) = v else {
            return Err(Error::failure(format!(
                "{what}: the API answered with {} instead of an object",
                kind_of(&v)
            )));
        };
        let total_pages = obj.get("totalPages").and_then(de::count_of).unwrap_or(1);
        let items = match obj.remove(list_key) {
            Some(Value::Array(a)) => a,
            None | Some(Value::Null) => Vec::new(),
            Some(other) => {
                return Err(Error::failure(format!(
                    "{what}: `{list_key}` in the answer is {} instead of a list",
                    kind_of(&other)
                )));
            }
        };
        let repeated = previous.as_ref().is_some_and(|p| *p == items);
        let empty = items.is_empty();
        match merged.as_mut() {
            None => {
                obj.insert(list_key.into(), Value::Array(items.clone()));
                merged = Some(obj);
            }
            Some(m) if !repeated => {
                if let Some(Value::Array(a)) = m.get_mut(list_key) {
                    a.extend(items.iter().cloned());
                    if a.len() > MAX_GROUPS {
                        return Err(Error::failure(format!(
                            "{what}: more than {MAX_GROUPS} groups; stopped"
                        ))
                        .with_hint("narrow the query with --branch, or fetch one page with --all=false --page N"));
                    }
                }
            }
            Some(_) => {}
        }
        if !args.all || empty || repeated || page >= total_pages {
            break;
        }
        if page >= MAX_PAGES {
            return Err(Error::failure(format!(
                "{what}: the server announced {total_pages} pages; stopped after {MAX_PAGES}"
            )));
        }
        previous = Some(items);
        page += 1;
    }
    let mut m = merged.unwrap_or_default();
    if args.all {
        let n = m
            .get(list_key)
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        if container {
            m.insert("currentPage".into(), json!(1));
            m.insert("totalPages".into(), json!(1));
            m.insert("pageSize".into(), json!(n));
        } else {
            m.insert("page".into(), json!(1));
            m.insert("totalPages".into(), json!(1));
            m.insert("limit".into(), json!(n));
        }
    }
    Ok(Value::Object(m))
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}
