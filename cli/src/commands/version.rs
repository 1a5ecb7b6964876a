//! `version`: the same text as `--version`.

use cybedefend_core::Result;

use crate::args::VERSION;
use crate::exit::Exit;
use crate::output::Printer;

pub(crate) fn run(out: Printer) -> Result<Exit> {
    out.data(&format!("cybedefend {}", VERSION.as_str()));
    Ok(Exit::Success)
}
