//! Command-line arguments (clap derive). Doc comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Credentials are looked up in this order (first match wins):
  1. --pat flag            2. CYBEDEFEND_PAT environment variable
  3. `pat:` in config.yaml 4. stored login (cybedefend login)   5. OS keyring
Teams reorder the chain and add Vault, 1Password, exec and file providers in config
(`credentials.chain`, `credentials.providers`; see `cybedefend auth providers`).
`cybedefend auth status` shows which one answered and why the others did not.

Exit codes: 0 success, 1 operation failed, 2 usage or configuration error,
4 authentication required or rejected.

Examples:
  cybedefend login --pat \"$PAT\" --region eu
  printf '%s' \"$PAT\" | cybedefend login --with-token --region eu
  CYBEDEFEND_PAT=... cybedefend auth status --json
  cybedefend config show --origin";

/// Command-line client for the CybeDefend application-security platform.
#[derive(Debug, Parser)]
#[command(name = "cybedefend", version, after_help = AFTER_HELP, propagate_version = true)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: GlobalArgs,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command accepts.
#[derive(Debug, Clone, Args)]
pub(crate) struct GlobalArgs {
    /// Personal Access Token (highest priority). Prefer CYBEDEFEND_PAT or `login --with-token`:
    /// arguments are visible to other users in process listings
    #[arg(long, global = true, value_name = "PAT", hide_env_values = true)]
    pub(crate) pat: Option<String>,

    /// Platform region: us or eu [default: the region stored at login, else us]
    #[arg(long, global = true, value_name = "REGION")]
    pub(crate) region: Option<String>,

    /// API base URL, overriding the region's (self-hosted or test platforms)
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) api_url: Option<String>,

    /// Auth server base URL, overriding the region's (self-hosted)
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) auth_endpoint: Option<String>,

    /// Read this config file instead of the system, user and working-directory files
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) config: Option<PathBuf>,

    /// CI mode: plain output, nothing waits for a person
    #[arg(long, global = true)]
    pub(crate) ci: bool,

    /// Log the credential chain and every HTTP call to stderr (secrets are never logged)
    #[arg(long, global = true)]
    pub(crate) debug: bool,

    /// Deprecated: API keys are rejected; use --pat
    #[arg(long, global = true, hide = true, value_name = "KEY")]
    pub(crate) api_key: Option<String>,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Package a folder (or take a zip), upload it, wait for the scan and apply the gates
    Scan(ScanArgs),
    /// Fetch a project's findings and write a report (json, sarif, markdown, html)
    Results(ResultsArgs),
    /// Log in with a Personal Access Token (validated, then stored) or in the browser
    Login(LoginArgs),
    /// Remove the stored login
    Logout,
    /// Inspect credentials: which source answers, and tokens for scripts
    #[command(subcommand)]
    Auth(AuthCommand),
    /// Show or check the configuration and where each value comes from
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Print the version
    Version,
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish)
    Completion {
        /// The shell
        shell: clap_complete::Shell,
    },
}

const SCAN_HELP: &str = "\
The folder is zipped without .git/ and without what .gitignore/.ignore exclude (--no-ignore keeps
everything); .cybedefend at the root is always included. Symbolic links never lead out of it.

Exit codes: 0 scan done and no gate tripped (or --wait=false), 1 a gate tripped (--break-on-fail,
--break-on-severity, a blocking policy violation) or the scan could not be run, 2 usage error,
4 no credential or access denied, 130 interrupted.

Examples:
  cybedefend scan --dir . --dry-run                   # what would be uploaded; no account needed
  cybedefend scan --dir . --project-id ID --break-on-severity high
  CYBEDEFEND_PAT=... cybedefend scan --dir . --project-id ID --ci
  cybedefend scan --file build/source.zip --project-id ID --wait=false";

/// `scan`.
#[derive(Debug, Clone, Args)]
#[command(after_help = SCAN_HELP)]
pub(crate) struct ScanArgs {
    /// Folder to package and scan
    #[arg(short, long, value_name = "FOLDER")]
    pub(crate) dir: Option<PathBuf>,
    /// Existing zip archive to upload instead of a folder
    #[arg(short, long, value_name = "ZIP")]
    pub(crate) file: Option<PathBuf>,
    /// Project to scan [default: CYBEDEFEND_PROJECT_ID or `project_id:` in config]
    #[arg(long, value_name = "ID")]
    pub(crate) project_id: Option<String>,
    /// Branch the scan belongs to [default: `branch:` in config, else main]
    #[arg(short, long, value_name = "NAME")]
    pub(crate) branch: Option<String>,
    /// Wait for the scan to finish (--wait=false prints the scan id and exits)
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) wait: bool,
    /// Seconds between status checks
    #[arg(long, default_value_t = 5.0, value_name = "SECONDS")]
    pub(crate) interval: f64,
    /// Give up waiting after this long (the scan goes on on the platform)
    #[arg(long, default_value = "30m", value_name = "DURATION")]
    pub(crate) timeout: String,
    /// Exit 1 if the scan fails
    #[arg(long)]
    pub(crate) break_on_fail: bool,
    /// Exit 1 if an open finding has this severity or above: critical, high, medium, low, none
    #[arg(long, value_name = "SEVERITY")]
    pub(crate) break_on_severity: Option<String>,
    /// Evaluate the project's policies after the scan (exit 1 on a blocking violation)
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) policy_check: bool,
    /// Seconds to wait for the policy evaluation
    #[arg(long, default_value_t = 300.0, value_name = "SECONDS")]
    pub(crate) policy_timeout: f64,
    /// List up to 5 findings per policy violation
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) show_policy_vulns: bool,
    /// List every finding per policy violation
    #[arg(long)]
    pub(crate) show_all_policy_vulns: bool,
    /// Keep files that .gitignore/.ignore exclude (.git/ is still left out)
    #[arg(long)]
    pub(crate) no_ignore: bool,
    /// Show what would be uploaded (files, sizes, what the ignore rules removed); no network
    #[arg(long)]
    pub(crate) dry_run: bool,
    /// Also write the archive to this file
    #[arg(long, value_name = "FILE")]
    pub(crate) archive_out: Option<PathBuf>,
}

