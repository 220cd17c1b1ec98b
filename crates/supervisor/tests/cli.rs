//! The binary as a user runs it: bad input fails fast with a clear message and exit code 2; a real prompt
//! prints a report, saves it and writes the trace.

use std::process::{Command, Output};

fn sre_agent(args: &[&str], data_dir: &std::path::Path) -> Output {
    sre_agent_with_stdin(args, data_dir, b"")
}

fn sre_agent_with_stdin(args: &[&str], data_dir: &std::path::Path, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_sre-agent"))
        .args(args)
        .env("SRE_DATA_DIR", data_dir)
        .env_remove("USER_ID")
        .env_remove("LLM_PROVIDER")
        .env_remove("OTEL_DEBUG")
        .env_remove("RUST_LOG")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut stdin = child.stdin.take().expect("stdin is piped");
    // The binary may refuse before reading everything; a broken pipe is then expected.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn assert_usage_error(output: &Output, needle: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains(needle), "expected {needle:?} in: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn empty_prompt_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_usage_error(
        &sre_agent(&["--prompt", "   "], dir.path()),
        "the question is empty",
    );
}

#[test]
fn oversized_prompt_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let large = "x".repeat(100 * 1024);
    assert_usage_error(
        &sre_agent(&["--prompt", &large], dir.path()),
        "the limit is 16384 bytes",
    );
}

#[test]
fn one_megabyte_prompt_on_stdin_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let huge = "why is it slow? ".repeat(65536);
    assert_eq!(huge.len(), 1024 * 1024);
    let output = sre_agent_with_stdin(&["--prompt", "-"], dir.path(), huge.as_bytes());
    assert_usage_error(
        &output,
        "the question is 1048576 bytes; the limit is 16384 bytes",
    );
}

#[test]
fn a_prompt_on_stdin_is_investigated() {
    let dir = tempfile::tempdir().unwrap();
    let output = sre_agent_with_stdin(
        &["--prompt", "-", "--no-markdown"],
        dir.path(),
        b"Check cluster health\n",
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert!(String::from_utf8_lossy(&output.stdout).contains("**Question:** Check cluster health"));
}

#[test]
fn unknown_provider_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_usage_error(
        &sre_agent(&["--provider", "gpt9", "--prompt", "hi"], dir.path()),
        "invalid value 'gpt9'",
    );
}

#[test]
fn provider_not_in_this_build_says_so() {
    let dir = tempfile::tempdir().unwrap();
    assert_usage_error(
        &sre_agent(&["--provider", "bedrock", "--prompt", "hi"], dir.path()),
        "--provider bedrock is not available yet",
    );
}

#[test]
fn nothing_to_do_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_usage_error(&sre_agent(&[], dir.path()), "give --prompt");
}

#[test]
fn hostile_user_id_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_usage_error(
        &sre_agent(&["--user-id", "../etc", "--prompt", "hi"], dir.path()),
        "--user-id",
    );
}

#[test]
fn a_prompt_prints_saves_and_traces_a_report() {
    let data = tempfile::tempdir().unwrap();
    let reports = data.path().join("reports");
    let output = sre_agent(
        &[
            "--prompt",
            "Why are the database pods crash looping in production?",
            "--output-dir",
            reports.to_str().unwrap(),
        ],
        data.path(),
    );
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "stderr: {err}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("# SRE Investigation Report") && stdout.contains("database-config"),
        "{stdout}"
    );
    assert!(
        err.contains("routing →") && err.contains("get_pod_status("),
        "progress is streamed: {err}"
    );

    let saved: Vec<_> = std::fs::read_dir(&reports).unwrap().collect();
    assert_eq!(saved.len(), 1, "one report file");
    let trace_line = err
        .lines()
        .find(|l| l.starts_with("Trace ID:"))
        .expect("trace id printed");
    let trace_id = trace_line.split_whitespace().nth(2).unwrap();
    let spans = std::fs::read_to_string(data.path().join("traces/traces.jsonl")).unwrap();
    assert!(
        spans.contains(trace_id),
        "the trace file holds the investigation's spans"
    );
    assert!(spans.contains("\"sre.investigation\""));
}

