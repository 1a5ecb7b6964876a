//! `results --baseline OLD.json`: which findings are new since a report written earlier by
//! `results -o json`, and which of its findings are fixed.
//!
//! A finding is the same as one of the baseline when the platform's id is the same (the id of
//! a finding stays with it from scan to scan); a record without an id matches by type, rule and
//! file, so that lines that move do not make a finding new.

use std::collections::HashSet;
use std::path::Path;

use cybedefend_core::platform::results::Finding;
use cybedefend_core::{Error, Result};
use serde::Deserialize;

/// Largest baseline read (a report of 100,000 findings is far below).
const CAP: u64 = 512 << 20;

/// A finding of the baseline, as the JSON report recorded it.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct Entry {
    pub(crate) id: String,
    pub(crate) path: String,
    #[serde(rename = "vulnerableStartLine")]
    pub(crate) start: Option<u64>,
    pub(crate) vulnerability: EntryDetails,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub(crate) struct EntryDetails {
    pub(crate) name: String,
    pub(crate) severity: String,
    #[serde(rename = "vulnerabilityType")]
    pub(crate) kind: String,
}

/// A report of `results -o json`: every type (`sast`, `sca`, ...) or one (`vulnerabilities`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct File {
    #[serde(rename = "projectId")]
    project_id: Option<String>,
    vulnerabilities: Option<Vec<Entry>>,
    sast: Option<Vec<Entry>>,
    sca: Option<Vec<Entry>>,
    iac: Option<Vec<Entry>>,
    secret: Option<Vec<Entry>>,
    cicd: Option<Vec<Entry>>,
    container: Option<Vec<Entry>>,
}

/// The findings of a baseline, by id and by type, rule and file.
#[derive(Debug, Default)]
pub(crate) struct Baseline {
    /// Where it was read from (messages).
    pub(crate) shown: String,
    /// The project it is a report of.
    pub(crate) project: String,
    /// The result types it covers (`None`: a one-type report without findings, type unknown).
    pub(crate) types: Option<HashSet<String>>,
    entries: Vec<Entry>,
    ids: HashSet<(String, String)>,
    keys: HashSet<(String, String, String)>,
}

fn key(kind: &str, name: &str, path: &str) -> (String, String, String) {
    (kind.to_owned(), name.to_owned(), path.to_owned())
}

impl Baseline {
    /// Reads a JSON report written by `results -o json`.
    pub(crate) fn read(path: &Path) -> Result<Self> {
        let shown = cybedefend_core::home::tilde(path);
        let bad = |why: String| {
            Error::usage(format!("--baseline {shown}: {why}")).with_hint(
                "give a report written earlier by `cybedefend results -o json` (keep it as a CI artifact of the main branch)",
            )
        };
        let file = cybedefend_core::fsutil::open_regular(path, true).map_err(|e| {
            let e = e.into_error("baseline", path);
            bad(e.message().to_owned())
        })?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        if len > CAP {
            return Err(bad(format!("larger than {} MiB", CAP >> 20)));
        }
        // the cap holds while reading too: a file that grows after the check is cut, and then
        // is not a whole report
        let capped = std::io::Read::take(file, CAP + 1);
        let parsed: File =
            serde_json::from_reader(std::io::BufReader::new(capped)).map_err(|e| {
                bad(format!(
                    "not a JSON report (line {}, column {})",
                    e.line(),
                    e.column()
                ))
            })?;
        let Some(project) = parsed.project_id.filter(|p| !p.is_empty()) else {
            return Err(bad(
                "not a report of `results -o json` (it has no `projectId`)".into(),
            ));
        };
        let single = parsed.vulnerabilities.is_some();
        let mut entries = parsed.vulnerabilities.unwrap_or_default();
        let mut types: HashSet<String> = entries
            .iter()
            .map(|e| e.vulnerability.kind.clone())
            .filter(|k| !k.is_empty())
            .collect();
        for (kind, list) in [
            ("sast", parsed.sast),
            ("sca", parsed.sca),
            ("iac", parsed.iac),
            ("secret", parsed.secret),
            ("cicd", parsed.cicd),
            ("container", parsed.container),
        ] {
            let Some(list) = list else { continue };
            types.insert(kind.to_owned());
            entries.extend(list.into_iter().map(|mut e| {
                if e.vulnerability.kind.is_empty() {
                    e.vulnerability.kind = kind.to_owned();
                }
                e
            }));
        }
        if !single && types.is_empty() {
            return Err(bad(
                "not a report of `results -o json` (no result type in it)".into(),
            ));
        }
        let mut b = Self {
            shown,
            project,
            types: (!types.is_empty()).then_some(types),
            ..Self::default()
        };
        for e in &entries {
            if !e.id.is_empty() {
                b.ids.insert((e.vulnerability.kind.clone(), e.id.clone()));
            }
            b.keys
                .insert(key(&e.vulnerability.kind, &e.vulnerability.name, &e.path));
        }
        b.entries = entries;
        Ok(b)
    }

