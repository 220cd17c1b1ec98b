//! Wall-time overhead of telemetry on a whole offline investigation: the same investigation (crash-loop
//! question, four agents, in-process MCP backends over loopback HTTP, tool cache off so every tool call is
//! made) in four phases: with nothing installed ("none"), with telemetry installed and turned off as a
//! user turns it off ("off": `OTEL_SDK_DISABLED=true`, logs only), with the real telemetry stack of the
//! command line's defaults ("on": spans to the OTLP-JSON trace file, metrics aggregated and flushed as EMF
//! lines), and with a floor recorder instead of any of it ("floor", see [`floor`]): the least a span recorder
//! must do on the actor path for the same spans, to tell what the target asks of any implementation on
//! this machine from what the stack costs.
//!
//! Telemetry can be installed but not removed from a process, so each phase runs in a process of its own:
//! this benchmark re-runs itself as a child per phase and rotates their order from one round of phases to
//! the next, so a machine that speeds up or slows down during the run weighs on every side alike. Each
//! child warms up, then times its rounds and reports median, mean, p95 and the CPU time (all threads,
//! exporters included) per investigation. The figures printed are the overheads of "on" over "off" and
//! over "none" in each round and their median; the spread between the "none" runs is the noise floor.
//!
//! The telemetry configuration comes from the environment as for the command line
//! (`OTEL_TRACES_EXPORTER=none`, `OTEL_METRICS_EXPORTER=none`, ... isolate one part).
//!
//! Then the same question as a user runs it, whole: `sre-agent --prompt ...` from process start to exit
//! (start-up, tool servers, the investigation, the report, and with telemetry on the flush of the trace and
//! EMF files on the way out), alternately with `OTEL_SDK_DISABLED=true` and with the defaults, each run in a
//! copy of a data directory seeded by a first run.
//!
//! `cargo bench -p sre-supervisor --bench telemetry_overhead` (target: overhead ≤ 1 %).
//! `BENCH_PAIRS` and `BENCH_ROUNDS` change the number of rounds of the three phases (default 4) and of timed
//! investigations per phase (default 200); `BENCH_COMMANDS` the number of off/on pairs of whole commands
//! (default 20).

use std::{
    path::Path,
    process::Command,
    sync::Arc,
    time::{Duration, Instant},
};

use sre_agents::{model::offline::OfflineModel, progress::ProgressSink};
use sre_memory::{SessionId, UserId};
use sre_supervisor::{
    InvestigationRequest,
    system::{System, SystemOptions},
};
use sre_telemetry::{TelemetryConfig, convention::AGENT_SERVICE_NAME};

/// The allocator of the `sre-agent` binary, so the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const QUESTION: &str = "Why are the database pods crash looping in production?";
const WARMUP: usize = 30;
const ROUNDS: usize = 200;
const PAIRS: usize = 4;
const COMMANDS: usize = 20;
/// The argument that makes the benchmark a child running one phase.
const PHASE_ARG: &str = "--phase";
/// Prefix of the line a child prints its figures on.
const RESULT: &str = "phase-result";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No subscriber, no recorder.
    None,
    /// Installed with `OTEL_SDK_DISABLED=true`.
    Off,
    /// Installed with the defaults.
    On,
    /// The [`floor`] layer alone.
    Floor,
}

impl Phase {
    const ALL: [Phase; 4] = [Phase::None, Phase::Off, Phase::On, Phase::Floor];

    fn as_str(self) -> &'static str {
        match self {
            Phase::None => "none",
            Phase::Off => "off",
            Phase::On => "on",
            Phase::Floor => "floor",
        }
    }

    fn parse(name: &str) -> Option<Phase> {
        Phase::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// Sets `OTEL_SDK_DISABLED` for a process of this phase: `true` for "off", unset otherwise (the
    /// defaults, whatever the benchmark itself was started with).
    fn configure(self, cmd: &mut Command) {
        cmd.env_remove("OTEL_SDK_DISABLED");
        if self == Phase::Off {
            cmd.env("OTEL_SDK_DISABLED", "true");
        }
    }
}

fn request(round: usize) -> InvestigationRequest {
    InvestigationRequest {
        question: QUESTION.to_owned(),
        user_id: UserId::parse("bench").expect("a valid user id"),
        session_id: SessionId::parse(&format!("bench-{round}")).expect("a valid session id"),
        history: Vec::new(),
        progress: ProgressSink::none(),
    }
}

