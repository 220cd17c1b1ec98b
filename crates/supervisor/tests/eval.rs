//! Investigation quality as a test: the offline engine scores full marks on every bundled scenario (root-cause
//! recall, impact recall, severity, no fabricated names), through the same `sre-agent eval` a user runs.

use std::process::Command;

fn eval(extra: &[&str]) -> (bool, String) {
    let data = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_sre-agent"))
        .arg("eval")
        .args(extra)
        .env("SRE_DATA_DIR", data.path())
        .env_remove("USER_ID")
        .env_remove("LLM_PROVIDER")
        .env_remove("SRE_SCENARIO")
        .env_remove("SRE_DATASET_DIR")
        .env_remove("SRE_BACKEND_URLS")
        .output()
        .expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[test]
fn every_bundled_scenario_scores_full_marks() {
    let (ok, text) = eval(&["--min-score", "1.0"]);
    assert!(ok, "{text}");
    for scenario in [
        "database-crashloop",
        "api-latency-regression",
        "memory-leak-oom",
        "node-disk-pressure",
        "healthy-baseline",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(scenario) && l.contains("mean 1.00") && l.contains("pass")),
            "{scenario} did not pass:\n{text}"
        );
    }
    assert!(!text.contains("missed"), "{text}");
}

/// Scenarios written without reference to the engine (eval/holdout*/): the engine must keep full marks on
/// them too, so a change that only fits the bundled scenarios fails here.
#[test]
fn every_held_out_scenario_scores_full_marks() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../eval");
    let mut dirs: Vec<std::path::PathBuf> = std::fs::read_dir(&root)
        .expect("eval/ exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("holdout"))
        })
        .flat_map(|set| {
            std::fs::read_dir(set)
                .expect("a held-out set")
                .filter_map(Result::ok)
        })
        .map(|e| e.path())
        .filter(|p| p.join("expected.json").is_file())
        .collect();
    dirs.sort();
    assert!(dirs.len() >= 5, "held-out scenarios found: {dirs:?}");
    for dir in dirs {
        let path = dir.to_str().expect("a UTF-8 path");
        let (ok, text) = eval(&["--dataset-dir", path, "--min-score", "1.0"]);
        assert!(ok && !text.contains("missed"), "{path}:\n{text}");
    }
}

#[test]
fn an_impossible_threshold_is_refused_before_any_investigation() {
    let (ok, text) = eval(&["--scenario", "healthy-baseline", "--min-score", "1.5"]);
    assert!(!ok, "{text}");
    assert!(
        text.contains("--min-score must be between 0 and 1"),
        "{text}"
    );
    assert!(
        !text.contains("healthy-baseline "),
        "no question ran: {text}"
    );
}
