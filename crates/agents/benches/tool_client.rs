//! What the tool client's cache saves against the real MCP backends on loopback: a cold `tools/call` (the
//! cache emptied before each call, so every call goes over HTTP to the k8s server), a warm call of the same
//! read-only tool with the same arguments (answered from the cache), and the throughput of concurrent cold
//! calls. A summary with the cold/warm ratio is printed after the criterion runs.
//!
//! `cargo bench -p sre-agents --bench tool_client -- --quick` runs it in a few seconds.

use std::{
    hint::black_box,
    sync::Arc,
    time::{Duration, Instant},
};

use anyhow::{Context, ensure};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures::future::join_all;
use serde_json::{Value, json};
use sre_agents::tool_client::{BackendEndpoint, ToolClient, ToolClientConfig, ToolOutput};
use sre_mcp_backends::{BackendSet, Domain, domain::tool, scenario};
use tokio::runtime::Runtime;

/// Concurrent calls per iteration of the throughput benchmark.
const CONCURRENT: usize = 16;
/// Calls timed for the printed summary.
const SUMMARY_COLD: usize = 200;
const SUMMARY_WARM: usize = 20_000;

/// The k8s backend on loopback and two clients for it: one with the result cache, one without.
struct Fixture {
    runtime: Runtime,
    backends: Option<BackendSet>,
    cached: Arc<ToolClient>,
    uncached: Arc<ToolClient>,
}

impl Fixture {
    fn start() -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("tokio runtime")?;
        let (backends, cached, uncached) = runtime.block_on(async {
            let dataset = scenario::load_bundled(scenario::DEFAULT_SCENARIO, chrono::Utc::now())
                .context("bundled scenario")?;
            let backends = BackendSet::start_in_process(Arc::new(dataset))
                .await
                .context("in-process backends")?;
            let endpoint =
                BackendEndpoint::new(Domain::K8s.service_name(), backends.url(Domain::K8s));
            let http = reqwest::Client::new();
            let cached =
                ToolClient::new(endpoint.clone(), http.clone(), ToolClientConfig::default());
            let uncached = ToolClient::new(
                endpoint,
                http,
                ToolClientConfig {
                    cache: None,
                    ..ToolClientConfig::default()
                },
            );
            // The backend's own `tools/list` marks its tools read-only: that is what lets the cache apply.
            for client in [&cached, &uncached] {
                client.list_tools().await.context("tools/list")?;
            }
            anyhow::Ok((backends, Arc::new(cached), Arc::new(uncached)))
        })?;
        Ok(Self {
            runtime,
            backends: Some(backends),
            cached,
            uncached,
        })
    }

    /// One call as the benchmark makes it, checked once so a broken setup fails loudly.
    fn check(&self) -> anyhow::Result<()> {
        self.cached.invalidate_cache();
        let cold = self.runtime.block_on(call(&self.cached))?;
        let warm = self.runtime.block_on(call(&self.cached))?;
        ensure!(
            !cold.is_error,
            "the tool answered with an error: {}",
            cold.text
        );
        ensure!(
            !cold.cached,
            "the first call after invalidation came from the cache"
        );
        ensure!(
            warm.cached,
            "the repeated call was not cached: is {} marked read-only?",
            tool::GET_POD_STATUS
        );
        ensure!(warm.text == cold.text, "the cache answered differently");
        Ok(())
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        if let Some(backends) = self.backends.take() {
            self.runtime.block_on(backends.shutdown());
        }
    }
}

fn arguments() -> Value {
    json!({"namespace": "production"})
}

async fn call(client: &ToolClient) -> anyhow::Result<ToolOutput> {
    client
        .call(tool::GET_POD_STATUS, arguments())
        .await
        .context("get_pod_status")
}

fn tool_client(c: &mut Criterion) {
    let fixture = match Fixture::start().and_then(|f| f.check().map(|()| f)) {
        Ok(fixture) => fixture,
        Err(e) => {
            eprintln!("tool_client bench cannot run: {e:#}");
            std::process::exit(1);
        }
    };
    let rt = &fixture.runtime;

    let mut group = c.benchmark_group("get_pod_status");
    group.bench_function("cold (HTTP to the k8s backend)", |b| {
        b.iter(|| {
            fixture.cached.invalidate_cache();
            black_box(rt.block_on(fixture.cached.call(tool::GET_POD_STATUS, arguments())))
        })
    });
    group.bench_function("warm (cached)", |b| {
        b.iter(|| black_box(rt.block_on(fixture.cached.call(tool::GET_POD_STATUS, arguments()))))
    });
    group.finish();

    let mut group = c.benchmark_group("concurrent cold calls");
    group.throughput(Throughput::Elements(CONCURRENT as u64));
    group.sample_size(20);
    group.bench_function(format!("{CONCURRENT} at once, no cache"), |b| {
        b.iter(|| {
            let calls = (0..CONCURRENT).map(|_| {
                let client = fixture.uncached.clone();
                async move { client.call(tool::GET_POD_STATUS, arguments()).await }
            });
            black_box(rt.block_on(join_all(calls)))
        })
    });
    group.finish();

    // `cargo test --benches` runs each benchmark once as a smoke test; the timed summary is for `cargo bench`.
    if std::env::args().any(|arg| arg == "--bench") {
        summary(&fixture);
    }
}

/// Times cold and warm calls directly and prints them side by side with their ratio.
fn summary(fixture: &Fixture) {
    let rt = &fixture.runtime;
    let cold = median(SUMMARY_COLD, || {
        fixture.cached.invalidate_cache();
        rt.block_on(fixture.cached.call(tool::GET_POD_STATUS, arguments()))
            .is_ok_and(|o| !o.cached)
    });
    let warm = median(SUMMARY_WARM / 100, || {
        (0..100).all(|_| {
            rt.block_on(fixture.cached.call(tool::GET_POD_STATUS, arguments()))
                .is_ok_and(|o| o.cached)
        })
    })
    .map(|per_hundred| per_hundred / 100);
    let started = Instant::now();
    let rounds = 20;
    let ok = (0..rounds).all(|_| {
        let calls = (0..CONCURRENT).map(|_| {
            let client = fixture.uncached.clone();
            async move { client.call(tool::GET_POD_STATUS, arguments()).await }
        });
        rt.block_on(join_all(calls)).iter().all(Result::is_ok)
    });
    let throughput = (rounds * CONCURRENT) as f64 / started.elapsed().as_secs_f64();
    let stats = fixture.cached.cache_stats();
    match (cold, warm, ok) {
        (Some(cold), Some(warm), true) => {
            let ratio = cold.as_secs_f64() / warm.as_secs_f64().max(1e-9);
            println!();
            println!("tool_client summary (get_pod_status on the in-process k8s backend, median):");
            println!("  cold call   {:>12.1?}", cold);
            println!("  warm call   {:>12.1?}   cold/warm = {ratio:.0}x", warm);
            println!("  {CONCURRENT} concurrent cold calls: {throughput:.0} calls/s");
            println!("  cache: {} hits, {} misses", stats.hits, stats.misses);
        }
        _ => {
            eprintln!("tool_client summary: a timed call failed or was not served as expected");
            std::process::exit(1);
        }
    }
}

/// Median time of `runs` runs of `f`; `None` when a run reports failure.
fn median(runs: usize, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        if !f() {
            return None;
        }
        times.push(started.elapsed());
    }
    times.sort_unstable();
    times.get(times.len() / 2).copied()
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = tool_client
}
criterion_main!(benches);
