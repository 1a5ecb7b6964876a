//! Scans: start one (and get the pre-signed upload URL), read its state.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::platform::api::{Api, seg};
use crate::platform::de;

/// What scan start returned.
#[derive(Debug, Clone)]
pub struct StartedScan {
    /// The scan's id.
    pub scan_id: String,
    /// Pre-signed URL for the archive.
    pub upload_url: String,
}

#[derive(Serialize)]
struct StartRequest<'a> {
    #[serde(rename = "sourceType")]
    source_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    branch: Option<&'a str>,
}

/// The answer of scan start. The spec omits the upload URL; the live API sends it as `url`
/// (older answers: `uploadUrl`, `signedUrl`).
#[derive(Deserialize)]
struct StartAnswer {
    #[serde(default, rename = "scanId", deserialize_with = "de::text")]
    scan_id: Option<String>,
    #[serde(
        default,
        alias = "uploadUrl",
        alias = "signedUrl",
        deserialize_with = "de::text"
    )]
    url: Option<String>,
    #[serde(default, deserialize_with = "de::text")]
    message: Option<String>,
}

/// A scan start answer through the reader (fuzzing).
#[cfg(feature = "fuzzing")]
pub(crate) fn fuzz_start(data: &[u8]) {
    let _ = crate::platform::parse::<Option<StartAnswer>>("fuzz", data);
}

/// `POST /project/{id}/scan/start`.
pub async fn start(api: &Api<'_>, project: &str, branch: Option<&str>) -> Result<StartedScan> {
    let body = StartRequest {
        source_type: "cli",
        branch: branch.filter(|b| !b.is_empty()),
    };
    let path = format!("/project/{}/scan/start", seg(project));
    let a: Option<StartAnswer> = api.post("scan start", &path, &body).await?;
    let a = a.ok_or_else(|| Error::failure("scan start: the API answered with nothing"))?;
    match (a.scan_id, a.url) {
        (Some(scan_id), Some(upload_url)) => {
            crate::platform::check_id("scan start: the scan id in the answer", &scan_id)
                .map_err(|e| e.with_kind(crate::error::ErrorKind::Failed))?;
            Ok(StartedScan {
                scan_id,
                upload_url,
            })
        }
        (_, _) => {
            let msg = a
                .message
                .map(|m| format!(" ({})", crate::text::one_line(&m, 200)))
                .unwrap_or_default();
            Err(Error::failure(format!(
                "scan start: the answer has no scan id or upload URL{msg}"
            )))
        }
    }
}

/// A scan's state.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ScanStatus {
    /// `queued`, `running`, `completed`, `completed_degraded`, `failed` (lower-case).
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub state: String,
    /// 0 to 100.
    #[serde(default, deserialize_with = "de::number")]
    pub progress: Option<f64>,
    /// What the scan is doing.
    #[serde(default, deserialize_with = "de::text_or_empty")]
    pub step: String,
    /// Findings reported by the scan, if known.
    #[serde(
        default,
        rename = "vulnerabilityDetected",
        deserialize_with = "de::count"
    )]
    pub vulnerabilities_detected: Option<u64>,
    /// Why it failed, if it did.
    #[serde(default, rename = "errorMessage", deserialize_with = "de::text")]
    pub error_message: Option<String>,
}

impl ScanStatus {
    /// Whether the scan has stopped.
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.state.as_str(),
            "completed" | "completed_degraded" | "failed"
        )
    }

    /// Progress in percent, clamped to 0..=100.
    pub fn percent(&self) -> f64 {
        self.progress.unwrap_or(0.0).clamp(0.0, 100.0)
    }
}

/// `GET /project/{id}/scan/{scanId}`.
pub async fn status(api: &Api<'_>, project: &str, scan: &str) -> Result<ScanStatus> {
    let path = format!("/project/{}/scan/{}", seg(project), seg(scan));
    let s: Option<ScanStatus> = api.get("scan status", &path, &[]).await?;
    let mut s = s.ok_or_else(|| Error::failure("scan status: the API answered with nothing"))?;
    if s.state.is_empty() {
        return Err(Error::failure("scan status: the answer has no `state`"));
    }
    s.state = crate::text::one_line(&s.state, 40).to_ascii_lowercase();
    s.step = crate::text::one_line(&s.step, 120);
    s.error_message = s.error_message.map(|m| crate::text::one_line(&m, 300));
    Ok(s)
}
