//! JSON in the official CLI's shape: a record per finding.

use std::io::{self, Write};

use cybedefend_core::platform::results::Finding;
use serde::ser::{SerializeMap, SerializeSeq};
use serde::{Serialize, Serializer};

use super::Report;

/// The official CLI's record for one finding.
#[derive(Serialize)]
struct Record<'a> {
    id: &'a str,
    language: &'a str,
    path: &'a str,
    #[serde(rename = "vulnerableStartLine")]
    start: Option<u64>,
    #[serde(rename = "vulnerableEndLine")]
    end: Option<u64>,
    vulnerability: RecordDetails<'a>,
    branch: &'a str,
    /// `new` or `existing` against `--baseline` (only with it).
    #[serde(skip_serializing_if = "Option::is_none")]
    baseline: Option<&'static str>,
}

#[derive(Serialize)]
struct RecordDetails<'a> {
    name: &'a str,
    description: &'a str,
    severity: String,
    #[serde(rename = "howToPrevent")]
    how_to_prevent: &'a str,
    cwe: &'a [String],
    #[serde(rename = "owaspTop10")]
    owasp_top10: &'a [String],
    #[serde(rename = "vulnerabilityType")]
    kind: &'a str,
}

fn record<'a>(f: &'a Finding, r: &Report<'_>) -> Record<'a> {
    Record {
        baseline: r.state_against_baseline(f),
        id: &f.id,
        language: &f.language,
        path: &f.path,
        start: f.start_line,
        end: f.end_line,
        vulnerability: RecordDetails {
            name: &f.name,
            description: &f.description,
            severity: f.severity.to_ascii_uppercase(),
            how_to_prevent: &f.how_to_prevent,
            cwe: &f.cwe,
            owasp_top10: &f.owasp_top10,
            kind: &f.kind,
        },
        branch: &f.branch,
    }
}

/// One type's records, read from the store as they are written.
struct Records<'a>(usize, &'a Report<'a>);

impl Serialize for Records<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(None)?;
        for (_, f) in self.1.store.segment(self.0) {
            seq.serialize_element(&record(&f, self.1))?;
        }
        seq.end()
    }
}

/// The baseline's findings that are not in this report, as the baseline recorded them.
#[derive(Serialize)]
struct Fixed<'a> {
    id: &'a str,
    path: &'a str,
    name: &'a str,
    severity: &'a str,
    #[serde(rename = "vulnerabilityType")]
    kind: &'a str,
}

struct JsonReport<'a>(&'a Report<'a>);

impl Serialize for JsonReport<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let r = self.0;
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("projectId", r.project_id)?;
        m.serialize_entry("projectName", r.project_name)?;
        if r.kind == "all" {
            for (i, segment) in r.store.segments().iter().enumerate() {
                m.serialize_entry(segment.kind, &Records(i, r))?;
            }
        } else {
            m.serialize_entry("page", &r.page.0)?;
            m.serialize_entry("total", &r.page.2)?;
            m.serialize_entry("totalPages", &r.page.1)?;
            m.serialize_entry("severity", &Option::<()>::None)?;
            m.serialize_entry("vulnerabilities", &Records(0, r))?;
        }
        if let Some(a) = r.against {
            let fixed: Vec<Fixed<'_>> = a
                .fixed
                .iter()
                .map(|e| Fixed {
                    id: &e.id,
                    path: &e.path,
                    name: &e.vulnerability.name,
                    severity: &e.vulnerability.severity,
                    kind: &e.vulnerability.kind,
                })
                .collect();
            m.serialize_entry("fixed", &fixed)?;
        }
        m.end()
    }
}

/// JSON in the official CLI's shape.
pub(crate) fn json(r: &Report<'_>, out: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, &JsonReport(r)).map_err(io::Error::other)?;
    out.write_all(b"\n")
}