/// CPU time (user + system, all threads) the process has used so far, where the platform tells it.
fn cpu_time() -> Option<Duration> {
    // /proc/self/stat: utime and stime, in clock ticks, are fields 14 and 15, counted after the command name.
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    // The kernel reports USER_HZ ticks, 100 per second on every Linux ABI.
    Some(Duration::from_millis((utime + stime) * 10))
}

/// Wall time of each of `rounds` investigations, and the CPU time they used in all.
async fn investigate(system: &System, rounds: usize) -> (Vec<Duration>, Option<Duration>) {
    let cpu_before = cpu_time();
    let mut times = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let started = Instant::now();
        let report = system
            .investigate(request(round))
            .await
            .expect("the investigation completes");
        times.push(started.elapsed());
        assert!(
            report.agents.iter().all(|a| a.result.is_ok()),
            "an agent failed"
        );
    }
    let cpu = cpu_before.zip(cpu_time()).map(|(a, b)| b.saturating_sub(a));
    (times, cpu)
}

#[derive(Debug, Clone, Copy)]
struct Summary {
    median: Duration,
    mean: Duration,
    p95: Duration,
    /// CPU time per investigation, all threads.
    cpu: Option<Duration>,
}

fn summarize(mut times: Vec<Duration>, cpu: Option<Duration>) -> Summary {
    times.sort();
    let n = u32::try_from(times.len()).expect("few rounds");
    let at = |q: f64| times[((times.len() - 1) as f64 * q).round() as usize];
    Summary {
        median: at(0.5),
        mean: times.iter().sum::<Duration>() / n,
        p95: at(0.95),
        cpu: cpu.map(|c| c / n),
    }
}

fn percent(a: Duration, b: Duration) -> f64 {
    (b.as_secs_f64() / a.as_secs_f64() - 1.0) * 100.0
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2.0
    } else {
        values[mid]
    }
}

/// The floor of span recording on the actor path: a layer that sees the spans the OpenTelemetry layer sees
/// and does only what every span recorder must do for them — copy the attributes into owned values, note
/// the parent, the start and the end, and hand the finished span to another thread without waking it (a
/// timer drains the queue, as the batch exporters do). No ids, no sampling, no context propagation, no
/// encoding, no export: a lower bound, not a recorder.
mod floor {
    use std::{
        sync::{
            Arc, Mutex,
            atomic::{AtomicU64, Ordering},
        },
        time::{Duration, SystemTime},
    };

    use opentelemetry::KeyValue;
    use tracing::{
        Subscriber,
        field::{Field, Visit},
        span::{Attributes, Id, Record},
    };
    use tracing_subscriber::{layer::Context, registry::LookupSpan};

    struct Open {
        name: &'static str,
        id: u64,
        parent: u64,
        start: SystemTime,
        attributes: Vec<KeyValue>,
    }

    struct Finished {
        span: Open,
        end: SystemTime,
    }

