//! Spans of memory operations: `memory.retrieve` (one per strategy) with children `memory.vector_search` and
//! `memory.post_process`, and `memory.save`. Names and attribute keys come from `sre_telemetry::convention`.

use sre_telemetry::convention::{attr, span_name};
use tracing::{Span, field::Empty, info_span};

use crate::{Strategy, store::Backend};

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

/// The store as a remote service on the service map (`peer.service` / `aws.remote.service` of the CLIENT
/// spans that reach it).
pub(crate) fn store_service(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "memory-sqlite",
        Backend::AgentCore => "agentcore-memory",
    }
}

/// `memory.vector_search`: the store query (CLIENT, so the store is a node of the service map); records
/// `memory.results_count` (raw hits).
pub(crate) fn vector_search(backend: Backend) -> Span {
    let service = store_service(backend);
    info_span!(
        "memory.vector_search",
        otel.name = span_name::MEMORY_VECTOR_SEARCH,
        otel.kind = "client",
        { attr::PEER_SERVICE } = service,
        { attr::AWS_REMOTE_SERVICE } = service,
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

/// `memory.save` of `count` records of `strategy` to `namespace` (CLIENT: a write to the store).
pub(crate) fn save(namespace: &str, strategy: Strategy, count: usize, backend: Backend) -> Span {
    let service = store_service(backend);
    info_span!(
        "memory.save",
        otel.name = span_name::MEMORY_SAVE,
        otel.kind = "client",
        { attr::PEER_SERVICE } = service,
        { attr::AWS_REMOTE_SERVICE } = service,
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
