//! [`Recorder`]: the non-blocking front of the metric pipeline. `record` packs a sample into one small
//! allocation and queues it, at most `queue_capacity` samples deep (full → dropped and counted; the queue
//! allocates as it fills, so a large capacity costs nothing at start-up); one aggregator thread
//! folds samples per series, keeps the cumulative Prometheus state, caps `UserID` cardinality, and hands a
//! [`MetricBatch`] to every sink at each flush.

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
        mpsc::{self, Receiver, Sender, TryRecvError},
    },
    time::{Duration, Instant, SystemTime},
};

use super::{
    batch::{Distribution, MetricBatch, MetricPoint, PointValue},
    catalog::{Kind, MetricDef, MetricId, dim, property},
    prometheus::PrometheusState,
    sink::{MetricSink, SinkWorker},
};
use crate::{TelemetryError, doorbell::Doorbell};

/// Separates dimension and property values inside a series key.
const SEP: char = '\u{1f}';
/// Value of a dimension the caller did not give.
pub const UNKNOWN: &str = "unknown";
/// `UserID` value once the cardinality cap is reached.
pub const OTHER_USER: &str = "other";
/// Longest dimension or property value kept, in bytes.
pub const MAX_VALUE_BYTES: usize = 256;
/// Longest the aggregator sleeps: the Prometheus exposition is never staler than this.
const PROMETHEUS_FRESHNESS: Duration = Duration::from_secs(1);
/// Most histogram values kept per series and interval; more are counted as dropped.
pub const MAX_VALUES_PER_SERIES: usize = 100_000;

/// Cheap-to-clone handle on one metric pipeline.
#[derive(Clone)]
pub struct Recorder {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("stats", &self.stats())
            .finish()
    }
}

/// Builds a [`Recorder`] and starts its aggregator thread.
pub struct RecorderBuilder {
    interval: Duration,
    queue_capacity: usize,
    max_user_ids: usize,
    sinks: Vec<Box<dyn MetricSink>>,
    span_drops: Option<Arc<AtomicU64>>,
}

/// Counters of a recorder; `accepted + dropped` is every `record` call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RecorderStats {
    /// Samples that entered the queue.
    pub accepted: u64,
    /// Samples refused: queue full, pipeline shut down, or a non-finite value.
    pub dropped: u64,
    /// Samples the aggregator has folded in (equals `accepted` once the queue is drained).
    pub aggregated: u64,
    /// Histogram values beyond [`MAX_VALUES_PER_SERIES`] in one interval, left out of sink batches.
    pub overflowed: u64,
    /// Points in batches a sink was too far behind to take.
    pub sink_dropped: u64,
    /// Flushes done.
    pub flushes: u64,
}

struct Shared {
    /// Unbounded by itself: `bell` bounds the samples in it.
    tx: Sender<Msg>,
    /// Samples queued and not yet aggregated, at most the queue capacity; wakes the aggregator when the queue
    /// is a quarter full.
    bell: Arc<Doorbell>,
    counters: Arc<Counters>,
    /// Built by [`Recorder::off`]: no aggregator behind `tx`.
    off: bool,
}

/// State the recorders and the aggregator share (the aggregator never holds the sender, so dropping every
/// recorder ends it).
#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    dropped: AtomicU64,
    aggregated: AtomicU64,
    overflowed: AtomicU64,
    sink_dropped: AtomicU64,
    flushes: AtomicU64,
    prometheus: Mutex<PrometheusState>,
}

struct Sample {
    id: MetricId,
    value: f64,
    key: String,
}

enum Msg {
    Sample(Sample),
    Flush(mpsc::Sender<Vec<mpsc::Receiver<()>>>),
    Shutdown {
        deadline: Instant,
        done: mpsc::Sender<()>,
    },
}

impl Recorder {
    /// A builder with no sink, a 60 s interval, a 65,536-sample queue and 100 distinct users.
    pub fn builder() -> RecorderBuilder {
        RecorderBuilder {
            interval: Duration::from_secs(60),
            queue_capacity: 65_536,
            max_user_ids: 100,
            sinks: Vec::new(),
            span_drops: None,
        }
    }

