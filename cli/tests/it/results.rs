use std::fs;

use cybedefend_platform_double::sample_finding;

use crate::common::*;

const PROJECT: &str = "44444444-4444-4444-8444-444444444444";
const PAT: &str = "cdp_results_pat_01";

fn setup() -> (Double, Env) {
    with_project(PAT, PROJECT, "demo <app>")
}

fn results(env: &Env, extra: &[&str]) -> Out {
    results_of(env, PROJECT, extra)
}

#[test]
fn all_types_to_json_in_the_official_shape() {
    let (_d, env) = setup();
    let out = results(&env, &[]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value =
        serde_json::from_str(&fs::read_to_string(env.work().join("results.json")).unwrap())
            .unwrap();
    assert_eq!(v["projectId"], PROJECT);
    assert_eq!(v["projectName"], "demo <app>");
    let counts: Vec<usize> = ["sast", "sca", "iac", "secret", "cicd", "container"]
        .iter()
        .map(|t| v[*t].as_array().unwrap().len())
        .collect();
    assert_eq!(counts, vec![4, 1, 1, 1, 0, 1], "open findings per type");
    // a short table on stderr: type × severity, and the file written
    let row = |name: &str| -> Vec<String> {
        out.stderr
            .lines()
            .find(|l| l.split_whitespace().next() == Some(name))
            .unwrap_or_else(|| panic!("{name}: {out:?}"))
            .split_whitespace()
            .skip(1)
            .map(str::to_owned)
            .collect()
    };
    assert_eq!(row("sast"), ["1", "1", "1", "1", "4"]);
    assert_eq!(row("all"), ["1", "1", "3", "3", "8"]);
    assert!(
        out.stderr.contains("8 findings saved to ./results.json"),
        "{out:?}"
    );
    let sca = &v["sca"][0];
    assert_eq!(sca["path"], "lodash@4.17.20");
    assert_eq!(sca["vulnerability"]["name"], "Prototype pollution 6");
    assert_eq!(v["sast"][0]["vulnerability"]["severity"], "CRITICAL");
}

#[test]
fn every_page_is_fetched_even_when_the_server_caps_page_size() {
    let (d, env) = setup();
    let many: Vec<Value> = (0..60)
        .map(|i| sample_finding("sast", 100 + i, "high", "to_verify"))
        .collect();
    d.set_findings(PROJECT, "sast", many);
    let out = results(&env, &["-t", "sast", "-f", "all.json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value =
        serde_json::from_str(&fs::read_to_string(env.work().join("all.json")).unwrap()).unwrap();
    assert_eq!(v["vulnerabilities"].as_array().unwrap().len(), 60);
    assert_eq!(
        d.requests_to(&format!("/project/{PROJECT}/results/sast"))
            .len(),
        3,
        "25 per page"
    );

    let out = results(
        &env,
        &["-t", "sast", "--all=false", "-p", "3", "-f", "p3.json"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value =
        serde_json::from_str(&fs::read_to_string(env.work().join("p3.json")).unwrap()).unwrap();
    assert_eq!(v["page"], 3);
    assert_eq!(v["vulnerabilities"].as_array().unwrap().len(), 20);
    let reqs = d.requests_to(&format!("/project/{PROJECT}/results/sast"));
    let q = &reqs.last().unwrap().query;
    assert!(
        q.contains(&("severity[]".into(), "critical".into()))
            && q.contains(&("status[]".into(), "to_verify".into())),
        "{q:?}"
    );
}

#[test]
fn sarif_is_valid_2_1_0_with_rules_and_empty_results_are_a_list() {
    let (d, env) = setup();
    let out = results(&env, &["-o", "sarif", "--filepath", "reports"]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value = serde_json::from_str(
        &fs::read_to_string(env.work().join("reports/results.sarif")).unwrap(),
    )
    .unwrap();
    assert_eq!(v["version"], "2.1.0");
    let run = &v["runs"][0];
    let rules = run["tool"]["driver"]["rules"].as_array().unwrap();
    let items = run["results"].as_array().unwrap();
    assert_eq!(items.len(), 8);
    for r in items {
        let idx = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[idx]["id"], r["ruleId"]);
        assert!(["error", "warning", "note", "none"].contains(&r["level"].as_str().unwrap()));
        assert!(
            r["locations"][0]["physicalLocation"]["region"]["startLine"]
                .as_u64()
                .unwrap()
                >= 1
        );
    }
    validate_sarif(&v);
    // GitHub code scanning: a severity it reads on every rule, and a dependency at its manifest
    for rule in rules {
        let n: f64 = rule["properties"]["security-severity"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((0.0..=10.0).contains(&n), "{rule}");
        assert!(
            ["error", "warning", "recommendation"]
                .contains(&rule["properties"]["problem.severity"].as_str().unwrap()),
            "{rule}"
        );
    }
    let sca = items
        .iter()
        .find(|r| r["properties"]["type"] == "sca")
        .unwrap();
    assert_eq!(
        sca["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "package.json",
        "{sca}"
    );
    assert!(
        sca["message"]["text"]
            .as_str()
            .unwrap()
            .contains("lodash@4.17.20 (GHSA-0006); fixed in 4.17.21"),
        "{sca}"
    );

    for t in ["sast", "sca", "iac", "secret", "container"] {
        d.set_findings(PROJECT, t, vec![]);
    }
    let out = results(&env, &["-o", "sarif", "-f", "empty.sarif"]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value =
        serde_json::from_str(&fs::read_to_string(env.work().join("empty.sarif")).unwrap()).unwrap();
    assert_eq!(v["runs"][0]["results"], serde_json::json!([]));
    validate_sarif(&v);
}

/// Validates against the official SARIF 2.1.0 schema when scripts/test.sh provided it.
fn validate_sarif(v: &Value) {
    let Ok(path) = std::env::var("SARIF_SCHEMA") else {
        missing(
            "validate_sarif",
            "the official SARIF 2.1.0 schema (SARIF_SCHEMA)",
            "scripts/test.sh fetches it from npm",
        );
        return;
    };
    // The schema's `run.language` pattern has a stray `]` that ECMAScript regexes tolerate and
    // Rust's do not; it is replaced by what it evidently means (a language tag).
    let text = fs::read_to_string(&path).unwrap().replace(
        "^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$",
        "^[a-zA-Z]{2}(-[a-zA-Z]{2})?$",
    );
    let schema: Value = serde_json::from_str(&text).unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(v)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(
        errors.is_empty(),
        "SARIF does not match the official schema: {errors:?}"
    );
    // the validator is not vacuous: a run without its tool, or a bad level, is rejected
    let mut broken = v.clone();
    broken["runs"][0].as_object_mut().unwrap().remove("tool");
    assert!(!validator.is_valid(&broken));
    let mut broken = v.clone();
    broken["runs"][0]["results"] =
        serde_json::json!([{"message": {"text": "x"}, "level": "fatal"}]);
    assert!(!validator.is_valid(&broken));
}

#[test]
fn html_works_offline_and_escapes_content() {
    let (_d, env) = setup();
    let out = results(&env, &["-o", "html"]);
    assert_eq!(out.code, 0, "{out:?}");
    let page = fs::read_to_string(env.work().join("results.html")).unwrap();
    assert!(
        page.contains("sast issue 1 &lt;script&gt;&amp;"),
        "names are escaped"
    );
    assert!(!page.contains("<script"), "no scripts");
    for attr in ["src=\"http", "href=\"http://", "@import", "<link"] {
        assert!(!page.contains(attr), "external resource {attr}");
    }
    assert!(
        page.contains("<pre><code>escape(x)"),
        "fenced code rendered"
    );
}

/// 500 findings of five types: grouped by rule (by package for dependencies), the fix once a
/// group, critical and high groups open, a row per occurrence with its state, type and a link
/// to the finding in the web app; filters and a summary by type × severity; light and dark;
/// print styles. (What a browser draws of it is the next step: README.)
/// 500 findings of five types, 5 rules (or packages) a type, every severity.
fn triage_data(d: &Double) {
    let kinds = ["sast", "sca", "iac", "secret", "container"];
    for (k, kind) in kinds.iter().enumerate() {
        let mut items = Vec::new();
        for n in 0..100u64 {
            let sev = ["critical", "high", "medium", "low", "low"][((n + k as u64) % 5) as usize];
            let mut f = sample_finding(kind, 10_000 * k as u64 + n, sev, "to_verify");
            if *kind != "sca" {
                f["base"]["vulnerability"]["name"] = format!("{kind} rule {}", n % 5).into();
            } else {
                f["library"]["packageName"] = format!("pkg{}", n % 5).into();
            }
            f["base"]["path"] = if *kind == "container" {
                // an image's finding is about one of its packages
                format!("openssl{}@3.0.{}", n % 5, n % 5).into()
            } else {
                format!("src/m{}/file{n}.ts", n % 9).into()
            };
            items.push(f);
        }
        d.set_findings(PROJECT, kind, items);
    }
}

#[test]
fn html_groups_findings_a_person_can_triage() {
    let (d, mut env) = setup();
    // links go to the web app only where it is known (the region's, or `app_url`)
    env.set("CYBEDEFEND_APP_URL", "https://us.cybedefend.com");
    triage_data(&d);
    let out = results(&env, &["-o", "html", "-f", "triage.html"]);
    assert_eq!(out.code, 0, "{out:?}");
    let page = fs::read_to_string(env.work().join("triage.html")).unwrap();
    eprintln!("500 findings: {} bytes of HTML", page.len());
    let groups = page.matches("<details class=\"group ").count();
    assert_eq!(groups, 25, "5 rules (or packages) a type");
    assert_eq!(
        page.matches("<h4>How to fix</h4>").count(),
        groups,
        "the fix once a group"
    );
    let rows = ["\"><td>src/", "\"><td>pkg", "\"><td>openssl"]
        .iter()
        .map(|p| page.matches(p).count())
        .sum::<usize>();
    assert_eq!(rows, 500, "a row per occurrence");
    assert_eq!(
        page.matches("<tr class=\"o s-").count(),
        500,
        "each row says its severity"
    );
    // critical and high open, the others closed
    for line in page.split("<details ").skip(1) {
        let head = &line[..line.find('>').unwrap()];
        let serious = head.contains("s-critical") || head.contains("s-high");
        assert_eq!(head.contains(" open"), serious, "{head}");
    }
    // a link to each finding in the web app
    assert!(
        page.contains(&format!(
            "<a href=\"https://us.cybedefend.com/project/{PROJECT}/sast/issue/"
        )),
        "links"
    );
    // when each was first seen, as people read a time
    assert!(page.contains("<td>2026-01-01 00:00 UTC</td>"), "first seen");
    // dependencies: advisory, fixed version, manifest
    assert!(
        page.contains("https://github.com/advisories/GHSA-"),
        "advisory"
    );
    assert!(page.contains("fixed in <strong>4.17.21</strong>"));
    assert!(page.contains("manifest <code>package.json</code>"));
    // filters without script, the summary, light and dark, print
    for needle in [
        "<input type=\"radio\" name=\"sev\" id=\"f-sev-critical\">",
        "#f-sev-critical:checked~.groups .group:not(.has-critical)",
        "#f-sev-critical:checked~.groups tr.o:not(.s-critical)",
        "#f-type-sca:checked~.groups .group:not(.t-sca)",
        "<a href=\"#t-sca\">",
        "prefers-color-scheme:dark",
        "@media print",
    ] {
        assert!(page.contains(needle), "{needle}");
    }
    assert!(!page.contains("<script"), "no scripts");
}

#[test]
fn markdown_fits_a_pull_request_comment() {
    let (d, env) = setup();
    let out = results(&env, &["-o", "markdown", "-t", "sast"]);
    assert_eq!(out.code, 0, "{out:?}");
    let md = fs::read_to_string(env.work().join("results.md")).unwrap();
    assert!(md.contains("| sast | 1 | 1 | 1 | 1 | 4 |"), "{md}");
    assert!(md.contains("## Critical and high"), "{md}");
    assert!(md.contains("`src/sast/file1.js:11-13` (to_verify)"), "{md}");
    assert!(md.contains("2 more findings are not listed here"), "{md}");

    // 2,400 findings: 6 rules, hundreds of files, a long fix for each rule
    let mut many = Vec::new();
    for n in 0..2400u64 {
        let sev = ["critical", "high", "medium", "low"][(n % 4) as usize];
        let mut f = sample_finding("sast", n, sev, "to_verify");
        f["base"]["vulnerability"]["name"] = format!("rule {}", n % 6).into();
        f["base"]["path"] = format!("src/module{}/deeply/nested/path/file{n}.ts", n % 40).into();
        f["base"]["vulnerability"]["howToPrevent"] =
            format!("<!-- hidden\n{}", "Escape the value. ".repeat(200)).into();
        many.push(f);
    }
    d.set_findings(PROJECT, "sast", many);
    for (extra, rows) in [
        (&[][..], Some(50)),
        (&["--max-findings", "5"], Some(5)),
        (&["--max-findings", "100000"], None),
    ] {
        let mut args = vec!["-o", "markdown", "-t", "sast", "-f", "pr.md"];
        args.extend_from_slice(extra);
        let out = results(&env, &args);
        assert_eq!(out.code, 0, "{out:?}");
        let md = fs::read_to_string(env.work().join("pr.md")).unwrap();
        let chars = md.chars().count();
        assert!(chars <= 65_536, "{extra:?}: {chars} characters");
        let listed = md.lines().filter(|l| l.starts_with("- `")).count();
        if let Some(n) = rows {
            assert_eq!(listed, n, "{extra:?}");
        } else {
            assert!(
                listed > 50 && listed < 1200,
                "as many as fit, not all 1,200 critical and high: {listed}"
            );
        }
        assert_eq!(
            md.matches("How to fix").count(),
            md.matches("\n### ").count(),
            "the fix once a rule: {extra:?}"
        );
        assert!(
            md.contains("more findings are not listed here (2400 in all")
                && md.contains(&format!(
                    "`cybedefend results --project-id {PROJECT} -t sast -o html`"
                )),
            "{extra:?}"
        );
        assert!(
            !md.lines()
                .any(|l| l.starts_with("### 🟡") || l.starts_with("### 🔵")),
            "critical and high only"
        );
        assert!(!md.contains("<!--"), "a fix's text cannot hide the rest");
        eprintln!(
            "{extra:?}: {chars} characters, {} bytes, {listed} listed",
            md.len()
        );
    }
}

#[test]
fn the_file_name_given_is_honoured_and_dash_is_stdout() {
    // issue 9: `-f myreport` (also `-f report.sarif` with json, and `-f -`) wrote ./results.json
    let (_d, env) = setup();
    fs::write(env.work().join("results.json"), "keep me").unwrap();

    let out = results(&env, &["-f", "myreport"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("has no extension; writing myreport.json"),
        "{out:?}"
    );
    let v: Value =
        serde_json::from_str(&fs::read_to_string(env.work().join("myreport.json")).unwrap())
            .unwrap();
    assert_eq!(v["projectId"], PROJECT);

    let out = results(&env, &["-o", "json", "-f", "out/report.sarif"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(out.stderr.contains("writing it there as asked"), "{out:?}");
    let v: Value =
        serde_json::from_str(&fs::read_to_string(env.work().join("out/report.sarif")).unwrap())
            .unwrap();
    assert!(v["sast"].is_array(), "JSON, as asked with -o json");

    let out = results(&env, &["-o", "sarif", "-f", "-"]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(v["version"], "2.1.0");

    assert_eq!(
        fs::read_to_string(env.work().join("results.json")).unwrap(),
        "keep me",
        "./results.json is never written in place of the name given"
    );
}

#[test]
fn grouped_results() {
    let (_d, env) = setup();
    let out = results(&env, &["-t", "sast", "--grouped"]);
    assert_eq!(out.code, 0, "{out:?}");
    let v: Value =
        serde_json::from_str(&fs::read_to_string(env.work().join("results.json")).unwrap())
            .unwrap();
    assert_eq!(v["groupedVulnerabilities"].as_array().unwrap().len(), 4);
    let bad = results(&env, &["-t", "sast", "--grouped", "-o", "html"]);
    assert_eq!(bad.code, 2);

    // without -t (every type) -g runs flat, as the official CLI does, with a note
    for extra in [&["-g"][..], &["-g", "-o", "sarif"]] {
        let out = results(&env, extra);
        assert_eq!(out.code, 0, "{extra:?}: {out:?}");
        assert!(
            out.stderr.contains("note: --grouped groups one type"),
            "{out:?}"
        );
    }
    let v: Value =
        serde_json::from_str(&fs::read_to_string(env.work().join("results.json")).unwrap())
            .unwrap();
    assert_eq!(v["sast"].as_array().unwrap().len(), 4, "flat, every type");
    assert!(env.work().join("results.sarif").is_file());
}

#[test]
fn errors_are_clear() {
    let (d, env) = setup();
    assert_eq!(results(&env, &["-t", "dast"]).code, 2);
    assert_eq!(env.run(&["results"]).code, 2);
    d.forbid(PROJECT);
    let out = results(&env, &[]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(out.stderr.contains("access denied"), "{out:?}");
    assert!(
        !env.work().join("results.json").exists(),
        "nothing written on failure"
    );
}

#[test]
fn a_stored_browser_session_is_used_for_api_calls() {
    let d = Double::start();
    d.add_project(PROJECT, "demo");
    d.accept_token("oauth_access_token_123456");
    let mut env = Env::new();
    env.use_double(&d);
    env.write(
        &env.creds(),
        r#"{"type":"oauth","region":"us","access_token":"oauth_access_token_123456","refresh_token":"rt_1234567","token_expiry":"2099-01-01T00:00:00Z"}"#,
    );
    let out = results(&env, &["-t", "sast"]);
    assert_eq!(out.code, 0, "{out:?}");
    let reqs = d.requests_to(&format!("/project/{PROJECT}/results/sast"));
    assert_eq!(
        reqs[0].headers["authorization"],
        "Bearer oauth_access_token_123456"
    );
    assert!(
        d.requests_to("/oidc/token").is_empty(),
        "no exchange for a session"
    );
    assert!(!out.all().contains("oauth_access_token_123456"));
}

#[test]
fn a_stalled_server_costs_one_retry_budget_not_one_per_call() {
    let (d, mut env) = setup();
    // every results page stalls; the request limit is 1 s: the command has 4 s of retries in
    // all, whatever the number of result types and pages
    d.set_api_stall("GET", "/results", std::time::Duration::from_secs(30));
    env.set("CYBEDEFEND_HTTP_TIMEOUT", "1s");
    let start = std::time::Instant::now();
    let out = results(&env, &["-o", "json"]);
    let took = start.elapsed();
    assert_eq!(out.code, 3, "{out:?}");
    assert!(
        took < std::time::Duration::from_secs(15),
        "gave up after {took:?}: {out:?}"
    );
}

#[test]
fn a_retry_after_beyond_the_retry_budget_fails_at_once_naming_when() {
    let (d, env) = setup();
    d.set_retry_after("3600");
    d.fail_next_api_calls(&[429; 12]);
    let start = std::time::Instant::now();
    let out = results(&env, &["-o", "json"]);
    assert_ne!(out.code, 0, "{out:?}");
    assert!(
        start.elapsed() < std::time::Duration::from_secs(10),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("the next try would be in 1h")
            && out.stderr.contains("run the command again after"),
        "{out:?}"
    );
}

/// Answers that make no sense: errors for every type, odd grouped pages, endless paging.
mod answers_that_make_no_sense {
    use super::*;
    use crate::common::{DEMO_PROJECT as PROJECT, demo as setup, demo_results as results};

    use std::fs;

    use std::time::{Duration, Instant};

    #[test]
    fn results_never_claim_no_findings_when_nothing_could_be_fetched() {
        // the token endpoint fails for every type: no report, and a non-zero exit
        let (d, env) = setup();
        d.set_token_mode(TokenMode::ServerError);
        let out = results(&env, &["-o", "sarif"]);
        assert_eq!(out.code, 3, "{out:?}");
        assert!(
            !env.work().join("results.sarif").exists(),
            "no empty report"
        );

        // the API fails for every type
        let (d, mut env) = setup();
        env.set("CYBEDEFEND_HTTP_TIMEOUT", "1");
        for t in ["sast", "sca", "iac", "secret", "cicd", "container"] {
            d.can(
                "GET",
                &format!("/project/{PROJECT}/results/{t}"),
                json_canned(400, r#"{"message":"nope"}"#),
            );
        }
        let out = results(&env, &["-o", "sarif"]);
        assert_eq!(out.code, 1, "{out:?}");
        assert!(out.stderr.contains("no report was written"), "{out:?}");
        assert!(!env.work().join("results.sarif").exists());

        // one type fails: the report says what it has, and the exit code says it is partial
        let (d, env) = setup();
        d.can(
            "GET",
            &format!("/project/{PROJECT}/results/iac"),
            json_canned(400, r#"{"message":"nope"}"#),
        );
        let out = results(&env, &[]);
        assert_eq!(out.code, 5, "{out:?}");
        assert!(
            out.stderr.contains("partial") && out.stderr.contains("iac"),
            "{out:?}"
        );
        let v: Value =
            serde_json::from_str(&fs::read_to_string(env.work().join("results.json")).unwrap())
                .unwrap();
        assert!(!v["sast"].as_array().unwrap().is_empty());
    }

    #[test]
    fn odd_grouped_answers_and_endless_paging_end_with_an_error_or_stop() {
        let (d, env) = setup();
        let path = format!("/project/{PROJECT}/results/sast/grouped");
        for body in [
            "[]",
            "\"x\"",
            "5",
            "true",
            "{\"groupedVulnerabilities\": 3}",
        ] {
            d.can("GET", &path, json_canned(200, body));
            let out = results(&env, &["-t", "sast", "--grouped"]);
            assert_eq!(out.code, 1, "{body}: {out:?}");
            assert!(!out.stderr.contains("internal error"), "{body}: {out:?}");
        }

        // a server that repeats the same page and announces a billion of them
        let group = serde_json::json!({"groupedVulnerabilities": [{"ruleId": "r1", "occurrenceCount": 1}], "totalPages": 1e9, "page": 1});
        d.can("GET", &path, json_canned(200, &group.to_string()));
        d.clear_requests();
        let start = Instant::now();
        let out = results(&env, &["-t", "sast", "--grouped"]);
        assert_eq!(out.code, 0, "{out:?}");
        assert!(start.elapsed() < Duration::from_secs(20));
        assert!(
            d.requests_to(&path).len() <= 3,
            "{}",
            d.requests_to(&path).len()
        );

        let flat = format!("/project/{PROJECT}/results/sast");
        let page = serde_json::json!({"projectId": PROJECT, "projectName": "p", "page": 1, "total": 1, "totalPages": 1_000_000_000u64,
        "vulnerabilities": [cybedefend_platform_double::sample_finding("sast", 1, "high", "to_verify")]});
        d.can("GET", &flat, json_canned(200, &page.to_string()));
        d.clear_requests();
        let out = results(&env, &["-t", "sast"]);
        assert_eq!(out.code, 0, "{out:?}");
        // page 1, then the pages requested ahead (8 in flight by default) before the repeat
        // is seen: never the billion announced
        assert!(
            d.requests_to(&flat).len() <= 1 + 8,
            "{}",
            d.requests_to(&flat).len()
        );
    }
}

/// `--baseline`: a report written earlier by `results -o json` marks each finding new or
/// existing and lists the fixed ones ("N new, M fixed"); `--break-on-new` fails only on a new
/// finding at or above `--break-on-severity`; a wrong file fails before any request.
#[test]
fn a_baseline_tells_new_from_existing_and_breaks_on_new_only() {
    let (d, env) = setup();
    let out = results(&env, &["-f", "base.json"]);
    assert_eq!(out.code, 0, "{out:?}");

    // since then: the high sast finding is fixed, a low one appeared
    let mut sast: Vec<Value> = vec![
        sample_finding("sast", 1, "critical", "to_verify"),
        sample_finding("sast", 3, "medium", "to_verify"),
        sample_finding("sast", 4, "low", "to_verify"),
        sample_finding("sast", 40, "low", "to_verify"),
    ];
    sast[3]["base"]["vulnerability"]["name"] = "new rule".into();
    d.set_findings(PROJECT, "sast", sast);
    let out = results(&env, &["--baseline", "base.json", "-f", "now.json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert!(
        out.stderr
            .contains("Against base.json: 1 new, 7 existing, 1 fixed"),
        "{out:?}"
    );
    assert!(
        out.stderr.contains("new rule"),
        "the new one is named: {out:?}"
    );
    let v: Value =
        serde_json::from_str(&fs::read_to_string(env.work().join("now.json")).unwrap()).unwrap();
    let states: Vec<&str> = v["sast"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["baseline"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["existing", "existing", "existing", "new"]);
    assert_eq!(v["fixed"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["fixed"][0]["severity"], "HIGH");

    let out = results(
        &env,
        &["--baseline", "base.json", "--break-on-new", "-f", "x.json"],
    );
    assert_eq!(out.code, 1, "a new finding of any severity: {out:?}");
    assert!(
        out.stderr.contains("1 new finding(s) of any severity"),
        "{out:?}"
    );
    let out = results(
        &env,
        &[
            "--baseline",
            "base.json",
            "--break-on-new",
            "--break-on-severity",
            "high",
            "-f",
            "x.json",
        ],
    );
    assert_eq!(out.code, 0, "the new one is low: {out:?}");

    let out = results(
        &env,
        &[
            "--baseline",
            "base.json",
            "--break-on-new",
            "--break-on-severity",
            "none",
            "-f",
            "x.json",
        ],
    );
    assert_eq!(out.code, 0, "none never breaks: {out:?}");
    // what changed comes first in a comment, and shows in the page
    let out = results(
        &env,
        &["--baseline", "base.json", "-o", "markdown", "-f", "x.md"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let md = fs::read_to_string(env.work().join("x.md")).unwrap();
    assert!(
        md.contains("## New since the baseline (1)")
            && md.contains("## Fixed since the baseline (1)"),
        "{md}"
    );
    assert!(md.find("## New since").unwrap() < md.find("## Critical and high").unwrap());
    let out = results(
        &env,
        &["--baseline", "base.json", "-o", "html", "-f", "x.html"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let page = fs::read_to_string(env.work().join("x.html")).unwrap();
    assert!(
        page.contains("<strong>1 new</strong>, 1 fixed")
            && page.contains("Fixed since the baseline (1)")
            && page.matches("<span class=\"new\">NEW</span>").count() == 1,
        "the page marks the new one"
    );
    // a baseline of one type, or of another project, is refused before any request
    let out = results(&env, &["-t", "sca", "-f", "sca.json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let out = results(&env, &["--baseline", "sca.json", "-f", "y.json"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(out.stderr.contains("holds sca findings only"), "{out:?}");
    let other = fs::read_to_string(env.work().join("base.json"))
        .unwrap()
        .replace(PROJECT, "another-project");
    env.write(&env.work().join("other.json"), &other);
    let out = results(&env, &["--baseline", "other.json", "-f", "y.json"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("is a report of project `another-project`"),
        "{out:?}"
    );

    let out = results(
        &env,
        &["--baseline", "base.json", "-o", "sarif", "-f", "x.sarif"],
    );
    assert_eq!(out.code, 0, "{out:?}");
    let sarif = fs::read_to_string(env.work().join("x.sarif")).unwrap();
    assert_eq!(
        sarif.matches("\"baselineState\":\"new\"").count(),
        1,
        "{sarif}"
    );
    assert_eq!(sarif.matches("\"baselineState\":\"unchanged\"").count(), 7);

    let before = d.requests().len();
    env.write(&env.work().join("broken.json"), "{not json");
    let out = results(&env, &["--baseline", "broken.json"]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr
            .contains("--baseline broken.json: not a JSON report"),
        "{out:?}"
    );
    assert_eq!(d.requests().len(), before, "no request");
}

/// The HTML report in a real browser (Debian's Chromium, driven by tests/browser/report.mjs):
/// critical and high groups are open and show their rows, each filter leaves only its groups,
/// a click opens a closed group, nothing is fetched, and 500 findings print to a readable
/// document within the page budget (measured: see the note in README).
#[test]
fn html_report_in_a_real_browser() {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/browser/report.mjs");
    let ready = std::path::Path::new("/usr/bin/chromium").exists()
        && script
            .with_file_name("node_modules/playwright-core")
            .exists()
        && std::process::Command::new("node")
            .arg("--version")
            .output()
            .is_ok();
    if !ready {
        missing(
            "html_report_in_a_real_browser",
            "Chromium, node and playwright-core (tests/browser)",
            "scripts/test.sh installs Debian's chromium and runs npm ci in tests/browser",
        );
        return;
    }
    let (d, env) = setup();
    triage_data(&d);
    let out = results(&env, &["-o", "html", "-f", "triage.html"]);
    assert_eq!(out.code, 0, "{out:?}");
    let html = env.work().join("triage.html");
    let pdf = env.work().join("triage.pdf");
    let run = std::process::Command::new("node")
        .arg(&script)
        .arg(&html)
        .arg(&pdf)
        .env("HOME", env.home())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let seen: Value = serde_json::from_slice(&run.stdout).unwrap();
    eprintln!("browser: {seen}");
    assert_eq!(seen["groups"], 25);
    let open: Vec<&str> = seen["open"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(!open.is_empty());
    assert!(
        open.iter()
            .all(|c| c.contains("s-critical") || c.contains("s-high")),
        "{open:?}"
    );
    let classes = |key: &str| -> Vec<String> {
        seen[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect()
    };
    let critical = classes("critical");
    assert!(!critical.is_empty() && critical.iter().all(|c| c.contains("has-critical")));
    assert!(critical.len() < 25, "the filter hides the others");
    let sca = classes("sca");
    assert_eq!(sca.len(), 5, "{sca:?}");
    assert!(sca.iter().all(|c| c.contains("t-sca")));
    let both = classes("scaHigh");
    assert!(
        both.iter()
            .all(|c| c.contains("t-sca") && c.contains("has-high")),
        "{both:?}"
    );
    assert_eq!(seen["openedByClick"], 1);
    assert_eq!(
        seen["printedRows"], 25,
        "printed, every group shows its rows"
    );
    assert_eq!(seen["requests"], serde_json::json!([]), "nothing fetched");
    let pages = seen["pages"].as_u64().unwrap();
    assert!((1..=PRINT_BUDGET).contains(&pages), "{pages} pages printed");
}

/// Pages 500 findings may print to (A4): measured 15, with room for fonts and Chromium versions.
const PRINT_BUDGET: u64 = 20;

/// 400 SAST findings in 16 pages of 25, each page answered 150 ms late.
fn many_slow_pages(d: &Double) {
    let severities = ["critical", "high", "medium", "low"];
    let many: Vec<Value> = (0..400)
        .map(|i| sample_finding("sast", 1000 + i, severities[(i % 4) as usize], "to_verify"))
        .collect();
    d.set_findings(PROJECT, "sast", many);
    d.set_slow_answer("GET", "/results/", std::time::Duration::from_millis(150));
}

#[test]
fn pages_are_fetched_several_at_once_within_the_bound_and_the_report_keeps_their_order() {
    let (d, mut env) = setup();
    many_slow_pages(&d);
    // one at a time: the order of the pages is the report's
    env.set("CYBEDEFEND_HTTP_CONCURRENCY", "1");
    let out = results(&env, &["-f", "one.json"]);
    assert_eq!(out.code, 0, "{out:?}");
    assert_eq!(d.most_results_in_flight(), 1, "http_concurrency 1");
    let one = fs::read_to_string(env.work().join("one.json")).unwrap();
    // the default: several at once (types side by side, pages ahead), never more than 8
    drop(env);
    let mut env = Env::new();
    env.use_double(&d);
    env.set("CYBEDEFEND_PAT", PAT);
    let out = results(&env, &["-f", "many.json"]);
    assert_eq!(out.code, 0, "{out:?}");
    let most = d.most_results_in_flight();
    assert!(
        (3..=8).contains(&most),
        "at most 8 in flight, and several: {most}"
    );
    let many = fs::read_to_string(env.work().join("many.json")).unwrap();
    assert_eq!(
        one, many,
        "the same report whatever order the pages came in"
    );
    let v: Value = serde_json::from_str(&many).unwrap();
    let ids: Vec<&str> = v["sast"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 400);
    let distinct: std::collections::HashSet<&str> = ids.iter().copied().collect();
    assert_eq!(distinct.len(), 400, "every finding once");
    // a setting out of range says what it takes
    let mut bad = Env::new();
    bad.use_double(&d);
    bad.set("CYBEDEFEND_PAT", PAT);
    bad.set("CYBEDEFEND_HTTP_CONCURRENCY", "0");
    let out = results(&bad, &[]);
    assert_eq!(out.code, 2, "{out:?}");
    assert!(
        out.stderr.contains("http_concurrency") && out.stderr.contains("between 1 and 32"),
        "{out:?}"
    );
}

#[test]
fn a_fatal_error_of_one_type_stops_every_request_of_the_others() {
    let (d, env) = setup();
    many_slow_pages(&d);
    // the credential is refused for one type: no type can succeed, nothing more is asked
    d.can(
        "GET",
        &format!("/project/{PROJECT}/results/iac"),
        json_canned(403, r#"{"message":"Forbidden"}"#),
    );
    let out = results(&env, &[]);
    assert_eq!(out.code, 4, "{out:?}");
    assert!(!env.work().join("results.json").exists(), "no report");
    let sast = d
        .requests_to(&format!("/project/{PROJECT}/results/sast"))
        .len();
    assert!(
        sast < 16,
        "the other types stopped: {sast} of 16 sast pages asked"
    );
    assert!(
        eventually(std::time::Duration::from_secs(3), || d.results_in_flight()
            == 0),
        "requests left in flight at the server"
    );
}

#[test]
fn an_interrupt_during_the_fetch_stops_it_and_leaves_no_report_and_no_temporary_file() {
    let (d, env) = setup();
    many_slow_pages(&d);
    let child = env
        .command(&["results", "--project-id", PROJECT, "-o", "html"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    assert!(
        eventually(std::time::Duration::from_secs(10), || {
            d.requests_to(&format!("/project/{PROJECT}/results/sast"))
                .len()
                >= 3
        }),
        "the fetch never started"
    );
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{out:?}");
    assert!(!env.work().join("results.html").exists(), "no report");
    assert_eq!(env.leftovers(), Vec::<String>::new(), "temporary files");
    let asked = d
        .requests_to(&format!("/project/{PROJECT}/results/sast"))
        .len();
    assert!(asked < 16, "the fetch went on: {asked} of 16 pages");
}

/// Findings past what is kept in memory go to a temporary file; where none can be made (a
/// read-only or missing TMPDIR) they stay in memory and the report is the same.
#[test]
fn without_a_usable_tmpdir_the_report_is_still_whole() {
    let (d, env) = setup();
    let severities = ["critical", "high", "medium", "low"];
    let many: Vec<Value> = (0..3000)
        .map(|i| sample_finding("sast", 5000 + i, severities[(i % 4) as usize], "to_verify"))
        .collect();
    d.set_findings(PROJECT, "sast", many);
    let out = results(&env, &["-t", "sast", "-o", "sarif", "-f", "spilled.sarif"]);
    assert_eq!(out.code, 0, "{out:?}");
    let spilled = fs::read_to_string(env.work().join("spilled.sarif")).unwrap();
    let mut no_tmp = Env::new();
    no_tmp.use_double(&d);
    no_tmp.set("CYBEDEFEND_PAT", PAT);
    no_tmp.set("TMPDIR", "/nonexistent/tmp");
    let out = results(&no_tmp, &["-t", "sast", "-o", "sarif", "-f", "kept.sarif"]);
    assert_eq!(out.code, 0, "{out:?}");
    let kept = fs::read_to_string(no_tmp.work().join("kept.sarif")).unwrap();
    assert_eq!(kept, spilled);
    let v: Value = serde_json::from_str(&kept).unwrap();
    assert_eq!(v["runs"][0]["results"].as_array().unwrap().len(), 3000);
}
