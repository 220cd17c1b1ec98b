//! The supervisor of sre-agent: the actor that owns the specialists, the investigation flow (analyse, route,
//! fan out, aggregate), reports, and the command line. `main.rs` only parses arguments and calls [`app::run`].

pub mod aggregation;
pub mod app;
pub mod budget;
pub mod cli;
pub mod config;
pub mod console;
pub mod error;
pub mod eval;
pub mod investigation;
pub mod knowledge;
pub mod personalization;
pub mod report;
pub mod routing;
pub mod supervisor;
pub mod system;
pub mod traces;

pub use error::{AppError, InvestigationError};
pub use investigation::InvestigationRequest;
pub use report::InvestigationReport;
pub use supervisor::{Supervisor, SupervisorArgs, SupervisorMsg};
