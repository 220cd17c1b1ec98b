//! Spans of memory operations: `memory.retrieve` (one per strategy) with children `memory.vector_search` and
//! `memory.post_process`, and `memory.save`. Names and attribute keys come from `sre_telemetry::convention`.

use sre_telemetry::convention::{attr, span_name};
use tracing::{Span, field::Empty, info_span};

use crate::Strategy;

/// `memory.retrieve` for `strategy` in `namespace` (a namespace or a namespace prefix). Record
/// `memory.results_count` and `memory.cache_hit` when known.
pub(crate) fn retrieve(namespace: &str, strategy: Strategy) -> Span {
    info_span!(
        "memory.retrieve",
        otel.name = span_name::MEMORY_RETRIEVE,
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

/// `memory.load_preferences` of the users file at `origin` (`count` users): one trace for the whole load.
pub(crate) fn load_preferences(origin: &str, count: usize) -> Span {
    info_span!(
        "memory.load_preferences",
        otel.name = span_name::MEMORY_LOAD_PREFERENCES,
        { attr::MEMORY_STRATEGY } = Strategy::UserPreferences.as_str(),
        { attr::MEMORY_RESULTS_COUNT } = count as i64,
        "sre.source" = origin,
        { attr::ERROR_TYPE } = Empty,
    )
}
