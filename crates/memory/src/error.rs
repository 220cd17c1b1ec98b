//! Errors of the memory crate, one type per operation family: ids, record validation, opening a store, store
//! calls (SQLite, AgentCore), and the facade's retrieve, save, manage (list/delete) and preferences-file
//! operations.

use std::path::PathBuf;

use crate::Strategy;

/// A user or session id that cannot be used in a namespace.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{what} is {len} characters long; the limit is {max}")]
    TooLong {
        what: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{what} {value:?} contains {found}; use letters, digits, '.', '_', '-' or '@'")]
    Forbidden {
        what: &'static str,
        value: String,
        found: String,
    },
}

/// A record (or preferences entry) whose content cannot be stored.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RecordError {
    #[error("{field} is empty")]
    Empty { field: &'static str },
    #[error("{field} is {len} characters long; the limit is {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field} has {len} entries; the limit is {max}")]
    TooMany {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("{field} is invalid: {message}")]
    Invalid {
        field: &'static str,
        message: String,
    },
    #[error("the record is {bytes} bytes as JSON; the limit is {max}")]
    TooLarge { bytes: usize, max: usize },
}

/// Opening a memory store failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("cannot create the memory directory {path}: {source}")]
    Directory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "memory database {path} is not a SQLite database (or is corrupt); move it aside and the agent creates a new one"
    )]
    NotADatabase { path: PathBuf },
    #[error("memory database {path}: {operation} failed: {source}")]
    Sqlite {
        path: PathBuf,
        operation: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error(
        "memory database {path} has schema version {found}, newer than this build supports ({supported}); upgrade sre-agent or use another data dir"
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("memory database {path}: the background worker failed: {message}")]
    Worker { path: PathBuf, message: String },
    #[error("invalid memory configuration: {0}")]
    Config(String),
}

/// A call to a memory store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("memory database {path}: {operation} failed: {source}")]
    Sqlite {
        path: PathBuf,
        operation: &'static str,
        #[source]
        source: rusqlite::Error,
    },
    #[error("memory database {path}: the background worker failed: {message}")]
    Worker { path: PathBuf, message: String },
    #[error("memory store holds a corrupt record {id}: {message}")]
    Corrupt { id: String, message: String },
    #[error(transparent)]
    AgentCore(#[from] AgentCoreError),
}

impl StoreError {
    /// A low-cardinality `error.type` for spans and metrics.
    pub fn error_type(&self) -> &'static str {
        match self {
            StoreError::Sqlite { .. } => "sqlite",
            StoreError::Worker { .. } => "worker",
            StoreError::Corrupt { .. } => "corrupt_record",
            StoreError::AgentCore(e) => e.error_type(),
        }
    }
}

/// A call to AgentCore Memory failed (after the SDK's retries).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgentCoreError {
    #[error(
        "AgentCore Memory {memory_id}: {operation} was denied ({message}); grant bedrock-agentcore:{operation} on this memory to the agent's IAM role"
    )]
    AccessDenied {
        operation: &'static str,
        memory_id: String,
        message: String,
    },
    #[error(
        "AgentCore Memory {memory_id}: {operation} was still throttled after retries ({message}); lower the request rate or ask for a higher quota"
    )]
    Throttled {
        operation: &'static str,
        memory_id: String,
        message: String,
    },
    #[error(
        "AgentCore Memory {memory_id}: {operation} found no such resource ({message}); check the memory id and the AWS region"
    )]
    NotFound {
        operation: &'static str,
        memory_id: String,
        message: String,
    },
    #[error("AgentCore Memory {memory_id}: {operation} rejected the request ({code}: {message})")]
    InvalidRequest {
        operation: &'static str,
        memory_id: String,
        code: String,
        message: String,
    },
    #[error(
        "AgentCore Memory {memory_id}: {operation} failed on the service side ({code}: {message})"
    )]
    Service {
        operation: &'static str,
        memory_id: String,
        code: String,
        message: String,
    },
    #[error("AgentCore Memory {memory_id}: {operation} could not reach the service: {message}")]
    Transport {
        operation: &'static str,
        memory_id: String,
        message: String,
    },
    #[error("AgentCore Memory {memory_id}: {operation} returned an unusable response: {message}")]
    MalformedResponse {
        operation: &'static str,
        memory_id: String,
        message: String,
    },
}

impl AgentCoreError {
    /// A low-cardinality `error.type` for spans and metrics.
    pub fn error_type(&self) -> &'static str {
        match self {
            AgentCoreError::AccessDenied { .. } => "agentcore_access_denied",
            AgentCoreError::Throttled { .. } => "agentcore_throttled",
            AgentCoreError::NotFound { .. } => "agentcore_not_found",
            AgentCoreError::InvalidRequest { .. } => "agentcore_invalid_request",
            AgentCoreError::Service { .. } => "agentcore_service",
            AgentCoreError::Transport { .. } => "agentcore_transport",
            AgentCoreError::MalformedResponse { .. } => "agentcore_malformed_response",
        }
    }
}

/// Retrieving one strategy's records failed.
#[derive(Debug, thiserror::Error)]
#[error("retrieving {strategy} memory failed: {source}")]
pub struct RetrieveError {
    pub strategy: Strategy,
    #[source]
    pub source: StoreError,
}

/// Saving records failed.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    #[error("cannot save {strategy} memory: {source}")]
    Invalid {
        strategy: Strategy,
        #[source]
        source: RecordError,
    },
    #[error("saving {strategy} memory failed: {source}")]
    Store {
        strategy: Strategy,
        #[source]
        source: StoreError,
    },
}

/// Listing or deleting records failed.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error("{operation} of memory records failed: {source}")]
    Store {
        operation: &'static str,
        #[source]
        source: StoreError,
    },
}

/// Loading a user-preferences YAML file failed.
#[derive(Debug, thiserror::Error)]
pub enum PreferencesFileError {
    #[error("cannot read preferences file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("preferences file {path} is not valid: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("preferences file {path}, user {user}: {source}")]
    Invalid {
        path: PathBuf,
        user: String,
        #[source]
        source: RecordError,
    },
    #[error("preferences file {path}, user {user}: {source}")]
    Save {
        path: PathBuf,
        user: String,
        #[source]
        source: Box<SaveError>,
    },
    /// Checking whether any preferences exist before seeding the bundled users failed.
    #[error("cannot check for existing preferences before seeding the bundled users: {message}")]
    Seed { message: String },
}
