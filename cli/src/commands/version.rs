//! `version`: the same text as `--version`.

use cybedefend_core::Result;

use crate::args::VERSION;
use crate::output::Printer;

pub(crate) fn run(out: Printer) -> Result<u8> {
    out.data(&format!("cybedefend {}", VERSION.as_str()));
    Ok(0)
}
