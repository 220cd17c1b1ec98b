//! `sre-agent traces …`: the local trace file as a list, a waterfall and a service map — what the X-Ray
//! console shows, without AWS.

use std::{
    io::IsTerminal,
    path::{Path, PathBuf},
};

use crate::{
    cli::{TraceFileArg, TracesCommand},
    config::AppConfig,
    error::AppError,
    traces::{
        ListOptions, MapFormat, ReadStats, WaterfallOptions, list_traces, load_trace,
        render_waterfall, service_map, since_cutoff,
    },
};

/// Runs a trace command; results go to stdout, notes about the file (skipped lines) to stderr.
pub fn run(config: &AppConfig, command: &TracesCommand) -> Result<(), AppError> {
    let color = std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    match command {
        TracesCommand::List { limit, since, file } => {
            let options = ListOptions {
                limit: (*limit).max(1),
                since: since.map(since_cutoff),
            };
            let listing = list_traces(&trace_file(config, file), &options)?;
            warn(&listing.stats);
            super::out(&listing.render(color));
        }
        TracesCommand::Show {
            trace_id,
            attributes,
            file,
        } => {
            let (trace, stats) = load_trace(&trace_file(config, file), trace_id)?;
            warn(&stats);
            let options = WaterfallOptions {
                color,
                attributes_of: attributes.clone(),
                ..WaterfallOptions::default()
            };
            super::out(&render_waterfall(&trace, &options));
        }
        TracesCommand::ServiceMap {
            since,
            format,
            output,
            file,
        } => {
            let report = service_map(&trace_file(config, file), since.map(since_cutoff))?;
            warn(&report.stats);
            let text = report.render(*format)?;
            match output {
                Some(path) => {
                    write_file(path, &text)?;
                    eprintln!(
                        "Service map ({}) written to {}",
                        format.as_str(),
                        path.display()
                    );
                }
                None if *format == MapFormat::Html && std::io::stdout().is_terminal() => {
                    return Err(AppError::Usage(
                        "the html service map is a whole page: write it with --output map.html (or redirect stdout)"
                            .into(),
                    ));
                }
                None => super::out(&text),
            }
        }
    }
    Ok(())
}

fn trace_file(config: &AppConfig, arg: &TraceFileArg) -> PathBuf {
    arg.trace_file
        .clone()
        .unwrap_or_else(|| config.trace_file())
}

fn warn(stats: &ReadStats) {
    if let Some(warning) = stats.warning() {
        eprintln!("warning: {warning}");
    }
}

fn write_file(path: &Path, text: &str) -> Result<(), AppError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| AppError::Write {
            path: parent.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| AppError::Write {
        path: path.to_owned(),
        source,
    })
}
