//! `container scan <registry>`.

use clap::{Args, Subcommand};
use cybedefend_core::platform::containers::{self, ImageScan, REGISTRIES, Registry};
use cybedefend_core::{Error, Result};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data::{self, JsonFlag};
use crate::gates::{self, GateArgs};

use crate::exit::Exit;
use crate::output::Printer;

const HELP: &str = "\
The image is pulled and scanned by the platform through the registry integration your
organisation set up (its credential id is in the web app's integration settings; GitHub's
registry needs none). By default the command returns once the scan is started, as the official
CLI does; --wait (implied by --break-on-fail and --break-on-severity) waits for it and applies
the same gates as `scan`.

Exit codes: 0 started (or done and no gate tripped), 1 a gate tripped or the scan could not be
started, 2 usage, 3 platform unreachable, 4 no credential or access denied.

Examples:
  cybedefend container scan ecr --project-id ID --credential-id CRED \\
      --image api:1.4.2
  cybedefend container scan github --project-id ID --image org/api:main \\
      --break-on-severity high
  cybedefend container scan dockerhub --project-id ID --credential-id CRED \\
      --image app:v1 --severities critical,high";

/// The registry.
#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCommand {
    /// GitLab Container Registry
    #[command(after_help = HELP)]
    Gitlab(ImageArgs),
    /// GitHub Container Registry (ghcr.io); no --credential-id needed
    #[command(after_help = HELP)]
    Github(ImageArgs),
    /// Docker Hub
    #[command(after_help = HELP)]
    Dockerhub(ImageArgs),
    /// Google Container Registry / Artifact Registry
    #[command(after_help = HELP)]
    Gcr(ImageArgs),
    /// Amazon Elastic Container Registry
    #[command(after_help = HELP)]
    Ecr(ImageArgs),
    /// Azure Container Registry
    #[command(after_help = HELP)]
    Acr(ImageArgs),
    /// Quay.io
    #[command(after_help = HELP)]
    Quay(ImageArgs),
    /// Harbor
    #[command(after_help = HELP)]
    Harbor(ImageArgs),
    /// JFrog Artifactory
    #[command(after_help = HELP)]
    Jfrog(ImageArgs),
}

impl RegistryCommand {
    fn split(self) -> (&'static str, ImageArgs) {
        match self {
            RegistryCommand::Gitlab(a) => ("gitlab", a),
            RegistryCommand::Github(a) => ("github", a),
            RegistryCommand::Dockerhub(a) => ("dockerhub", a),
            RegistryCommand::Gcr(a) => ("gcr", a),
            RegistryCommand::Ecr(a) => ("ecr", a),
            RegistryCommand::Acr(a) => ("acr", a),
            RegistryCommand::Quay(a) => ("quay", a),
            RegistryCommand::Harbor(a) => ("harbor", a),
            RegistryCommand::Jfrog(a) => ("jfrog", a),
        }
    }
}

/// What every registry takes.
#[derive(Debug, Clone, Args)]
pub(crate) struct ImageArgs {
    #[command(flatten)]
    pub(crate) project: data::ProjectId,
    /// Image to scan, NAME:TAG (e.g. api:1.4.2)
    #[arg(long, value_name = "IMAGE")]
    pub(crate) image: String,
    /// The registry integration's credential (required except for github)
    #[arg(long, value_name = "ID", value_parser = data::id)]
    pub(crate) credential_id: Option<String>,
    /// Branch the scan belongs to
    #[arg(long, value_name = "NAME")]
    pub(crate) branch: Option<String>,
    /// Mark the scan private (sent only when given)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub(crate) private: Option<bool>,
    /// Only report these severities (comma-separated: critical, high, medium, low)
    #[arg(long, value_name = "LIST")]
    pub(crate) severities: Option<String>,
    /// Wait for the scan to finish [default: false, true with a --break-on-* gate]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true", action = clap::ArgAction::Set)]
    pub(crate) wait: Option<bool>,
    #[command(flatten)]
    pub(crate) gates: GateArgs,
    #[command(flatten)]
    pub(crate) out: JsonFlag,
}

