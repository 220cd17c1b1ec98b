//! The telemetry's own threads (span export lanes, metric aggregator, metric sinks) run below the actors'
//! priority: on a busy machine the scheduler gives the cores to the investigation first and encodes,
//! writes and ships telemetry in what is left, instead of sharing the cores evenly with it. They still get
//! their share (a nice value, not an idle-only class), so queues drain under sustained load; what cannot be
//! queued is dropped and counted as before.

use std::{io, thread::JoinHandle};

/// How much nicer than the thread that starts it a telemetry thread is (Linux: `setpriority` on the
/// thread id; elsewhere a no-op). 10 weighs about a tenth of a default thread when they compete for a core.
pub(crate) const NICENESS: i32 = 10;

/// Spawns a named telemetry thread running `f` at the lower priority.
pub(crate) fn spawn<F, T>(name: String, f: F) -> io::Result<JoinHandle<T>>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    std::thread::Builder::new().name(name).spawn(move || {
        lower_priority();
        f()
    })
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    use rustix::{process, thread};
    let me = thread::gettid();
    // Relative to the current value (a process started with `nice` stays nicer), capped at the lowest, 19.
    // Failure leaves the thread at its priority: it is an optimisation, never a reason to lose telemetry.
    if let Ok(current) = process::getpriority_process(Some(me)) {
        let _ = process::setpriority_process(Some(me), (current + NICENESS).min(19));
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn a_telemetry_thread_is_nicer_than_its_parent() {
        use rustix::{process, thread};
        let parent = process::getpriority_process(Some(thread::gettid())).unwrap();
        let child = spawn("sre-test-worker".to_owned(), || {
            process::getpriority_process(Some(thread::gettid())).unwrap()
        })
        .unwrap()
        .join()
        .unwrap();
        assert_eq!(child, (parent + NICENESS).min(19));
        // The parent keeps its own priority.
        assert_eq!(
            process::getpriority_process(Some(thread::gettid())).unwrap(),
            parent
        );
    }
}
