//! The management commands against the platform double: for each, the happy path, a 403, a
//! 404, a value refused before any network call, and `--json` compared with what the double
//! served.

use std::fs;

use cybedefend_platform_double::{ORG_ID, TEAM_ID, report_bytes};

use crate::common::*;

const PROJECT: &str = "55555555-5555-4555-8555-555555555555";
const PAT: &str = "cdp_manage_pat_01";
const UNKNOWN: &str = "00000000-0000-4000-8000-0000000000aa";
const USER: &str = "00000000-0000-4000-8000-00000000c0de";

fn setup() -> (Double, Env) {
    let d = Double::start();
    d.add_pat(PAT);
    d.add_project(PROJECT, "demo");
    d.add_member(TEAM_ID, USER, "dev@example.test", "developer");
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", PAT);
    (d, env)
}

/// One command: its arguments, the request whose answer `--json` prints, the id a 403 is
/// about, and a variant whose id does not exist.
struct Case {
    args: Vec<String>,
    method: &'static str,
    path: String,
    /// The id to forbid for the 403 case (`None`: inject a 403).
    forbid: Option<&'static str>,
    /// The arguments with an unknown id (or name), for the 404 case.
    missing: Option<Vec<String>>,
    /// Arguments refused before any network call, and a word the message contains.
    invalid: (Vec<String>, &'static str),
    /// Whether `--json` prints the served answer (false: a report written to a file).
    json: bool,
}

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn cases() -> Vec<Case> {
    let p = PROJECT;
    let (o, t) = (ORG_ID, TEAM_ID);
    let case = |args: &[&str],
                method,
                path: String,
                forbid,
                missing: Option<&[&str]>,
                invalid: (&[&str], &'static str)| Case {
        args: v(args),
        method,
        path,
        forbid,
        missing: missing.map(v),
        invalid: (v(invalid.0), invalid.1),
        json: true,
    };
    let mut all = vec![
        case(
            &["project", "get", "--project-id", p],
            "GET",
            format!("/project/{p}"),
            Some(PROJECT),
            Some(&["project", "get", "--project-id", UNKNOWN]),
            (&["project", "get", "--project-id", "a/b"], "--project-id"),
        ),
        case(
            &[
                "project",
                "create",
                "--team-id",
                t,
                "--name",
                "web",
                "--ai-merge-request",
            ],
            "POST",
            format!("/team/{t}/project"),
            Some(TEAM_ID),
            Some(&["project", "create", "--team-id", UNKNOWN, "--name", "web"]),
            (&["project", "create", "--team-id", t], "--name"),
        ),
        case(
            &["project", "list", "--organization-id", o],
            "GET",
            format!("/organization/{o}/projects"),
            Some(ORG_ID),
            Some(&["project", "list", "--organization-id", UNKNOWN]),
            (
                &["project", "list", "--organization-id", "a/b"],
                "--organization-id",
            ),
        ),
        case(
            &[
                "team",
                "create",
                "--organization-id",
                o,
                "--name",
                "blue",
                "--description",
                "d",
            ],
            "POST",
            format!("/organization/{o}/team"),
            Some(ORG_ID),
            Some(&[
                "team",
                "create",
                "--organization-id",
                UNKNOWN,
                "--name",
                "blue",
                "--description",
                "d",
            ]),
            (
                &["team", "create", "--organization-id", o, "--name", "blue"],
                "--description",
            ),
        ),
        case(
            &["team", "get", "--organization-id", o, "--team-id", t],
            "GET",
            format!("/organization/{o}/team/{t}"),
            Some(TEAM_ID),
            Some(&["team", "get", "--organization-id", o, "--team-id", UNKNOWN]),
            (&["team", "get", "--team-id", t], "--organization-id"),
        ),
        case(
            &["team", "list", "--organization-id", o],
            "GET",
            format!("/organization/{o}/teams"),
            Some(ORG_ID),
            Some(&["team", "list", "--organization-id", UNKNOWN]),
            (&["team", "list", "--organization-id", ""], "empty"),
        ),
        case(
            &[
                "team",
                "update",
                "--team-id",
                t,
                "--description",
                "new words",
            ],
            "PUT",
            format!("/team/{t}"),
            Some(TEAM_ID),
            Some(&["team", "update", "--team-id", UNKNOWN, "--name", "x"]),
            (&["team", "update", "--team-id", t], "--name"),
        ),
        case(
            &["team", "members", "--team-id", t],
            "GET",
            format!("/team/{t}/members"),
            Some(TEAM_ID),
            Some(&["team", "members", "--team-id", UNKNOWN]),
            (
                &["team", "members", "--team-id", t, "--page-size", "21"],
                "21",
            ),
        ),
        case(
            &[
                "team",
                "add-member",
                "--team-id",
                t,
                "--user-id",
                "00000000-0000-4000-8000-00000000c0df",
                "--role",
                "read_only",
            ],
            "POST",
            format!("/team/{t}/member"),
            Some(TEAM_ID),
            Some(&[
                "team",
                "add-member",
                "--team-id",
                UNKNOWN,
                "--user-id",
                USER,
                "--role",
                "developer",
            ]),
            (
                &[
                    "team",
                    "add-member",
                    "--team-id",
                    t,
                    "--user-id",
                    USER,
                    "--role",
                    "admin",
                ],
                "admin",
            ),
        ),
        case(
            &[
                "team",
                "update-member",
                "--team-id",
                t,
                "--user-id",
                USER,
                "--role",
                "team_manager",
            ],
            "PUT",
            format!("/team/{t}/member/role"),
            Some(TEAM_ID),
            Some(&[
                "team",
                "update-member",
                "--team-id",
                t,
                "--user-id",
                UNKNOWN,
                "--role",
                "developer",
            ]),
            (
                &[
                    "team",
                    "update-member",
                    "--team-id",
                    t,
                    "--role",
                    "developer",
                ],
                "--user-id",
            ),
        ),
        case(
            &[
                "team",
                "remove-member",
                "--team-id",
                t,
                "--user-id",
                USER,
                "--yes",
            ],
            "DELETE",
            format!("/team/{t}/member"),
            Some(TEAM_ID),
            Some(&[
                "team",
                "remove-member",
                "--team-id",
                t,
                "--user-id",
                UNKNOWN,
                "--yes",
            ]),
            (
                &[
                    "team",
                    "remove-member",
                    "--team-id",
                    t,
                    "--user-id",
                    "x\u{7}",
                ],
                "--user-id",
            ),
        ),
        case(
            &[
                "overview",
                "project",
                "--project-id",
                p,
                "--branches",
                "main, dev",
            ],
            "GET",
            format!("/project/{p}/results/overview"),
            Some(PROJECT),
            Some(&["overview", "project", "--project-id", UNKNOWN]),
            (&["overview", "project"], "--project-id"),
        ),
        case(
            &[
                "overview",
                "org",
                "--organization-id",
                o,
                "--severity-filter",
                "CRITICAL,HIGH",
                "--trend-period-days",
                "7",
            ],
            "GET",
            format!("/organization/{o}/results/overview"),
            Some(ORG_ID),
            Some(&["overview", "org", "--organization-id", UNKNOWN]),
            (
                &[
                    "overview",
                    "org",
                    "--organization-id",
                    o,
                    "--date-from",
                    "yesterday",
                ],
                "date",
            ),
        ),
        case(
            &[
                "compliance",
                "history",
                "--project-id",
                p,
                "--start-date",
                "2026-01-01",
            ],
            "GET",
            format!("/projects/{p}/compliance-history"),
            Some(PROJECT),
            Some(&["compliance", "history", "--project-id", UNKNOWN]),
            (
                &["compliance", "history", "--project-id", p, "--page", "0"],
                "0",
            ),
        ),
        case(
            &["compliance", "violations", "--project-id", p],
            "GET",
            format!("/projects/{p}/violations"),
            Some(PROJECT),
            Some(&["compliance", "violations", "--project-id", UNKNOWN]),
            (
                &[
                    "compliance",
                    "violations",
                    "--project-id",
                    p,
                    "--limit",
                    "x",
                ],
                "--limit",
            ),
        ),
        case(
            &["compliance", "stats", "--project-id", p],
            "GET",
            format!("/projects/{p}/violation-stats"),
            Some(PROJECT),
            Some(&["compliance", "stats", "--project-id", UNKNOWN]),
            (
                &[
                    "compliance",
                    "stats",
                    "--project-id",
                    p,
                    "--end-date",
                    "2026-13-01",
                ],
                "date",
            ),
        ),
        case(
            &["pat", "list"],
            "GET",
            "/user/personal-access-tokens".into(),
            None,
            None,
            (&["pat", "list", "--bogus"], "--bogus"),
        ),
        case(
            &["pat", "rename", "--name", "old", "--new-name", "new"],
            "PATCH",
            "/user/personal-access-tokens/name".into(),
            None,
            Some(&["pat", "rename", "--name", "nope", "--new-name", "new"]),
            (&["pat", "rename", "--name", "old"], "--new-name"),
        ),
        case(
            &["pat", "revoke", "--name", "old", "--yes"],
            "POST",
            "/user/personal-access-tokens/delete".into(),
            None,
            Some(&["pat", "revoke", "--name", "nope", "--yes"]),
            (&["pat", "revoke"], "--name"),
        ),
        case(
            &["project", "delete", "--project-id", p, "--yes"],
            "DELETE",
            format!("/project/{p}"),
            Some(PROJECT),
            Some(&["project", "delete", "--project-id", UNKNOWN, "--yes"]),
            (&["project", "delete", "--project-id", " "], "empty"),
        ),
        case(
            &["team", "delete", "--team-id", t, "--yes"],
            "DELETE",
            format!("/team/{t}"),
            Some(TEAM_ID),
            Some(&["team", "delete", "--team-id", UNKNOWN, "--yes"]),
            (&["team", "delete"], "--team-id"),
        ),
    ];
    for (reg, seg) in [
        ("gitlab", "gitlab/container-registry"),
        ("github", "github-container-registry"),
        ("dockerhub", "dockerhub/container-registry"),
        ("gcr", "gcr/container-registry"),
        ("ecr", "ecr/container-registry"),
        ("acr", "acr/container-registry"),
        ("quay", "quay/container-registry"),
        ("harbor", "harbor/container-registry"),
        ("jfrog", "jfrog/container-registry"),
    ] {
        let invalid: (&[&str], &str) = if reg == "github" {
            (
                &["container", "scan", "github", "--project-id", p],
                "--image",
            )
        } else {
            (
                &[
                    "container",
                    "scan",
                    reg,
                    "--project-id",
                    p,
                    "--image",
                    "app:v1",
                ],
                "--credential-id",
            )
        };
        all.push(case(
            &[
                "container",
                "scan",
                reg,
                "--project-id",
                p,
                "--image",
                "app:v1",
                "--credential-id",
                "cred-1",
                "--severities",
                "critical, high",
                "--private",
            ],
            "POST",
            format!("/integrations/{seg}/project/{p}/scan"),
            Some(PROJECT),
            Some(&[
                "container",
                "scan",
                reg,
                "--project-id",
                UNKNOWN,
                "--image",
                "app:v1",
                "--credential-id",
                "cred-1",
            ]),
            invalid,
        ));
    }
    for (args, file, bytes, forbid, missing) in [
        (
            v(&["report", "sbom", "--project-id", p]),
            format!("sbom-{p}.json"),
            report_bytes("sbom", "json", 2048),
            PROJECT,
            v(&["report", "sbom", "--project-id", UNKNOWN]),
        ),
        (
            v(&[
                "report",
                "owasp",
                "--project-id",
                p,
                "--format",
                "html",
                "--detailed",
            ]),
            format!("owasp-report-{p}.html"),
            report_bytes("owasp", "html", 2048),
            PROJECT,
            v(&["report", "owasp", "--project-id", UNKNOWN]),
        ),
        (
            v(&["report", "cwe", "--project-id", p, "--format", "pdf"]),
            format!("cwe-report-{p}.pdf"),
            report_bytes("cwe", "pdf", 2048),
            PROJECT,
            v(&["report", "cwe", "--project-id", UNKNOWN]),
        ),
        (
            v(&["report", "org", "--organization-id", o, "--type", "cwe"]),
            format!("org-cwe-{o}.json"),
            report_bytes("cwe", "json", 2048),
            ORG_ID,
            v(&["report", "org", "--organization-id", UNKNOWN]),
        ),
        (
            v(&["report", "team", "--team-id", t, "--format", "pdf"]),
            format!("team-owasp-{t}.pdf"),
            report_bytes("owasp", "pdf", 2048),
            TEAM_ID,
            v(&["report", "team", "--team-id", UNKNOWN]),
        ),
        (
            v(&[
                "report",
                "batch",
                "--organization-id",
                o,
                "--project-ids",
                p,
                "--format",
                "pdf",
            ]),
            "batch-owasp-report.pdf".into(),
            report_bytes("owasp", "pdf", 2048),
            PROJECT,
            v(&[
                "report",
                "batch",
                "--organization-id",
                o,
                "--project-ids",
                UNKNOWN,
            ]),
        ),
    ] {
        let sbom = args[1] == "sbom";
        all.push(Case {
            invalid: if sbom {
                (
                    v(&["report", "sbom", "--project-id", "a/b"]),
                    "--project-id",
                )
            } else {
                (
                    args.iter()
                        .map(|a| {
                            if a == "json" || a == "html" || a == "pdf" {
                                "docx".to_owned()
                            } else {
                                a.clone()
                            }
                        })
                        .chain(if args.iter().any(|a| a == "--format") {
                            vec![]
                        } else {
                            vec!["--format".into(), "docx".into()]
                        })
                        .collect(),
                    "docx",
                )
            },
            args,
            method: "GET",
            path: format!("{file}\n{}", String::from_utf8(bytes).unwrap()),
            forbid: Some(forbid),
            missing: Some(missing),
            json: false,
        });
    }
    all
}

fn run(env: &Env, args: &[String]) -> Out {
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    env.run(&a)
}

fn prepare(d: &Double) {
    d.add_user_pat("old", "cdp_old_pat_value_0001");
}

#[test]
fn every_command_happy_path_and_json_is_what_the_server_sent() {
    for c in cases() {
        let (d, env) = setup();
        prepare(&d);
        let out = run(&env, &c.args);
        assert_eq!(out.code, 0, "{:?}: {out:?}", c.args);
        // human output never shows the server's nulls or raw timestamps
        for raw in ["null", "T00:00:00"] {
            assert!(!out.stdout.contains(raw), "{:?}: {raw}: {out:?}", c.args);
        }
        if !c.json {
            // a report: the file under its default name, byte for byte what was served
            let (file, content) = c.path.split_once('\n').unwrap();
            let saved = fs::read_to_string(env.work().join(file))
                .unwrap_or_else(|e| panic!("{:?}: {file}: {e}; {out:?}", c.args));
            assert_eq!(saved, content, "{:?}", c.args);
            assert!(
                out.stderr.contains(&format!(
                    "Report saved to {file} ({})",
                    human_size(content.len())
                )),
                "{out:?}"
            );
            assert!(out.stdout.is_empty(), "reports leave stdout alone: {out:?}");
            continue;
        }
        let (d, env) = setup();
        prepare(&d);
        let mut args = c.args.clone();
        args.push("--json".into());
        let out = run(&env, &args);
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
        let printed: Value = serde_json::from_str(&out.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: stdout is not JSON ({e}): {out:?}"));
        let served = d.served(c.method, &c.path);
        assert!(
            !served.is_empty(),
            "{args:?}: the double served nothing at {} {}",
            c.method,
            c.path
        );
        let bodies: Vec<Value> = served
            .iter()
            .map(|s| serde_json::from_slice(&s.body).unwrap())
            .collect();
        let expected = if c.args[..2] == ["project", "list"] {
            // every page's projects, whole
            Value::Array(
                bodies
                    .iter()
                    .flat_map(|b| b["projects"].as_array().cloned().unwrap_or_default())
                    .collect(),
            )
        } else if c.args[0] == "pat" {
            mask(&bodies[0])
        } else if c.args[..2] == ["project", "get"] || c.args[..2] == ["project", "create"] {
            // the official CLI's `id` beside the server's `projectId`
            let mut b = bodies[0].clone();
            b["id"] = b["projectId"].clone();
            assert!(!b["id"].is_null(), "{args:?}: {b}");
            b
        } else if c.args[..2] == ["team", "list"] && bodies[0].get("teams").is_some() {
            // a bare array, as the official CLI prints it
            bodies[0]["teams"].clone()
        } else {
            bodies[0].clone()
        };
        assert_eq!(
            printed, expected,
            "{args:?}: --json prints the server's whole answer"
        );
    }
}

/// `1.8 kB`, `512 B`: sizes as the CLI prints them (decimal units, three digits).
fn human_size(n: usize) -> String {
    match n {
        0..1000 => format!("{n} B"),
        _ => {
            let kb = n as f64 / 1000.0;
            if kb < 1000.0 {
                format!("{kb:.2} kB")
            } else {
                format!("{:.2} MB", kb / 1000.0)
            }
        }
    }
}

/// The PAT values the double sent, masked as the CLI must.
fn mask(v: &Value) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, x)| {
                    if k == "value" {
                        (k.clone(), Value::String("***".into()))
                    } else {
                        (k.clone(), mask(x))
                    }
                })
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(mask).collect()),
        o => o.clone(),
    }
}

