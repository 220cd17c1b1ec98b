//! Direct X-Ray export: spans become segment documents through `opentelemetry-aws`'s translator (SERVER spans
//! are segments, others subsegments; CLIENT spans get `namespace: remote`), then go either to the X-Ray daemon
//! over UDP or to the `PutTraceSegments` API through the AWS SDK.

use std::{
    net::{SocketAddr, UdpSocket},
    sync::Mutex,
    time::Duration,
};

use aws_sdk_xray::Client;
use opentelemetry_aws::xray_exporter::{
    SegmentDocument, SegmentDocumentExporter, SegmentTranslator, XrayExporter,
};
use tokio::runtime::Handle;

use crate::{TelemetryError, convention::XRAY_ANNOTATION_KEYS};

/// Header of every datagram the daemon accepts.
const DAEMON_HEADER: &[u8] = b"{\"format\": \"json\", \"version\": 1}\n";
/// Largest datagram the daemon reads.
const MAX_DATAGRAM: usize = 64 * 1024;
/// Most documents per `PutTraceSegments` call (what the X-Ray daemon sends).
pub const MAX_DOCUMENTS_PER_REQUEST: usize = 50;

/// Why segment documents did not reach X-Ray.
#[derive(Debug, thiserror::Error)]
pub enum XrayExportError {
    /// Sending a datagram failed.
    #[error("sending segments to the X-Ray daemon at {address}: {source}")]
    Daemon {
        address: SocketAddr,
        #[source]
        source: std::io::Error,
    },
    /// A segment document exceeds a UDP datagram.
    #[error("segment document of {bytes} bytes exceeds the daemon's 64 KiB datagram")]
    TooLarge { bytes: usize },
    /// The API call failed.
    #[error("PutTraceSegments failed: {0}")]
    Api(String),
    /// X-Ray refused some documents.
    #[error("X-Ray rejected {count} segment(s); first: {first}")]
    Unprocessed { count: usize, first: String },
}

/// The translator sre-agent uses: the investigation's user, session, agent type and id are annotations.
pub fn translator() -> SegmentTranslator {
    SegmentTranslator::new()
        .with_indexed_attrs(XRAY_ANNOTATION_KEYS.iter().map(|k| (*k).to_owned()))
}

/// A span exporter sending to the X-Ray daemon at `address`.
pub fn daemon_exporter(address: SocketAddr) -> Result<XrayExporter<XrayUdpClient>, TelemetryError> {
    Ok(XrayExporter::new(XrayUdpClient::new(address)?).with_translator(translator()))
}

/// A span exporter calling `PutTraceSegments` with `client` on `runtime`.
pub fn api_exporter(
    client: Client,
    runtime: Handle,
    timeout: Duration,
) -> XrayExporter<XrayApiClient> {
    XrayExporter::new(XrayApiClient::new(Some(client), runtime, timeout))
        .with_translator(translator())
}

/// A span exporter calling `PutTraceSegments` with a client from the default AWS chain, loaded on first use.
pub fn api_exporter_from_default_chain(
    runtime: Handle,
    timeout: Duration,
) -> XrayExporter<XrayApiClient> {
    XrayExporter::new(XrayApiClient::new(None, runtime, timeout)).with_translator(translator())
}

/// Sends each document as one UDP datagram to the X-Ray daemon.
#[derive(Debug)]
pub struct XrayUdpClient {
    socket: UdpSocket,
    address: SocketAddr,
}

impl XrayUdpClient {
    /// A client for the daemon at `address`.
    pub fn new(address: SocketAddr) -> Result<Self, TelemetryError> {
        let bind: SocketAddr = if address.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            ([0u16; 8], 0).into()
        };
        let socket = UdpSocket::bind(bind)
            .and_then(|s| s.connect(address).map(|()| s))
            .map_err(|source| TelemetryError::Socket {
                purpose: "X-Ray daemon",
                address: address.to_string(),
                source,
            })?;
        Ok(Self { socket, address })
    }
}

