//! CloudWatch embedded metric format (EMF): each flush becomes JSON lines whose `_aws.CloudWatchMetrics`
//! directive tells CloudWatch Logs which root members are metrics and which are dimensions. Lines go to
//! stdout, a file, or the CloudWatch agent (TCP/UDP, port 25888 style).
//!
//! Limits respected: at most 100 metrics per directive, 30 dimensions per dimension set, 100 values per
//! metric per line (longer histograms continue on further lines), and lines under [`MAX_LINE_BYTES`].
//! Properties such as the investigation id are root members but never dimensions.

use std::{
    collections::BTreeMap,
    fs::{File, OpenOptions},
    io::Write,
    net::{TcpStream, ToSocketAddrs, UdpSocket},
    path::{Path, PathBuf},
    time::{Duration, UNIX_EPOCH},
};

use serde_json::{Map, Number, Value, json};

use super::{
    batch::{MetricBatch, MetricPoint, PointValue},
    catalog::MetricDef,
    sink::{MetricSink, MetricSinkError},
};
use crate::{TelemetryError, config::EmfTarget};

/// Most metric definitions in one directive.
pub const MAX_METRICS_PER_DIRECTIVE: usize = 100;
/// Most dimension keys in one dimension set.
pub const MAX_DIMENSIONS_PER_SET: usize = 30;
/// Most values of one metric in one line.
pub const MAX_VALUES_PER_METRIC: usize = 100;
/// Largest line emitted (CloudWatch Logs accepts up to 1 MB per event; UDP datagrams are smaller still).
pub const MAX_LINE_BYTES: usize = 60 * 1024;

/// What every EMF line carries besides the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmfOptions {
    /// CloudWatch namespace.
    pub namespace: String,
    /// `_aws.LogGroupName` (read by the CloudWatch agent).
    pub log_group: Option<String>,
    /// `_aws.LogStreamName` (read by the CloudWatch agent).
    pub log_stream: Option<String>,
}

/// Writes EMF lines to one [`EmfTarget`].
#[derive(Debug)]
pub struct EmfSink {
    options: EmfOptions,
    writer: Writer,
    timeout: Duration,
}

#[derive(Debug)]
enum Writer {
    Stdout,
    File {
        path: PathBuf,
        file: File,
    },
    Tcp {
        address: String,
        stream: Option<TcpStream>,
    },
    Udp {
        address: String,
        socket: UdpSocket,
    },
}

impl EmfSink {
    /// A sink for `target`; a file is opened (directories created) now, a TCP connection on first use.
    pub fn new(
        target: &EmfTarget,
        options: EmfOptions,
        timeout: Duration,
    ) -> Result<Self, TelemetryError> {
        let writer = match target {
            EmfTarget::Stdout => Writer::Stdout,
            EmfTarget::File(path) => Writer::File {
                path: path.clone(),
                file: open_append(path)?,
            },
            EmfTarget::Tcp(address) => Writer::Tcp {
                address: address.clone(),
                stream: None,
            },
            EmfTarget::Udp(address) => {
                let socket = UdpSocket::bind(("0.0.0.0", 0))
                    .and_then(|s| s.connect(address.as_str()).map(|()| s))
                    .map_err(|source| TelemetryError::Socket {
                        purpose: "EMF",
                        address: address.clone(),
                        source,
                    })?;
                Writer::Udp {
                    address: address.clone(),
                    socket,
                }
            }
        };
        Ok(Self {
            options,
            writer,
            timeout,
        })
    }

    fn write_lines(&mut self, lines: &[String]) -> Result<(), MetricSinkError> {
        let io = |target: &str, source| MetricSinkError::Io {
            sink: "emf",
            target: target.to_owned(),
            source,
        };
        match &mut self.writer {
            Writer::Stdout => {
                let mut out = std::io::stdout().lock();
                for line in lines {
                    writeln!(out, "{line}").map_err(|e| io("stdout", e))?;
                }
                out.flush().map_err(|e| io("stdout", e))
            }
            Writer::File { path, file } => {
                let mut buf = Vec::with_capacity(lines.iter().map(|l| l.len() + 1).sum());
                for line in lines {
                    buf.extend_from_slice(line.as_bytes());
                    buf.push(b'\n');
                }
                // One write: with O_APPEND, batches from several processes do not interleave.
                file.write_all(&buf)
                    .map_err(|e| io(&path.display().to_string(), e))
            }
            Writer::Tcp { address, stream } => {
                if stream.is_none() {
                    *stream = Some(connect(address, self.timeout).map_err(|e| io(address, e))?);
                }
                let Some(conn) = stream.as_mut() else {
                    return Ok(());
                };
                let mut buf = Vec::new();
                for line in lines {
                    buf.extend_from_slice(line.as_bytes());
                    buf.push(b'\n');
                }
                let result = conn.write_all(&buf).and_then(|()| conn.flush());
                if result.is_err() {
                    // Reconnect on the next batch.
                    *stream = None;
                }
                result.map_err(|e| io(address, e))
            }
            Writer::Udp { address, socket } => {
                for line in lines {
                    let mut datagram = line.clone().into_bytes();
                    datagram.push(b'\n');
                    socket.send(&datagram).map_err(|e| io(address, e))?;
                }
                Ok(())
            }
        }
    }
}

