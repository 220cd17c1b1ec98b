//! An MCP client we did not write — the official Python SDK — lists and calls all 20 tools of the four
//! backends over streamable HTTP, with and without API-key authentication (`tests/official_client.py`).
//!
//! The SDK must be installed: `python3 -m pip install 'mcp==2.3.0'`. Without it this test fails and says so.
//! `PYTHON` selects the interpreter (default `python3`).

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use chrono::Utc;
use sre_mcp_backends::{
    Auth, BackendSet, DEFAULT_SCENARIO, HttpOptions, bundled_names, load_bundled,
};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/official_client.py");
const PIP_COMMAND: &str = "python3 -m pip install 'mcp==2.3.0'";
/// Exit code of the script when the SDK cannot be imported.
const SDK_MISSING: i32 = 3;
const DEADLINE: Duration = Duration::from_secs(120);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_lists_and_calls_every_tool() -> Result<()> {
    let backends =
        BackendSet::start_in_process(Arc::new(load_bundled(DEFAULT_SCENARIO, Utc::now())?)).await?;
    let urls: Vec<String> = backends.urls().into_iter().map(|(_, url)| url).collect();
    let output = run_script(urls).await?;
    backends.shutdown().await;
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains(
            "ok: 4 backends, 20 tools listed and called with the official MCP Python SDK"
        ),
        "{stdout}"
    );
    for service in [
        "k8s-backend",
        "logs-backend",
        "metrics-backend",
        "runbooks-backend",
    ] {
        assert!(
            stdout.contains(&format!("ok {service} ")),
            "{service}: {stdout}"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_python_sdk_works_with_an_api_key_on_every_scenario() -> Result<()> {
    let http = HttpOptions {
        auth: Some(Auth::api_key("sdk-interop-key")?),
        ..HttpOptions::default()
    };
    for name in bundled_names() {
        let dataset = Arc::new(load_bundled(name, Utc::now())?);
        let backends = BackendSet::start(dataset, &http, |_| {
            SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
        })
        .await?;
        let mut args = vec![
            "--header".to_owned(),
            "X-API-Key=sdk-interop-key".to_owned(),
        ];
        args.extend(backends.urls().into_iter().map(|(_, url)| url));
        let output = run_script(args)
            .await
            .with_context(|| format!("scenario {name}"))?;
        backends.shutdown().await;
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            stdout.contains("ok: 4 backends, 20 tools"),
            "{name}: {stdout}"
        );
    }
    Ok(())
}

/// Runs the script with `args` and a deadline; any failure, including a missing SDK, is an error naming why.
async fn run_script(args: Vec<String>) -> Result<Output> {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".to_owned());
    let output = tokio::task::spawn_blocking(move || run_with_deadline(&python, &args)).await??;
    let stderr = String::from_utf8_lossy(&output.stderr);
    match output.status.code() {
        Some(0) => Ok(output),
        Some(SDK_MISSING) => bail!(
            "the official MCP Python SDK is missing; install it with `{PIP_COMMAND}` and run the test again.\n{stderr}"
        ),
        _ => bail!(
            "the official client failed ({}):\nstdout:\n{}\nstderr:\n{stderr}",
            output.status,
            String::from_utf8_lossy(&output.stdout)
        ),
    }
}

fn run_with_deadline(python: &str, args: &[String]) -> Result<Output> {
    let mut child = Command::new(python)
        .arg(SCRIPT)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| {
            format!("cannot run `{python}`; install Python 3 and the SDK (`{PIP_COMMAND}`), or set PYTHON")
        })?;
    let deadline = Instant::now() + DEADLINE;
    loop {
        if child.try_wait()?.is_some() {
            return Ok(child.wait_with_output()?);
        }
        if Instant::now() > deadline {
            child.kill()?;
            let output = child.wait_with_output()?;
            bail!(
                "the official client did not finish within {DEADLINE:?}; its output:\n{}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
