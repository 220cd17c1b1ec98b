//! [`BatchExportProcessor`]: every finished span goes, off the actor path, into one bounded queue per exporter
//! (a full queue drops the span and counts it); one thread per exporter batches and exports, so a
//! down collector never slows the file exporter or the agents. Shutdown is bounded: spans still queued when
//! the deadline passes are counted as dropped.

use std::{
    sync::{
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
        mpsc::{self, Receiver, Sender, TryRecvError},
    },
    thread::JoinHandle,
    time::{Duration, Instant},
};

use opentelemetry::Context;
use opentelemetry_sdk::{
    Resource,
    error::{OTelSdkError, OTelSdkResult},
    trace::{Span, SpanData, SpanExporter, SpanProcessor},
};
use tokio::runtime::Handle;

use crate::{TelemetryError, config::BatchConfig, doorbell::Doorbell, redact::cap_span};

/// Fans finished spans out to one queue + thread per exporter.
#[derive(Debug)]
pub struct BatchExportProcessor {
    lanes: Vec<Lane>,
    dropped: Arc<AtomicU64>,
}

#[derive(Debug)]
struct Lane {
    name: &'static str,
    /// Unbounded by itself: `bell` bounds the spans in it.
    tx: Sender<LaneMsg>,
    /// Spans queued and not yet taken by the worker, at most the queue size; wakes it when a batch is full.
    bell: Arc<Doorbell>,
    dropped: Arc<AtomicU64>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

enum LaneMsg {
    /// A finished span, shared between the lanes: a lane that is not the last holder copies it on its own
    /// thread, never the actor's.
    Span(Arc<SpanData>),
    Flush(mpsc::Sender<OTelSdkResult>),
    Shutdown(mpsc::Sender<OTelSdkResult>),
}

/// How a lane runs its exporter's `export` future.
#[derive(Debug, Clone)]
pub enum ExportRuntime {
    /// On the lane thread with a plain executor (file, console, blocking HTTP, exporters that hop by themselves).
    Thread,
    /// On a tokio runtime (tonic), with the export timeout enforced.
    Tokio(Handle),
}

/// Builds a [`BatchExportProcessor`].
#[derive(Debug)]
pub struct BatchExportProcessorBuilder {
    batch: BatchConfig,
    attribute_limit: usize,
    resource: Resource,
    lanes: Vec<Lane>,
    dropped: Arc<AtomicU64>,
}

impl BatchExportProcessor {
    /// A builder: every exporter gets a queue of `batch.max_queue_size`, and string attributes are cut to
    /// `attribute_limit` characters before export.
    pub fn builder(
        batch: BatchConfig,
        attribute_limit: usize,
        resource: Resource,
    ) -> BatchExportProcessorBuilder {
        BatchExportProcessorBuilder {
            batch,
            attribute_limit,
            resource,
            lanes: Vec::new(),
            dropped: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Spans lost so far: refused by a full queue, left queued at shutdown, or in a failed export.
    pub fn dropped(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.dropped)
    }

    fn control(
        &self,
        make: impl Fn(mpsc::Sender<OTelSdkResult>) -> LaneMsg,
        timeout: Duration,
    ) -> OTelSdkResult {
        let deadline = Instant::now() + timeout;
        let mut waits = Vec::new();
        for lane in &self.lanes {
            let (tx, rx) = mpsc::channel();
            // Control messages are not counted against the queue size: they queue behind the spans at once.
            let sent = lane.tx.send(make(tx)).is_ok();
            if sent {
                lane.bell.ring();
            }
            waits.push((lane, sent.then_some(rx)));
        }
        let mut failures = Vec::new();
        for (lane, rx) in waits {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.map(|rx| rx.recv_timeout(left)) {
                Some(Ok(Ok(()))) => {}
                Some(Ok(Err(e))) => failures.push(format!("{}: {e}", lane.name)),
                _ => failures.push(format!("{}: no answer within {timeout:?}", lane.name)),
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(OTelSdkError::InternalFailure(failures.join("; ")))
        }
    }
}

impl BatchExportProcessorBuilder {
    /// Adds an exporter with its own queue and thread.
    pub fn exporter<E: SpanExporter + 'static>(
        mut self,
        name: &'static str,
        mut exporter: E,
        runtime: ExportRuntime,
    ) -> Result<Self, TelemetryError> {
        exporter.set_resource(&self.resource);
        // Bounded by the doorbell, not by `sync_channel` (see `Doorbell`).
        let (tx, rx) = mpsc::channel();
        let bell = Arc::new(Doorbell::new(
            self.batch.max_export_batch_size,
            self.batch.max_queue_size,
        ));
        let worker = Worker {
            exporter,
            runtime,
            batch: self.batch,
            attribute_limit: self.attribute_limit,
            bell: Arc::clone(&bell),
            dropped: Arc::clone(&self.dropped),
            name,
        };
        let thread = std::thread::Builder::new()
            .name(format!("sre-spans-{name}"))
            .spawn(move || worker.run(rx))
            .map_err(|source| TelemetryError::Worker {
                name: format!("sre-spans-{name}"),
                source,
            })?;
        bell.set_worker(thread.thread().clone());
        self.lanes.push(Lane {
            name,
            tx,
            bell,
            dropped: Arc::clone(&self.dropped),
            thread: Mutex::new(Some(thread)),
        });
        Ok(self)
    }

    /// Whether no exporter was added.
    pub fn is_empty(&self) -> bool {
        self.lanes.is_empty()
    }

    /// The processor.
    pub fn build(self) -> BatchExportProcessor {
        BatchExportProcessor {
            lanes: self.lanes,
            dropped: self.dropped,
        }
    }
}

impl SpanProcessor for BatchExportProcessor {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        if !span.span_context.is_sampled() {
            return;
        }
        let span = Arc::new(span);
        for lane in &self.lanes {
            if !lane.bell.try_queue_one() {
                lane.dropped.fetch_add(1, Ordering::Relaxed);
            } else if lane.tx.send(LaneMsg::Span(Arc::clone(&span))).is_err() {
                lane.bell.refused();
                lane.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.control(LaneMsg::Flush, Duration::from_secs(30))
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let result = self.control(LaneMsg::Shutdown, timeout);
        for lane in &self.lanes {
            let thread = lane.thread.lock().ok().and_then(|mut t| t.take());
            match thread {
                Some(thread) if thread.is_finished() => {
                    let _ = thread.join();
                }
                // Still exporting (a stuck collector): whatever it holds is lost.
                _ => {
                    let left = lane.bell.pending();
                    lane.dropped.fetch_add(left as u64, Ordering::Relaxed);
                }
            }
        }
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "{dropped} span(s) were dropped: an exporter queue was full, an export failed, or shutdown ran out of time"
            );
        }
        result
    }
}

struct Worker<E> {
    exporter: E,
    runtime: ExportRuntime,
    batch: BatchConfig,
    attribute_limit: usize,
    bell: Arc<Doorbell>,
    dropped: Arc<AtomicU64>,
    name: &'static str,
}

impl<E: SpanExporter> Worker<E> {
    fn run(mut self, rx: Receiver<LaneMsg>) {
        let mut pending: Vec<SpanData> = Vec::with_capacity(self.batch.max_export_batch_size);
        let mut next_export = Instant::now() + self.batch.scheduled_delay;
        loop {
            // Sleeps until the export timer, a full batch or a control message rings (see `Doorbell`).
            Doorbell::wait(next_export.saturating_duration_since(Instant::now()));
            loop {
                match rx.try_recv() {
                    Ok(LaneMsg::Span(span)) => {
                        self.take(&mut pending, Arc::unwrap_or_clone(span));
                        if pending.len() >= self.batch.max_export_batch_size {
                            // A failure is counted and logged inside `export`.
                            let _ = self.export(&mut pending);
                        }
                    }
                    Ok(LaneMsg::Flush(ack)) => {
                        let result = self.drain(&rx, &mut pending);
                        let flushed = self.exporter.force_flush();
                        let _ = ack.send(result.and(flushed));
                    }
                    Ok(LaneMsg::Shutdown(ack)) => {
                        let result = self.drain(&rx, &mut pending);
                        let stopped = self
                            .exporter
                            .shutdown_with_timeout(self.batch.export_timeout);
                        let _ = ack.send(result.and(stopped));
                        return;
                    }
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        let _ = self.drain(&rx, &mut pending);
                        let _ = self.exporter.shutdown();
                        return;
                    }
                }
            }
            if Instant::now() >= next_export {
                if !pending.is_empty() {
                    // A failure is counted and logged inside `export`.
                    let _ = self.export(&mut pending);
                }
                next_export = Instant::now() + self.batch.scheduled_delay;
            }
        }
    }