    /// The recorder of a pipeline that is turned off (`OTEL_SDK_DISABLED`): no aggregator thread and no sink.
    /// Every `record` is dropped and counted; flush and shutdown have nothing to wait for.
    pub fn off() -> Recorder {
        // The receiver goes at once: every send fails, which `record` counts as dropped.
        let (tx, _) = mpsc::channel();
        Recorder {
            shared: Arc::new(Shared {
                tx,
                bell: Arc::new(Doorbell::new(1, 1)),
                counters: Arc::new(Counters::default()),
                off: true,
            }),
        }
    }

    /// Records `value` (in the catalog unit of `id`) for the series named by `dimensions`.
    ///
    /// `dimensions` are `(name, value)` pairs: catalog dimension names (missing ones become `unknown`, unknown
    /// names are ignored) and the [`property`] keys, which travel as EMF root fields only. Never blocks: when
    /// the queue is full the sample is dropped and counted.
    pub fn record(&self, id: MetricId, value: f64, dimensions: &[(&str, &str)]) {
        if !value.is_finite() {
            self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if !self.shared.bell.try_queue_one() {
            self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let key = encode_key(id.def(), dimensions);
        match self.shared.tx.send(Msg::Sample(Sample { id, value, key })) {
            Ok(()) => self
                .shared
                .counters
                .accepted
                .fetch_add(1, Ordering::Relaxed),
            Err(_) => {
                // The aggregator has stopped (after shutdown).
                self.shared.bell.refused();
                self.shared.counters.dropped.fetch_add(1, Ordering::Relaxed)
            }
        };
    }

    /// Current counters.
    pub fn stats(&self) -> RecorderStats {
        let s = &self.shared.counters;
        RecorderStats {
            accepted: s.accepted.load(Ordering::Relaxed),
            dropped: s.dropped.load(Ordering::Relaxed),
            aggregated: s.aggregated.load(Ordering::Relaxed),
            overflowed: s.overflowed.load(Ordering::Relaxed),
            sink_dropped: s.sink_dropped.load(Ordering::Relaxed),
            flushes: s.flushes.load(Ordering::Relaxed),
        }
    }

    /// Prometheus text exposition of every series (cumulative since start); see [`super::prometheus`].
    pub fn prometheus_text(&self) -> String {
        match self.shared.counters.prometheus.lock() {
            Ok(state) => state.render(),
            Err(poisoned) => poisoned.into_inner().render(),
        }
    }

    /// Aggregates every sample recorded before this call, hands the batch to every sink and waits until each
    /// sink has delivered it, at most `timeout`. Returns false when a sink did not confirm in time (it stalled,
    /// or its queue was full and the batch was dropped). Blocking: call from a plain thread or `spawn_blocking`.
    pub fn flush(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (reply_tx, reply_rx) = mpsc::channel();
        if self.shared.tx.send(Msg::Flush(reply_tx)).is_err() {
            // Nothing was ever kept to deliver when off; after a shutdown the sinks are gone.
            return self.shared.off;
        }
        self.shared.bell.ring();
        let Ok(acks) = reply_rx.recv_timeout(timeout) else {
            return false;
        };
        acks.into_iter().all(|ack| {
            let left = deadline.saturating_duration_since(Instant::now());
            ack.recv_timeout(left).is_ok()
        })
    }

    /// Flushes, stops every sink and the aggregator, waiting at most `timeout`; a sink still busy then is left
    /// behind. Later `record` calls are dropped and counted. Blocking, like [`Recorder::flush`].
    pub fn shutdown(&self, timeout: Duration) -> RecorderStats {
        let deadline = Instant::now() + timeout;
        let (done_tx, done_rx) = mpsc::channel();
        if self
            .shared
            .tx
            .send(Msg::Shutdown {
                deadline,
                done: done_tx,
            })
            .is_ok()
        {
            self.shared.bell.ring();
            let _ = done_rx.recv_timeout(timeout + Duration::from_millis(100));
        }
        self.stats()
    }
}

impl RecorderBuilder {
    /// Interval between two flushes to the sinks.
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(10));
        self
    }

    /// Capacity of the recording queue.
    pub fn queue_capacity(mut self, capacity: usize) -> Self {
        self.queue_capacity = capacity.max(1);
        self
    }