impl MetricSink for EmfSink {
    fn name(&self) -> &'static str {
        "emf"
    }

    fn export(&mut self, batch: &MetricBatch) -> Result<(), MetricSinkError> {
        let lines = encode(batch, &self.options);
        if lines.is_empty() {
            return Ok(());
        }
        self.write_lines(&lines)
    }
}

/// The EMF lines of one batch: points sharing dimensions and properties share a line.
pub fn encode(batch: &MetricBatch, options: &EmfOptions) -> Vec<String> {
    let timestamp = batch
        .timestamp
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default();
    type GroupKey<'a> = (Vec<(&'static str, &'a str)>, Vec<(&'static str, &'a str)>);
    let mut groups: BTreeMap<GroupKey<'_>, Vec<&MetricPoint>> = BTreeMap::new();
    for point in &batch.points {
        let dims: Vec<(&'static str, &str)> = point.dimension_pairs().collect();
        let props: Vec<(&'static str, &str)> = point
            .properties
            .iter()
            .map(|(k, v)| (*k, v.as_str()))
            .collect();
        groups.entry((dims, props)).or_default().push(point);
    }

    let mut lines = Vec::new();
    for ((dims, props), points) in groups {
        let series: Vec<(&MetricDef, Vec<f64>)> = points
            .iter()
            .map(|p| {
                let values = match &p.value {
                    PointValue::Sum(v) | PointValue::Gauge(v) => vec![*v],
                    PointValue::Distribution(d) => d.expanded().collect(),
                };
                (p.def(), values)
            })
            .collect();
        let rounds = series
            .iter()
            .map(|(_, v)| v.len().div_ceil(MAX_VALUES_PER_METRIC))
            .max()
            .unwrap_or(0);
        for round in 0..rounds {
            let chunk: Vec<(&MetricDef, &[f64])> = series
                .iter()
                .filter_map(|(def, values)| {
                    let start = round * MAX_VALUES_PER_METRIC;
                    let end = (start + MAX_VALUES_PER_METRIC).min(values.len());
                    (start < end).then(|| (*def, &values[start..end]))
                })
                .collect();
            for metrics in chunk.chunks(MAX_METRICS_PER_DIRECTIVE) {
                emit(&mut lines, options, timestamp, &dims, &props, metrics);
            }
        }
    }
    lines
}

fn emit(
    lines: &mut Vec<String>,
    options: &EmfOptions,
    timestamp: u64,
    dims: &[(&'static str, &str)],
    props: &[(&'static str, &str)],
    metrics: &[(&MetricDef, &[f64])],
) {
    let line = render(options, timestamp, dims, props, metrics);
    if line.len() <= MAX_LINE_BYTES || metrics.len() == 1 && metrics[0].1.len() == 1 {
        lines.push(line);
        return;
    }
    // Too long: halve the metrics, or the values of a lone metric.
    if metrics.len() > 1 {
        let (a, b) = metrics.split_at(metrics.len() / 2);
        emit(lines, options, timestamp, dims, props, a);
        emit(lines, options, timestamp, dims, props, b);
    } else {
        let (def, values) = metrics[0];
        let (a, b) = values.split_at(values.len() / 2);
        emit(lines, options, timestamp, dims, props, &[(def, a)]);
        emit(lines, options, timestamp, dims, props, &[(def, b)]);
    }
}

fn render(
    options: &EmfOptions,
    timestamp: u64,
    dims: &[(&'static str, &str)],
    props: &[(&'static str, &str)],
    metrics: &[(&MetricDef, &[f64])],
) -> String {
    let dimension_set: Vec<&str> = dims
        .iter()
        .take(MAX_DIMENSIONS_PER_SET)
        .map(|(k, _)| *k)
        .collect();
    let definitions: Vec<Value> = metrics
        .iter()
        .map(|(def, _)| json!({"Name": def.name, "Unit": def.unit.cloudwatch()}))
        .collect();
    let mut aws = Map::new();
    aws.insert("Timestamp".into(), Value::from(timestamp));
    if let Some(group) = &options.log_group {
        aws.insert("LogGroupName".into(), Value::from(group.as_str()));
    }
    if let Some(stream) = &options.log_stream {
        aws.insert("LogStreamName".into(), Value::from(stream.as_str()));
    }
    aws.insert(
        "CloudWatchMetrics".into(),
        json!([{
            "Namespace": options.namespace,
            "Dimensions": [dimension_set],
            "Metrics": definitions,
        }]),
    );
    let mut root = Map::new();
    root.insert("_aws".into(), Value::Object(aws));
    for (k, v) in dims.iter().chain(props) {
        root.insert((*k).to_owned(), Value::from(*v));
    }
    for (def, values) in metrics {
        let value = match values {
            [single] => number(*single),
            many => Value::Array(many.iter().map(|v| number(*v)).collect()),
        };
        root.insert(def.name.to_owned(), value);
    }
    Value::Object(root).to_string()
}

fn number(v: f64) -> Value {
    Number::from_f64(v).map_or(Value::Null, Value::Number)
}

fn open_append(path: &Path) -> Result<File, TelemetryError> {
    let err = |source| TelemetryError::MetricFile {
        path: path.to_owned(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(err)?;
    }
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(err)
}

fn connect(address: &str, timeout: Duration) -> std::io::Result<TcpStream> {
    let mut last = None;
    for addr in address.to_socket_addrs()? {
        match TcpStream::connect_timeout(&addr, timeout) {
            Ok(stream) => {
                stream.set_write_timeout(Some(timeout))?;
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::NotFound, "address resolved to nothing")
    }))
}
