//! `completion SHELL`: a completion script on stdout (hidden options are left out).

use clap::CommandFactory;
use cybedefend_core::Result;

use crate::args::Cli;
use crate::exit::Exit;

pub(crate) fn run(shell: clap_complete::Shell) -> Result<Exit> {
    crate::args::FOR_COMPLETION.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut cmd = Cli::command();
    clap_complete::generate(
        shell,
        &mut cmd,
        "cybedefend",
        &mut cybedefend_core::stdio::stdout(),
    );
    Ok(Exit::Success)
}
