//! `sre-agent memory …`: load user preferences, list and delete records.

use std::path::Path;

use sre_memory::{DeleteSelector, RecordId, Strategy, UserId};

use crate::{
    app::open_memory,
    cli::{MemoryCommand, StrategyArg},
    config::AppConfig,
    error::AppError,
};

/// The bundled preferences file, relative to the repository root.
const DEFAULT_USERS_FILE: &str = "config/users.yaml";

/// Runs a memory command.
pub async fn run(config: &AppConfig, command: &MemoryCommand) -> Result<(), AppError> {
    let memory = open_memory(config)
        .await?
        .ok_or_else(|| AppError::Usage("memory is off (--memory off); nothing to manage".into()))?;
    let failed = |e: &dyn std::fmt::Display| AppError::Startup {
        what: "memory".into(),
        message: e.to_string(),
    };
    match command {
        MemoryCommand::LoadPreferences { file } => {
            let path = file.as_deref().unwrap_or(Path::new(DEFAULT_USERS_FILE));
            let users = memory
                .load_preferences(path)
                .await
                .map_err(|e| failed(&e))?;
            let names: Vec<&str> = users.iter().map(UserId::as_str).collect();
            println!(
                "loaded preferences for {} user(s) from {}: {}",
                names.len(),
                path.display(),
                names.join(", ")
            );
        }
        MemoryCommand::List {
            strategy,
            user,
            limit,
        } => {
            let user = user.as_deref().map(parse_user).transpose()?;
            let records = memory
                .list(strategy.map(strategy_of), user.as_ref(), *limit)
                .await
                .map_err(|e| failed(&e))?;
            if records.is_empty() {
                println!("no records");
            }
            for record in records {
                println!(
                    "{}  {}  {}\n    {}",
                    record.created_at.format("%Y-%m-%d %H:%M"),
                    record.id,
                    record.namespace,
                    record.body.describe()
                );
            }
        }
        MemoryCommand::Delete { id, user, strategy } => {
            let user = user.as_deref().map(parse_user).transpose()?;
            let selector = match (id, user) {
                (Some(id), user) => DeleteSelector::Record {
                    id: RecordId::parse(id).map_err(|e| AppError::Usage(format!("--id: {e}")))?,
                    user,
                },
                (None, Some(user)) => DeleteSelector::User {
                    user,
                    strategy: strategy.map(strategy_of),
                },
                (None, None) => {
                    return Err(AppError::Usage("give --id RECORD_ID or --user ID".into()));
                }
            };
            let deleted = memory.delete(selector).await.map_err(|e| failed(&e))?;
            println!("deleted {deleted} record(s)");
        }
    }
    Ok(())
}

fn parse_user(id: &str) -> Result<UserId, AppError> {
    UserId::parse(id).map_err(|e| AppError::Usage(format!("--user: {e}")))
}

fn strategy_of(arg: StrategyArg) -> Strategy {
    match arg {
        StrategyArg::Preferences => Strategy::UserPreferences,
        StrategyArg::Knowledge => Strategy::InfrastructureKnowledge,
        StrategyArg::Investigations => Strategy::InvestigationHistory,
    }
}
