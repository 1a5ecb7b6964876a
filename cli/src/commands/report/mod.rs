//! `report`: SBOM, OWASP Top 10 and CWE Top 25 reports of a project, a team, an organisation or
//! a chosen set of projects.
//!
//! A report streams into `<name>.part` next to its final name and is renamed when complete: a
//! Ctrl-C or a broken download leaves nothing under the final name. Parent folders are created.
//! `--output -` writes to stdout (a PDF only when stdout is not a terminal).

pub(crate) mod batch;
pub(crate) mod cwe;
pub(crate) mod org;
pub(crate) mod owasp;
pub(crate) mod sbom;
pub(crate) mod team;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use clap::{Subcommand, ValueEnum};
use cybedefend_core::credentials::display;
use cybedefend_core::fsutil::AtomicFile;
use cybedefend_core::{Error, Result};

use crate::app::App;
use crate::args::GlobalArgs;
use crate::output::{Printer, size};

/// `report` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum ReportCommand {
    /// A project's software bill of materials (JSON)
    Sbom(sbom::SbomArgs),
    /// A project's OWASP Top 10 report
    Owasp(owasp::OwaspArgs),
    /// A project's CWE Top 25 report
    Cwe(cwe::CweArgs),
    /// An organisation's OWASP or CWE report
    Org(org::OrgArgs),
    /// A team's OWASP or CWE report
    Team(team::TeamArgs),
    /// One OWASP or CWE report over chosen projects of an organisation
    Batch(batch::BatchArgs),
}

pub(crate) async fn run(global: GlobalArgs, out: Printer, cmd: ReportCommand) -> Result<u8> {
    match cmd {
        ReportCommand::Sbom(a) => sbom::run(global, out, a).await,
        ReportCommand::Owasp(a) => owasp::run(global, out, a).await,
        ReportCommand::Cwe(a) => cwe::run(global, out, a).await,
        ReportCommand::Org(a) => org::run(global, out, a).await,
        ReportCommand::Team(a) => team::run(global, out, a).await,
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

/// Where a report goes.
pub(crate) enum Dest {
    /// Text for a terminal: secrets masked, control characters neutralised.
    Terminal(
        crate::output::TerminalSafe<
            cybedefend_core::credentials::redact::RedactingWriter<std::io::Stdout>,
        >,
    ),
    /// A pipe: the bytes as sent (only secrets masked).
    Pipe(cybedefend_core::credentials::redact::RedactingWriter<std::io::Stdout>),
    /// Something that is not a regular file (a FIFO, `/dev/stdout`): written into directly.
    Direct(std::fs::File, PathBuf),
    /// A regular file, written under a temporary name and renamed when complete.
    File(AtomicFile),
}

impl Dest {
    /// `--output` (or `default` in the current folder); checked before any network call.
    pub(crate) fn open(
        app: &App,
        output: Option<&str>,
        default: &str,
        format: Format,
    ) -> Result<Self> {
        match output {
            Some("-") if std::io::stdout().is_terminal() => {
                if format == Format::Pdf {
                    return Err(Error::usage("refusing to write a PDF to the terminal")
                        .with_hint("give --output FILE.pdf, or pipe the output (`> report.pdf`)"));
                }
                Ok(Dest::Terminal(crate::output::TerminalSafe::new(
                    app.out.stdout_stream(),
                    format == Format::Json,
                )))
            }
            Some("-") => Ok(Dest::Pipe(app.out.stdout_stream())),
            Some("") => Err(Error::usage("--output is empty").with_hint(format!(
                "give a file name, such as {default}, or `-` for stdout"
            ))),
            Some(path) if path.ends_with('/') => Err(Error::usage(format!(
                "--output {} names a folder",
                cybedefend_core::text::one_line(path, 200)
            ))
            .with_hint(format!("give a file name, such as {path}{default}"))),
            Some(path) => {
                let p = PathBuf::from(path);
                match std::fs::metadata(&p) {
                    Ok(m) if m.is_dir() => Err(Error::usage(format!(
                        "--output {} is a folder",
                        display(&p)
                    ))
                    .with_hint(format!(
                        "give a file name, such as {}",
                        display(&p.join(default))
                    ))),
                    // A FIFO, a terminal, /dev/stdout: written into, never replaced.
                    Ok(m) if !m.is_file() => {
                        let f = std::fs::OpenOptions::new()
                            .write(true)
                            .open(&p)
                            .map_err(|e| {
                                cybedefend_core::fsutil::io_error("cannot write", &p, &e)
                            })?;
                        Ok(Dest::Direct(f, p))
                    }
                    _ => Ok(Dest::File(AtomicFile::create(&p)?)),
                }
            }
            None => Ok(Dest::File(AtomicFile::create(&PathBuf::from(default))?)),
        }
    }

    pub(crate) fn writer(&mut self) -> &mut (dyn Write + Send) {
        match self {
            Dest::Terminal(w) => w,
            Dest::Pipe(w) => w,
            Dest::Direct(f, _) => f,
            Dest::File(f) => f,
        }
    }

    /// Completes the report: the file appears under its final name, with a message.
    pub(crate) fn finish(self, app: &App, bytes: u64) -> Result<u8> {
        let io = |e: std::io::Error| Error::failure(format!("cannot write the report: {e}"));
        match self {
            Dest::Terminal(w) => {
                w.finish().and_then(|inner| inner.finish()).map_err(io)?;
            }
            Dest::Pipe(w) => {
                w.finish().and_then(|mut s| s.flush()).map_err(io)?;
            }
            Dest::Direct(mut f, path) => {
                f.flush().map_err(io)?;
                app.out.success(&format!(
                    "Report written to {} ({bytes} bytes, {})",
                    display(&path),
                    size(bytes)
                ));
            }
            Dest::File(f) => {
                let path = f.path().to_owned();
                f.commit()?;
                app.out.success(&format!(
                    "Report saved to {} ({bytes} bytes, {})",
                    display(&path),
                    size(bytes)
                ));
            }
        }
        Ok(0)
    }
}
