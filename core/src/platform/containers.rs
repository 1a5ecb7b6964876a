//! Container image scans through a registry integration.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Result;
use crate::platform::api::{About, Answer, Api, Kind, about, seg};
use crate::platform::de;

/// A registry the platform scans images from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registry {
    /// The command's name (`gitlab`, `ecr`, ...).
    pub name: &'static str,
    /// The API path segment before `/project/{id}/scan`.
    pub segment: &'static str,
    /// Whether `--credential-id` is required (GitHub's registry needs none).
    pub needs_credential: bool,
    /// What the user knows it as.
    pub title: &'static str,
}

/// Every registry of the official CLI, in its order.
pub const REGISTRIES: &[Registry] = &[
    Registry {
        name: "gitlab",
        segment: "integrations/gitlab/container-registry",
        needs_credential: true,
        title: "GitLab Container Registry",
    },
    Registry {
        name: "github",
        segment: "integrations/github-container-registry",
        needs_credential: false,
        title: "GitHub Container Registry (ghcr.io)",
    },
    Registry {
        name: "dockerhub",
        segment: "integrations/dockerhub/container-registry",
        needs_credential: true,
        title: "Docker Hub",
    },
    Registry {
        name: "gcr",
        segment: "integrations/gcr/container-registry",
        needs_credential: true,
        title: "Google Container/Artifact Registry",
    },
    Registry {
        name: "ecr",
        segment: "integrations/ecr/container-registry",
        needs_credential: true,
        title: "Amazon ECR",
    },
    Registry {
        name: "acr",
        segment: "integrations/acr/container-registry",
        needs_credential: true,
        title: "Azure Container Registry",
    },
    Registry {
        name: "quay",
        segment: "integrations/quay/container-registry",
        needs_credential: true,
        title: "Quay.io",
    },
    Registry {
        name: "harbor",
        segment: "integrations/harbor/container-registry",
        needs_credential: true,
        title: "Harbor",
    },
    Registry {
        name: "jfrog",
        segment: "integrations/jfrog/container-registry",
        needs_credential: true,
        title: "JFrog Artifactory",
    },
];

/// What a registry scan sends; empty values are left out.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ImageScan {
    /// The registry integration's credential.
    #[serde(rename = "credentialId", skip_serializing_if = "Option::is_none")]
    pub credential_id: Option<String>,
    /// `app:v1`.
    #[serde(rename = "imageName")]
    pub image: String,
    /// The branch the image's results are filed under; the project's default when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub branch: Option<String>,
    /// Sent only when `--private` was given.
    #[serde(rename = "privateScan", skip_serializing_if = "Option::is_none")]
    pub private: Option<bool>,
    /// Upper-case severities.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severities: Option<Vec<String>>,
}

/// The answer of a scan start.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Started {
    /// The scan's id, when the platform gives one.
    #[serde(default, rename = "scanId", deserialize_with = "de::text")]
    pub scan_id: Option<String>,
    /// The platform's message.
    #[serde(default, deserialize_with = "de::text")]
    pub message: Option<String>,
}

/// `POST /{segment}/project/{id}/scan`.
pub async fn scan(
    api: &Api<'_>,
    registry: &Registry,
    project: &str,
    body: &ImageScan,
) -> Result<Answer<Started>> {
    let path = format!("/{}/project/{}/scan", registry.segment, seg(project));
    let raw: Value = api
        .post("container scan", &path, body)
        .await
        .map_err(about(About::described(
            Kind::Project,
            format!(
                "project `{project}`, the image `{}` or the registry credential",
                body.image
            ),
        )))?;
    let a: Answer<Started> = Answer::read("container scan", raw)?;
    if let Some(id) = &a.view.scan_id {
        crate::platform::check_id("container scan: the scan id in the answer", id)
            .map_err(|e| e.with_kind(crate::error::ErrorKind::Failed))?;
    }
    Ok(a)
}
