//! The binary as a user runs it: bad input fails fast with a clear message and exit code 2; a real prompt
//! prints a report, saves it and writes the trace.

use std::{
    process::{Command, Output},
    time::{Duration, Instant},
};

fn sre_agent(args: &[&str], data_dir: &std::path::Path) -> Output {
    sre_agent_with_stdin(args, data_dir, b"")
}

/// The binary with `args`, its data in `data_dir`, and none of the caller's user, provider, debug or log
/// settings.
fn sre_agent_command(args: &[&str], data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sre-agent"));
    command
        .args(args)
        .env("SRE_DATA_DIR", data_dir)
        .env_remove("USER_ID")
        .env_remove("LLM_PROVIDER")
        .env_remove("OTEL_DEBUG")
        .env_remove("RUST_LOG");
    command
}

fn sre_agent_with_stdin(args: &[&str], data_dir: &std::path::Path, input: &[u8]) -> Output {
    use std::io::Write;
    let mut child = sre_agent_command(args, data_dir)
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

/// Runs the binary with no model credentials in its environment, plus `env`.
fn sre_agent_without_credentials(
    args: &[&str],
    data_dir: &std::path::Path,
    env: &[(&str, &str)],
) -> (Output, Duration) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sre-agent"));
    command
        .args(args)
        .env("SRE_DATA_DIR", data_dir)
        // No credential source of the AWS chain: no keys, profiles, SSO, web identity or container role.
        .env("AWS_CONFIG_FILE", data_dir.join("no-aws-config"))
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            data_dir.join("no-aws-credentials"),
        )
        .env("AWS_REGION", "us-east-1")
        .stdin(std::process::Stdio::null());
    for key in [
        "USER_ID",
        "LLM_PROVIDER",
        "OTEL_DEBUG",
        "RUST_LOG",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_ROLE_ARN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_EC2_METADATA_DISABLED",
        "AWS_EC2_METADATA_SERVICE_ENDPOINT",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_BASE_URL",
        "OPENAI_API_KEY",
        "OPENAI_BASE_URL",
        "SRE_PRICING_FILE",
    ] {
        command.env_remove(key);
    }
    command.envs(env.iter().copied());
    let started = Instant::now();
    let output = command.output().expect("the binary runs");
    (output, started.elapsed())
}

/// Exit code 1, one line on stderr containing `needle`, nothing investigated, well within two seconds.
fn assert_fails_fast(output: &Output, elapsed: Duration, needle: &str) {
    let err = stderr(output);
    assert_eq!(output.status.code(), Some(1), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(
        err.starts_with("error: ") && err.contains(needle),
        "expected {needle:?} in: {err}"
    );
    assert!(!err.contains("Investigating"), "{err}");
    assert!(output.stdout.is_empty(), "no report");
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[test]
fn bedrock_without_credentials_fails_fast_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (output, elapsed) = sre_agent_without_credentials(
        &["--provider", "bedrock", "--prompt", "hi"],
        dir.path(),
        &[("AWS_EC2_METADATA_DISABLED", "true")],
    );
    assert_fails_fast(
        &output,
        elapsed,
        "--provider bedrock: no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)",
    );
}

#[test]
fn bedrock_fails_fast_even_when_instance_metadata_never_answers() {
    // An instance metadata endpoint that accepts connections and never answers: the SDK's default chain would
    // wait on it; the preflight deadline does not.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let imds = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let held: Vec<_> = listener.incoming().collect();
        drop(held);
    });
    let dir = tempfile::tempdir().unwrap();
    let (output, elapsed) = sre_agent_without_credentials(
        &["--provider", "bedrock", "--prompt", "hi"],
        dir.path(),
        &[
            ("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds.as_str()),
            // Were credentials found after all, the endpoint probe fails instead of reaching AWS.
            ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:1"),
        ],
    );
    assert_fails_fast(&output, elapsed, "--provider bedrock: ");
}

#[test]
fn anthropic_without_a_key_and_an_unreachable_openai_server_fail_fast() {
    let dir = tempfile::tempdir().unwrap();
    let (output, elapsed) = sre_agent_without_credentials(
        &["--provider", "anthropic", "--prompt", "hi"],
        dir.path(),
        &[],
    );
    assert_fails_fast(
        &output,
        elapsed,
        "--provider anthropic: ANTHROPIC_API_KEY is not set",
    );
    let (output, elapsed) = sre_agent_without_credentials(
        &["--prompt", "hi"],
        dir.path(),
        &[
            ("LLM_PROVIDER", "openai"),
            ("OPENAI_BASE_URL", "http://127.0.0.1:1/v1"),
        ],
    );
    assert_fails_fast(
        &output,
        elapsed,
        "--provider openai: cannot reach http://127.0.0.1:1/v1",
    );
}

#[test]
fn a_model_for_the_offline_engine_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    assert_usage_error(
        &sre_agent(&["--model", "x", "--prompt", "y"], dir.path()),
        "error: --provider offline: --model x needs a model provider (bedrock, anthropic or openai); the offline engine has one model, offline-analyst-1",
    );
}

