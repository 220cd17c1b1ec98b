//! SIGTERM stops a standalone backend gracefully: the token from `shutdown_on_signal` is cancelled and the
//! service returns. This test sends SIGTERM to its own process, so it lives alone in its test binary.

#![cfg(unix)]

use std::time::Duration;

use anyhow::{Context, Result, ensure};
use sre_mcp_backends::{Domain, ServeOptions, Standalone, shutdown_on_signal};
use tokio::net::TcpStream;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_a_standalone_backend() -> Result<()> {
    let shutdown = shutdown_on_signal()?;
    let options = ServeOptions {
        domains: vec![Domain::K8s],
        port_base: 0,
        ..ServeOptions::default()
    };
    let standalone = Standalone::bind(options).await?;
    let addr = standalone.addr(Domain::K8s).context("k8s is served")?;
    let running = tokio::spawn(standalone.run(shutdown.clone()));
    TcpStream::connect(addr)
        .await
        .context("the backend listens")?;

    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .context("run kill")?;
    ensure!(status.success(), "kill -TERM failed: {status}");

    tokio::time::timeout(Duration::from_secs(15), running)
        .await
        .context("the backend did not stop within 15s of SIGTERM")???;
    ensure!(shutdown.is_cancelled(), "SIGTERM cancels the token");
    ensure!(
        TcpStream::connect(addr).await.is_err(),
        "the port is closed"
    );
    Ok(())
}
