//! How producers on the actor path tell a background worker there is work, without waking it for every item.
//!
//! A worker blocked in `recv` on a channel is woken (a futex wake and a context switch) by every `send`: for
//! spans and metric samples that is one wake-up per item, which on a two-core machine costs the actors more
//! than the telemetry itself. With a [`Doorbell`] the worker sleeps until its timer (the export or flush
//! interval) or until the queue holds `threshold` items, then drains everything queued; control messages
//! (flush, shutdown) ring at once.
//!
//! The doorbell also bounds the queue: producers reserve one of `capacity` places before sending into an
//! unbounded channel, so the queue's memory grows with what is actually queued (a preallocated bounded
//! channel allocates and initialises every slot up front, paid by every command's start-up).

use std::{
    sync::{
        OnceLock,
        atomic::{AtomicUsize, Ordering},
    },
    thread::Thread,
    time::Duration,
};

/// Shared by the producers and one worker thread.
#[derive(Debug)]
pub(crate) struct Doorbell {
    /// Items sent and not yet taken by the worker.
    pending: AtomicUsize,
    /// Pending items at which the producer that queues the last one wakes the worker.
    threshold: usize,
    /// Most pending items: further ones are refused.
    capacity: usize,
    worker: OnceLock<Thread>,
}

impl Doorbell {
    /// A doorbell for a queue of at most `capacity` items that wakes its worker at `threshold` items.
    pub(crate) fn new(threshold: usize, capacity: usize) -> Self {
        Self {
            pending: AtomicUsize::new(0),
            threshold: threshold.max(1),
            capacity: capacity.max(1),
            worker: OnceLock::new(),
        }
    }

    /// Names the worker thread to wake (once it is spawned; rings before that are caught by its timer).
    pub(crate) fn set_worker(&self, thread: Thread) {
        let _ = self.worker.set(thread);
    }

    /// Call before sending an item: takes one of the `capacity` places (waking the worker when the queue is
    /// now `threshold` items deep), or returns false — nothing counted — when the queue is full. If the send
    /// then fails, call [`Doorbell::refused`].
    pub(crate) fn try_queue_one(&self) -> bool {
        match self
            .pending
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < self.capacity).then_some(n + 1)
            }) {
            Ok(before) => {
                if before + 1 == self.threshold {
                    self.ring();
                }
                true
            }
            Err(_) => false,
        }
    }

    /// The item counted by [`Doorbell::try_queue_one`] was not queued after all.
    pub(crate) fn refused(&self) {
        self.pending.fetch_sub(1, Ordering::Relaxed);
    }

    /// The worker took one item off the queue.
    pub(crate) fn took_one(&self) {
        self.pending.fetch_sub(1, Ordering::Relaxed);
    }

    /// Items queued and not yet taken.
    pub(crate) fn pending(&self) -> usize {
        self.pending.load(Ordering::Relaxed)
    }

    /// Wakes the worker now (a control message is waiting).
    pub(crate) fn ring(&self) {
        if let Some(worker) = self.worker.get() {
            worker.unpark();
        }
    }

    /// In the worker: sleeps until rung or until `timeout` passes (spurious wake-ups are harmless: the
    /// worker drains whatever is queued and sleeps again).
    pub(crate) fn wait(timeout: Duration) {
        std::thread::park_timeout(timeout);
    }
}

#[cfg(test)]
mod tests {
    use std::{
        sync::Arc,
        time::{Duration, Instant},
    };

    use super::*;

    #[test]
    fn the_worker_sleeps_until_the_threshold_is_reached() {
        let bell = Arc::new(Doorbell::new(3, 10));
        let (tx, rx) = std::sync::mpsc::channel();
        let worker = {
            let bell = Arc::clone(&bell);
            std::thread::spawn(move || {
                let started = Instant::now();
                Doorbell::wait(Duration::from_secs(30));
                tx.send(started.elapsed()).unwrap();
                bell.took_one();
            })
        };
        bell.set_worker(worker.thread().clone());
        assert!(bell.try_queue_one());
        assert!(bell.try_queue_one());
        assert!(
            rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "woken below the threshold"
        );
        assert!(bell.try_queue_one());
        let slept = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("woken at the threshold");
        assert!(slept < Duration::from_secs(10), "{slept:?}");
        worker.join().unwrap();
        assert_eq!(bell.pending(), 2);
        bell.refused();
        assert_eq!(bell.pending(), 1);
    }

    #[test]
    fn a_reservation_beyond_the_capacity_is_refused_and_not_counted() {
        let bell = Doorbell::new(100, 2);
        assert!(bell.try_queue_one());
        assert!(bell.try_queue_one());
        assert!(!bell.try_queue_one(), "a third place in a queue of two");
        assert_eq!(bell.pending(), 2);
        bell.took_one();
        assert!(bell.try_queue_one(), "a place freed by the worker");
        assert_eq!(bell.pending(), 2);
    }
}
