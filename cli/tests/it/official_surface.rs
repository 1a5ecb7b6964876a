//! Every command and flag of the official CLI (v2.0.2) is accepted here with the same name, and
//! its booleans take `--flag`, `--flag=true` and `--flag=false` as the official (pflag) does.

use crate::common::*;

const REGISTRIES: &[&str] = &[
    "gitlab",
    "github",
    "dockerhub",
    "gcr",
    "ecr",
    "acr",
    "quay",
    "harbor",
    "jfrog",
];

/// (command, flags) of the official CLI; `=` marks a boolean.
fn surface() -> Vec<(Vec<&'static str>, Vec<&'static str>)> {
    let mut s: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["scan"],
            vec![
                "dir",
                "file",
                "project-id",
                "branch",
                "wait=",
                "break-on-fail=",
                "break-on-severity",
                "interval",
                "policy-check=",
                "policy-timeout",
                "show-policy-vulns=",
                "show-all-policy-vulns=",
            ],
        ),
        (
            vec!["results"],
            vec![
                "project-id",
                "type",
                "page",
                "all=",
                "output",
                "filename",
                "filepath",
                "branch",
                "grouped=",
            ],
        ),
        (
            vec!["project", "create"],
            vec![
                "team-id",
                "name",
                "ai-merge-request=",
                "improving-results=",
                "auto-fix=",
            ],
        ),
        (vec!["project", "delete"], vec!["project-id"]),
        (vec!["project", "get"], vec!["project-id"]),
        (
            vec!["team", "create"],
            vec!["organization-id", "name", "description"],
        ),
        (vec!["team", "delete"], vec!["team-id"]),
        (vec!["team", "get"], vec!["organization-id", "team-id"]),
        (vec!["team", "list"], vec!["organization-id"]),
        (
            vec!["team", "update"],
            vec!["team-id", "name", "description"],
        ),
        (
            vec!["team", "members"],
            vec!["team-id", "page", "page-size", "search"],
        ),
        (
            vec!["team", "add-member"],
            vec!["team-id", "user-id", "role"],
        ),
        (
            vec!["team", "update-member"],
            vec!["team-id", "user-id", "role"],
        ),
        (vec!["team", "remove-member"], vec!["team-id", "user-id"]),
        (vec!["overview", "project"], vec!["project-id", "branches"]),
        (
            vec!["overview", "org"],
            vec![
                "organization-id",
                "severity-filter",
                "status-filter",
                "analysis-types",
                "date-from",
                "date-to",
                "branches",
                "team-ids",
                "trend-period-days",
            ],
        ),
        (vec!["report", "sbom"], vec!["project-id", "output"]),
        (
            vec!["report", "owasp"],
            vec!["project-id", "format", "detailed=", "output"],
        ),
        (
            vec!["report", "cwe"],
            vec!["project-id", "format", "detailed=", "output"],
        ),
        (
            vec!["report", "org"],
            vec!["organization-id", "type", "format", "detailed=", "output"],
        ),
        (
            vec!["report", "team"],
            vec!["team-id", "type", "format", "detailed=", "output"],
        ),
        (
            vec!["report", "batch"],
            vec![
                "organization-id",
                "project-ids",
                "type",
                "format",
                "detailed=",
                "output",
            ],
        ),
        (
            vec!["compliance", "history"],
            vec!["project-id", "page", "page-size", "start-date", "end-date"],
        ),
        (
            vec!["compliance", "violations"],
            vec!["project-id", "page", "limit"],
        ),
        (
            vec!["compliance", "stats"],
            vec!["project-id", "start-date", "end-date"],
        ),
        (vec!["login"], vec![]),
        (vec!["logout"], vec![]),
        (vec!["version"], vec![]),
    ];
    for r in REGISTRIES {
        s.push((
            vec!["container", "scan", r],
            vec![
                "project-id",
                "image",
                "credential-id",
                "branch",
                "private=",
                "severities",
            ],
        ));
    }
    s
}

/// Global flags of the official CLI.
const GLOBAL: &[&str] = &[
    "api-url",
    "pat",
    "auth-endpoint",
    "ci=",
    "debug=",
    "config",
    "region",
];

#[test]
fn every_official_command_and_flag_is_accepted() {
    let env = Env::new();
    let mut invocations = 0;
    for (cmd, flags) in surface() {
        let mut args: Vec<&str> = cmd.clone();
        args.push("--help");
        let out = env.run(&args);
        assert_eq!(out.code, 0, "{cmd:?}: {out:?}");
        for flag in flags.iter().chain(GLOBAL) {
            let name = flag.trim_end_matches('=');
            assert!(
                out.stdout.contains(&format!("--{name}")),
                "{cmd:?} has no --{name}"
            );
            invocations += 1;
            if flag.ends_with('=') {
                for form in [
                    format!("--{name}"),
                    format!("--{name}=true"),
                    format!("--{name}=false"),
                ] {
                    let mut a: Vec<&str> = cmd.clone();
                    a.push(&form);
                    a.push("--help");
                    let out = env.run(&a);
                    assert_eq!(out.code, 0, "{cmd:?} {form}: {out:?}");
                }
            }
        }
        invocations += 1;
    }
    // The table above is the official surface: the 39 commands this CLI lacked had 131 flags.
    let added: usize = surface()
        .iter()
        .filter(|(c, _)| !matches!(c[0], "scan" | "results" | "login" | "logout" | "version"))
        .map(|(_, f)| f.len())
        .sum();
    assert_eq!(added, 131);
    assert!(invocations > 131);
}
