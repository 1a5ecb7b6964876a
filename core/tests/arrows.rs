//! The structure rule of core's modules (see `lib.rs`): each module uses only modules listed
//! before it, so the arrows between them point one way and no two modules know each other.
//! A new `use crate::platform::…` in `config`, say, fails here with the file and the line.

use std::fs;
use std::path::{Path, PathBuf};

/// The order of `lib.rs`'s table: a module may use those before it.
const ORDER: &[&str] = &[
    "text",
    "error",
    "env",
    "duration",
    "secret",
    "region",
    "home",
    "pathwalk",
    "fsutil",
    "process",
    "recover",
    "shield",
    "stdio",
    "config",
    "credentials",
    "platform",
];

/// Above the rule: the crate root, and the fuzz entry points that reach into everything.
const EXEMPT: &[&str] = &["lib", "fuzzing"];

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

fn word(text: &str) -> String {
    text.trim()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// The top-level modules (or root items) a line of code names through `crate::`.
fn named(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        match rest.strip_prefix('{') {
            Some(list) => {
                let end = list.find('}').unwrap_or(list.len());
                out.extend(list[..end].split(',').map(word));
            }
            None => out.push(word(rest)),
        }
    }
    out
}

/// Root re-exports stand for the module that defines them.
fn module_of(name: &str) -> &str {
    match name {
        "Error" | "ErrorKind" | "Result" => "error",
        "Secret" => "secret",
        other => other,
    }
}

#[test]
fn core_modules_use_only_those_before_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&root, &mut files);
    let mut seen = std::collections::BTreeSet::new();
    let mut wrong = Vec::new();
    for file in &files {
        let rel = file.strip_prefix(&root).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        let module = first.trim_end_matches(".rs").to_owned();
        seen.insert(module.clone());
        if EXEMPT.contains(&module.as_str()) {
            continue;
        }
        let Some(rank) = ORDER.iter().position(|m| *m == module) else {
            wrong.push(format!(
                "{}: module `{module}` is not in ORDER (nor, then, in lib.rs's table)",
                rel.display()
            ));
            continue;
        };
        for (n, line) in fs::read_to_string(file).unwrap().lines().enumerate() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            for used in named(line) {
                let used = module_of(&used);
                let at = format!("{}:{}", rel.display(), n + 1);
                match ORDER.iter().position(|m| *m == used) {
                    Some(r) if r <= rank => {}
                    Some(_) => {
                        wrong.push(format!("{at}: `{module}` uses `{used}`, listed after it"))
                    }
                    None => wrong.push(format!("{at}: `{module}` uses `{used}`, not in ORDER")),
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "arrows that point back:\n{}",
        wrong.join("\n")
    );
    for m in ORDER {
        assert!(
            seen.contains(*m),
            "ORDER names `{m}`, which core no longer has"
        );
    }
}

#[test]
fn the_check_reads_every_form_of_path() {
    assert_eq!(named("use crate::platform::Region;"), ["platform"]);
    assert_eq!(
        named("use crate::{config::Policy, text};"),
        ["config", "text"]
    );
    assert_eq!(
        named("let x = crate::secret::redact::redact(&crate::text::one_line(y));"),
        ["secret", "text"]
    );
    assert_eq!(module_of("Error"), "error");
}
