//! `version` and `completion`.

use clap::CommandFactory;
use cybedefend_core::error::Result;

use crate::args::Cli;
use crate::output::Printer;

pub(crate) fn run(out: Printer) -> Result<u8> {
    out.data(&format!(
        "cybedefend {} ({} {})",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::env::consts::ARCH
    ));
    Ok(0)
}

pub(crate) fn completion(shell: clap_complete::Shell) -> Result<u8> {
    let mut cmd = Cli::command();
    clap_complete::generate(shell, &mut cmd, "cybedefend", &mut std::io::stdout());
    Ok(0)
}