/// Report formats of `results`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum OutputFormat {
    /// The official CLI's JSON
    Json,
    /// SARIF 2.1.0 (GitHub code scanning, IDEs)
    Sarif,
    /// Markdown
    Markdown,
    /// A self-contained HTML page (works offline)
    Html,
}

/// `results`.
#[derive(Debug, Clone, Args)]
#[command(after_help = "\
Open findings (to verify, confirmed) are fetched; with --type all (default) every type, every page.

Examples:
  cybedefend results --project-id ID -o sarif                # results.sarif in this folder
  cybedefend results --project-id ID -t sast --all=false -p 2
  cybedefend results --project-id ID -t sca --grouped")]
pub(crate) struct ResultsArgs {
    /// Project [default: CYBEDEFEND_PROJECT_ID or `project_id:` in config]
    #[arg(long, value_name = "ID")]
    pub(crate) project_id: Option<String>,
    /// all, sast, sca, iac, secret, cicd, container
    #[arg(short = 't', long = "type", default_value = "all", value_name = "TYPE")]
    pub(crate) kind: String,
    /// Page to fetch with --all=false (20 findings a page)
    #[arg(short, long, default_value_t = 1)]
    pub(crate) page: u64,
    /// Fetch every page
    #[arg(short, long, default_value_t = true, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub(crate) all: bool,
    /// Report format
    #[arg(short, long, value_enum, default_value_t = OutputFormat::Json)]
    pub(crate) output: OutputFormat,
    /// File name [default: results.<format extension>]
    #[arg(short, long, value_name = "NAME")]
    pub(crate) filename: Option<String>,
    /// Folder for the file (created if missing)
    #[arg(long, default_value = ".", value_name = "FOLDER")]
    pub(crate) filepath: PathBuf,
    /// Only this branch [default: all branches]
    #[arg(short, long, value_name = "NAME")]
    pub(crate) branch: Option<String>,
    /// Group findings by rule or package (JSON only)
    #[arg(short, long)]
    pub(crate) grouped: bool,
}

/// `login`.
#[derive(Debug, Args)]
#[command(after_help = "\
With --pat or --with-token, the PAT is checked with one token exchange and then saved to
~/.cybedefend/credentials.json together with the region, which later commands remember.
Without them, the browser opens at the region's sign-in page ($BROWSER is honoured; if no
browser opens, open the printed URL yourself). The session is refreshed transparently.
In CI (--ci, or CI set without a terminal) browser login is refused: use a PAT.

Examples:
  cybedefend login --pat \"$PAT\" --region eu
  cybedefend login --with-token < pat.txt
  cybedefend login --region eu                 # browser
  cybedefend login --no-browser                # print the URL, e.g. over SSH")]
pub(crate) struct LoginArgs {
    /// Read the PAT from standard input (keeps it out of argv and shell history)
    #[arg(long, conflicts_with = "pat")]
    pub(crate) with_token: bool,
    /// Where to keep the PAT: `file` (credentials.json, 0600) or `keyring` (the OS keyring;
    /// credentials.json then keeps only the region) [default: file, or keyring when the system
    /// policy requires secure storage]
    #[arg(long, value_name = "WHERE", value_parser = ["file", "keyring"])]
    pub(crate) store: Option<String>,
    /// Browser login: local port for the callback (0 picks a free one, for auth servers that
    /// accept any loopback port)
    #[arg(long, default_value_t = cybedefend_core::oauth::DEFAULT_CALLBACK_PORT, value_name = "PORT")]
    pub(crate) callback_port: u16,
    /// Browser login: print the URL instead of opening a browser
    #[arg(long)]
    pub(crate) no_browser: bool,
    /// Browser login: how long to wait for the sign-in
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub(crate) login_timeout: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum AuthCommand {
    /// Show which credential is used, where it came from, and the whole lookup chain
    Status {
        /// Do not contact the server (no token exchange)
        #[arg(long)]
        offline: bool,
        /// Print one JSON object on stdout
        #[arg(long)]
        json: bool,
    },
    /// Print an access token for the current credential (for scripts)
    Token,
    /// Move the stored PAT into the OS keyring (read back and verified before the file copy
    /// is removed)
    Migrate {
        /// Destination: keyring
        #[arg(long, value_parser = ["keyring"], default_value = "keyring")]
        to: String,
    },
    /// List the credential provider types this build knows, and the default chain
    Providers {
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigCommand {
    /// Print the effective configuration
    Show {
        /// Also say where each value comes from (file, environment variable, flag)
        #[arg(long)]
        origin: bool,
        /// Print JSON
        #[arg(long)]
        json: bool,
    },
    /// Check a config file (or the effective configuration): syntax, types, keys, chain
    Validate {
        /// The file to check [default: every layer in effect]
        file: Option<PathBuf>,
    },
}