    struct Fields<'a>(&'a mut Vec<KeyValue>);

    impl Visit for Fields<'_> {
        fn record_str(&mut self, field: &Field, value: &str) {
            self.0.push(KeyValue::new(field.name(), value.to_owned()));
        }
        fn record_i64(&mut self, field: &Field, value: i64) {
            self.0.push(KeyValue::new(field.name(), value));
        }
        fn record_u64(&mut self, field: &Field, value: u64) {
            self.0.push(KeyValue::new(
                field.name(),
                i64::try_from(value).unwrap_or(i64::MAX),
            ));
        }
        fn record_f64(&mut self, field: &Field, value: f64) {
            self.0.push(KeyValue::new(field.name(), value));
        }
        fn record_bool(&mut self, field: &Field, value: bool) {
            self.0.push(KeyValue::new(field.name(), value));
        }
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            self.0
                .push(KeyValue::new(field.name(), format!("{value:?}")));
        }
    }

    pub struct FloorLayer {
        queue: Arc<Mutex<Vec<Finished>>>,
        next_id: AtomicU64,
        finished: Arc<AtomicU64>,
    }

    impl FloorLayer {
        /// The layer, and the count of spans it has finished.
        pub fn new() -> (Self, Arc<AtomicU64>) {
            let queue: Arc<Mutex<Vec<Finished>>> = Arc::default();
            let drained = Arc::clone(&queue);
            std::thread::Builder::new()
                .name("floor-spans".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(Duration::from_millis(100));
                        let batch = std::mem::take(&mut *drained.lock().expect("queue lock"));
                        // Read what an exporter reads of each span, so none of it is optimised away,
                        // then free the batch here, off the actor threads.
                        for done in &batch {
                            let span = &done.span;
                            std::hint::black_box((
                                span.name,
                                span.id,
                                span.parent,
                                done.end.duration_since(span.start).ok(),
                                span.attributes.len(),
                            ));
                        }
                        drop(batch);
                    }
                })
                .expect("the floor's drain thread starts");
            let finished = Arc::new(AtomicU64::new(0));
            let layer = Self {
                queue,
                next_id: AtomicU64::new(1),
                finished: Arc::clone(&finished),
            };
            (layer, finished)
        }
    }

    impl<S: Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for FloorLayer {
        fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
            let Some(span) = ctx.span(id) else { return };
            let parent = span
                .parent()
                .and_then(|p| p.extensions().get::<Open>().map(|o| o.id))
                .unwrap_or(0);
            let mut attributes = Vec::with_capacity(attrs.fields().len());
            attrs.record(&mut Fields(&mut attributes));
            span.extensions_mut().insert(Open {
                name: attrs.metadata().name(),
                id: self.next_id.fetch_add(1, Ordering::Relaxed),
                parent,
                start: SystemTime::now(),
                attributes,
            });
        }

        fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
            if let Some(span) = ctx.span(id)
                && let Some(open) = span.extensions_mut().get_mut::<Open>()
            {
                values.record(&mut Fields(&mut open.attributes));
            }
        }

        fn on_close(&self, id: Id, ctx: Context<'_, S>) {
            let Some(span) = ctx.span(&id) else { return };
            let Some(open) = span.extensions_mut().remove::<Open>() else {
                return;
            };
            let finished = Finished {
                span: open,
                end: SystemTime::now(),
            };
            self.queue.lock().expect("queue lock").push(finished);
            self.finished.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Runs one phase in this process: warm-up, then `rounds` timed investigations. Returns the summary and,
/// for "on" and "floor", a line about what they recorded.
fn run_phase(phase: Phase, warmup: usize, rounds: usize) -> (Summary, Option<String>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let data = tempfile::tempdir().expect("a temporary data directory");
    let floor_spans = (phase == Phase::Floor).then(|| {
        use tracing_subscriber::{Layer, layer::SubscriberExt};
        let (layer, finished) = floor::FloorLayer::new();
        let subscriber = tracing_subscriber::registry()
            .with(layer.with_filter(sre_telemetry::pipeline::sre_targets()));
        tracing::subscriber::set_global_default(subscriber).expect("no subscriber installed yet");
        finished
    });
    runtime.block_on(async {
        // The child of an "off" phase runs with OTEL_SDK_DISABLED=true, so this installs logs only.
        let guard = matches!(phase, Phase::Off | Phase::On).then(|| {
            let config = TelemetryConfig::from_env(AGENT_SERVICE_NAME, data.path())
                .expect("the telemetry configuration");
            sre_telemetry::install(&config).expect("telemetry installs")
        });
        let mut options = SystemOptions::new(Arc::new(OfflineModel::new()));
        options.tools.cache = None;
        let system = System::start(options).await.expect("the system starts");
        investigate(&system, warmup).await;
        let (times, cpu) = investigate(&system, rounds).await;
        system.shutdown().await;
        let Some(guard) = guard else {
            let note = floor_spans.map(|finished| {
                format!(
                    "floor recorded {:.0} spans per investigation",
                    finished.load(std::sync::atomic::Ordering::Relaxed) as f64
                        / (warmup + rounds) as f64
                )
            });
            return (summarize(times, cpu), note);
        };
        let dropped = guard.dropped_spans();
        let stats = guard.recorder().stats();
        let trace_file = guard.trace_file().map(std::path::Path::to_owned);
        tokio::task::spawn_blocking(move || guard.shutdown())
            .await
            .expect("shutdown task")
            .expect("telemetry shuts down");
        let note = (phase == Phase::On).then(|| {
            let bytes = trace_file
                .and_then(|p| std::fs::metadata(p).ok())
                .map_or(0, |m| m.len());
            format!(
                "spans dropped {dropped}; trace file {:.1} KiB per investigation; metric values \
                 accepted {} dropped {}",
                bytes as f64 / 1024.0 / (warmup + rounds) as f64,
                stats.accepted,
                stats.dropped + stats.overflowed + stats.sink_dropped
            )
        });
        (summarize(times, cpu), note)
    })
}

/// Runs one phase in a child process and reads its figures back.
fn child(phase: Phase, rounds: usize) -> (Summary, Option<String>) {
    let exe = std::env::current_exe().expect("the benchmark's own path");
    let mut cmd = Command::new(exe);
    cmd.args(["--bench", PHASE_ARG, phase.as_str(), "--rounds"])
        .arg(rounds.to_string());
    phase.configure(&mut cmd);
    let output = cmd.output().expect("the benchmark runs itself");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "the {} phase failed: {}\n{}",
        phase.as_str(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix(RESULT))
        .unwrap_or_else(|| panic!("the {} phase printed no result: {stdout}", phase.as_str()));
    let mut parts = line.split('\t').skip(1);
    let mut nanos = || {
        Duration::from_nanos(
            parts
                .next()
                .and_then(|v| v.parse().ok())
                .expect("a figure in nanoseconds"),
        )
    };
    let (median, mean, p95, cpu) = (nanos(), nanos(), nanos(), nanos());
    let note = parts.next().filter(|n| !n.is_empty()).map(str::to_owned);
    let summary = Summary {
        median,
        mean,
        p95,
        cpu: (!cpu.is_zero()).then_some(cpu),
    };
    (summary, note)
}

/// Copies the files of `from` into `to`, recursively.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// Wall time of one `sre-agent --prompt` run in `data` (a data directory of its own), telemetry off or on.
fn command(data: &Path, phase: Phase) -> Duration {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sre-agent"));
    cmd.args(["--prompt", QUESTION, "--no-markdown"])
        .env("SRE_DATA_DIR", data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    phase.configure(&mut cmd);
    let started = Instant::now();
    let status = cmd.status().expect("sre-agent runs");
    let took = started.elapsed();
    assert!(status.success(), "sre-agent --prompt failed: {status}");
    took
}

/// `pairs` off/on pairs of whole commands, alternating which runs first; medians and overhead printed.
fn whole_commands(pairs: usize) {
    let root = tempfile::tempdir().expect("a temporary directory");
    let seeded = root.path().join("seeded");
    // The first start seeds the bundled user preferences; every timed run starts from what it left.
    command(&seeded, Phase::Off);
    let (mut off, mut on) = (Vec::new(), Vec::new());
    for pair in 0..pairs {
        let order = if pair % 2 == 0 {
            [Phase::Off, Phase::On]
        } else {
            [Phase::On, Phase::Off]
        };
        for phase in order {
            let data = root.path().join(format!("run-{pair}-{}", phase.as_str()));
            copy_dir(&seeded, &data).expect("a copy of the seeded data directory");
            let took = command(&data, phase);
            if phase == Phase::On {
                on.push(took.as_secs_f64());
            } else {
                off.push(took.as_secs_f64());
            }
            let _ = std::fs::remove_dir_all(&data);
        }
    }
    let (off, on) = (median(off), median(on));
    println!(
        "Telemetry overhead on the whole command (`sre-agent --prompt`, start to exit, {pairs} off/on pairs): \
         off {:.2} ms, on {:.2} ms (median): {:+.2} ms, {:+.2} %",
        off * 1000.0,
        on * 1000.0,
        (on - off) * 1000.0,
        (on / off - 1.0) * 100.0
    );
}

fn arg_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1).cloned())
}

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(phase) = arg_value(&args, PHASE_ARG) {
        let phase = Phase::parse(&phase).expect("a phase name: none, off or on");
        let rounds = arg_value(&args, "--rounds")
            .and_then(|v| v.parse().ok())
            .unwrap_or(ROUNDS);
        let (s, note) = run_phase(phase, WARMUP, rounds);
        println!(
            "{RESULT}\t{}\t{}\t{}\t{}\t{}",
            s.median.as_nanos(),
            s.mean.as_nanos(),
            s.p95.as_nanos(),
            s.cpu.unwrap_or_default().as_nanos(),
            note.unwrap_or_default()
        );
        return;
    }
    // `cargo test --benches` runs bench targets without `--bench`: one round of each phase (none and on
    // in this process, none first: telemetry cannot be removed once installed; off and floor in children)
    // and one pair of whole commands, as a smoke test.
    if !args.iter().any(|a| a == "--bench") {
        run_phase(Phase::None, 1, 1);
        child(Phase::Off, 1);
        let (_, floor) = child(Phase::Floor, 1);
        assert!(
            floor.is_some_and(|note| !note.starts_with("floor recorded 0 ")),
            "the floor layer recorded the investigation's spans"
        );
        run_phase(Phase::On, 1, 1);
        whole_commands(1);
        return;
    }

    let rounds_of_phases = env_count("BENCH_PAIRS", PAIRS);
    let rounds = env_count("BENCH_ROUNDS", ROUNDS);
    println!(
        "Telemetry overhead on a full offline investigation: {rounds_of_phases} rounds of four processes \
         (none: nothing installed; off: OTEL_SDK_DISABLED=true; on: the defaults; floor: the least a span \
         recorder must do on the actor path, nothing else installed), {rounds} timed investigations each \
         after {WARMUP} warm-up ones (four agents, in-process backends, tool cache off)"
    );
    println!(
        "  {:<5} {:<5} {:>10} {:>10} {:>10} {:>10}",
        "round", "", "median", "mean", "p95", "cpu/inv"
    );
    let mut nones = Vec::new();
    let (mut wall_off, mut wall_none, mut cpu_off) = (Vec::new(), Vec::new(), Vec::new());
    let mut wall_floor = Vec::new();
    let (mut last_note, mut floor_note) = (None, None);
    for round in 0..rounds_of_phases {
        // none, off, on, floor / off, on, floor, none / ...
        let mut order = Phase::ALL;
        order.rotate_left(round % Phase::ALL.len());
        let mut summaries = [None; Phase::ALL.len()];
        for phase in order {
            let (s, note) = child(phase, rounds);
            println!(
                "  {:<5} {:<5} {:>8.3}ms {:>8.3}ms {:>8.3}ms {:>10}",
                round + 1,
                phase.as_str(),
                ms(s.median),
                ms(s.mean),
                ms(s.p95),
                s.cpu
                    .map_or_else(|| "n/a".to_owned(), |c| format!("{:.3}ms", ms(c)))
            );
            match phase {
                Phase::On => last_note = note,
                Phase::Floor => floor_note = note,
                Phase::None | Phase::Off => {}
            }
            summaries[phase as usize] = Some(s);
        }
        let [none, off, on, floor] = summaries.map(|s| s.expect("every phase ran"));
        nones.push(none.median.as_secs_f64());
        wall_floor.push(percent(none.median, floor.median));
        wall_off.push(percent(off.median, on.median));
        wall_none.push(percent(none.median, on.median));
        if let (Some(a), Some(b)) = (off.cpu, on.cpu) {
            cpu_off.push(percent(a, b));
        }
    }
    let spread = {
        let lo = nones.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = nones.iter().copied().fold(0.0, f64::max);
        (hi / lo - 1.0) * 100.0
    };
    let per_round = |values: &[f64]| {
        values
            .iter()
            .map(|p| format!("{p:+.2} %"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    println!(
        "  wall-time overhead, on vs off (median of the rounds' medians): {:+.2} %   target ≤ 1 %",
        median(wall_off.clone())
    );
    println!("    per round: {}", per_round(&wall_off));
    println!(
        "  wall-time overhead, on vs nothing installed: {:+.2} %",
        median(wall_none.clone())
    );
    println!("    per round: {}", per_round(&wall_none));
    println!(
        "  wall-time overhead, floor vs nothing installed (what any span recorder costs here at least): \
         {:+.2} %",
        median(wall_floor.clone())
    );
    println!("    per round: {}", per_round(&wall_floor));
    if !cpu_off.is_empty() {
        println!(
            "  CPU-time overhead, on vs off (all threads, exporters included): {:+.2} % (median of rounds)",
            median(cpu_off)
        );
    }
    println!(
        "  noise floor: the medians of the runs with nothing installed differ by up to {spread:.2} %"
    );
    if let Some(note) = last_note {
        println!("  telemetry: {note}");
    }
    if let Some(note) = floor_note {
        println!("  {note}");
    }
    whole_commands(env_count("BENCH_COMMANDS", COMMANDS));
}