    fn take(&self, pending: &mut Vec<SpanData>, mut span: SpanData) {
        self.bell.took_one();
        cap_span(&mut span, self.attribute_limit);
        pending.push(span);
    }

    /// Exports everything queued now (spans only; control messages behind them wait for the next loop).
    fn drain(&mut self, rx: &Receiver<LaneMsg>, pending: &mut Vec<SpanData>) -> OTelSdkResult {
        let mut result = Ok(());
        loop {
            match rx.try_recv() {
                Ok(LaneMsg::Span(span)) => {
                    self.take(pending, Arc::unwrap_or_clone(span));
                    if pending.len() >= self.batch.max_export_batch_size {
                        result = result.and(self.export(pending));
                    }
                }
                Ok(LaneMsg::Flush(ack)) => {
                    let _ = ack.send(Ok(()));
                }
                Ok(LaneMsg::Shutdown(ack)) => {
                    let _ = ack.send(Ok(()));
                }
                Err(TryRecvError::Empty | TryRecvError::Disconnected) => break,
            }
        }
        if pending.is_empty() {
            result
        } else {
            result.and(self.export(pending))
        }
    }

    fn export(&mut self, pending: &mut Vec<SpanData>) -> OTelSdkResult {
        let batch = std::mem::take(pending);
        let count = batch.len() as u64;
        let result = match &self.runtime {
            ExportRuntime::Thread => futures::executor::block_on(self.exporter.export(batch)),
            ExportRuntime::Tokio(handle) => {
                let timeout = self.batch.export_timeout;
                handle.block_on(async {
                    match tokio::time::timeout(timeout, self.exporter.export(batch)).await {
                        Ok(result) => result,
                        Err(_) => Err(OTelSdkError::Timeout(timeout)),
                    }
                })
            }
        };
        if let Err(e) = &result {
            self.dropped.fetch_add(count, Ordering::Relaxed);
            tracing::warn!(exporter = self.name, spans = count, error = %e, "span export failed");
        }
        result
    }
}
