//! [`TraceCarrier`]: W3C trace context (traceparent, tracestate, baggage) as plain strings, so it can ride in
//! actor messages, task hand-offs, MCP `params._meta` and HTTP headers.

use std::{collections::HashMap, sync::LazyLock};

use opentelemetry::{
    Context,
    propagation::{Extractor, Injector, TextMapCompositePropagator, TextMapPropagator},
    trace::TraceContextExt,
};
use serde::{Deserialize, Serialize};
use tracing::Span;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use crate::config::Propagator;

/// Header and `_meta` key of the W3C trace parent.
pub const TRACEPARENT: &str = "traceparent";
/// Header and `_meta` key of the W3C trace state.
pub const TRACESTATE: &str = "tracestate";
/// Header and `_meta` key of W3C baggage.
pub const BAGGAGE: &str = "baggage";

/// The W3C context of one span, detached from any thread or task.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceCarrier {
    /// `traceparent` value; `None` when there was no recorded span.
    pub traceparent: Option<String>,
    /// `tracestate` value, if any.
    pub tracestate: Option<String>,
    /// `baggage` value, if any.
    pub baggage: Option<String>,
}

impl TraceCarrier {
    /// The context of `span` (and the baggage it carries).
    pub fn from_span(span: &Span) -> Self {
        Self::from_context(&span.context())
    }

    /// The context of the current tracing span.
    pub fn current() -> Self {
        Self::from_span(&Span::current())
    }

    /// Serialises an OpenTelemetry context.
    pub fn from_context(cx: &Context) -> Self {
        let mut carrier = Self::default();
        propagator().inject_context(cx, &mut carrier);
        carrier
    }

    /// Builds a carrier from the three W3C values as received (from `_meta` or headers).
    pub fn from_parts(
        traceparent: Option<&str>,
        tracestate: Option<&str>,
        baggage: Option<&str>,
    ) -> Self {
        let owned = |v: Option<&str>| v.filter(|s| !s.is_empty()).map(str::to_owned);
        Self {
            traceparent: owned(traceparent),
            tracestate: owned(tracestate),
            baggage: owned(baggage),
        }
    }

    /// Parses the carried values back into an OpenTelemetry context (a remote parent).
    pub fn context(&self) -> Context {
        propagator().extract(self)
    }

    /// Makes `span` a child of the carried context. Call before the span is first entered.
    ///
    /// Returns false when there is nothing valid to attach (no or malformed `traceparent`).
    pub fn attach(&self, span: &Span) -> bool {
        let cx = self.context();
        if !cx.span().span_context().is_valid() {
            return false;
        }
        span.set_parent(cx).is_ok()
    }

    /// Trace id in hex, when a valid `traceparent` is carried.
    pub fn trace_id(&self) -> Option<String> {
        let cx = self.context();
        let sc = cx.span().span_context().clone();
        sc.is_valid().then(|| sc.trace_id().to_string())
    }

    /// The carried values as header name/value pairs (only those present).
    pub fn headers(&self) -> Vec<(&'static str, &str)> {
        [
            (TRACEPARENT, &self.traceparent),
            (TRACESTATE, &self.tracestate),
            (BAGGAGE, &self.baggage),
        ]
        .into_iter()
        .filter_map(|(k, v)| v.as_deref().map(|v| (k, v)))
        .collect()
    }

    /// Headers for an outgoing HTTP request in every format `OTEL_PROPAGATORS` names (the process-wide
    /// propagator [`crate::install`] sets; none before install), e.g. `traceparent`, `baggage` and
    /// `X-Amzn-Trace-Id` with `OTEL_PROPAGATORS=tracecontext,baggage,xray`.
    pub fn propagation_headers(&self) -> Vec<(String, String)> {
        // W3C formats only (the default): the headers are the carried values themselves, no need to parse
        // and re-serialise them on every request.
        let mut w3c_fields = [false; 3];
        let w3c_only = opentelemetry::global::get_text_map_propagator(|p| {
            p.fields().all(|field| {
                match [TRACEPARENT, TRACESTATE, BAGGAGE]
                    .iter()
                    .position(|w3c| field.eq_ignore_ascii_case(w3c))
                {
                    Some(i) => {
                        w3c_fields[i] = true;
                        true
                    }
                    None => false,
                }
            })
        });
        if w3c_only {
            return [
                (TRACEPARENT, &self.traceparent),
                (TRACESTATE, &self.tracestate),
                (BAGGAGE, &self.baggage),
            ]
            .into_iter()
            .zip(w3c_fields)
            .filter_map(|((name, value), wanted)| {
                Some((name.to_owned(), value.clone().filter(|_| wanted)?))
            })
            .collect();
        }
        let cx = self.context();
        let mut headers = HeaderPairs::default();
        opentelemetry::global::get_text_map_propagator(|p| p.inject_context(&cx, &mut headers));
        headers.0
    }