#[test]
fn every_command_says_what_a_403_refused() {
    for c in cases() {
        let (d, env) = setup();
        prepare(&d);
        match c.forbid {
            Some(id) => d.forbid(id),
            None => d.fail_next_api_calls(&[403]),
        }
        let out = run(&env, &c.args);
        assert_eq!(out.code, 4, "{:?}: {out:?}", c.args);
        assert!(
            out.stderr.contains("access denied (HTTP 403)"),
            "{:?}: {out:?}",
            c.args
        );
        if let Some(id) = c.forbid {
            assert!(
                out.stderr.contains(id),
                "{:?}: the message names {id}: {out:?}",
                c.args
            );
        }
        assert!(out.stdout.is_empty(), "{:?}: {out:?}", c.args);
        assert!(env.leftovers().is_empty(), "{:?}", env.leftovers());
    }
}

#[test]
fn every_command_names_what_was_not_found() {
    for c in cases() {
        let Some(missing) = &c.missing else { continue };
        let (d, env) = setup();
        prepare(&d);
        let out = run(&env, missing);
        assert_eq!(out.code, 1, "{missing:?}: {out:?}");
        assert!(
            out.stderr.contains("was not found (HTTP 404)"),
            "{missing:?}: {out:?}"
        );
        let named = missing
            .iter()
            .any(|a| out.stderr.contains(&format!("`{a}`")));
        assert!(
            named,
            "{missing:?}: the message names what is missing: {out:?}"
        );
        assert!(out.stderr.contains("hint:"), "{out:?}");
        // one wording: where the right id is listed, by what was missing
        if missing.iter().any(|a| a == "--project-id") {
            assert!(
                out.stderr
                    .contains("`cybedefend project list` lists the projects"),
                "{missing:?}: {out:?}"
            );
        }
        // a failed report leaves no file behind
        let files: Vec<_> = fs::read_dir(env.work())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(files.is_empty(), "{missing:?}: {files:?}");
    }
}