impl SegmentDocumentExporter for XrayUdpClient {
    type Error = XrayExportError;

    async fn export_segment_documents(
        &self,
        batch: Vec<SegmentDocument<'_>>,
    ) -> Result<(), Self::Error> {
        let mut first_error = None;
        for document in batch {
            let mut datagram = DAEMON_HEADER.to_vec();
            document.to_writer(&mut datagram);
            let result = if datagram.len() > MAX_DATAGRAM {
                Err(XrayExportError::TooLarge {
                    bytes: datagram.len(),
                })
            } else {
                self.socket
                    .send(&datagram)
                    .map(|_| ())
                    .map_err(|source| XrayExportError::Daemon {
                        address: self.address,
                        source,
                    })
            };
            if let Err(e) = result {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

/// Sends documents with `PutTraceSegments`, hopping onto a tokio runtime for the SDK call.
#[derive(Debug)]
pub struct XrayApiClient {
    client: Mutex<Option<Client>>,
    runtime: Handle,
    timeout: Duration,
}

impl XrayApiClient {
    /// A client; with `None`, the default AWS configuration is loaded on first export.
    pub fn new(client: Option<Client>, runtime: Handle, timeout: Duration) -> Self {
        Self {
            client: Mutex::new(client),
            runtime,
            timeout,
        }
    }

    async fn client(&self) -> Result<Client, XrayExportError> {
        if let Some(client) = self.client.lock().ok().and_then(|c| c.clone()) {
            return Ok(client);
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.runtime.spawn(async move {
            let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let _ = tx.send(Client::new(&sdk));
        });
        let client = rx
            .await
            .map_err(|_| XrayExportError::Api("loading the AWS configuration failed".into()))?;
        if let Ok(mut slot) = self.client.lock() {
            *slot = Some(client.clone());
        }
        Ok(client)
    }
}

impl SegmentDocumentExporter for XrayApiClient {
    type Error = XrayExportError;

    async fn export_segment_documents(
        &self,
        batch: Vec<SegmentDocument<'_>>,
    ) -> Result<(), Self::Error> {
        let documents: Vec<String> = batch.iter().map(SegmentDocument::to_string).collect();
        if documents.is_empty() {
            return Ok(());
        }
        let client = self.client().await?;
        let mut unprocessed = Vec::new();
        for chunk in documents.chunks(MAX_DOCUMENTS_PER_REQUEST) {
            let (tx, rx) = tokio::sync::oneshot::channel();
            let call = client
                .put_trace_segments()
                .set_trace_segment_documents(Some(chunk.to_vec()))
                .send();
            let timeout = self.timeout;
            // The SDK needs tokio; this future may be driven by a plain executor on an exporter thread.
            self.runtime.spawn(async move {
                let _ = tx.send(tokio::time::timeout(timeout, call).await);
            });
            let output = match rx.await {
                Ok(Ok(Ok(output))) => output,
                Ok(Ok(Err(e))) => {
                    return Err(XrayExportError::Api(
                        aws_sdk_xray::error::DisplayErrorContext(e).to_string(),
                    ));
                }
                Ok(Err(_)) => {
                    return Err(XrayExportError::Api(format!(
                        "no answer within {timeout:?}"
                    )));
                }
                Err(_) => return Err(XrayExportError::Api("the runtime is shutting down".into())),
            };
            unprocessed.extend(output.unprocessed_trace_segments().iter().map(|u| {
                format!(
                    "{}: {} {}",
                    u.id().unwrap_or("?"),
                    u.error_code().unwrap_or_default(),
                    u.message().unwrap_or_default()
                )
            }));
        }
        match unprocessed.first() {
            None => Ok(()),
            Some(first) => Err(XrayExportError::Unprocessed {
                count: unprocessed.len(),
                first: first.clone(),
            }),
        }
    }
}
