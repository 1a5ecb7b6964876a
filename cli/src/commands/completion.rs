//! `completion SHELL`: a completion script on stdout (hidden options are left out).

use std::io::Write as _;

use clap::CommandFactory;
use cybedefend_core::Result;

use crate::args::Cli;
use crate::exit::Exit;

pub(crate) fn run(shell: clap_complete::Shell) -> Result<Exit> {
    crate::args::FOR_COMPLETION.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut cmd = Cli::command();
    // written to memory first: clap_complete panics when its writer fails (`> /dev/full`)
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "cybedefend", &mut script);
    let mut out = crate::output::stdout();
    // a failure is recorded by the writer and reported when the command ends
    let _ = out.write_all(&script).and_then(|()| out.flush());
    Ok(Exit::Success)
}