#[test]
fn unknown_scenario_and_missing_dataset_dir_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert_usage_error(
        &sre_agent(&["--scenario", "nope", "--prompt", "hi"], dir.path()),
        "available: database-crashloop",
    );
    let missing = dir.path().join("missing");
    assert_usage_error(
        &sre_agent(
            &["--dataset-dir", missing.to_str().unwrap(), "--prompt", "hi"],
            dir.path(),
        ),
        "no such directory",
    );
}

#[test]
fn malformed_backend_urls_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert_usage_error(
        &sre_agent(
            &["--backend-url", "db=http://x/mcp", "--prompt", "hi"],
            dir.path(),
        ),
        "unknown backend domain",
    );
    assert_usage_error(
        &sre_agent(&["--backend-url", "k8s", "--prompt", "hi"], dir.path()),
        "expected DOMAIN=URL",
    );
    assert_usage_error(
        &sre_agent(
            &["--backend-url", "k8s=ftp://x", "--prompt", "hi"],
            dir.path(),
        ),
        "must start with http://",
    );
}

#[test]
fn traces_list_show_and_service_map_read_the_local_trace_file() {
    let data = tempfile::tempdir().expect("temp dir");
    let ran = sre_agent(
        &["--no-markdown", "--prompt", "Check cluster health"],
        data.path(),
    );
    assert!(ran.status.success(), "{}", stderr(&ran));
    let printed = String::from_utf8_lossy(&ran.stdout).into_owned() + &stderr(&ran);
    let trace_id = printed
        .lines()
        .find_map(|l| l.strip_prefix("Trace ID: "))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the run prints its trace id")
        .to_owned();

    let list = sre_agent(&["traces", "list"], data.path());
    let list_text = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{}", stderr(&list));
    assert!(list_text.contains(&trace_id), "{list_text}");
    assert!(list_text.contains("Check cluster health"), "{list_text}");

    let show = sre_agent(&["traces", "show", &trace_id[..20]], data.path());
    let show_text = String::from_utf8_lossy(&show.stdout);
    assert!(show.status.success(), "{}", stderr(&show));
    for needle in [
        "sre.investigation",
        "agent.kubernetes.execute",
        "tools/call get_pod_status",
        "[k8s-backend]",
    ] {
        assert!(show_text.contains(needle), "{needle} missing:\n{show_text}");
    }

    let map = sre_agent(&["traces", "service-map", "--format", "json"], data.path());
    assert!(map.status.success(), "{}", stderr(&map));
    let json: serde_json::Value = serde_json::from_slice(&map.stdout).expect("JSON service map");
    let text = json.to_string();
    for node in [
        "sre-agent",
        "kubernetes-agent",
        "metrics-agent",
        "k8s-backend",
        "metrics-backend",
    ] {
        assert!(
            text.contains(&format!("\"{node}\"")),
            "{node} missing: {text}"
        );
    }

    let html_path = data.path().join("map.html");
    let html = sre_agent(
        &[
            "traces",
            "service-map",
            "--format",
            "html",
            "--output",
            html_path.to_str().unwrap(),
        ],
        data.path(),
    );
    assert!(html.status.success(), "{}", stderr(&html));
    let page = std::fs::read_to_string(&html_path).expect("html written");
    assert!(
        page.starts_with("<!DOCTYPE html>") || page.starts_with("<!doctype html>"),
        "{}",
        &page[..80.min(page.len())]
    );

    assert_usage_error(
        &sre_agent(&["traces", "show", "not-hex"], data.path()),
        "is not a trace id",
    );
    assert_usage_error(
        &sre_agent(
            &["traces", "show", "0123456789abcdef0123456789abcdef"],
            data.path(),
        ),
        "no trace 0123456789abcdef0123456789abcdef",
    );
    let empty = tempfile::tempdir().expect("temp dir");
    let missing = sre_agent(&["traces", "list"], empty.path());
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("no trace file at"),
        "{}",
        stderr(&missing)
    );
}