#[test]
fn bad_values_stop_before_any_network_call() {
    for c in cases() {
        let (d, env) = setup();
        let out = run(&env, &c.invalid.0);
        assert_eq!(out.code, 2, "{:?}: {out:?}", c.invalid.0);
        assert!(
            out.stderr.contains(c.invalid.1),
            "{:?}: the message names {}: {out:?}",
            c.invalid.0,
            c.invalid.1
        );
        assert!(
            d.requests().is_empty(),
            "{:?}: no request at all, not even a token exchange",
            c.invalid.0
        );
    }
}

/// Destructive commands without a terminal (a script, CI) need `--yes`: exit 2, nothing sent,
/// and the hint shows the command with `--yes` (never the PAT of the command line). At a
/// terminal, "n" is an answer, not an error: a plain line, exit 1, nothing sent; "y" goes on.
#[test]
fn destructive_commands_need_yes_without_a_terminal_and_no_is_an_answer() {
    let t = TEAM_ID;
    let destructive: [(&[&str], &str); 4] = [
        (&["project", "delete", "--project-id", PROJECT], "/project/"),
        (&["team", "delete", "--team-id", t], "/team/"),
        (
            &["team", "remove-member", "--team-id", t, "--user-id", USER],
            "/member",
        ),
        (&["pat", "revoke", "--name", "old"], "/delete"),
    ];
    for (args, path) in destructive {
        let (d, env) = setup();
        prepare(&d);
        let mut with_pat = vec!["--pat", PAT];
        with_pat.extend_from_slice(args);
        let out = env.run(&with_pat);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains("Without a terminal nobody can answer")
                && out
                    .stderr
                    .contains(&format!("`cybedefend {} --yes`", args.join(" "))),
            "{args:?}: {out:?}"
        );
        assert!(!out.stderr.contains(PAT), "{out:?}");
        // a value a shell would split is quoted in the command to copy
        if args[0] == "pat" {
            let out = env.run(&["pat", "revoke", "--name", "CI token; x"]);
            assert_eq!(out.code, 2, "{out:?}");
            assert!(
                out.stderr
                    .contains("`cybedefend pat revoke --name 'CI token; x' --yes`"),
                "{out:?}"
            );
        }
        let sent = || {
            d.requests()
                .iter()
                .any(|r| r.method != "GET" && r.path.contains(path))
        };
        assert!(!sent(), "{args:?}: nothing sent");

        // at a terminal (a pseudo-terminal from `script`): "n" is an answer
        let line = format!("{} {}", env!("CARGO_BIN_EXE_cybedefend"), args.join(" "));
        for (answer, code) in [("n", 1), ("y", 0)] {
            let c = env.command_with("script", &[], &["-qec", &line, "/dev/null"]);
            let out = Env::output_of(c, Some(&format!("{answer}\n")));
            assert_eq!(out.code, code, "{args:?} {answer}: {out:?}");
            if answer == "n" {
                assert!(
                    out.stdout.contains("Nothing was") && !out.stdout.contains("error"),
                    "{args:?}: {out:?}"
                );
                assert!(!sent(), "{args:?}: nothing sent");
            } else {
                assert!(sent(), "{args:?}: sent");
            }
        }
    }
}

