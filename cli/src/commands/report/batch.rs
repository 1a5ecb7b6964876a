//! `report batch`: one report over chosen projects of an organisation.

use clap::Args;
use cybedefend_core::platform::reports;
use cybedefend_core::{Error, Result};

use super::{Dest, Format, Kind};
use crate::app::App;
use crate::args::GlobalArgs;
use crate::commands::data;
use crate::exit::Exit;
use crate::output::Printer;

/// `report batch`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Without --output the file is named as the platform suggests (a plain name in this folder), else
batch-<type>.<format>.

Examples:
  cybedefend report batch --organization-id ORG --project-ids P1,P2 --format pdf
  cybedefend report batch --organization-id ORG --project-ids P1 \\
      --detailed=false --output out/b.json")]
pub(crate) struct BatchArgs {
    #[command(flatten)]
    pub(crate) organization: data::OrganizationId,
    /// Projects (comma-separated)
    #[arg(long, value_name = "LIST")]
    pub(crate) project_ids: String,
    /// Report
    #[arg(long = "type", value_enum, ignore_case = true, default_value_t = Kind::Owasp)]
    pub(crate) kind: Kind,
    /// Format
    #[arg(long, value_enum, ignore_case = true, default_value_t = Format::Json)]
    pub(crate) format: Format,
    /// Include every finding (--detailed=false for the summary only)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) detailed: bool,
    /// File to write (folders are created; `-` for stdout)
    #[arg(long, short, value_name = "FILE")]
    pub(crate) output: Option<String>,
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, args: BatchArgs) -> Result<Exit> {
    let projects = data::list(&args.project_ids);
    if projects.is_empty() {
        return Err(Error::usage("--project-ids is empty")
            .with_hint("give project ids separated by commas: --project-ids ID1,ID2"));
    }
    for p in &projects {
        data::id(p).map_err(|e| {
            Error::usage(format!(
                "--project-ids: `{}` {e}",
                cybedefend_core::text::one_line(p, 80)
            ))
        })?;
    }
    let app = App::load(global, out)?;
    let (kind, format) = (args.kind.as_str(), args.format.as_str());
    let mut dest = Dest::open(
        args.output.as_deref(),
        &format!("batch-{kind}.{format}"),
        args.format,
    )?;
    let connected = app.connect().await?;
    let api = app.api(&connected);
    let b = reports::batch(
        &api,
        &args.organization.id,
        kind,
        format,
        &projects,
        args.detailed,
        dest.writer(),
    )
    .await?;
    // The name the platform suggests, when it is a plain name for this format and no file of
    // that name is there already (a server never replaces a file of yours).
    if let (None, Some(f), Some(name)) = (&args.output, dest.file(), &b.filename) {
        if std::path::Path::new(name).symlink_metadata().is_ok() {
            app.out.info(&format!(
                "the platform suggested the name {name}, which exists already; keeping {}",
                cybedefend_core::home::tilde(f.path())
            ));
        } else {
            f.rename_to(name)?;
        }
    }
    dest.finish(&app, b.bytes)
}