    /// Baggage entries as key/value pairs (percent-decoded by the propagator).
    pub fn baggage_entries(&self) -> HashMap<String, String> {
        use opentelemetry::baggage::BaggageExt;
        self.context()
            .baggage()
            .iter()
            .map(|(k, (v, _))| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl Injector for TraceCarrier {
    fn set(&mut self, key: &str, value: String) {
        match key {
            TRACEPARENT => self.traceparent = Some(value),
            TRACESTATE => self.tracestate = Some(value).filter(|v| !v.is_empty()),
            BAGGAGE => self.baggage = Some(value).filter(|v| !v.is_empty()),
            _ => {}
        }
    }
}

impl Extractor for TraceCarrier {
    fn get(&self, key: &str) -> Option<&str> {
        match key {
            TRACEPARENT => self.traceparent.as_deref(),
            TRACESTATE => self.tracestate.as_deref(),
            BAGGAGE => self.baggage.as_deref(),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.headers().into_iter().map(|(k, _)| k).collect()
    }
}

#[derive(Default)]
struct HeaderPairs(Vec<(String, String)>);

impl Injector for HeaderPairs {
    fn set(&mut self, key: &str, value: String) {
        self.0.push((key.to_owned(), value));
    }
}

/// W3C trace context and baggage: the carrier's own format (built once; every hop uses it).
fn propagator() -> &'static TextMapCompositePropagator {
    static W3C: LazyLock<TextMapCompositePropagator> = LazyLock::new(|| {
        crate::pipeline::propagator(&[Propagator::TraceContext, Propagator::Baggage])
    });
    &W3C
}

#[cfg(test)]
mod tests {
    use super::*;

    const TP: &str = "00-0af7651916cd43dd8448eb211c80319c-00f067aa0ba902b7-01";

    #[test]
    fn round_trips_w3c_values() {
        let carrier = TraceCarrier::from_parts(Some(TP), None, Some("user.id=alice,session.id=s1"));
        let back = TraceCarrier::from_context(&carrier.context());
        assert_eq!(back.traceparent.as_deref(), Some(TP));
        assert_eq!(
            carrier.trace_id().as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
        let bag = back.baggage_entries();
        assert_eq!(bag.get("user.id").map(String::as_str), Some("alice"));
        assert_eq!(bag.get("session.id").map(String::as_str), Some("s1"));
    }

    #[test]
    fn propagation_headers_follow_the_global_propagator() {
        opentelemetry::global::set_text_map_propagator(crate::pipeline::propagator(&[
            Propagator::TraceContext,
            Propagator::Xray,
        ]));
        let carrier = TraceCarrier::from_parts(Some(TP), None, None);
        let headers = carrier.propagation_headers();
        let get = |k: &str| {
            headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get("traceparent"), Some(TP));
        assert!(
            get("x-amzn-trace-id")
                .is_some_and(|v| v.starts_with("Root=1-0af76519-16cd43dd8448eb211c80319c")),
            "{headers:?}"
        );

        // W3C formats only: the carried values as they are, for the formats named.
        let carrier = TraceCarrier::from_parts(Some(TP), Some("k=v"), Some("user.id=alice"));
        let pairs = |propagators: &[Propagator]| {
            opentelemetry::global::set_text_map_propagator(crate::pipeline::propagator(
                propagators,
            ));
            let mut headers = carrier.propagation_headers();
            headers.sort();
            headers
        };
        let owned = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect()
        };
        assert_eq!(
            pairs(&[Propagator::TraceContext, Propagator::Baggage]),
            owned(&[
                ("baggage", "user.id=alice"),
                ("traceparent", TP),
                ("tracestate", "k=v")
            ])
        );
        assert_eq!(
            pairs(&[Propagator::TraceContext]),
            owned(&[("traceparent", TP), ("tracestate", "k=v")])
        );
        assert_eq!(pairs(&[]), owned(&[]));
    }

    #[test]
    fn malformed_traceparent_is_not_attached() {
        let carrier = TraceCarrier::from_parts(Some("garbage"), None, None);
        assert_eq!(carrier.trace_id(), None);
        assert!(!carrier.attach(&Span::none()));
    }
}
