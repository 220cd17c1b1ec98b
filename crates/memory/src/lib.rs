//! Memory for sre-agent: the three strategies (user preferences, infrastructure knowledge, investigation
//! history), their namespaces, and the validated ids that keep one user's records out of another's.

pub mod error;
pub mod namespace;
pub mod severity;

pub use error::IdError;
pub use namespace::{SessionId, Strategy, UserId};
pub use severity::Severity;