#[test]
fn the_report_ends_with_tokens_and_cost_and_a_tight_budget_makes_it_partial() {
    let dir = tempfile::tempdir().unwrap();
    let question = "Why are the database pods crash looping in production?";
    let full = sre_agent(&["--no-markdown", "--prompt", question], dir.path());
    assert_eq!(full.status.code(), Some(0), "{}", stderr(&full));
    let report = String::from_utf8_lossy(&full.stdout);
    let footer = report.trim_end().lines().last().unwrap_or_default();
    assert!(
        footer.starts_with("**Model:** `sre.offline/offline-analyst-1` · **Tokens:** ")
            && footer.contains(" of a 200,000-token budget (")
            && footer.ends_with("**Estimated cost:** $0.00"),
        "{footer}"
    );
    assert!(!report.contains("Partial investigation"), "{report}");

    let tight = sre_agent(
        &[
            "--no-markdown",
            "--max-tokens",
            "3000",
            "--prompt",
            question,
        ],
        dir.path(),
    );
    assert_eq!(tight.status.code(), Some(0), "{}", stderr(&tight));
    let report = String::from_utf8_lossy(&tight.stdout);
    assert!(report.contains("> **Partial investigation:**"), "{report}");
    assert!(
        report.contains(
            "the investigation's token budget (3000 tokens) was used up before the summary"
        ),
        "{report}"
    );
    assert!(report.contains(" of a 3,000-token budget ("), "{report}");
}

#[test]
fn a_used_up_daily_budget_refuses_the_next_investigation() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "--no-markdown",
        "--user-id",
        "carol",
        "--daily-token-budget",
        "1000",
        "--prompt",
        "Check cluster health",
    ];
    let first = sre_agent(&args, dir.path());
    let err = stderr(&first);
    assert_eq!(first.status.code(), Some(0), "{err}");
    assert!(
        err.contains("Daily token budget:")
            && err.contains("of 1,000 tokens used today (UTC) by carol, 0 left"),
        "{err}"
    );

    let second = sre_agent(&args, dir.path());
    let err = stderr(&second);
    assert_eq!(second.status.code(), Some(1), "{err}");
    assert!(
        err.contains("error: cannot start the investigation: user carol has used ")
            && err.contains("of the 1,000-token daily budget for ")
            && err.contains("raise --daily-token-budget"),
        "{err}"
    );
    assert!(!err.contains("Investigating"), "{err}");
    assert!(second.stdout.is_empty());

    // Another user, or no limit, still runs.
    let other = sre_agent(
        &[
            "--no-markdown",
            "--user-id",
            "dave",
            "--daily-token-budget",
            "1000",
            "--prompt",
            "Check cluster health",
        ],
        dir.path(),
    );
    assert_eq!(other.status.code(), Some(0), "{}", stderr(&other));
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

/// `sre-agent … | head`: a reader that closes the pipe early ends the output quietly, never in a panic.
#[test]
fn a_closed_stdout_pipe_is_not_a_crash() {
    let data = tempfile::tempdir().expect("temp dir");
    let run = sre_agent(
        &["--no-markdown", "--prompt", "Check cluster health"],
        data.path(),
    );
    assert!(run.status.success(), "{}", stderr(&run));
    for args in [
        &["backends", "scenarios"][..],
        &["traces", "list"],
        &["traces", "show", "latest"],
        &["--no-markdown", "--prompt", "Check cluster health"],
    ] {
        let child = Command::new(env!("CARGO_BIN_EXE_sre-agent"))
            .args(args)
            .env("SRE_DATA_DIR", data.path())
            .env_remove("USER_ID")
            .env_remove("LLM_PROVIDER")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("the binary starts");
        // Close the read end before the binary writes anything.
        let mut child = child;
        drop(child.stdout.take());
        let output = child.wait_with_output().expect("the binary runs");
        let err = stderr(&output);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {err}");
    }
}

/// `memory load-preferences` without a file stores the bundled personas from any working directory.
#[test]
fn the_bundled_personas_load_from_anywhere() {
    let data = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_sre-agent"))
        .args(["memory", "load-preferences"])
        .current_dir(data.path())
        .env("SRE_DATA_DIR", data.path())
        .env_remove("USER_ID")
        .output()
        .expect("the binary runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        text.contains("from the bundled config/users.yaml: Alice, Carol"),
        "{text}"
    );
    let missing = sre_agent(
        &["memory", "load-preferences", "no-such-users.yaml"],
        data.path(),
    );
    assert_usage_error(&missing, "no-such-users.yaml");
}

/// A trace the sampler dropped is not announced as written.
#[test]
fn an_unsampled_investigation_says_so_instead_of_pointing_at_a_trace() {
    let data = tempfile::tempdir().expect("temp dir");
    let output = sre_agent_command(
        &["--no-markdown", "--prompt", "Check cluster health"],
        data.path(),
    )
    .env("OTEL_TRACES_SAMPLER", "always_off")
    .output()
    .expect("the binary runs");
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(!err.contains("Trace ID:"), "{err}");
    assert!(!err.contains("Spans written to"), "{err}");
    assert!(err.contains("No trace:"), "{err}");
}

/// `OTEL_SDK_DISABLED=true` turns OpenTelemetry off: no trace id is announced (nothing would hold it), no
/// trace or metric file is written, and the report is the same.
#[test]
fn telemetry_off_announces_no_trace_and_writes_no_telemetry_file() {
    let data = tempfile::tempdir().expect("temp dir");
    let output = sre_agent_command(
        &[
            "--no-markdown",
            "--prompt",
            "Why are the database pods crash looping in production?",
        ],
        data.path(),
    )
    .env("OTEL_SDK_DISABLED", "true")
    .output()
    .expect("the binary runs");
    let err = stderr(&output);
    assert!(output.status.success(), "{err}");
    assert!(!err.contains("Trace ID:"), "{err}");
    assert!(err.contains("No trace:"), "{err}");
    assert!(!data.path().join("traces").exists(), "{err}");
    assert!(!data.path().join("metrics").exists(), "{err}");
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(out.contains("database-config"), "{out}");
}