    /// Most distinct `UserID` values; further users are recorded as `other`.
    pub fn max_user_ids(mut self, max: usize) -> Self {
        self.max_user_ids = max;
        self
    }

    /// Adds a sink.
    pub fn sink(mut self, sink: Box<dyn MetricSink>) -> Self {
        self.sinks.push(sink);
        self
    }

    /// A counter of spans dropped by the span pipeline, reported as `TelemetryDropped{Signal=spans}`.
    pub fn span_drops(mut self, counter: Arc<AtomicU64>) -> Self {
        self.span_drops = Some(counter);
        self
    }

    /// Starts the sink threads and the aggregator thread.
    pub fn build(self) -> Result<Recorder, TelemetryError> {
        let sinks = self
            .sinks
            .into_iter()
            .map(SinkWorker::spawn)
            .collect::<Result<Vec<_>, _>>()?;
        // Bounded by the doorbell, not by `sync_channel` (see `Doorbell`).
        let (tx, rx) = mpsc::channel();
        let counters = Arc::new(Counters::default());
        let bell = Arc::new(Doorbell::new(self.queue_capacity / 4, self.queue_capacity));
        let shared = Arc::new(Shared {
            tx,
            bell: Arc::clone(&bell),
            counters: Arc::clone(&counters),
            off: false,
        });
        let mut aggregator = Aggregator {
            bell: Arc::clone(&bell),
            counters,
            interval: self.interval,
            series: MetricId::all().map(|_| HashMap::new()).collect(),
            users: HashSet::new(),
            max_user_ids: self.max_user_ids,
            sinks,
            span_drops: self.span_drops,
            reported_span_drops: 0,
            reported_metric_drops: 0,
        };
        let thread = std::thread::Builder::new()
            .name("sre-metrics".to_owned())
            .spawn(move || aggregator.run(rx))
            .map_err(|source| TelemetryError::Worker {
                name: "sre-metrics".to_owned(),
                source,
            })?;
        bell.set_worker(thread.thread().clone());
        Ok(Recorder { shared })
    }
}

/// The series key of a sample: dimension values in catalog order, then the property values, joined by an
/// invisible separator. Values are cut to [`MAX_VALUE_BYTES`].
pub(crate) fn encode_key(def: &MetricDef, pairs: &[(&str, &str)]) -> String {
    let find = |name: &str| pairs.iter().find(|(k, _)| *k == name).map(|(_, v)| *v);
    let dimension = |name: &str| find(name).filter(|v| !v.is_empty()).unwrap_or(UNKNOWN);
    // Sized once, by an upper bound (every given value, `UNKNOWN` for every dimension, every separator): this
    // runs on every `record`, on the caller's thread.
    let capacity = pairs.iter().map(|(_, v)| v.len()).sum::<usize>()
        + def.dimensions.len() * UNKNOWN.len()
        + (def.dimensions.len() + property::ALL.len()) * SEP.len_utf8();
    let mut key = String::with_capacity(capacity);
    for (i, name) in def.dimensions.iter().enumerate() {
        if i > 0 {
            key.push(SEP);
        }
        push_value(&mut key, dimension(name));
    }
    for name in property::ALL {
        key.push(SEP);
        if let Some(v) = find(name) {
            push_value(&mut key, v);
        }
    }
    key
}

/// The first `n` values of a series key (its dimension values).
pub(crate) fn split_dimensions(key: &str, n: usize) -> Vec<&str> {
    key.split(SEP).take(n).collect()
}

fn push_value(key: &mut String, value: &str) {
    let mut end = value.len().min(MAX_VALUE_BYTES);
    while !value.is_char_boundary(end) {
        end -= 1;
    }
    let value = &value[..end];
    if value.contains(SEP) {
        key.extend(value.chars().map(|c| if c == SEP { ' ' } else { c }));
    } else {
        key.push_str(value);
    }
}

/// Byte length of the dimension part of `key` (before the `n`-th separator).
fn dimension_prefix_len(key: &str, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    key.match_indices(SEP)
        .nth(n - 1)
        .map_or(key.len(), |(i, _)| i)
}

enum Acc {
    Sum(f64),
    Values(Vec<f64>),
}

