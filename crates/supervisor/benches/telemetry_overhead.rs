//! Wall-time overhead of telemetry on a whole offline investigation, measured side by side in one process:
//! the same investigation (crash-loop question, four agents, in-process MCP backends over loopback HTTP, tool
//! cache off so every tool call is made) first with nothing installed, then with the real telemetry stack of
//! the command line's defaults (spans to the OTLP-JSON trace file, metrics aggregated and flushed as EMF
//! lines). Two "off" rounds come first so the noise between identical runs is printed next to the overhead.
//!
//! Telemetry can be installed but not removed from a process, so "off" must run before "on". The telemetry
//! configuration comes from the environment as for the command line (`OTEL_TRACES_EXPORTER=none`,
//! `OTEL_METRICS_EXPORTER=none`, ... isolate one part).
//!
//! `cargo bench -p sre-supervisor --bench telemetry_overhead` (target: overhead ≤ 1 %).

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use sre_agents::{model::offline::OfflineModel, progress::ProgressSink};
use sre_memory::{SessionId, UserId};
use sre_supervisor::{
    InvestigationRequest,
    system::{System, SystemOptions},
};
use sre_telemetry::{TelemetryConfig, convention::AGENT_SERVICE_NAME};

const QUESTION: &str = "Why are the database pods crash looping in production?";
const WARMUP: usize = 20;
const ROUNDS: usize = 200;

fn request(round: usize) -> InvestigationRequest {
    InvestigationRequest {
        question: QUESTION.to_owned(),
        user_id: UserId::parse("bench").expect("a valid user id"),
        session_id: SessionId::parse(&format!("bench-{round}")).expect("a valid session id"),
        history: Vec::new(),
        progress: ProgressSink::none(),
    }
}

/// Wall time of each of `rounds` investigations.
async fn investigate(system: &System, rounds: usize) -> Vec<Duration> {
    let mut times = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let started = Instant::now();
        let report = system
            .investigate(request(round))
            .await
            .expect("the investigation completes");
        times.push(started.elapsed());
        assert!(
            report.agents.iter().all(|a| a.result.is_ok()),
            "an agent failed"
        );
    }
    times
}

struct Summary {
    mean: Duration,
    median: Duration,
    p95: Duration,
}

fn summarize(mut times: Vec<Duration>) -> Summary {
    times.sort();
    let total: Duration = times.iter().sum();
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Summary {
        mean: total / u32::try_from(times.len()).expect("few rounds"),
        median: at(0.5),
        p95: at(0.95),
    }
}

fn row(label: &str, s: &Summary) {
    println!(
        "  {label:<28} mean {:>9.3?}   median {:>9.3?}   p95 {:>9.3?}",
        s.mean, s.median, s.p95
    );
}

fn percent(a: Duration, b: Duration) -> f64 {
    (b.as_secs_f64() / a.as_secs_f64() - 1.0) * 100.0
}

fn main() {
    // `cargo test --benches` runs bench targets with `--bench` absent: do one round only, as a smoke test.
    let quick = !std::env::args().any(|a| a == "--bench");
    let (warmup, rounds) = if quick { (1, 1) } else { (WARMUP, ROUNDS) };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let data = tempfile::tempdir().expect("a temporary data directory");
    runtime.block_on(async {
        let mut options = SystemOptions::new(Arc::new(OfflineModel::new()));
        options.tools.cache = None;
        let system = System::start(options).await.expect("the system starts");

        investigate(&system, warmup).await;
        let off_a = summarize(investigate(&system, rounds).await);
        let off_b = summarize(investigate(&system, rounds).await);

        let config = TelemetryConfig::from_env(AGENT_SERVICE_NAME, data.path())
            .expect("the default telemetry configuration");
        let guard = sre_telemetry::install(&config).expect("telemetry installs");
        investigate(&system, warmup).await;
        let on = summarize(investigate(&system, rounds).await);
        system.shutdown().await;
        let dropped = guard.dropped_spans();
        let recorded = guard.recorder().stats();
        let spans = std::fs::metadata(data.path().join("traces/traces.jsonl")).map_or(0, |m| m.len());
        tokio::task::spawn_blocking(move || guard.shutdown())
            .await
            .expect("shutdown task")
            .expect("telemetry shuts down");

        println!(
            "\nTelemetry overhead on a full offline investigation ({rounds} rounds each, after {warmup} \
             warm-up rounds; four agents, tool cache off)"
        );
        row("telemetry off (round A)", &off_a);
        row("telemetry off (round B)", &off_b);
        row("telemetry on (file + EMF)", &on);
        let off = off_a.median.min(off_b.median);
        println!(
            "  noise between the two off rounds: {:+.2} % (median)",
            percent(off_a.median, off_b.median)
        );
        println!(
            "  overhead, on vs the faster off round: {:+.2} % (median), {:+.2} % (mean), {:+.3} ms per \
             investigation   target ≤ 1 %",
            percent(off, on.median),
            percent(off_a.mean.min(off_b.mean), on.mean),
            (on.median.as_secs_f64() - off.as_secs_f64()) * 1000.0
        );
        println!(
            "  spans dropped: {dropped}; trace file {:.1} MiB before the final flush; metrics: {recorded:?}",
            spans as f64 / (1024.0 * 1024.0)
        );
    });
}
