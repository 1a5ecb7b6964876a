#![expect(
    clippy::disallowed_methods,
    reason = "a test tool reads its own settings"
)]
//! Runs the platform double by itself, for trying the CLI by hand:
//! `DOUBLE_PROJECTS=ID,... cargo run -p cybedefend-platform-double -- [PAT ...]`, then point the
//! CLI at the printed URL with `--api-url URL --auth-endpoint URL`. Each project gets the
//! sample findings, or `DOUBLE_FINDINGS=N` generated SAST findings (for benchmarks);
//! `DOUBLE_REPORT_BYTES=N` makes every report N bytes long; `DOUBLE_RESULTS_LATENCY_MS=N`
//! answers every results page N milliseconds late (a distant server, for benchmarks);
//! `DOUBLE_PAGE_CAP=N` serves results pages of up to N findings (default 25).
//! `DOUBLE_TLS=FOLDER` serves TLS instead, with a new CA written to `FOLDER/ca.pem` (the
//! address is then `https://localhost:PORT`).
#![allow(clippy::print_stdout)]

fn main() {
    let bind = std::env::var("DOUBLE_BIND").unwrap_or_else(|_| "127.0.0.1:0".into());
    let double = match std::env::var_os("DOUBLE_TLS") {
        Some(dir) => {
            let ca = cybedefend_platform_double::TestCa::new("cybedefend double CA");
            let path = std::path::Path::new(&dir).join("ca.pem");
            std::fs::write(&path, &ca.ca_pem).expect("write ca.pem");
            println!("CA {}", path.display());
            cybedefend_platform_double::Double::start_tls(&ca)
        }
        None => cybedefend_platform_double::Double::start_on(&bind),
    };
    for pat in std::env::args().skip(1) {
        double.add_pat(&pat);
    }
    for project in std::env::var("DOUBLE_PROJECTS")
        .unwrap_or_default()
        .split(',')
        .filter(|p| !p.is_empty())
    {
        double.add_project(project, "demo");
        if let Some(n) = std::env::var("DOUBLE_FINDINGS")
            .ok()
            .and_then(|n| n.parse::<u64>().ok())
        {
            let severities = ["critical", "high", "medium", "low"];
            let findings = (0..n)
                .map(|i| {
                    cybedefend_platform_double::sample_finding(
                        "sast",
                        i,
                        severities[(i % 4) as usize],
                        "to_verify",
                    )
                })
                .collect();
            double.set_findings(project, "sast", findings);
        }
    }
    if let Some(n) = std::env::var("DOUBLE_REPORT_BYTES")
        .ok()
        .and_then(|n| n.parse::<usize>().ok())
    {
        double.set_report_size(n);
    }
    if let Some(ms) = std::env::var("DOUBLE_RESULTS_LATENCY_MS")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
    {
        double.set_slow_answer("GET", "/results/", std::time::Duration::from_millis(ms));
    }
    if let Some(n) = std::env::var("DOUBLE_PAGE_CAP")
        .ok()
        .and_then(|n| n.parse::<u64>().ok())
    {
        double.set_page_cap(n);
    }
    println!("READY {}", double.url());
    loop {
        std::thread::park();
    }
}
