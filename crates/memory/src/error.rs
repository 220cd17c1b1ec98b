//! Errors of the memory crate.

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
