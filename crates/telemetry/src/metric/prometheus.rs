//! Prometheus text exposition (format 0.0.4) of the cumulative state of every series, for any HTTP server to
//! serve at `/metrics`, plus an optional listener of our own (`OTEL_METRICS_EXPORTER=prometheus`).

use std::{collections::HashMap, fmt::Write as _, net::SocketAddr};

use super::{
    catalog::{CATALOG, Kind, MetricId},
    recorder::{Recorder, split_dimensions},
};
use crate::TelemetryError;

/// `Content-Type` of [`Recorder::prometheus_text`].
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Cumulative values of every series since start, keyed by dimension values.
#[derive(Debug)]
pub(crate) struct PrometheusState {
    families: Vec<HashMap<String, Series>>,
}

#[derive(Debug)]
enum Series {
    Value(f64),
    Histogram {
        /// Non-cumulative count per bucket; the last slot is `+Inf`.
        buckets: Vec<u64>,
        count: u64,
        sum: f64,
    },
}

impl Default for PrometheusState {
    /// One (empty) family per catalog metric: `apply` indexes them by metric id.
    fn default() -> Self {
        Self {
            families: CATALOG.iter().map(|_| HashMap::new()).collect(),
        }
    }
}

impl PrometheusState {
    /// Applies one recorded value (in the catalog unit) to the series `dims`.
    pub(crate) fn apply(&mut self, id: MetricId, dims: &str, value: f64) {
        let def = id.def();
        let family = &mut self.families[id as usize];
        let series = match family.get_mut(dims) {
            Some(s) => s,
            None => family
                .entry(dims.to_owned())
                .or_insert_with(|| match def.kind {
                    Kind::Histogram => Series::Histogram {
                        buckets: vec![0; def.buckets.len() + 1],
                        count: 0,
                        sum: 0.0,
                    },
                    _ => Series::Value(0.0),
                }),
        };
        match (series, def.kind) {
            (Series::Value(v), Kind::Counter | Kind::UpDownCounter) => *v += value,
            (Series::Value(v), Kind::Gauge) => *v = value,
            (
                Series::Histogram {
                    buckets,
                    count,
                    sum,
                },
                _,
            ) => {
                let scaled = value * def.prometheus_scale;
                let slot = def
                    .buckets
                    .iter()
                    .position(|bound| scaled <= *bound)
                    .unwrap_or(def.buckets.len());
                buckets[slot] += 1;
                *count += 1;
                *sum += scaled;
            }
            (Series::Value(_), Kind::Histogram) => {}
        }
    }

    /// Current values of a gauge or up-down counter, by dimension key.
    pub(crate) fn values(&self, id: MetricId) -> impl Iterator<Item = (&str, f64)> {
        self.families[id as usize]
            .iter()
            .filter_map(|(k, s)| match s {
                Series::Value(v) => Some((k.as_str(), *v)),
                Series::Histogram { .. } => None,
            })
    }

    /// The text exposition of every series recorded so far.
    pub(crate) fn render(&self) -> String {
        let mut out = String::new();
        for (def, family) in CATALOG.iter().zip(&self.families) {
            if family.is_empty() {
                continue;
            }
            let labels = def.prometheus_labels();
            let name = def.prometheus_name;
            let _ = writeln!(out, "# HELP {name} {}", escape_help(def.help));
            let _ = writeln!(out, "# TYPE {name} {}", def.kind.prometheus_type());
            let mut keys: Vec<&String> = family.keys().collect();
            keys.sort();
            for key in keys {
                let values = split_dimensions(key, def.dimensions.len());
                let label_set = render_labels(&labels, &values, None);
                match &family[key] {
                    Series::Value(v) => {
                        let _ = writeln!(
                            out,
                            "{name}{label_set} {}",
                            number(*v * def.prometheus_scale)
                        );
                    }
                    Series::Histogram {
                        buckets,
                        count,
                        sum,
                    } => {
                        let mut cumulative = 0;
                        for (i, n) in buckets.iter().enumerate() {
                            cumulative += n;
                            let le = def
                                .buckets
                                .get(i)
                                .map_or_else(|| "+Inf".to_owned(), |b| number(*b));
                            let _ = writeln!(
                                out,
                                "{name}_bucket{} {cumulative}",
                                render_labels(&labels, &values, Some(&le))
                            );
                        }
                        let _ = writeln!(out, "{name}_sum{label_set} {}", number(*sum));
                        let _ = writeln!(out, "{name}_count{label_set} {count}");
                    }
                }
            }
        }
        out
    }
}

/// Serves [`Recorder::prometheus_text`] at `GET /metrics` on `listen` (`host:port`; port 0 picks one), on
/// `runtime`, until the runtime stops or the returned task is aborted. Returns the bound address.
pub fn serve(
    recorder: Recorder,
    listen: &str,
    runtime: &tokio::runtime::Handle,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), TelemetryError> {
    use axum::{Router, http::header, routing::get};
    let socket_err = |source| TelemetryError::Socket {
        purpose: "Prometheus listener",
        address: listen.to_owned(),
        source,
    };
    let std_listener = std::net::TcpListener::bind(listen).map_err(socket_err)?;
    std_listener.set_nonblocking(true).map_err(socket_err)?;
    let addr = std_listener.local_addr().map_err(socket_err)?;
    let listener = {
        let _entered = runtime.enter();
        tokio::net::TcpListener::from_std(std_listener).map_err(socket_err)?
    };
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let recorder = recorder.clone();
            async move {
                (
                    [(header::CONTENT_TYPE, CONTENT_TYPE)],
                    recorder.prometheus_text(),
                )
            }
        }),
    );
    let task = runtime.spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::warn!(error = %e, "Prometheus listener stopped");
        }
    });
    Ok((addr, task))
}

fn render_labels(labels: &[String], values: &[&str], le: Option<&str>) -> String {
    if labels.is_empty() && le.is_none() {
        return String::new();
    }
    let mut out = String::from("{");
    for (i, (label, value)) in labels.iter().zip(values).enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{label}=\"{}\"", escape_label(value));
    }
    if let Some(le) = le {
        if !labels.is_empty() {
            out.push(',');
        }
        let _ = write!(out, "le=\"{le}\"");
    }
    out.push('}');
    out
}

fn escape_label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn escape_help(value: &str) -> String {
    value.replace('\\', "\\\\").replace('\n', "\\n")
}

fn number(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else {
        format!("{v}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metric::recorder::encode_key;

    #[test]
    fn histograms_are_cumulative_and_scaled_to_seconds() {
        let mut state = PrometheusState::default();
        let id = MetricId::AgentInvocation;
        let key = encode_key(id.def(), &[("AgentName", "logs"), ("UserID", "a\"b")]);
        let dims = split_dimensions(&key, 2).join("\u{1f}");
        for ms in [3.0, 40.0, 40.0, 900_000.0] {
            state.apply(id, &dims, ms);
        }
        let text = state.render();
        assert!(text.contains("# TYPE sre_agent_invocation_duration_seconds histogram"));
        assert!(text.contains(
            "sre_agent_invocation_duration_seconds_bucket{agent_name=\"logs\",user_id=\"a\\\"b\",le=\"0.005\"} 1"
        ));
        assert!(text.contains("le=\"0.05\"} 3"), "{text}");
        assert!(text.contains("le=\"+Inf\"} 4"), "{text}");
        assert!(text.contains("_count{agent_name=\"logs\",user_id=\"a\\\"b\"} 4"));
    }
}