struct Aggregator {
    bell: Arc<Doorbell>,
    counters: Arc<Counters>,
    interval: Duration,
    /// Per metric: series key → aggregate of the current interval (counters and histograms).
    series: Vec<HashMap<String, Acc>>,
    users: HashSet<String>,
    max_user_ids: usize,
    sinks: Vec<SinkWorker>,
    span_drops: Option<Arc<AtomicU64>>,
    reported_span_drops: u64,
    reported_metric_drops: u64,
}

impl Aggregator {
    fn run(&mut self, rx: Receiver<Msg>) {
        let mut next_flush = Instant::now() + self.interval;
        loop {
            // Sleeps until the flush timer, a quarter-full queue or a control message rings (see `Doorbell`),
            // and at least once a second so the Prometheus view stays fresh.
            let wait = next_flush.saturating_duration_since(Instant::now());
            Doorbell::wait(wait.min(PROMETHEUS_FRESHNESS));
            let mut drained: u32 = 0;
            loop {
                match rx.try_recv() {
                    Ok(Msg::Sample(sample)) => {
                        self.bell.took_one();
                        self.add_burst(sample);
                        // Producers may keep the queue from ever emptying: flush on time anyway.
                        drained = drained.wrapping_add(1);
                        if drained.is_multiple_of(256) && Instant::now() >= next_flush {
                            self.flush(None);
                            next_flush = Instant::now() + self.interval;
                        }
                    }
                    Ok(Msg::Flush(reply)) => {
                        let acks = self.flush(Some(()));
                        let _ = reply.send(acks);
                    }
                    Ok(Msg::Shutdown { deadline, done }) => {
                        self.flush(None);
                        self.stop_sinks(deadline);
                        let _ = done.send(());
                        return;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        self.flush(None);
                        self.stop_sinks(Instant::now() + Duration::from_secs(5));
                        return;
                    }
                }
            }
            if Instant::now() >= next_flush {
                self.flush(None);
                next_flush = Instant::now() + self.interval;
            }
        }
    }

    fn add_burst(&mut self, sample: Sample) {
        let shared = Arc::clone(&self.counters);
        let mut prometheus = match shared.prometheus.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        self.add(&shared, &mut prometheus, sample);
        shared.aggregated.fetch_add(1, Ordering::Relaxed);
    }

    fn add(&mut self, shared: &Counters, prometheus: &mut PrometheusState, mut sample: Sample) {
        let def = sample.id.def();
        if let Some(i) = def.dimension_index(dim::USER_ID) {
            self.cap_user(&mut sample.key, i);
        }
        let dims_len = dimension_prefix_len(&sample.key, def.dimensions.len());
        prometheus.apply(sample.id, &sample.key[..dims_len], sample.value);
        let family = &mut self.series[sample.id as usize];
        match def.kind {
            Kind::Counter => match family.get_mut(&sample.key) {
                Some(Acc::Sum(sum)) => *sum += sample.value,
                Some(Acc::Values(_)) => {}
                None => {
                    family.insert(sample.key, Acc::Sum(sample.value));
                }
            },
            Kind::Histogram => match family.get_mut(&sample.key) {
                Some(Acc::Values(values)) if values.len() >= MAX_VALUES_PER_SERIES => {
                    shared.overflowed.fetch_add(1, Ordering::Relaxed);
                }
                Some(Acc::Values(values)) => values.push(sample.value),
                Some(Acc::Sum(_)) => {}
                None => {
                    family.insert(sample.key, Acc::Values(vec![sample.value]));
                }
            },
            // Current values live in the Prometheus state and are re-emitted at every flush.
            Kind::Gauge | Kind::UpDownCounter => {}
        }
    }

    fn cap_user(&mut self, key: &mut String, index: usize) {
        let Some(user) = key.split(SEP).nth(index) else {
            return;
        };
        if self.users.contains(user) {
            return;
        }
        if self.users.len() < self.max_user_ids {
            self.users.insert(user.to_owned());
            return;
        }
        let mut parts: Vec<&str> = key.split(SEP).collect();
        parts[index] = OTHER_USER;
        *key = parts.join(&SEP.to_string());
    }

