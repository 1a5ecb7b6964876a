//! Building the figment: files, environment variables and flags, each value tagged with the
//! file, the real variable name or the flag that set it.

use std::path::{Path, PathBuf};

use figment::value::{Dict, Map, Value};
use figment::{Figment, Metadata, Profile, Provider};

use super::keys::{self, Key, KeyType};
use super::{ConfigSources, FlagValues, Policy, origin_of_metadata, trust, yaml};
use crate::duration::Span;
use crate::env;
use crate::error::{Error, Result};
use crate::region::Region;

/// What [`build`] made.
pub(super) struct Built {
    pub(super) figment: Figment,
    pub(super) policy: Policy,
    pub(super) warnings: Vec<String>,
    pub(super) notes: Vec<String>,
    pub(super) unknown: Vec<String>,
    pub(super) files: Vec<PathBuf>,
    pub(super) profile: Option<super::ActiveProfile>,
}

/// A provider of one value with its own origin name (an environment variable or a flag), so
/// that messages and `config show --origin` name `CYBEDEFEND_REGION` or `--region` exactly.
struct Single {
    origin: String,
    key: &'static str,
    value: Value,
}

impl Provider for Single {
    fn metadata(&self) -> Metadata {
        Metadata::named(self.origin.clone())
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        let mut dict = Dict::new();
        dict.insert(self.key.to_owned(), self.value.clone());
        Ok(Profile::Default.collect(dict))
    }
}

/// Renders a figment error as one line naming the file (or variable, or flag) and the key.
pub fn describe_figment_error(err: &figment::Error) -> String {
    let origin = err
        .metadata
        .as_ref()
        .map(origin_of_metadata)
        .unwrap_or_else(|| "configuration".to_owned());
    let key = error_key(err);
    let kind = error_kind(err);
    if key.is_empty() {
        format!("invalid configuration in {origin}: {kind}")
    } else {
        format!("invalid configuration in {origin}: `{key}`: {kind}")
    }
}

/// The key a figment error is about (`credentials.chain`), or nothing.
fn error_key(err: &figment::Error) -> String {
    err.path
        .iter()
        .filter(|p| p.as_str() != "default")
        .cloned()
        .collect::<Vec<_>>()
        .join(".")
}

/// What is wrong, without the value (`found a text, expected a boolean`).
pub(super) fn error_kind(err: &figment::Error) -> String {
    // The parser quotes the value it refused: not when the key holds a secret.
    let secret = err
        .path
        .last()
        .is_some_and(|k| k == "pat" || crate::secret::redact::is_secret_name(k));
    // The parser also quotes what it found: never repeated, since a file may be a link to
    // anything (a repository's `config.yaml` pointing at a token file).
    use figment::error::{Actual, Kind};
    let found = |a: &Actual| match a {
        Actual::Bool(_) => "true/false",
        Actual::Unsigned(_) | Actual::Signed(_) | Actual::Float(_) => "a number",
        Actual::Char(_) | Actual::Str(_) => "a text",
        Actual::Bytes(_) => "bytes",
        Actual::Unit | Actual::Option => "nothing",
        Actual::Seq => "a list",
        Actual::Map => "a mapping",
        _ => "another kind of value",
    };
    match &err.kind {
        _ if secret => {
            "the value has the wrong type or form (not shown: it may be a secret)".to_owned()
        }
        Kind::InvalidType(a, expected) => format!("found {}, expected {expected}", found(a)),
        Kind::InvalidValue(a, expected) => {
            format!("invalid value ({}), expected {expected}", found(a))
        }
        Kind::UnknownVariant(_, expected) => {
            format!("unknown value, expected one of: {}", expected.join(", "))
        }
        // the parser's own words quote what it read ("invalid type: string \"...\""): a file can
        // be a link to anything, so quoted text is not repeated
        other => crate::text::one_line(&without_quoted(&other.to_string()), 300),
    }
}