fn check(registry: &Registry, args: &ImageArgs) -> Result<(bool, Option<Vec<String>>)> {
    let image = args.image.trim();
    let parts_ok = !image.is_empty()
        && image.len() <= 512
        && !image.chars().any(|c| c.is_control() || c.is_whitespace())
        && !image.starts_with([':', '/', '@', '-'])
        && !image.ends_with([':', '/', '@'])
        && !image.contains("::")
        && !image.contains("//");
    if !parts_ok {
        return Err(Error::usage(
            "--image must be an image reference such as app:v1, registry.example.com/team/app:1.4 or app@sha256:...",
        ));
    }
    if registry.needs_credential && args.credential_id.is_none() {
        return Err(Error::usage(format!(
            "--credential-id is required for `container scan {}`",
            registry.name
        ))
        .with_hint(format!(
            "the credential of your {} integration is in the web app's integration settings",
            registry.title
        )));
    }
    let severities = match args.severities.as_deref().map(data::list) {
        None => None,
        Some(l) if l.is_empty() => return Err(Error::usage("--severities is empty")),
        Some(l) => {
            let upper: Vec<String> = l.iter().map(|s| s.to_ascii_uppercase()).collect();
            if let Some(bad) = upper
                .iter()
                .find(|s| !["CRITICAL", "HIGH", "MEDIUM", "LOW"].contains(&s.as_str()))
            {
                return Err(Error::usage(format!(
                    "--severities: `{}` is not a severity (critical, high, medium, low)",
                    cybedefend_core::text::one_line(bad, 40)
                )));
            }
            Some(upper)
        }
    };
    let gate = args.gates.break_on_fail || args.gates.break_on_severity.is_some();
    let wait = args.wait.unwrap_or(gate);
    if gate && !wait {
        return Err(Error::usage(
            "--wait=false cannot be combined with --break-on-fail or --break-on-severity",
        )
        .with_hint("a gate needs the finished scan; drop --wait=false"));
    }
    if wait && args.out.json {
        return Err(Error::usage(
            "--json prints the start answer; it cannot be combined with waiting (--wait, or a --break-on-* gate, which waits)",
        )
        .with_hint("use --json alone, then `cybedefend results --type container --project-id ID` once the scan is done"));
    }
    Ok((wait, severities))
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, cmd: RegistryCommand) -> Result<Exit> {
    let (name, args) = cmd.split();
    let Some(registry) = REGISTRIES.iter().find(|r| r.name == name) else {
        return Err(Error::usage(format!("unknown registry `{name}`")));
    };
    let (wait, severities) = check(registry, &args)?;
    let app = App::load(global, out)?;
    let project = args.project.resolve(&app)?;
    let branch = args.branch.clone().filter(|b| !b.trim().is_empty());
    let body = ImageScan {
        credential_id: args.credential_id.clone(),
        image: args.image.trim().to_owned(),
        branch: branch.clone(),
        private: args.private,
        severities,
    };
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let started = containers::scan(&api, registry, &project, &body).await?;
    let scan_id = started.view.scan_id.clone();
    app.out.success(&format!(
        "Container scan of {} started ({})",
        body.image,
        scan_id.as_deref().unwrap_or("the platform gave no scan id")
    ));
    if !wait {
        if args.out.json {
            app.out.json(&started.raw)?;
        } else if let Some(id) = &scan_id {
            app.out.data(id);
        }
        return Ok(Exit::Success);
    }
    let Some(scan_id) = scan_id else {
        return Err(Error::failure(
            "container scan: the platform gave no scan id, so the scan cannot be followed",
        ));
    };
    let branch = branch.unwrap_or_default();
    // An image scan is judged on what the image holds, not on the project's other findings.
    let mut args = args;
    args.gates.kinds = Some(&["container"]);
    let scan = gates::Followed {
        app: &app,
        api: &api,
        project: &project,
        scan_id: &scan_id,
        branch: &branch,
        args: &args.gates,
    };
    gates::follow(scan, &mut scan.summary()).await
}
