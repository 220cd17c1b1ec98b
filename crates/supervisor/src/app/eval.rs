//! `sre-agent eval`: every question of the chosen scenarios through the normal investigation path, scored
//! against each scenario's `expected.json`.

use std::sync::Arc;

use sre_agents::model::ChatModel;
use sre_mcp_backends::{DatasetSource, bundled_names};

use crate::{app::system_options, cli::EvalArgs, config::AppConfig, error::AppError};

/// Checks the arguments before anything starts (the model provider's preflight included).
pub fn check_args(args: &EvalArgs) -> Result<(), AppError> {
    if !(0.0..=1.0).contains(&args.min_score) {
        return Err(AppError::Usage(format!(
            "--min-score must be between 0 and 1, got {}",
            args.min_score
        )));
    }
    Ok(())
}

/// Runs the evaluation with `model`, prints the table, and fails when a question scores below `--min-score`.
pub async fn run(
    config: &AppConfig,
    args: &EvalArgs,
    model: Arc<dyn ChatModel>,
) -> Result<(), AppError> {
    check_args(args)?;
    let sources: Vec<DatasetSource> = if config.scenario_chosen {
        vec![config.data.clone()]
    } else {
        bundled_names()
            .into_iter()
            .map(|n| DatasetSource::Bundled(n.to_owned()))
            .collect()
    };
    let options = system_options(config, model);
    let rows = crate::eval::run(&options, &sources, |row| {
        eprintln!("  {} · {} → {:.2}", row.scenario, row.question, row.total());
    })
    .await?;
    super::out(&crate::eval::render(&rows, args.min_score));
    let failing = rows.iter().filter(|r| r.total() < args.min_score).count();
    if failing > 0 {
        return Err(AppError::Investigation(
            crate::error::InvestigationError::Failed(format!(
                "{failing} of {} questions scored below {:.2}",
                rows.len(),
                args.min_score
            )),
        ));
    }
    Ok(())
}
