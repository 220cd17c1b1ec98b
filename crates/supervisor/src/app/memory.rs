//! `sre-agent memory …`: load user preferences, list and delete records.

use sre_memory::{DeleteSelector, RecordId, Strategy, UserId};

use crate::{
    app::open_memory,
    cli::{MemoryCommand, StrategyArg},
    config::AppConfig,
    error::AppError,
};

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
            let (users, origin) = match file.as_deref() {
                Some(path) => (
                    memory.load_preferences(path).await,
                    path.display().to_string(),
                ),
                None => (
                    memory.load_bundled_users().await,
                    "the bundled config/users.yaml".to_owned(),
                ),
            };
            let users = users.map_err(|e| AppError::Usage(e.to_string()))?;
            let names: Vec<&str> = users.iter().map(UserId::as_str).collect();
            super::out(&format!(
                "loaded preferences for {} user(s) from {}: {}\n",
                names.len(),
                origin,
                names.join(", ")
            ));
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
                super::out("no records\n");
            }
            for record in records {
                super::out(&format!(
                    "{}  {}  {}\n    {}\n",
                    record.created_at.format("%Y-%m-%d %H:%M"),
                    record.id,
                    record.namespace,
                    crate::report::one_line(&record.body.describe())
                ));
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
            super::out(&format!("deleted {deleted} record(s)\n"));
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