    /// Whether `f` is not in the baseline.
    pub(crate) fn is_new(&self, f: &Finding) -> bool {
        // ids on both sides decide; without them, the rule and the file
        if !f.id.is_empty() && !self.ids.is_empty() {
            return !self.ids.contains(&(f.kind.clone(), f.id.clone()));
        }
        !self.keys.contains(&key(&f.kind, &f.name, &f.path))
    }

    /// The baseline's findings that are not among `current`: fixed (or no longer open).
    #[cfg(test)]
    pub(crate) fn fixed(&self, current: &[&Finding]) -> Vec<&Entry> {
        let mut seen = Seen::default();
        for f in current {
            seen.add(f);
        }
        self.fixed_given(&seen)
    }

    /// The baseline's findings that are not among those `seen`: fixed (or no longer open).
    pub(crate) fn fixed_given(&self, seen: &Seen) -> Vec<&Entry> {
        self.entries
            .iter()
            .filter(|e| {
                if e.id.is_empty() || seen.ids.is_empty() {
                    !seen.keys.contains(&hashed(&key(
                        &e.vulnerability.kind,
                        &e.vulnerability.name,
                        &e.path,
                    )))
                } else {
                    !seen
                        .ids
                        .contains(&hashed(&(e.vulnerability.kind.as_str(), e.id.as_str())))
                }
            })
            .collect()
    }
}

/// The findings of a report as [`Baseline::fixed_given`] needs them: 8 bytes each, so that a
/// report of any size is compared without holding its findings.
#[derive(Debug, Default)]
pub(crate) struct Seen {
    ids: HashSet<u64>,
    keys: HashSet<u64>,
}

impl Seen {
    /// Notes one finding of the report.
    pub(crate) fn add(&mut self, f: &Finding) {
        if !f.id.is_empty() {
            self.ids.insert(hashed(&(f.kind.as_str(), f.id.as_str())));
        }
        self.keys.insert(hashed(&key(&f.kind, &f.name, &f.path)));
    }
}

/// A 64-bit hash (the same in every run): among a million findings, two different ones
/// share a hash with a chance of about 1 in 30 million. Reports hold keys (of findings, groups,
/// rules) as these, not as text.
pub(crate) fn hashed<T: std::hash::Hash + ?Sized>(value: &T) -> u64 {
    use std::hash::{DefaultHasher, Hasher as _};
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(id: &str, name: &str, path: &str) -> Finding {
        Finding {
            id: id.into(),
            kind: "sast".into(),
            name: name.into(),
            description: String::new(),
            severity: "high".into(),
            state: "to_verify".into(),
            language: String::new(),
            path: path.into(),
            start_line: Some(3),
            end_line: None,
            branch: String::new(),
            how_to_prevent: String::new(),
            cwe: vec![],
            owasp_top10: vec![],
            manifest: None,
            advisory: None,
            fixed_version: None,
            first_seen: None,
        }
    }

    #[test]
    fn ids_decide_and_records_without_ids_match_by_rule_and_file() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.json");
        std::fs::write(
            &old,
            r#"{"projectId":"p","sast":[
                {"id":"a","path":"x.js","vulnerableStartLine":3,"vulnerability":{"name":"XSS","severity":"HIGH","vulnerabilityType":"sast"}},
                {"id":"b","path":"y.js","vulnerability":{"name":"SQLi","severity":"HIGH","vulnerabilityType":"sast"}}]}"#,
        )
        .unwrap();
        let b = Baseline::read(&old).unwrap();
        let same = finding("a", "XSS", "x.js");
        let moved_new_id = finding("c", "XSS", "x.js");
        assert!(!b.is_new(&same));
        assert!(b.is_new(&moved_new_id), "another id is another finding");
        let fixed = b.fixed(&[&same]);
        assert_eq!(fixed.len(), 1);
        assert_eq!(fixed[0].id, "b");

        std::fs::write(
            &old,
            r#"{"projectId":"p","vulnerabilities":[{"path":"x.js","vulnerableStartLine":9,"vulnerability":{"name":"XSS","vulnerabilityType":"sast"}}]}"#,
        )
        .unwrap();
        let b = Baseline::read(&old).unwrap();
        assert!(
            !b.is_new(&finding("", "XSS", "x.js")),
            "lines moved: the same"
        );
        assert!(b.is_new(&finding("", "XSS", "z.js")));

        std::fs::write(&old, "[not json").unwrap();
        let e = Baseline::read(&old).unwrap_err();
        assert!(e.message().contains("not a JSON report"), "{e:?}");
        for other in [
            "[]",
            "{}",
            r#"{"version":"2.1.0","runs":[]}"#,
            r#"{"projectId":"p"}"#,
        ] {
            std::fs::write(&old, other).unwrap();
            let e = Baseline::read(&old).unwrap_err();
            assert!(
                e.message().contains("not a report of `results -o json`")
                    || e.message().contains("not a JSON report"),
                "{other}: {e:?}"
            );
        }
    }
}
