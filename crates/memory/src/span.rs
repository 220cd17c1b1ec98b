//! Spans of memory operations: `memory.retrieve` (one per strategy) with children `memory.vector_search` and
//! `memory.post_process`, and `memory.save`. Attribute keys come from `sre_telemetry::convention::attr`; the
//! span names not yet in `sre_telemetry::convention::span_name` are defined here.

use sre_telemetry::convention::{attr, span_name::MEMORY_RETRIEVE};
use tracing::{Span, field::Empty, info_span};

use crate::Strategy;

/// Span names of memory operations (besides `sre_telemetry`'s `MEMORY_RETRIEVE`).
pub mod span_name {
    /// The store query of one retrieval.
    pub const MEMORY_VECTOR_SEARCH: &str = "memory.vector_search";
    /// Decoding, de-duplicating and trimming what the store returned.
    pub const MEMORY_POST_PROCESS: &str = "memory.post_process";
    /// One write of records to a namespace.
    pub const MEMORY_SAVE: &str = "memory.save";
}

/// `memory.retrieve` for `strategy` in `namespace` (a namespace or a namespace prefix). Record
/// `memory.results_count` and `memory.cache_hit` when known.
pub(crate) fn retrieve(namespace: &str, strategy: Strategy) -> Span {
    info_span!(
        "memory.retrieve",
        otel.name = MEMORY_RETRIEVE,
        { attr::MEMORY_NAMESPACE } = namespace,
        { attr::MEMORY_STRATEGY } = strategy.as_str(),
        { attr::MEMORY_RESULTS_COUNT } = Empty,
        { attr::MEMORY_CACHE_HIT } = Empty,
        { attr::ERROR_TYPE } = Empty,
    )
}

/// `memory.vector_search`: the store query; records `memory.results_count` (raw hits).
pub(crate) fn vector_search() -> Span {
    info_span!(
        "memory.vector_search",
        otel.name = span_name::MEMORY_VECTOR_SEARCH,
        { attr::MEMORY_RESULTS_COUNT } = Empty,
        { attr::ERROR_TYPE } = Empty,
    )
}

/// `memory.post_process`: records `memory.results_count` (what is kept).
pub(crate) fn post_process() -> Span {
    info_span!(
        "memory.post_process",
        otel.name = span_name::MEMORY_POST_PROCESS,
        { attr::MEMORY_RESULTS_COUNT } = Empty,
    )
}

/// `memory.save` of `count` records of `strategy` to `namespace`.
pub(crate) fn save(namespace: &str, strategy: Strategy, count: usize) -> Span {
    info_span!(
        "memory.save",
        otel.name = span_name::MEMORY_SAVE,
        { attr::MEMORY_NAMESPACE } = namespace,
        { attr::MEMORY_STRATEGY } = strategy.as_str(),
        { attr::MEMORY_RESULTS_COUNT } = count as i64,
        { attr::ERROR_TYPE } = Empty,
    )
}
