//! `sre-agent`: parse the command line, run the application, map the outcome to an exit code.

use std::process::ExitCode;

use clap::Parser;
use sre_supervisor::{app, cli::Cli};

/// An investigation allocates a great deal (JSON-RPC messages, tool results, spans), across threads: the
/// exporter threads free what the actors allocated. mimalloc makes an offline investigation about a third
/// faster than the system allocator and halves what telemetry costs it (`cargo bench -p sre-supervisor
/// --bench telemetry_overhead`). It is built without transparent huge pages (feature `no_thp`): asked for
/// them, it backs fresh memory with 2 MiB pages the kernel zeroes whole on first touch, which a command
/// that lives a few tens of milliseconds pays for (about a sixth of its wall time) and never gains back.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(app::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
