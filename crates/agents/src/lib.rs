//! The specialists of sre-agent: the actor protocol, findings, the [`model::ChatModel`] trait with its
//! providers (the offline reasoning engine by default), the agent loop, the MCP tool client, and the
//! specialist actor that runs them.

pub mod agent_loop;
pub mod error;
pub mod finding;
pub mod model;
pub mod progress;
pub mod prompt;
pub mod protocol;
pub mod specialist;
pub mod tool_client;