/// `text` with every double-quoted part replaced by `"…"`.
fn without_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut parts = text.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    let rest: Vec<&str> = parts.collect();
    for (i, part) in rest.iter().enumerate() {
        if i % 2 == 0 {
            // inside quotes (an unclosed quote hides the rest)
            out.push_str("\"…\"");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn first_existing(candidates: &[PathBuf], warnings: &mut Vec<String>) -> Option<PathBuf> {
    let existing: Vec<&PathBuf> = candidates.iter().filter(|p| p.is_file()).collect();
    if existing.len() > 1 {
        warnings.push(format!(
            "both {} and {} exist; only the first is read",
            crate::home::tilde(existing[0]),
            crate::home::tilde(existing[1])
        ));
    }
    existing.first().map(|p| (*p).clone())
}

/// Reads and parses one config file (once); `system`: the machine's file.
fn parse_file(path: &Path, system: bool) -> Result<(yaml::ConfigFile, Dict)> {
    let file = yaml::load(path, system)?;
    let dict = Figment::from(file.provider())
        .extract::<Dict>()
        .map_err(|e| Error::usage(describe_figment_error(&e)))?;
    Ok((file, dict))
}

/// Provider types that run a program the configuration chooses.
pub(crate) const CODE_TYPES: &[&str] = &["exec", "plugin"];

/// Keys of a section that a file someone else could change may still set: they only tighten
/// (machine policy), never route a token or run anything.
const TIGHTENING: &[(&str, &[&str])] = &[
    (
        "credentials",
        &["require_secure_storage", "allowed_providers"],
    ),
    ("plugins", &["allow"]),
];

/// A config file that someone other than root and the current user could change (its owner,
/// its mode or a folder on its way), and what it sets that such a file may not: anything that
/// runs code or decides where a credential goes. Like a repository's `config.yaml`, it may set
/// only the harmless keys (`project_id`, `branch`, `region`, ...) and policy that tightens.
struct Untrusted {
    path: PathBuf,
    why: String,
    system: bool,
    keys: Vec<String>,
}

impl Untrusted {
    fn of(file: &yaml::ConfigFile, dict: &Dict, system: bool) -> Option<Self> {
        let why = file.untrusted.clone()?;
        let mut keys = Vec::new();
        for (k, v) in dict {
            let Some(key) = keys::find(k) else { continue };
            if key.project == keys::FromProject::Always || key.ty == KeyType::Deprecated {
                continue;
            }
            match (TIGHTENING.iter().find(|(s, _)| s == k), v) {
                (Some((_, allowed)), Value::Dict(_, sub)) => keys.extend(
                    sub.keys()
                        .filter(|sk| !allowed.contains(&sk.as_str()))
                        .map(|sk| format!("{k}.{sk}")),
                ),
                _ => keys.push(k.clone()),
            }
        }
        (!keys.is_empty()).then(|| Self {
            path: file.path.clone(),
            why,
            system,
            keys,
        })
    }

    fn into_error(self) -> Error {
        let shown = crate::home::tilde(&self.path);
        let fix = if self.system {
            format!("chown root {shown} and chmod go-w {shown} (and its folders)")
        } else if self.why.contains("another user") {
            "copy what you need into a configuration of your own (with another user's HOME or CYBEDEFEND_HOME, as `sudo -E` keeps it, cybedefend reads theirs: run without it)".to_owned()
        } else {
            format!(
                "chmod go-w {shown} (and its folders), or move these settings into a file only you can change"
            )
        };
        Error::usage(format!(
            "{shown} may not set what runs code or where a credential goes ({}): {}",
            self.keys
                .iter()
                .map(|k| format!("`{k}`"))
                .collect::<Vec<_>>()
                .join(", "),
            self.why
        ))
        .with_hint(fix)
    }
}

/// A value from a variable or a flag, read by the key's type; errors name `origin`.
fn typed_value(key: &Key, origin: &str, raw: &str) -> Result<Value> {
    let raw = raw.trim();
    match key.ty {
        KeyType::Bool => env::parse_bool(raw)
            .map(Value::from)
            .ok_or_else(|| Error::usage(format!("{origin} must be true or false, not `{raw}`"))),
        KeyType::Duration => raw
            .parse::<Span>()
            .map(|s| Value::from(s.to_string()))
            .map_err(|e| Error::usage(format!("{origin}: {e}"))),
        KeyType::Count => raw
            .parse::<u64>()
            .map(Value::from)
            .map_err(|_| Error::usage(format!("{origin} must be a whole number, not `{raw}`"))),
        KeyType::Region => raw
            .parse::<Region>()
            .map(|r| Value::from(r.as_str()))
            .map_err(|e| Error::usage(format!("{origin}: {e}"))),
        _ => Ok(Value::from(raw.to_owned())),
    }
}

fn deprecated_api_key(origin: &str, region: Option<Region>) -> Error {
    let page = region.unwrap_or_default().pat_page();
    Error::usage(format!(
        "API keys are no longer accepted by the platform (HTTP 410), and one is set by {origin}"
    ))
    .with_hint(format!(
        "switch to a Personal Access Token: `--api-key` becomes `--pat`, CYBEDEFEND_API_KEY \
         becomes CYBEDEFEND_PAT, `api_key:` becomes `pat:` (or run `cybedefend login --pat`); \
         create one at {page}"
    ))
}

/// Builds the layers (see the module documentation of [`super`]), lowest first.
pub(super) fn build(sources: &ConfigSources, flags: &FlagValues) -> Result<Built> {
    let mut stack = Stack::default();
    stack.system(sources)?;
    let profile = match &sources.explicit {
        // `--config FILE` replaces the user's file and the working directory's
        // `--config /dev/null`: no user or working-directory file at all
        Some(path) if is_dev_null(path) => stack.profile(sources)?,
        Some(path) => {
            if !path.is_file() {
                return Err(Error::usage(format!(
                    "config file {} (from --config) does not exist or is not a regular file",
                    crate::home::tilde(path)
                )));
            }
            stack.owned_file(path)?;
            stack.profile(sources)?
        }
        None => {
            let user = sources.home.user_config_candidates();
            if let Some(path) = first_existing(&user, &mut stack.warnings) {
                stack.owned_file(&path)?;
            }
            // chosen before the working directory's file, which may not choose it
            let profile = stack.profile(sources)?;
            stack.working_directory(sources)?;
            profile
        }
    };
    stack.refuse_api_key(sources, flags)?;
    if sources.use_env {
        stack.environment()?;
    }
    stack.flags(flags)?;
    Ok(Built {
        figment: stack.figment,
        policy: stack.policy,
        warnings: stack.warnings,
        notes: stack.notes,
        unknown: stack.unknown,
        files: stack.files,
        profile,
    })
}

/// The layers laid so far, and what was found on the way.
#[derive(Default)]
struct Stack {
    figment: Figment,
    policy: Policy,
    warnings: Vec<String>,
    notes: Vec<String>,
    unknown: Vec<String>,
    files: Vec<PathBuf>,
}

impl Stack {
    /// The machine's file, then a test override; both can only tighten the policy.
    fn system(&mut self, sources: &ConfigSources) -> Result<()> {
        let system = first_existing(&sources.system, &mut self.warnings);
        for path in system.iter().chain(sources.system_extra.iter()) {
            if !path.is_file() {
                continue;
            }
            let (file, dict) = parse_file(path, true)?;
            if let Some(u) = Untrusted::of(&file, &dict, true) {
                return Err(u.into_error());
            }
            let layer = Figment::from(file.provider());
            self.policy.tighten_with(&layer, &crate::home::tilde(path));
            self.merge_file(file, path);
        }
        Ok(())
    }

    /// A file its owner vouches for: the user's own, or `--config`.
    fn owned_file(&mut self, path: &Path) -> Result<()> {
        let (file, dict) = parse_file(path, false)?;
        if let Some(u) = Untrusted::of(&file, &dict, false) {
            return Err(u.into_error());
        }
        self.merge_file(file, path);
        Ok(())
    }

    fn merge_file(&mut self, file: yaml::ConfigFile, path: &Path) {
        self.figment = std::mem::take(&mut self.figment).merge(file.provider());
        self.files.push(path.to_owned());
    }

    /// The active profile, laid over the files read so far.
    fn profile(&mut self, sources: &ConfigSources) -> Result<Option<super::ActiveProfile>> {
        choose_profile(&mut self.figment, sources, &self.files, &mut self.unknown)
    }

    /// `./config.yaml` of the working directory: a regular file (never a link), not one of
    /// the files already read, filtered by [`trust::project_layer`] (which never fails: an
    /// application's own `config.yaml` must not break a command). Not read at all when
    /// `project_config` is false in the files below or the environment.
    fn working_directory(&mut self, sources: &ConfigSources) -> Result<()> {
        if !self.project_config_wanted(sources) {
            return Ok(());
        }
        let candidates = [
            sources.cwd.join("config.yaml"),
            sources.cwd.join("config.yml"),
        ];
        // (an application's folder with both names is its own business: no warning)
        let Some(path) = first_existing(&candidates, &mut Vec::new()) else {
            return Ok(());
        };
        // A repository can ship a link to any file of the user's (a token file): its content
        // would reach error messages. Links are not read here (and said only in the debug
        // log: an application's linked config.yaml is not ours to complain about).
        if std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            tracing::debug!(
                "config: not reading {}: it is a symbolic link, and a working-directory config is read only as a regular file",
                crate::home::tilde(&path)
            );
            return Ok(());
        }
        // The same file may already be the user's (cwd = ~/.cybedefend).
        if self.files.iter().any(|f| same_file(f, &path)) {
            return Ok(());
        }
        let trusted = self
            .trusted_directories()
            .iter()
            .any(|d| is_under(&sources.cwd, d));
        if let Some(layer) = trust::project_layer(
            &path,
            trusted,
            &self.figment,
            &mut self.warnings,
            &mut self.notes,
        ) {
            self.figment = std::mem::take(&mut self.figment).merge(layer);
            self.files.push(path);
        }
        Ok(())
    }

    /// `project_config` of the files read so far, then `CYBEDEFEND_PROJECT_CONFIG`: whether
    /// the working directory's file is read (default yes).
    fn project_config_wanted(&self, sources: &ConfigSources) -> bool {
        if sources.use_env
            && let Ok(Some(raw)) = env::non_empty(&env::var_for_key("project_config"))
            && let Some(on) = env::parse_bool(raw.trim())
        {
            return on;
        }
        self.figment
            .extract_inner::<bool>("project_config")
            .unwrap_or(true)
    }

    /// `trusted_directories` of the files read so far. Only absolute folders (after `~/`)
    /// count: an empty or relative entry would match wherever a command runs.
    fn trusted_directories(&mut self) -> Vec<PathBuf> {
        let listed = self
            .figment
            .extract_inner::<Vec<PathBuf>>("trusted_directories")
            .unwrap_or_default();
        let mut out = Vec::new();
        for d in listed {
            match env::expand_home(&d).filter(|e| e.is_absolute()) {
                Some(folder) => out.push(folder),
                None => self.warnings.push(format!(
                    "`trusted_directories` entry `{}` is ignored: give an absolute folder, or one under `~/`",
                    crate::text::one_line(&d.to_string_lossy(), 120)
                )),
            }
        }
        out
    }

    /// The deprecated API key, wherever it is set, is an error with migration steps.
    fn refuse_api_key(&self, sources: &ConfigSources, flags: &FlagValues) -> Result<()> {
        let region = flags
            .get("region")
            .and_then(|r| r.parse().ok())
            .or_else(|| {
                env::non_empty(&env::var_for_key("region"))
                    .ok()
                    .flatten()
                    .and_then(|r| r.parse().ok())
            });
        if flags.api_key_given {
            return Err(deprecated_api_key("the --api-key flag", region));
        }
        if sources.use_env && env::is_present(env::CYBEDEFEND_API_KEY) {
            // the key `cybedefend proxy` hands to other tools: this process is one of them
            if env::var(env::CYBEDEFEND_API_KEY)
                .ok()
                .flatten()
                .is_some_and(|k| k.starts_with("cdsk_"))
            {
                return Err(Error::usage(
                    "CYBEDEFEND_API_KEY holds the session key of a `cybedefend proxy` (or `exec --proxy`): it is for other tools, and this cybedefend cannot use it",
                )
                .with_hint("run this command outside the program that `exec --proxy` started (or unset CYBEDEFEND_API_KEY and CYBEDEFEND_API_URL for it)"));
            }
            return Err(deprecated_api_key(
                "the CYBEDEFEND_API_KEY environment variable",
                region,
            ));
        }
        if self.figment.find_value("api_key").is_ok() {
            let origin = self
                .figment
                .find_metadata("api_key")
                .map(origin_of_metadata)
                .unwrap_or_else(|| "a config file".into());
            return Err(deprecated_api_key(
                &format!("`api_key:` in {origin}"),
                region,
            ));
        }
        Ok(())
    }

    /// `CYBEDEFEND_<KEY>` of every key that has one.
    fn environment(&mut self) -> Result<()> {
        for key in keys::KEYS {
            let Some(var) = key.env_var() else { continue };
            if let Some(raw) = env::non_empty(&var)? {
                self.single(key, var, &raw)?;
            }
        }
        Ok(())
    }

    /// The global flags of the keys that have one.
    fn flags(&mut self, flags: &FlagValues) -> Result<()> {
        for key in keys::KEYS {
            if let (Some(flag), Some(raw)) = (key.flag, flags.get(key.name)) {
                self.single(key, format!("--{flag}"), raw)?;
            }
        }
        Ok(())
    }

    /// One value set by `origin` (a variable, a flag), typed by its key.
    fn single(&mut self, key: &'static Key, origin: String, raw: &str) -> Result<()> {
        let value = typed_value(key, &origin, raw)?;
        self.figment = std::mem::take(&mut self.figment).merge(Single {
            origin,
            key: key.name,
            value,
        });
        Ok(())
    }
}

/// Picks the profile from the layers so far (system and user files: never the working
/// directory's) and lays it over them.
fn choose_profile(
    figment: &mut Figment,
    sources: &ConfigSources,
    files: &[PathBuf],
    unknown: &mut Vec<String>,
) -> Result<Option<super::ActiveProfile>> {
    let chosen = super::profiles::choose(
        figment,
        files,
        sources.profile.as_ref(),
        &sources.cwd,
        unknown,
    )?;
    Ok(chosen.map(|c| {
        *figment = std::mem::take(figment).merge(c.layer);
        c.active
    }))
}

/// `--config /dev/null` (or a link to it) stands for "no configuration file".
fn is_dev_null(path: &Path) -> bool {
    let null = Path::new("/dev/null");
    path == null || path.canonicalize().is_ok_and(|p| p == null)
}

fn is_under(dir: &Path, root: &Path) -> bool {
    let canon = |p: &Path| p.canonicalize().unwrap_or_else(|_| p.to_owned());
    canon(dir).starts_with(canon(root))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}