    /// Closes the interval and offers the batch to every sink; with `want_acks`, returns one receiver per sink
    /// that fires once that sink delivered the batch (a sink that could not take it has a closed receiver).
    fn flush(&mut self, want_acks: Option<()>) -> Vec<mpsc::Receiver<()>> {
        let shared = Arc::clone(&self.counters);
        self.record_drops(&shared);
        let batch = Arc::new(self.take_batch(&shared));
        shared.flushes.fetch_add(1, Ordering::Relaxed);
        let mut acks = Vec::new();
        for sink in &self.sinks {
            let (done_tx, done_rx) = mpsc::channel();
            let done = want_acks.map(|()| done_tx);
            if !sink.offer(&batch, done) {
                shared
                    .sink_dropped
                    .fetch_add(batch.points.len() as u64, Ordering::Relaxed);
            }
            acks.push(done_rx);
        }
        acks
    }

    /// Reports drops since the last flush as `TelemetryDropped`.
    fn record_drops(&mut self, shared: &Counters) {
        let metric_drops = shared.dropped.load(Ordering::Relaxed)
            + shared.overflowed.load(Ordering::Relaxed)
            + shared.sink_dropped.load(Ordering::Relaxed);
        let span_drops = self
            .span_drops
            .as_ref()
            .map_or(0, |c| c.load(Ordering::Relaxed));
        let mut prometheus = match shared.prometheus.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        let metric_delta = metric_drops.saturating_sub(self.reported_metric_drops);
        let span_delta = span_drops.saturating_sub(self.reported_span_drops);
        self.reported_metric_drops = metric_drops;
        self.reported_span_drops = span_drops;
        for (signal, delta) in [("metrics", metric_delta), ("spans", span_delta)] {
            if delta == 0 {
                continue;
            }
            let id = MetricId::TelemetryDropped;
            let key = encode_key(id.def(), &[(dim::SIGNAL, signal)]);
            let sample = Sample {
                id,
                value: delta as f64,
                key,
            };
            self.add(shared, &mut prometheus, sample);
        }
    }

