//! `report`: SBOM, OWASP Top 10 and CWE Top 25 reports of a project, a team, an organisation or
//! a chosen set of projects.
//!
//! A report streams into `<name>.part` next to its final name and is renamed when complete: a
//! Ctrl-C or a broken download leaves nothing under the final name. Parent folders are created.
//! `--output -` writes to stdout (a PDF only when stdout is not a terminal).

pub(crate) mod batch;
pub(crate) mod project;
pub(crate) mod sbom;
pub(crate) mod scoped;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use cybedefend_core::fsutil::AtomicFile;
use cybedefend_core::{Error, Result};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::exit::Exit;
use crate::output::{Printer, size};

/// `report` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// A project's software bill of materials (JSON)
    Sbom(sbom::SbomArgs),
    /// A project's OWASP Top 10 report
    Owasp(project::ProjectReportArgs),
    /// A project's CWE Top 25 report
    Cwe(project::ProjectReportArgs),
    /// An organisation's OWASP or CWE report
    Org(scoped::OrgArgs),
    /// A team's OWASP or CWE report
    Team(scoped::TeamArgs),
    /// One OWASP or CWE report over chosen projects of an organisation
    Batch(batch::BatchArgs),
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, cmd: ReportCommand) -> Result<Exit> {
    match cmd {
        ReportCommand::Sbom(a) => sbom::run(global, out, a).await,
        ReportCommand::Owasp(a) => project::run(global, out, Kind::Owasp, a).await,
        ReportCommand::Cwe(a) => project::run(global, out, Kind::Cwe, a).await,
        ReportCommand::Org(a) => scoped::org(global, out, a).await,
        ReportCommand::Team(a) => scoped::team(global, out, a).await,
        ReportCommand::Batch(a) => batch::run(global, out, a).await,
    }
}

/// Report kinds of `--type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Kind {
    /// OWASP Top 10
    Owasp,
    /// CWE Top 25
    Cwe,
}

impl Kind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Owasp => "owasp",
            Kind::Cwe => "cwe",
        }
    }
}

/// Report formats of `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// JSON
    Json,
    /// A web page
    Html,
    /// PDF
    Pdf,
}

impl Format {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Html => "html",
            Format::Pdf => "pdf",
        }
    }
}

type Masked<W> = cybedefend_core::secret::redact::RedactingWriter<W>;

/// Where a report goes. Every destination masks the secrets this process handled, so a report
/// holds the same bytes wherever it is written.
pub(crate) enum Dest {
    /// A terminal (stdout or a terminal device): control characters neutralised as well.
    Terminal(Box<crate::output::TerminalSafe<Masked<Box<dyn Write + Send>>>>),
    /// A pipe, a FIFO, `/dev/stdout` into a file: the bytes as sent.
    Stream(Masked<Box<dyn Write + Send>>, Option<PathBuf>),
    /// A regular file, written under a temporary name and renamed when complete.
    File(Masked<AtomicFile>),
}

/// Whether `path` is one of the system's device or process paths (`/dev/stdout`,
/// `/proc/self/fd/1`): written into, never replaced.
fn is_system_path(path: &std::path::Path) -> bool {
    path.starts_with("/dev") || path.starts_with("/proc")
}

impl Dest {
    /// `--output` (or `default` in the current folder); checked before any network call.
    pub(crate) fn open(output: Option<&str>, default: &str, format: Format) -> Result<Self> {
        let terminal = |w: Box<dyn Write + Send>| -> Result<Self> {
            if format == Format::Pdf {
                return Err(Error::usage("refusing to write a PDF to a terminal")
                    .with_hint("give --output FILE.pdf, or pipe the output (`> report.pdf`)"));
            }
            Ok(Dest::Terminal(Box::new(crate::output::TerminalSafe::new(
                Masked::new(w),
                format == Format::Json,
            ))))
        };
        let path = match output {
            Some("-") if cybedefend_core::stdio::stdout().is_terminal() => {
                return terminal(Box::new(crate::output::stdout()));
            }
            Some("-") => {
                return Ok(Dest::Stream(
                    Masked::new(Box::new(crate::output::stdout())),
                    None,
                ));
            }
            Some("") => {
                return Err(Error::usage("--output is empty").with_hint(format!(
                    "give a file name, such as {default}, or `-` for stdout"
                )));
            }
            // `report owasp -o pdf`: the format where the file goes (in `results`, -o is the
            // format) would write a JSON report to a file named `pdf`
            Some(name)
                if ["json", "html", "pdf", "sarif", "markdown", "md"]
                    .iter()
                    .any(|f| f.eq_ignore_ascii_case(name)) =>
            {
                return Err(Error::usage(format!(
                    "--output `{name}` is a format's name, not a file: did you mean `--format {}`?",
                    name.to_ascii_lowercase()
                ))
                .with_hint(format!(
                    "in `report`, -o/--output is the file and --format the format (in `results`, -o is the format); a file of that very name is `--output ./{name}`"
                )));
            }
            Some(path) => PathBuf::from(path),
            None => PathBuf::from(default),
        };
        let shown = cybedefend_core::home::tilde(&path);
        let names_a_folder = output.is_some_and(|o| {
            o.ends_with('/') || o.ends_with("/.") || o.ends_with("/..") || o == "." || o == ".."
        }) || path.file_name().is_none()
            || std::fs::metadata(&path).is_ok_and(|m| m.is_dir());
        if names_a_folder {
            return Err(
                Error::usage(format!("--output {shown} names a folder")).with_hint(format!(
                    "give a file name, such as {}",
                    cybedefend_core::home::tilde(&path.join(default))
                )),
            );
        }
        let special = std::fs::metadata(&path).is_ok_and(|m| !m.is_file());
        if special || is_system_path(&path) {
            // A FIFO, a terminal, /dev/stdout: written into, never replaced.
            let f = cybedefend_core::fsutil::open_for_output(&path)?;
            if f.is_terminal() {
                return terminal(Box::new(f));
            }
            return Ok(Dest::Stream(Masked::new(Box::new(f)), Some(path)));
        }
        Ok(Dest::File(Masked::new(AtomicFile::create(&path)?)))
    }

    pub(crate) fn writer(&mut self) -> &mut (dyn Write + Send) {
        match self {
            Dest::Terminal(w) => w.as_mut(),
            Dest::Stream(w, _) => w,
            Dest::File(f) => f,
        }
    }

    /// The file the report will become (a regular file only).
    pub(crate) fn file(&mut self) -> Option<&mut AtomicFile> {
        match self {
            Dest::File(f) => Some(f.get_mut()),
            _ => None,
        }
    }

    /// Completes the report: the file appears under its final name, with a message.
    pub(crate) fn finish(self, app: &App, bytes: u64) -> Result<Exit> {
        let io = |e: std::io::Error| Error::failure(format!("cannot write the report: {e}"));
        match self {
            Dest::Terminal(w) => {
                w.finish().and_then(|inner| inner.finish()).map_err(io)?;
            }
            Dest::Stream(w, path) => {
                w.finish().and_then(|mut s| s.flush()).map_err(io)?;
                if let Some(path) = path {
                    app.out.success(&format!(
                        "Report written to {} ({})",
                        cybedefend_core::home::tilde(&path),
                        size(bytes)
                    ));
                }
            }
            Dest::File(w) => {
                let f = w.finish().map_err(io)?;
                let path = f.path().to_owned();
                f.commit()?;
                app.out.success(&format!(
                    "Report saved to {} ({})",
                    cybedefend_core::home::tilde(&path),
                    size(bytes)
                ));
            }
        }
        Ok(Exit::Success)
    }
}