#[test]
fn team_list_reads_the_spec_array_and_the_official_object() {
    for wrapped in [false, true] {
        let (d, env) = setup();
        d.set_teams_wrapped(wrapped);
        let out = env.run(&["team", "list", "--organization-id", ORG_ID]);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(
            out.stdout.contains(TEAM_ID) && out.stdout.contains("Double team"),
            "{out:?}"
        );
        // a bare array either way, as the official CLI prints it
        let out = env.run(&["team", "list", "--organization-id", ORG_ID, "--json"]);
        let teams = out.json();
        assert!(teams.is_array(), "{wrapped}: {out:?}");
        assert_eq!(teams[0]["id"], TEAM_ID, "{out:?}");
    }
}

/// A name taken on `pat create` (HTTP 409) says to rename or revoke, and creates nothing.
#[test]
fn a_pat_name_taken_says_rename_or_revoke() {
    let (d, env) = setup();
    prepare(&d);
    let out = env.run(&["pat", "create", "--name", "old"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("a PAT named `old` already exists (HTTP 409); nothing was created"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("pick another name")
            && out.stderr.contains("cybedefend pat revoke --name old"),
        "{out:?}"
    );
    assert!(out.stdout.is_empty(), "{out:?}");
}

/// `team update` prints the changed team on stdout, as the official CLI does (the confirmation
/// stays on stderr); `project get --json` has the official `id`.
#[test]
fn mutations_print_the_changed_object_and_json_has_the_official_keys() {
    let (_d, env) = setup();
    let out = env.run(&["team", "update", "--team-id", TEAM_ID, "--name", "renamed"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr.contains("team") && out.stderr.contains("updated"),
        "{out:?}"
    );
    assert!(
        out.stdout.contains("renamed") && out.stdout.contains(TEAM_ID),
        "the changed team on stdout: {out:?}"
    );
    let out = env.run(&["project", "get", "--project-id", PROJECT, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let p = out.json();
    assert_eq!(p["id"], PROJECT, "{p}");
    assert_eq!(p["projectId"], PROJECT, "the server's own key stays: {p}");
}

/// Human output shows times as people read them (`2026-01-02 00:00 UTC`, never the server's
/// fractions or `null`), and `compliance history` names each evaluation.
#[test]
fn human_output_reads_times_and_names_evaluations() {
    let (d, env) = setup();
    prepare(&d);
    let out = env.run(&["compliance", "history", "--project-id", PROJECT]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.contains("EVALUATION"), "{out:?}");
    assert!(
        out.stdout.contains("00000000-0000-4000-8000-000000003101"),
        "each evaluation id: {out:?}"
    );
    assert!(out.stdout.contains("2026-01-02 00:00 UTC"), "{out:?}");
    for args in [
        &["project", "get", "--project-id", PROJECT][..],
        &[
            "team",
            "get",
            "--organization-id",
            ORG_ID,
            "--team-id",
            TEAM_ID,
        ],
        &["pat", "list"],
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 0, "{args:?}: {out:?}");
        assert!(out.stdout.contains(" UTC"), "{args:?}: {out:?}");
        for raw in ["T00:00", "T10:30", ".000", "null"] {
            assert!(!out.stdout.contains(raw), "{args:?}: {raw}: {out:?}");
        }
    }
}

#[test]
fn project_list_reads_every_page() {
    let (d, env) = setup();
    for i in 0..24 {
        d.add_project(
            &format!("00000000-0000-4000-8000-0000000e{i:04}"),
            &format!("svc-{i}"),
        );
    }
    let out = env.run(&["project", "list", "--organization-id", ORG_ID, "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.json().as_array().unwrap().len(), 25);
    let pages: Vec<String> = d
        .requests_to(&format!("/organization/{ORG_ID}/projects"))
        .iter()
        .map(|r| r.query.iter().find(|(k, _)| k == "page").unwrap().1.clone())
        .collect();
    assert_eq!(pages, ["1", "2", "3"], "10 a page, the spec's maximum");
    let out = env.run(&[
        "project",
        "list",
        "--organization-id",
        ORG_ID,
        "--search",
        "svc-2",
    ]);
    assert_eq!(
        out.stdout.lines().filter(|l| l.contains("svc-")).count(),
        5,
        "svc-2, svc-20..23: {out:?}"
    );
    assert!(out.stdout.starts_with("ID "), "{out:?}");
    assert!(
        out.stdout.contains("OPEN C/H/M/L"),
        "the counts the answer holds: {out:?}"
    );
    assert!(out.stdout.contains("1/1/3/3"), "{out:?}");
    assert!(out.stdout.contains("\n5 projects;"), "{out:?}");
}

#[test]
fn reports_stream_to_disk_into_new_folders_and_stay_small_in_memory() {
    let (d, env) = setup();
    let size = 300 << 20;
    d.set_report_size(size);
    if !std::path::Path::new("/usr/bin/time").exists() {
        missing(
            "reports_stream_to_disk",
            "/usr/bin/time",
            "apt-get install time",
        );
        return;
    }
    let out = Env::output_of(
        env.command_with(
            env!("CARGO_BIN_EXE_cybedefend"),
            &["/usr/bin/time", "-f", "maxrss_kb=%M"],
            &[
                "report",
                "cwe",
                "--project-id",
                PROJECT,
                "--format",
                "pdf",
                "--output",
                "deep/er/cwe.pdf",
            ],
        ),
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    let saved = env.work().join("deep/er/cwe.pdf");
    assert_eq!(
        fs::metadata(&saved).unwrap().len(),
        report_bytes("cwe", "pdf", size).len() as u64
    );
    assert!(fs::read(&saved).unwrap().starts_with(b"%PDF-1.4"));
    let rss_kb: u64 = out
        .stderr
        .lines()
        .find_map(|l| l.strip_prefix("maxrss_kb="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS in {out:?}"));
    assert!(
        rss_kb < 100 * 1024,
        "a 300 MB report took {rss_kb} kB of memory: it must stream"
    );
}

#[test]
fn an_interrupted_report_leaves_no_file() {
    let (d, env) = setup();
    d.set_report_size(1 << 20);
    d.set_report_stall(std::time::Duration::from_secs(30));
    let child = env
        .command(&[
            "report",
            "owasp",
            "--project-id",
            PROJECT,
            "--format",
            "html",
            "--output",
            "r/owasp.html",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let dir = env.work().join("r");
    let part = || {
        fs::read_dir(&dir)
            .map(|d| {
                d.flatten()
                    .any(|e| e.file_name().to_string_lossy().ends_with(".part"))
            })
            .unwrap_or(false)
    };
    let mut waited = 0;
    while !part() && waited < 200 {
        std::thread::sleep(std::time::Duration::from_millis(25));
        waited += 1;
    }
    assert!(part(), "the report is written under a temporary name first");
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(130),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let left: Vec<_> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        left.is_empty(),
        "nothing under the final name, no part file: {left:?}"
    );
}

#[test]
fn batch_reports_take_a_plain_name_from_the_server_and_accept_raw_answers() {
    let (d, env) = setup();
    d.set_batch_filename("../../escaped.pdf");
    let out = env.run(&[
        "report",
        "batch",
        "--organization-id",
        ORG_ID,
        "--project-ids",
        PROJECT,
        "--format",
        "pdf",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        fs::read(env.work().join("escaped.pdf")).unwrap(),
        report_bytes("owasp", "pdf", 2048)
    );
    assert!(
        !env.tmp.path().join("escaped.pdf").exists()
            && !env.work().parent().unwrap().join("escaped.pdf").exists()
    );
    let body: Value = serde_json::from_slice(
        &d.requests_to(&format!(
            "/organization/{ORG_ID}/project/report/batch/owasp/pdf"
        ))[0]
            .body,
    )
    .unwrap();
    assert_eq!(
        body,
        serde_json::json!({"projectIds": [PROJECT], "detailed": true})
    );

    d.set_batch_raw(true);
    let out = env.run(&[
        "report",
        "batch",
        "--organization-id",
        ORG_ID,
        "--project-ids",
        PROJECT,
        "--format",
        "html",
        "--detailed=false",
        "-o",
        "b.html",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(
        fs::read(env.work().join("b.html")).unwrap(),
        report_bytes("owasp", "html", 2048)
    );
}

#[test]
fn pat_create_prints_the_pat_once_and_only_on_stdout() {
    let (d, env) = setup();
    let out = env.run(&["pat", "create", "--name", "ci", "--expires", "30d"]);
    assert_eq!(out.code, 0, "{out:?}");
    let (name, value) = d.user_pats().into_iter().find(|(n, _)| n == "ci").unwrap();
    assert_eq!(name, "ci");
    assert_eq!(out.stdout, format!("{value}\n"));
    assert!(!out.stderr.contains(&value), "{out:?}");
    assert!(out.stderr.contains(&fingerprint(&value)), "{out:?}");
    let body: Value = serde_json::from_slice(
        &d.requests_to("/user/personal-access-tokens")
            .last()
            .unwrap()
            .body,
    )
    .unwrap();
    assert!(
        body["expiresAt"].as_i64().unwrap() > 1_700_000_000_000,
        "{body}"
    );
    // the list never shows values
    let out = env.run(&["pat", "list", "--json"]);
    assert!(
        !out.stdout.contains(&value) && out.stdout.contains("***"),
        "{out:?}"
    );
    let out = env.run(&["pat", "list"]);
    assert!(
        !out.stdout.contains(&value) && out.stdout.contains("ci"),
        "{out:?}"
    );
}

#[test]
fn a_pat_the_server_made_that_is_not_one_word_of_visible_ascii_is_revoked_not_shown() {
    let (d, env) = setup();
    for (value, why) in [
        (
            "pat_\u{1b}]52;c;ZXZpbA==\u{7}_clipboard",
            "other than visible ASCII (U+001B)",
        ),
        (
            "pat_with_\u{202e}_bidi_override",
            "other than visible ASCII (U+202E)",
        ),
        ("pat_two words", "spaces or line breaks"),
        ("short", "5 characters long"),
    ] {
        d.set_next_pat_value(value);
        let out = env.run(&["pat", "create", "--name", "odd"]);
        assert_eq!(out.code, 1, "{out:?}");
        assert!(out.stdout.is_empty(), "{out:?}");
        assert!(
            !out.all().contains(value) && !out.all().contains('\u{1b}'),
            "{out:?}"
        );
        assert!(
            out.stderr.contains(why) && out.stderr.contains("it was revoked, and is not shown"),
            "{out:?}"
        );
        assert!(
            !d.user_pats().iter().any(|(n, _)| n == "odd"),
            "the odd PAT was left behind"
        );
    }
}

#[test]
fn pat_create_store_keeps_it_as_the_login_and_never_prints_it() {
    let (d, mut env) = setup();
    let out = env.run(&["pat", "create", "--name", "laptop", "--store", "file"]);
    assert_eq!(out.code, 0, "{out:?}");
    let (_, value) = d
        .user_pats()
        .into_iter()
        .find(|(n, _)| n == "laptop")
        .unwrap();
    assert!(!out.all().contains(&value), "{out:?}");
    let creds = fs::read_to_string(env.creds()).unwrap();
    assert!(creds.contains(&value));
    assert_eq!(mode(&env.creds()), 0o600);
    // the new PAT is the login now
    env.vars.retain(|(k, _)| k != "CYBEDEFEND_PAT");
    let out = env.run(&["auth", "status", "--json"]);
    assert_eq!(out.json()["fingerprint"], fingerprint(&value), "{out:?}");
}

#[test]
fn a_pat_that_cannot_be_stored_is_refused_first_or_revoked_again() {
    let (d, env) = setup();
    // where it would go is checked before a PAT exists
    env.write(
        &env.system_config(),
        "credentials:\n  require_secure_storage: true\n",
    );
    for store in ["file", "nosuch"] {
        let out = env.run(&["pat", "create", "--name", "kept", "--store", store]);
        assert_eq!(out.code, 2, "{store}: {out:?}");
        assert!(out.stderr.contains("nothing was created"), "{out:?}");
    }
    assert!(d.requests_to("/user/personal-access-tokens").is_empty());
    // no keyring here (no session bus): refused before a PAT exists too
    fs::remove_file(env.system_config()).unwrap();
    let out = env.run(&["pat", "create", "--name", "kept", "--store", "keyring"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("no usable keyring"), "{out:?}");
    assert!(d.requests_to("/user/personal-access-tokens").is_empty());
    // a store that fails only when the PAT is written (a folder where credentials.json goes):
    // revoked again
    fs::create_dir_all(env.creds().join("in-the-way")).unwrap();
    let out = env.run(&["pat", "create", "--name", "kept", "--store", "file"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("revoked again"), "{out:?}");
    assert!(
        d.user_pats().iter().all(|(n, _)| n != "kept"),
        "no PAT left behind"
    );
    assert!(env.creds().is_dir(), "nothing replaced it");
}

#[test]
fn pat_create_checks_the_expiry_before_any_request() {
    let (d, env) = setup();
    for bad in ["2020-01-01", "soon", "40000d", "90", "3m", "12h"] {
        let out = env.run(&["pat", "create", "--name", "x", "--expires", bad]);
        assert_eq!(out.code, 2, "{bad}: {out:?}");
        assert!(out.stderr.contains("--expires"), "{out:?}");
    }
    assert!(d.requests().is_empty());
}

#[test]
fn auth_status_names_the_account_behind_the_credential() {
    let (d, env) = setup();
    d.set_profile_email("ci-bot@acme.test");
    let out = env.run(&["auth", "status"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout
            .contains("account:       ci-bot@acme.test (Dana Double)"),
        "{out:?}"
    );
    assert!(
        out.stdout
            .contains(&format!("Double org (id {ORG_ID}, admin)")),
        "{out:?}"
    );
    let v = env.run(&["auth", "status", "--json"]).json();
    assert_eq!(v["account"]["email"], "ci-bot@acme.test");
    assert_eq!(v["account"]["organizations"][0]["id"], ORG_ID);
    // offline: no account (nothing is asked)
    let v = env.run(&["auth", "status", "--offline", "--json"]).json();
    assert!(v["account"].is_null());
    // a profile that cannot be read is a warning, not a failure
    d.can(
        "GET",
        "/user/profile",
        cybedefend_platform_double::Canned {
            status: 500,
            headers: vec![],
            body: b"oops".to_vec(),
        },
    );
    let out = env.run(&["auth", "status"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("the account behind it could not be read"),
        "{out:?}"
    );
}

#[test]
fn container_scan_can_wait_and_apply_the_gates_of_scan() {
    let (d, env) = setup();
    let out = env.run(&[
        "container",
        "scan",
        "github",
        "--project-id",
        PROJECT,
        "--image",
        "org/api:main",
        "--break-on-severity",
        "low",
        "--interval",
        "0.1",
        "--policy-check=false",
        "--ci",
    ]);
    assert_eq!(
        out.code, 1,
        "the image's low finding trips the gate: {out:?}"
    );
    assert!(out.stderr.contains("--break-on-severity low"), "{out:?}");
    // only container findings count: the project's critical SAST finding does not trip it
    let critical = env.run(&[
        "container",
        "scan",
        "github",
        "--project-id",
        PROJECT,
        "--image",
        "org/api:main",
        "--break-on-severity",
        "critical",
        "--interval",
        "0.1",
        "--policy-check=false",
        "--ci",
    ]);
    assert_eq!(critical.code, 0, "{critical:?}");
    assert!(!critical.stderr.contains("gate:"), "{critical:?}");
    let sid = d.scan_ids().pop().unwrap();
    assert!(
        d.requests_to(&format!("/project/{PROJECT}/scan/{sid}"))
            .len()
            >= 2,
        "the scan was followed"
    );
    let body: Value = serde_json::from_slice(
        &d.requests_to(&format!(
            "/integrations/github-container-registry/project/{PROJECT}/scan"
        ))[0]
            .body,
    )
    .unwrap();
    assert_eq!(
        body,
        serde_json::json!({"imageName": "org/api:main"}),
        "empty values are left out"
    );

    // default: started, not followed (as the official CLI)
    let out = env.run(&[
        "container",
        "scan",
        "ecr",
        "--project-id",
        PROJECT,
        "--image",
        "a:1",
        "--credential-id",
        "c",
        "--severities",
        "low",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let sid = d.scan_ids().pop().unwrap();
    assert_eq!(out.stdout.trim(), sid);
    assert!(
        d.requests_to(&format!("/project/{PROJECT}/scan/{sid}"))
            .is_empty()
    );
    // waiting and --json, or a gate without waiting, are refused up front
    for bad in [
        vec!["--wait", "--json"],
        vec!["--wait=false", "--break-on-fail"],
        vec!["--severities", "urgent"],
    ] {
        let before = d.requests().len();
        let mut args = vec![
            "container",
            "scan",
            "ecr",
            "--project-id",
            PROJECT,
            "--image",
            "a:1",
            "--credential-id",
            "c",
        ];
        args.extend(bad.iter());
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{bad:?}: {out:?}");
        assert_eq!(d.requests().len(), before, "{bad:?}");
    }
}

fn canned(status: u16, content_type: &str, body: &[u8]) -> cybedefend_platform_double::Canned {
    cybedefend_platform_double::Canned {
        status,
        headers: vec![("content-type".into(), content_type.into())],
        body: body.to_vec(),
    }
}

#[test]
fn ids_that_are_not_one_path_segment_are_refused_wherever_they_come_from() {
    let (d, mut env) = setup();
    for args in [
        vec!["project", "delete", "--project-id", "..", "--yes"],
        vec!["team", "update", "--team-id", ".", "--name", "x"],
        vec!["report", "owasp", "--project-id", "..", "-o", "-"],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
    }
    env.set("CYBEDEFEND_PROJECT_ID", "../../x?y#z");
    let out = env.run(&["compliance", "stats"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("configured project id"), "{out:?}");
    assert!(d.requests().is_empty(), "no request at all");
}

#[test]
fn a_server_chosen_batch_name_never_replaces_a_file_or_hides_its_extension() {
    let (d, env) = setup();
    fs::write(env.work().join("keep.pdf"), b"mine").unwrap();
    let batch = [
        "report",
        "batch",
        "--organization-id",
        ORG_ID,
        "--project-ids",
        PROJECT,
        "--format",
        "pdf",
    ];
    for (suggested, saved) in [
        ("keep.pdf", "batch-owasp.pdf"),
        ("rep\u{202e}fdp.exe", "batch-owasp.pdf"),
        ("-", "batch-owasp.pdf"),
        ("report.html", "batch-owasp.pdf"),
    ] {
        d.set_batch_filename(suggested);
        let _ = fs::remove_file(env.work().join("batch-owasp.pdf"));
        let out = env.run(&batch);
        assert_eq!(out.code, 0, "{suggested}: {out:?}");
        assert!(env.work().join(saved).exists(), "{suggested}: {out:?}");
    }
    assert_eq!(fs::read(env.work().join("keep.pdf")).unwrap(), b"mine");
}

#[test]
fn an_html_page_is_not_saved_as_a_report() {
    let (d, env) = setup();
    for (path, args) in [
        (
            format!("/project/{PROJECT}/owasp-report/pdf"),
            vec![
                "report",
                "owasp",
                "--project-id",
                PROJECT,
                "--format",
                "pdf",
                "-o",
                "r.pdf",
            ],
        ),
        (
            format!("/project/{PROJECT}/sbom"),
            vec!["report", "sbom", "--project-id", PROJECT, "-o", "s.json"],
        ),
    ] {
        d.can(
            "GET",
            &path,
            canned(200, "text/html", b"<html><body>Please log in</body></html>"),
        );
        let out = env.run(&args);
        assert_eq!(out.code, 1, "{out:?}");
        assert!(out.stderr.contains("an HTML page"), "{out:?}");
        let left: Vec<_> = fs::read_dir(env.work())
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        assert!(left.is_empty(), "{left:?}");
    }
}

#[test]
fn report_output_edge_cases() {
    let (d, env) = setup();
    // into a pipe, the bytes as sent (CRLF, escapes and all)
    let body = b"{\r\n  \"a\": \"\x1b[2J\"\r\n}\r\n";
    d.can(
        "GET",
        &format!("/project/{PROJECT}/sbom"),
        canned(200, "application/json", body),
    );
    let out = env.run(&["report", "sbom", "--project-id", PROJECT, "-o", "-"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(out.stdout.as_bytes(), body);
    // the umask decides the file's mode
    let out = Env::output_of(
        env.command_with(
            env!("CARGO_BIN_EXE_cybedefend"),
            &["sh", "-c", "umask 077; exec \"$0\" \"$@\""],
            &[
                "report",
                "sbom",
                "--project-id",
                PROJECT,
                "-o",
                "private.json",
            ],
        ),
        None,
    );
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(mode(&env.work().join("private.json")), 0o600);
    // a FIFO is written into, not replaced
    let fifo = env.work().join("pipe");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read(fifo).unwrap())
    };
    let out = env.run(&["report", "sbom", "--project-id", PROJECT, "-o", "pipe"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(reader.join().unwrap(), body);
    use std::os::unix::fs::FileTypeExt;
    assert!(fs::metadata(&fifo).unwrap().file_type().is_fifo());
    // a folder or nothing as --output is refused before any request
    let before = d.requests().len();
    for bad in ["newdir/", ""] {
        let out = env.run(&["report", "sbom", "--project-id", PROJECT, "-o", bad]);
        assert_eq!(out.code, 2, "{bad:?}: {out:?}");
    }
    assert_eq!(d.requests().len(), before);
}

#[test]
fn a_stalled_download_stops_with_a_clear_message() {
    let (d, mut env) = setup();
    d.set_report_size(1 << 20);
    d.set_report_stall(std::time::Duration::from_secs(10));
    env.set("CYBEDEFEND_HTTP_TIMEOUT", "1s");
    let out = env.run(&["report", "cwe", "--project-id", PROJECT, "--format", "html"]);
    assert_eq!(out.code, 3, "{out:?}");
    assert!(out.stderr.contains("stalled"), "{out:?}");
    let left: Vec<_> = fs::read_dir(env.work())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn hostile_answers_are_refused_or_masked() {
    let (d, env) = setup();
    // a secret in a cell is masked before the cut, never partly shown
    d.add_project(
        "00000000-0000-4000-8000-0000000000cd",
        &format!("see config {PAT} please"),
    );
    let out = env.run(&[
        "project",
        "get",
        "--project-id",
        "00000000-0000-4000-8000-0000000000cd",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(!out.stdout.contains(&PAT[..12]), "{out:?}");
    assert!(out.stdout.contains("[REDACTED]"), "{out:?}");
    // PAT values under names the CLI does not know are masked too
    d.can("GET", "/user/personal-access-tokens", canned(200, "application/json",
        br#"[{"name":"a","key":"pat_BBBB2222","tokenValue":"pat_CCCC3333","value":{"raw":"pat_IIII9999"}}]"#));
    let out = env.run(&["pat", "list", "--json"]);
    assert_eq!(out.code, 0, "{out:?}");
    for v in ["pat_BBBB2222", "pat_CCCC3333", "pat_IIII9999"] {
        assert!(!out.stdout.contains(v), "{v}: {out:?}");
    }
    // a server that repeats one page forever: the list stops at the repeat
    let path = format!("/organization/{ORG_ID}/projects");
    let page = serde_json::json!({"projects": [{"projectId": PROJECT, "name": "demo"}], "totalProjects": 1e12, "totalPages": 1e12, "mainStatistics": {}});
    d.can(
        "GET",
        &path,
        canned(200, "application/json", page.to_string().as_bytes()),
    );
    let out = env.run(&["project", "list", "--organization-id", ORG_ID]);
    assert_eq!(out.code, 1, "it says the list is incomplete: {out:?}");
    assert!(out.stderr.contains("sent page 1 again"), "{out:?}");
    assert_eq!(
        d.requests_to(&path).len(),
        2,
        "stopped at the first repeated page"
    );
    // a team list that is neither a list nor `{teams}` is an error, not "no teams"
    for body in [&b"\"hello\""[..], b"{\"teams\": \"x\"}", b""] {
        d.can(
            "GET",
            &format!("/organization/{ORG_ID}/teams"),
            canned(200, "application/json", body),
        );
        let out = env.run(&["team", "list", "--organization-id", ORG_ID]);
        assert_eq!(out.code, 1, "{out:?}");
    }
    // the server's own words on a 404
    let out = env.run(&[
        "container",
        "scan",
        "ecr",
        "--project-id",
        PROJECT,
        "--image",
        "a:1",
        "--credential-id",
        "missing-credential",
    ]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("Credential not found"), "{out:?}");
}

#[test]
fn names_values_and_ranges_are_checked_before_any_request() {
    let (d, env) = setup();
    let out = env.run(&[
        "project",
        "create",
        "--team-id",
        TEAM_ID,
        "--name",
        "frontend/web #2",
    ]);
    assert_eq!(out.code, 0, "a name may hold / and #: {out:?}");
    let before = d.requests().len();
    let long = "é".repeat(300);
    for args in [
        vec![
            "overview",
            "org",
            "--organization-id",
            ORG_ID,
            "--severity-filter",
            "NOPE",
        ],
        vec![
            "overview",
            "org",
            "--organization-id",
            ORG_ID,
            "--status-filter",
            "nope",
        ],
        vec![
            "overview",
            "org",
            "--organization-id",
            ORG_ID,
            "--date-from",
            "2026-12-01",
            "--date-to",
            "2026-01-01",
        ],
        vec![
            "compliance",
            "stats",
            "--project-id",
            PROJECT,
            "--start-date",
            "2026-02-01",
            "--end-date",
            "2026-01-01",
        ],
        vec!["team", "members", "--team-id", TEAM_ID, "--search", &long],
        vec![
            "container",
            "scan",
            "github",
            "--project-id",
            PROJECT,
            "--image",
            "::::",
        ],
        vec![
            "container",
            "scan",
            "github",
            "--project-id",
            PROJECT,
            "--image",
            "a:",
        ],
        vec!["pat", "create", "--name", &long],
    ] {
        let out = env.run(&args);
        assert_eq!(out.code, 2, "{args:?}: {out:?}");
        assert!(
            out.stderr.len() < 2000,
            "the message does not echo the whole value: {out:?}"
        );
    }
    assert_eq!(d.requests().len(), before);
    // lists of known values are sent as the platform spells them
    let out = env.run(&[
        "overview",
        "org",
        "--organization-id",
        ORG_ID,
        "--severity-filter",
        "critical,High",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    let r = d
        .requests_to(&format!("/organization/{ORG_ID}/results/overview"))
        .pop()
        .unwrap();
    let sev: Vec<&str> = r
        .query
        .iter()
        .filter(|(k, _)| k == "severityFilter")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(sev, ["CRITICAL", "HIGH"]);
}

#[test]
fn reports_mask_secrets_everywhere_and_devices_are_written_into() {
    let (d, env) = setup();
    let body = format!("{{\"finding\": \"hard-coded token {PAT} in config.py\"}}\n");
    d.can(
        "GET",
        &format!("/project/{PROJECT}/sbom"),
        canned(200, "application/json", body.as_bytes()),
    );
    let out = env.run(&["report", "sbom", "--project-id", PROJECT, "-o", "r.json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let saved = fs::read_to_string(env.work().join("r.json")).unwrap();
    assert!(
        !saved.contains(PAT) && saved.contains("[REDACTED]"),
        "{saved}"
    );
    // /dev/stdout (here a pipe) is written into, never replaced
    let out = env.run(&[
        "report",
        "sbom",
        "--project-id",
        PROJECT,
        "-o",
        "/dev/stdout",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.contains("[REDACTED]") && !out.stdout.contains(PAT),
        "{out:?}"
    );
    // a FIFO nobody reads is an error at once, not a hang
    let fifo = env.work().join("nobody");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let out = env.run(&["report", "sbom", "--project-id", PROJECT, "-o", "nobody"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(out.stderr.contains("nothing is reading"), "{out:?}");
    // `..` or `.` as the last part of --output names a folder
    for bad in ["nd/..", "nd2/."] {
        let out = env.run(&["report", "sbom", "--project-id", PROJECT, "-o", bad]);
        assert_eq!(out.code, 2, "{bad}: {out:?}");
    }
}

#[test]
fn empty_pages_say_so_instead_of_printing_an_empty_table() {
    let (_d, env) = setup();
    let out = env.run(&[
        "compliance",
        "history",
        "--project-id",
        PROJECT,
        "--page",
        "5",
    ]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stdout.is_empty(), "{out:?}");
    assert!(
        out.stderr.contains("past the last evaluation (3 in all)"),
        "{out:?}"
    );
    let out = env.run(&["team", "members", "--team-id", TEAM_ID, "--page", "4"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stdout.is_empty() && out.stderr.contains("past the last page"),
        "{out:?}"
    );
}

#[cfg(unix)]
#[test]
fn pat_create_store_interrupted_after_the_pat_exists_ends_with_it_stored_or_revoked() {
    let (d, env) = setup();
    // the PAT is made at once, but its answer comes slowly: the signal comes in between
    d.set_slow_answer(
        "POST",
        "/user/personal-access-tokens",
        std::time::Duration::from_millis(1500),
    );
    for (round, signal) in ["-TERM", "-INT"].iter().enumerate() {
        let name = format!("interrupted-{round}");
        let child = env
            .command(&["pat", "create", "--name", &name, "--store", "file"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let sent = |d: &Double| {
            d.requests()
                .iter()
                .any(|r| r.method == "POST" && String::from_utf8_lossy(&r.body).contains(&name))
        };
        let mut waited = 0;
        while !sent(&d) && waited < 400 {
            std::thread::sleep(std::time::Duration::from_millis(25));
            waited += 1;
        }
        assert!(waited < 400, "the creation was never asked");
        // the request is at the server: the signal comes while the CLI waits for the answer
        std::process::Command::new("kill")
            .args([*signal, &child.id().to_string()])
            .status()
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(130), "{signal}: {out:?}");
        // the double creates at once and answers late: when the CLI has ended, the server's
        // side is final (and the CLI's revocation, if any, was answered before it ended)
        let kept = d.user_pats().into_iter().find(|(n, _)| *n == name);
        let stored = fs::read_to_string(env.creds()).unwrap_or_default();
        if let Some((_, value)) = kept {
            // it exists: then it is the stored login (or it was revoked, and is gone)
            assert!(
                stored.contains(&value),
                "{signal}: a PAT stored nowhere: {out:?}"
            );
        }
    }
}

#[test]
fn a_project_list_that_never_ends_stops_at_the_listing_budget() {
    let (d, env) = setup();
    // 50,000 new projects a page, pages without end: the item budget (500,000) ends it
    d.set_project_flood(50_000);
    let start = std::time::Instant::now();
    let out = env.run(&["project", "list", "--organization-id", ORG_ID, "--json"]);
    assert_eq!(out.code, 1, "{out:?}");
    assert!(
        out.stderr
            .contains("project list: the server sent more than 500000 items"),
        "{out:?}"
    );
    assert!(out.stdout.is_empty(), "{out:?}");
    let pages = d
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/projects"))
        .count();
    assert!(pages <= 12, "{pages} pages read");
    assert!(start.elapsed() < std::time::Duration::from_secs(60));
}

/// `-o` is the file in `report` and the format in `results`: `report owasp -o pdf` is refused
/// with the right flag named (it wrote a JSON report to a file called `pdf` and exited 0), and
/// `results --format` says to use `-o`. Nothing is asked of the server either way.
#[test]
fn a_format_where_the_file_goes_is_named_not_written() {
    let (d, env) = setup();
    for (args, flag) in [
        (
            &["report", "owasp", "--project-id", PROJECT, "-o", "pdf"][..],
            "--format pdf",
        ),
        (
            &["report", "cwe", "--project-id", PROJECT, "--output", "HTML"],
            "--format html",
        ),
    ] {
        let out = env.run(args);
        assert_eq!(out.code, 2, "{out:?}");
        assert!(
            out.stderr.contains(&format!("did you mean `{flag}`?")),
            "{out:?}"
        );
        assert!(!env.work().join("pdf").exists() && !env.work().join("HTML").exists());
    }
    // a file of that very name is still possible
    let out = env.run(&["report", "owasp", "--project-id", PROJECT, "-o", "./pdf"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(env.work().join("pdf").is_file());
    let out = env.run(&["results", "--project-id", PROJECT, "--format", "sarif"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("`-o sarif`"), "{out:?}");
    let asked = d
        .requests()
        .iter()
        .filter(|r| r.path.contains("report"))
        .count();
    assert_eq!(asked, 1, "only the ./pdf report was asked for");
}
