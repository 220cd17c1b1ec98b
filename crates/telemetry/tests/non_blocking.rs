//! Recording never blocks: with every sink stalled, a million `record` calls from several tasks finish, and
//! every call is accounted for exactly (accepted + dropped), down to the `TelemetryDropped` metric.

// Helpers outside #[test] fns unwrap too: a failed assumption in a test helper is a test failure.
#![allow(clippy::unwrap_used)]

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use sre_telemetry::metric::{
    MetricBatch, MetricId, MetricSink, MetricSinkError, PointValue, Recorder,
};

/// A sink whose first export blocks until released: a stalled exporter.
struct Stalled {
    release: Arc<AtomicBool>,
    exports: Arc<AtomicU64>,
}

impl MetricSink for Stalled {
    fn name(&self) -> &'static str {
        "stalled"
    }

    fn export(&mut self, _batch: &MetricBatch) -> Result<(), MetricSinkError> {
        self.exports.fetch_add(1, Ordering::SeqCst);
        while !self.release.load(Ordering::SeqCst) {
            std::thread::park_timeout(Duration::from_millis(5));
        }
        Ok(())
    }
}

/// Counts what reaches it.
#[derive(Clone, Default)]
struct Counting(Arc<Mutex<Vec<MetricBatch>>>);

impl MetricSink for Counting {
    fn name(&self) -> &'static str {
        "counting"
    }

    fn export(&mut self, batch: &MetricBatch) -> Result<(), MetricSinkError> {
        self.0.lock().unwrap().push(batch.clone());
        Ok(())
    }
}

const TASKS: u64 = 8;
const PER_TASK: u64 = 125_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_million_records_finish_with_every_sink_stalled_and_exact_drop_counts() {
    let release = Arc::new(AtomicBool::new(false));
    let exports = Arc::new(AtomicU64::new(0));
    let stalled = |release: &Arc<AtomicBool>| Stalled {
        release: Arc::clone(release),
        exports: Arc::clone(&exports),
    };
    let recorder = Recorder::builder()
        .queue_capacity(1024)
        .interval(Duration::from_millis(20))
        .sink(Box::new(stalled(&release)))
        .sink(Box::new(stalled(&release)))
        .build()
        .unwrap();

    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let recorder = recorder.clone();
        tasks.push(tokio::spawn(async move {
            let agent = format!("agent-{t}");
            for i in 0..PER_TASK {
                recorder.record(
                    MetricId::ToolExecution,
                    (i % 1000) as f64,
                    &[("ToolName", "get_pod_status"), ("AgentName", &agent)],
                );
                if i % 4096 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        }));
    }
    let all = async {
        for task in tasks {
            task.await.unwrap();
        }
    };
    tokio::time::timeout(Duration::from_secs(120), all)
        .await
        .expect("recording finished although every sink is stalled");

    let stats = recorder.stats();
    assert_eq!(stats.accepted + stats.dropped, TASKS * PER_TASK);
    assert!(
        exports.load(Ordering::SeqCst) >= 1,
        "the sinks were stalled in an export"
    );

    // Release the sinks and let the aggregator drain: everything accepted is aggregated.
    release.store(true, Ordering::SeqCst);
    let r = recorder.clone();
    tokio::task::spawn_blocking(move || r.flush(Duration::from_secs(30)))
        .await
        .unwrap();
    let stats = recorder.stats();
    assert_eq!(stats.aggregated, stats.accepted);
    assert_eq!(stats.accepted + stats.dropped, TASKS * PER_TASK);
    let r = recorder.clone();
    tokio::task::spawn_blocking(move || r.shutdown(Duration::from_secs(10)))
        .await
        .unwrap();
}

#[test]
fn every_refused_record_is_reported_as_telemetry_dropped() {
    let counting = Counting::default();
    // A one-sample queue forces refusals.
    let recorder = Recorder::builder()
        .queue_capacity(1)
        .interval(Duration::from_secs(3600))
        .sink(Box::new(counting.clone()))
        .build()
        .unwrap();
    let mut sent = 0u64;
    for i in 0..20_000u64 {
        recorder.record(MetricId::CacheHits, 1.0, &[("Cache", "tool")]);
        sent += 1;
        if i % 5000 == 0 {
            std::thread::yield_now();
        }
    }
    assert!(recorder.flush(Duration::from_secs(10)));
    let stats = recorder.stats();
    assert_eq!(stats.accepted + stats.dropped, sent);
    assert_eq!(stats.aggregated, stats.accepted);

    let batches = counting.0.lock().unwrap();
    let mut hits = 0.0;
    let mut dropped = 0.0;
    for point in batches.iter().flat_map(|b| &b.points) {
        match (point.id, &point.value) {
            (MetricId::CacheHits, PointValue::Sum(v)) => hits += v,
            (MetricId::TelemetryDropped, PointValue::Sum(v)) => {
                assert_eq!(point.dimensions, ["metrics"]);
                dropped += v;
            }
            _ => {}
        }
    }
    assert_eq!(
        hits, stats.accepted as f64,
        "every accepted sample is in the sums"
    );
    assert_eq!(
        dropped, stats.dropped as f64,
        "every refused sample is reported"
    );
    drop(batches);
    recorder.shutdown(Duration::from_secs(5));
}