    fn take_batch(&mut self, shared: &Counters) -> MetricBatch {
        let mut points = Vec::new();
        for (family, def) in self.series.iter_mut().zip(super::catalog::CATALOG) {
            for (key, acc) in family.drain() {
                let n = def.dimensions.len();
                let parts: Vec<&str> = key.split(SEP).collect();
                let dimensions = parts.iter().take(n).map(|s| (*s).to_owned()).collect();
                let properties = property::ALL
                    .iter()
                    .zip(parts.iter().skip(n))
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (*k, (*v).to_owned()))
                    .collect();
                let value = match acc {
                    Acc::Sum(sum) => PointValue::Sum(sum),
                    Acc::Values(values) => {
                        PointValue::Distribution(Distribution::from_values(values))
                    }
                };
                points.push(MetricPoint {
                    id: def.id,
                    dimensions,
                    properties,
                    value,
                });
            }
        }
        let prometheus = match shared.prometheus.lock() {
            Ok(p) => p,
            Err(poisoned) => poisoned.into_inner(),
        };
        for def in super::catalog::CATALOG
            .iter()
            .filter(|d| matches!(d.kind, Kind::Gauge | Kind::UpDownCounter))
        {
            for (key, value) in prometheus.values(def.id) {
                points.push(MetricPoint {
                    id: def.id,
                    dimensions: split_dimensions(key, def.dimensions.len())
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                    properties: Vec::new(),
                    value: PointValue::Gauge(value),
                });
            }
        }
        points.sort_by(|a, b| {
            a.id.cmp(&b.id)
                .then_with(|| a.dimensions.cmp(&b.dimensions))
        });
        MetricBatch {
            timestamp: SystemTime::now(),
            points,
        }
    }

    fn stop_sinks(&mut self, deadline: Instant) {
        for sink in &mut self.sinks {
            sink.stop(deadline);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::sink::MetricSinkError;

    #[derive(Clone, Default)]
    struct Collect(Arc<Mutex<Vec<MetricBatch>>>);

    impl MetricSink for Collect {
        fn name(&self) -> &'static str {
            "collect"
        }
        fn export(&mut self, batch: &MetricBatch) -> Result<(), MetricSinkError> {
            self.0.lock().unwrap().push(batch.clone());
            Ok(())
        }
    }

    fn points(sink: &Collect) -> Vec<MetricPoint> {
        sink.0
            .lock()
            .unwrap()
            .iter()
            .flat_map(|b| b.points.clone())
            .collect()
    }

    #[test]
    fn keys_order_dimensions_and_keep_properties_apart() {
        let def = MetricId::AgentInvocation.def();
        let key = encode_key(
            def,
            &[
                ("UserID", "alice"),
                ("investigation_id", "inv-1"),
                ("Unrelated", "x"),
            ],
        );
        assert_eq!(split_dimensions(&key, 2), ["unknown", "alice"]);
        assert_eq!(&key[..dimension_prefix_len(&key, 2)], "unknown\u{1f}alice");
        let long = "é".repeat(400);
        let key = encode_key(def, &[("AgentName", &long)]);
        assert!(split_dimensions(&key, 1)[0].len() <= MAX_VALUE_BYTES);
    }

    #[test]
    fn aggregates_counters_histograms_gauges_and_caps_users() {
        let sink = Collect::default();
        let recorder = Recorder::builder()
            .max_user_ids(2)
            .sink(Box::new(sink.clone()))
            .build()
            .unwrap();
        for user in ["a", "b", "c", "d", "a"] {
            recorder.record(
                MetricId::EscalationTriggered,
                1.0,
                &[("UserID", user), ("EscalationType", "sev1")],
            );
        }
        recorder.record(
            MetricId::ToolExecution,
            5.0,
            &[("ToolName", "t"), ("AgentName", "logs")],
        );
        recorder.record(
            MetricId::ToolExecution,
            7.0,
            &[("ToolName", "t"), ("AgentName", "logs")],
        );
        recorder.record(MetricId::ActiveAgentRuns, 1.0, &[("AgentName", "logs")]);
        recorder.record(MetricId::ActiveAgentRuns, 1.0, &[("AgentName", "logs")]);
        recorder.record(MetricId::ActiveAgentRuns, -1.0, &[("AgentName", "logs")]);
        recorder.record(
            MetricId::CircuitBreakerState,
            2.0,
            &[("Backend", "k8s-backend")],
        );
        recorder.record(
            MetricId::CircuitBreakerState,
            0.0,
            &[("Backend", "k8s-backend")],
        );
        recorder.record(MetricId::LlmCost, f64::NAN, &[]);
        assert!(recorder.flush(Duration::from_secs(5)));

        let pts = points(&sink);
        let escalations: HashMap<String, f64> = pts
            .iter()
            .filter(|p| p.id == MetricId::EscalationTriggered)
            .map(|p| match p.value {
                PointValue::Sum(s) => (p.dimensions[0].clone(), s),
                _ => panic!("counter"),
            })
            .collect();
        assert_eq!(escalations.get("a"), Some(&2.0));
        assert_eq!(escalations.get("b"), Some(&1.0));
        assert_eq!(
            escalations.get("other"),
            Some(&2.0),
            "c and d are over the cap"
        );
        let tool = pts
            .iter()
            .find(|p| p.id == MetricId::ToolExecution)
            .unwrap();
        match &tool.value {
            PointValue::Distribution(d) => {
                assert_eq!(d.values, vec![(5.0, 1), (7.0, 1)]);
                assert_eq!((d.count, d.sum, d.min, d.max), (2, 12.0, 5.0, 7.0));
            }
            other => panic!("{other:?}"),
        }
        let gauge = |id| pts.iter().find(|p| p.id == id).map(|p| p.value.clone());
        assert_eq!(
            gauge(MetricId::ActiveAgentRuns),
            Some(PointValue::Gauge(1.0))
        );
        assert_eq!(
            gauge(MetricId::CircuitBreakerState),
            Some(PointValue::Gauge(0.0))
        );
        let stats = recorder.stats();
        assert_eq!(stats.dropped, 1, "NaN is refused");
        assert_eq!(stats.accepted, stats.aggregated);
        let dropped = pts
            .iter()
            .find(|p| p.id == MetricId::TelemetryDropped)
            .expect("drops are reported");
        assert_eq!(dropped.dimensions, ["metrics"]);
        assert_eq!(dropped.value, PointValue::Sum(1.0));
        recorder.shutdown(Duration::from_secs(5));
    }
}
