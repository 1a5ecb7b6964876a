//! `auth providers`: the provider types this build knows, and the default chain.

use std::fmt::Write as _;

use cybedefend_core::Result;
use cybedefend_core::credentials::{default_chain, factories};
use serde_json::json;

use crate::exit::Exit;
use crate::output::Printer;

pub(crate) fn run(out: Printer, as_json: bool) -> Result<Exit> {
    let all = factories();
    let default = default_chain();
    if as_json {
        out.json(&json!({
            "types": all.iter().map(|f| json!({"type": f.kind, "summary": f.summary, "in_default_chain": f.default_position.is_some()})).collect::<Vec<_>>(),
            "default_chain": default,
        }))?;
    } else {
        let width = all.iter().map(|f| f.kind.len()).max().unwrap_or(0);
        let mut s = String::from("Credential provider types:\n");
        for f in &all {
            let _ = writeln!(s, "  {:width$}  {}", f.kind, f.summary);
        }
        let _ = write!(s, "Default chain: {}", default.join(", "));
        out.data(&s);
    }
    Ok(Exit::Success)
}
