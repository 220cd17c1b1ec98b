//! Backends as a standalone service: the chosen domains on consecutive ports, a user's scenario directory,
//! refusal of options, ports and scenarios that cannot work before anything serves, and a clean stop.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use rmcp::ServiceExt;
use rmcp::model::{CallToolRequestParams, ClientConfig};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use sre_mcp_backends::scenario::bundled_files;
use sre_mcp_backends::{DatasetSource, Domain, ServeOptions, Standalone, serve_standalone};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_the_chosen_backends_from_a_scenario_directory_until_shutdown() -> Result<()> {
    let dir = tempfile::tempdir()?;
    write_bundled("memory-leak-oom", dir.path())?;
    let options = ServeOptions {
        domains: vec![Domain::Logs, Domain::Runbooks],
        port_base: 0,
        dataset: DatasetSource::Dir(dir.path().to_path_buf()),
        ..ServeOptions::default()
    };
    let standalone = Standalone::bind(options).await?;
    assert_eq!(standalone.dataset().scenario().name, "memory-leak-oom");
    assert!(standalone.addr(Domain::K8s).is_none(), "k8s was not chosen");
    let urls = standalone.urls();
    assert_eq!(
        urls.iter().map(|(d, _)| *d).collect::<Vec<_>>(),
        [Domain::Logs, Domain::Runbooks]
    );
    let logs_url = urls[0].1.clone();
    assert!(
        logs_url.starts_with("http://127.0.0.1:") && logs_url.ends_with("/mcp"),
        "{logs_url}"
    );
    let logs_addr = standalone.addr(Domain::Logs).context("logs is served")?;

    let shutdown = CancellationToken::new();
    let running = tokio::spawn(standalone.run(shutdown.clone()));

    let transport = StreamableHttpClientTransport::from_config(
        StreamableHttpClientTransportConfig::with_uri(logs_url),
    );
    let client = ClientConfig::default().serve(transport).await?;
    let instructions = client
        .peer_info()
        .and_then(|info| info.instructions.clone())
        .unwrap_or_default();
    assert!(instructions.contains("memory-leak-oom"), "{instructions}");
    let tools: BTreeSet<String> = client
        .list_all_tools()
        .await?
        .into_iter()
        .map(|t| t.name.into_owned())
        .collect();
    assert!(tools.contains("search_logs"), "{tools:?}");
    let answer = client
        .call_tool(CallToolRequestParams::new("get_recent_logs"))
        .await?;
    assert_eq!(answer.is_error, Some(false));
    client.cancel().await?;

    shutdown.cancel();
    tokio::time::timeout(Duration::from_secs(15), running)
        .await
        .context("the service did not stop within 15s")???;
    assert!(
        TcpStream::connect(logs_addr).await.is_err(),
        "the port is closed"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_port_in_use_is_reported_and_nothing_serves() -> Result<()> {
    let taken = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
    let port = taken.local_addr()?.port();
    let options = ServeOptions {
        domains: vec![Domain::Metrics],
        port_base: port.checked_sub(2).context("an ephemeral port above 2")?,
        ..ServeOptions::default()
    };
    let err = serve_standalone(options, CancellationToken::new())
        .await
        .err()
        .context("binding a taken port fails")?
        .to_string();
    assert!(
        err.starts_with(&format!(
            "cannot bind the metrics backend to 127.0.0.1:{port}: "
        )),
        "{err}"
    );
    assert!(
        err.ends_with("; free the port or choose another address"),
        "{err}"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broken_scenario_or_bad_options_are_refused_before_binding() -> Result<()> {
    let dir = tempfile::tempdir()?;
    write_bundled("healthy-baseline", dir.path())?;
    std::fs::write(
        dir.path().join("logs.json"),
        r#"{"entries": [{"ago": "5m"}]}"#,
    )?;
    // Port base 1 would need privileges: the scenario error must come first.
    let options = ServeOptions {
        port_base: 1,
        dataset: DatasetSource::Dir(dir.path().to_path_buf()),
        ..ServeOptions::default()
    };
    let err = Standalone::bind(options)
        .await
        .err()
        .context("a broken scenario fails")?;
    assert_eq!(
        err.to_string(),
        "cannot load the scenario to serve: logs.json at entries[0]: missing field `service` at line 1 column 26"
    );

    let unknown = ServeOptions {
        dataset: DatasetSource::Bundled("disk-full".into()),
        port_base: 0,
        ..ServeOptions::default()
    };
    let err = Standalone::bind(unknown)
        .await
        .err()
        .context("an unknown scenario fails")?;
    assert!(
        err.to_string()
            .starts_with("cannot load the scenario to serve: unknown scenario `disk-full`; bundled scenarios: database-crashloop, "),
        "{err}"
    );

    let everywhere = ServeOptions {
        host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        port_base: 65533,
        ..ServeOptions::default()
    };
    let err = Standalone::bind(everywhere)
        .await
        .err()
        .context("ports past 65535 fail")?;
    assert_eq!(
        err.to_string(),
        "port base 65533 puts the runbooks backend beyond port 65535; choose a port base of at most 65532, or 0 for ephemeral ports"
    );
    Ok(())
}

fn write_bundled(name: &str, dir: &Path) -> Result<()> {
    let Some(files) = bundled_files(name) else {
        bail!("no bundled scenario {name}");
    };
    for (file, text) in [
        ("scenario.json", files.scenario),
        ("k8s.json", files.k8s),
        ("logs.json", files.logs),
        ("metrics.json", files.metrics),
        ("runbooks.json", files.runbooks),
    ] {
        std::fs::write(dir.join(file), text)?;
    }
    if let Some(expected) = files.expected {
        std::fs::write(dir.join("expected.json"), expected)?;
    }
    Ok(())
}
