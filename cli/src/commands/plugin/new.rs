//! `plugin new NAME --lang rust|python|sh`: a plugin skeleton that passes `plugin test` as it
//! is, with its README and the config lines to use it. The Rust skeleton carries the SDK's
//! source, so it builds without anything but crates.io.

use std::path::{Path, PathBuf};

use clap::ValueEnum;
use cybedefend_core::{Error, Result};

use crate::exit::Exit;
use crate::output::Printer;

/// The language of a skeleton.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Lang {
    /// An exec plugin with the Rust SDK
    Rust,
    /// An exec plugin in Python 3, standard library only
    Python,
    /// An exec plugin in POSIX sh
    Sh,
}

const MAIN_RS: &str = include_str!("skeleton/main.rs.tmpl");
const CARGO_TOML: &str = include_str!("skeleton/Cargo.toml.tmpl");
const SDK_CARGO_TOML: &str = include_str!("skeleton/sdk-Cargo.toml.tmpl");
const PLUGIN_PY: &str = include_str!("skeleton/plugin.py.tmpl");
const PLUGIN_SH: &str = include_str!("skeleton/plugin.sh.tmpl");
const README: &str = include_str!("skeleton/README.md.tmpl");
const SDK_LIB: &str = include_str!("../../../../plugins/sdk/src/lib.rs");
const SDK_PROTOCOL: &str = include_str!("../../../../plugins/sdk/src/protocol.rs");
const SDK_NATIVE: &str = include_str!("../../../../plugins/sdk/src/native_glue.rs");

fn fill(template: &str, name: &str, var: &str) -> String {
    template
        .replace("{{NAME}}", name)
        .replace("{{VAR}}", var)
        .replace("{{SDK_VERSION}}", env!("CARGO_PKG_VERSION"))
}

/// The system's Python named by its path, for the skeleton's first line: through `env` it
/// would be whatever `python3` comes first on the user's PATH, often a version manager's shim
/// that costs every command hundreds of milliseconds (PROTOCOL.md, "What an interpreter
/// costs"). `None` keeps `#!/usr/bin/env python3`.
fn python_by_path() -> Option<&'static str> {
    [
        "/usr/bin/python3",
        "/usr/local/bin/python3",
        "/opt/homebrew/bin/python3",
    ]
    .into_iter()
    .find(|p| Path::new(p).is_file())
}

fn write(path: &Path, text: &str, executable: bool) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| cybedefend_core::fsutil::io_error("cannot create folder", dir, &e))?;
    }
    std::fs::write(path, text)
        .map_err(|e| cybedefend_core::fsutil::io_error("cannot write", path, &e))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = if executable { 0o755 } else { 0o644 };
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .map_err(|e| cybedefend_core::fsutil::io_error("cannot set the mode of", path, &e))?;
    }
    Ok(())
}

pub(crate) fn run(out: Printer, name: &str, lang: Lang, dir: Option<PathBuf>) -> Result<Exit> {
    if let Some(short) = name
        .strip_prefix("cybedefend-credential-")
        .or_else(|| name.strip_prefix("cybedefend_credential_"))
    {
        return Err(Error::usage(format!(
            "give the plugin's name, not its file name: `cybedefend plugin new {}` writes `cybedefend-credential-{}`",
            cybedefend_core::text::one_line(short, 64),
            cybedefend_core::text::one_line(short, 64)
        )));
    }
    if !cybedefend_plugin_host::discover::valid_name(name) {
        return Err(Error::usage(format!(
            "`{}` is not a plugin name: use lower-case letters, digits and dashes",
            cybedefend_core::text::one_line(name, 64)
        )));
    }
    let var = format!("{}_PAT", name.to_ascii_uppercase().replace('-', "_"));
    let exe = format!("cybedefend-credential-{name}");
    let dir = dir.unwrap_or_else(|| PathBuf::from(&exe));
    if dir.exists() && std::fs::read_dir(&dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error::usage(format!(
            "{} exists and is not empty; nothing was written",
            cybedefend_core::home::tilde(&dir)
        ))
        .with_hint("choose another folder with --dir"));
    }
    let (lang_name, file, build) = match lang {
        Lang::Rust => {
            write(
                &dir.join("Cargo.toml"),
                &fill(CARGO_TOML, name, &var),
                false,
            )?;
            write(&dir.join("src/main.rs"), &fill(MAIN_RS, name, &var), false)?;
            write(
                &dir.join("sdk/Cargo.toml"),
                &fill(SDK_CARGO_TOML, name, &var),
                false,
            )?;
            write(
                &dir.join("sdk/src/lib.rs"),
                &SDK_LIB.replace("#[cfg(test)]\nmod tests;\n", ""),
                false,
            )?;
            write(&dir.join("sdk/src/protocol.rs"), SDK_PROTOCOL, false)?;
            write(&dir.join("sdk/src/native_glue.rs"), SDK_NATIVE, false)?;
            (
                "Rust",
                format!("target/release/{exe}"),
                "```sh\ncargo build --release\n```\n".to_owned(),
            )
        }
        Lang::Python => {
            let text = fill(PLUGIN_PY, name, &var);
            let text = match python_by_path() {
                Some(p) => text.replacen("#!/usr/bin/env python3", &format!("#!{p}"), 1),
                None => text,
            };
            write(&dir.join(&exe), &text, true)?;
            ("Python 3", exe.clone(), String::new())
        }
        Lang::Sh => {
            write(&dir.join(&exe), &fill(PLUGIN_SH, name, &var), true)?;
            ("POSIX sh", exe.clone(), String::new())
        }
    };
    let readme = fill(README, name, &var)
        .replace("{{LANG}}", lang_name)
        .replace("{{FILE}}", &format!("./{file}"))
        .replace("{{EXE}}", &exe)
        .replace("{{BUILD}}\n", &build);
    write(&dir.join("README.md"), &readme, false)?;
    out.success(&format!(
        "wrote the `{name}` plugin ({lang_name}) to {}; its README says how to test and use it",
        cybedefend_core::home::tilde(&dir)
    ));
    Ok(Exit::Success)
}
