//! [`MetricSink`]: a destination for aggregated metrics, and the worker thread that runs each sink behind its
//! own small queue, so a stalled sink loses its own batches (counted) and never holds up the aggregator.

use std::{
    sync::{
        Arc,
        mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError},
    },
    thread::JoinHandle,
    time::Instant,
};

use super::batch::MetricBatch;
use crate::TelemetryError;

/// Batches waiting per sink; a sink further behind than this loses batches.
pub const SINK_QUEUE: usize = 4;

/// A destination for aggregated metrics (EMF, PutMetricData, OTLP, or a test double).
///
/// `export` runs on the sink's own thread and may block (file and socket I/O, a blocking call into the AWS
/// SDK); it never runs on an actor.
pub trait MetricSink: Send + 'static {
    /// Short name for logs (`emf`, `cloudwatch`, `otlp`).
    fn name(&self) -> &'static str;

    /// Delivers one batch.
    fn export(&mut self, batch: &MetricBatch) -> Result<(), MetricSinkError>;

    /// Flushes and releases resources; called once, after the last batch.
    fn shutdown(&mut self) -> Result<(), MetricSinkError> {
        Ok(())
    }
}

/// Why a sink failed to deliver a batch.
#[derive(Debug, thiserror::Error)]
pub enum MetricSinkError {
    /// Writing to a file or socket failed.
    #[error("{sink}: writing to {target} failed: {source}")]
    Io {
        sink: &'static str,
        target: String,
        #[source]
        source: std::io::Error,
    },
    /// The batch could not be encoded.
    #[error("{sink}: cannot encode metrics: {reason}")]
    Encode { sink: &'static str, reason: String },
    /// The destination refused or failed the request.
    #[error("{sink}: request failed: {reason}")]
    Request { sink: &'static str, reason: String },
}

pub(crate) enum SinkMsg {
    Batch {
        batch: Arc<MetricBatch>,
        done: Option<mpsc::Sender<()>>,
    },
}

/// The aggregator's handle on one sink thread.
pub(crate) struct SinkWorker {
    pub(crate) name: &'static str,
    tx: Option<SyncSender<SinkMsg>>,
    thread: Option<JoinHandle<()>>,
    /// Disconnects when the thread ends (its sender is dropped with the thread's closure, panic or not).
    ended: Receiver<()>,
}

impl SinkWorker {
    pub(crate) fn spawn(mut sink: Box<dyn MetricSink>) -> Result<Self, TelemetryError> {
        let name = sink.name();
        let (tx, rx): (SyncSender<SinkMsg>, Receiver<SinkMsg>) = mpsc::sync_channel(SINK_QUEUE);
        let (ending, ended) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("sre-metrics-{name}"))
            .spawn(move || {
                let _ending = ending;
                while let Ok(SinkMsg::Batch { batch, done }) = rx.recv() {
                    if let Err(e) = sink.export(&batch) {
                        tracing::warn!(sink = name, error = %e, "metric export failed");
                    }
                    if let Some(done) = done {
                        let _ = done.send(());
                    }
                }
                if let Err(e) = sink.shutdown() {
                    tracing::warn!(sink = name, error = %e, "metric sink shutdown failed");
                }
            })
            .map_err(|source| TelemetryError::Worker {
                name: format!("sre-metrics-{name}"),
                source,
            })?;
        Ok(Self {
            name,
            tx: Some(tx),
            thread: Some(thread),
            ended,
        })
    }

    /// Queues `batch`; false when the sink is too far behind (or gone) and the batch is dropped.
    pub(crate) fn offer(&self, batch: &Arc<MetricBatch>, done: Option<mpsc::Sender<()>>) -> bool {
        let Some(tx) = &self.tx else {
            return false;
        };
        match tx.try_send(SinkMsg::Batch {
            batch: Arc::clone(batch),
            done,
        }) {
            Ok(()) => true,
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
        }
    }

    /// Closes the queue (the thread finishes what is queued, then shuts the sink down) and waits for the thread
    /// until `deadline`; a thread still busy then is left behind. Returns whether it finished.
    pub(crate) fn stop(&mut self, deadline: Instant) -> bool {
        self.tx = None;
        let Some(thread) = self.thread.take() else {
            return true;
        };
        // Woken the moment the thread ends (no polling: every command waits for this on its way out).
        let left = deadline.saturating_duration_since(Instant::now());
        if let Err(RecvTimeoutError::Timeout) = self.ended.recv_timeout(left) {
            tracing::warn!(
                sink = self.name,
                "metric sink still busy at shutdown; abandoned"
            );
            return false;
        }
        let _ = thread.join();
        true
    }
}
