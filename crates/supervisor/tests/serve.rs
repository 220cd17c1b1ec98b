//! `sre-agent serve` as AgentCore Runtime calls it: `GET /ping`, `POST /invocations` with the session header
//! and a caller's `traceparent` (the investigation joins that trace), clear 4xx answers to bad bodies, and a
//! graceful stop on SIGTERM with the trace written.

use std::{
    io::{BufRead, BufReader},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

const UPSTREAM_TRACE: &str = "6b0160ff00000000000000000000c0de";

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        // Still running only when the test failed before stopping it: end it by its PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(data_dir: &std::path::Path) -> Server {
    let child = Command::new(env!("CARGO_BIN_EXE_sre-agent"))
        .args(["serve", "--port", "0"])
        .env("SRE_DATA_DIR", data_dir)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env_remove("USER_ID")
        .env_remove("LLM_PROVIDER")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // Owned by the guard from here on, so a failed start still ends and reaps the process.
    let mut server = Server {
        child,
        base: String::new(),
    };
    let stderr = server.child.stderr.take().expect("stderr is piped");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("the server announces its address");
        if let Some(rest) = line.split("POST http://").nth(1) {
            let address = rest.split('/').next().expect("an address");
            server.base = format!("http://{address}");
            return server;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocations_are_investigations_in_the_callers_trace() {
    let data = tempfile::tempdir().expect("temp dir");
    let mut server = start(data.path());
    let http = reqwest::Client::new();

    let ping: Value = http
        .get(format!("{}/ping", server.base))
        .send()
        .await
        .expect("ping answers")
        .json()
        .await
        .expect("ping is JSON");
    assert_eq!(ping["status"], "Healthy", "{ping}");

    let answer = http
        .post(format!("{}/invocations", server.base))
        .header(
            "traceparent",
            format!("00-{UPSTREAM_TRACE}-00000000000000bb-01"),
        )
        .header("X-Amzn-Bedrock-AgentCore-Runtime-Session-Id", "session-42")
        .json(
            &json!({"prompt": "Database pods are crash looping in production", "user_id": "Carol"}),
        )
        .send()
        .await
        .expect("the invocation answers");
    assert_eq!(answer.status(), 200);
    let reply: Value = answer.json().await.expect("a JSON reply");
    assert_eq!(
        reply["trace_id"], UPSTREAM_TRACE,
        "joins the caller's trace"
    );
    assert_eq!(reply["severity"], "critical", "{reply}");
    assert!(
        reply["investigation_id"]
            .as_str()
            .is_some_and(|id| id.starts_with("inv-"))
    );
    let report = reply["report"].as_str().unwrap_or_default();
    assert!(report.contains("database"), "{report}");

    for (body, content_type, needle) in [
        (r#"{"prompt": ""}"#, "application/json", "empty"),
        (r#"{"question": "why?"}"#, "application/json", "prompt"),
        ("not json", "application/json", "prompt"),
        (r#"{"prompt": "x"}"#, "text/plain", "application/json"),
    ] {
        let refused = http
            .post(format!("{}/invocations", server.base))
            .header("content-type", content_type)
            .body(body)
            .send()
            .await
            .expect("a refusal answers");
        assert!(
            refused.status().is_client_error(),
            "{body}: {}",
            refused.status()
        );
        let error: Value = refused.json().await.expect("a JSON error");
        assert!(
            error["error"].as_str().is_some_and(|e| e.contains(needle)),
            "{body}: {error}"
        );
    }

    // SIGTERM: a graceful stop that flushes the trace.
    let pid = server.child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    let exit = loop {
        if let Some(exit) = server.child.try_wait().expect("wait") {
            break exit;
        }
        assert!(Instant::now() < deadline, "the server ignored SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let traces = std::fs::read_to_string(data.path().join("traces/traces.jsonl")).expect("traces");
    assert!(
        traces.contains(UPSTREAM_TRACE),
        "the investigation's spans were written"
    );

    // Its root's parent is the caller's span, outside the file: the listing still finds the investigation.
    let listing = Command::new(env!("CARGO_BIN_EXE_sre-agent"))
        .args(["traces", "list"])
        .env("SRE_DATA_DIR", data.path())
        .env("NO_COLOR", "1")
        .output()
        .expect("traces list runs");
    let listing = String::from_utf8_lossy(&listing.stdout);
    let row = listing
        .lines()
        .find(|l| l.starts_with(UPSTREAM_TRACE))
        .unwrap_or_default();
    assert!(
        row.contains("Carol") && row.contains("Database pods are crash looping"),
        "{listing}"
    );
}
