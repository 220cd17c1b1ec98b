//! The documentation's runnable examples work as written: `scripts/check_docs.sh` runs every ```bash runnable
//! block of the README and of docs/*.md against this build of `sre-agent` (offline, scratch data and run
//! directories), and each of the user-facing documents has such examples.

use std::{path::Path, process::Command};

#[test]
fn every_runnable_example_of_the_docs_succeeds() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = Command::new("bash")
        .arg(root.join("scripts/check_docs.sh"))
        .env("SRE_AGENT_BIN", env!("CARGO_BIN_EXE_sre-agent"))
        .env_remove("SRE_DATA_DIR")
        .env_remove("SRE_RUN_DIR")
        .env_remove("USER_ID")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("LLM_PROVIDER")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output()
        .expect("bash runs scripts/check_docs.sh");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(output.status.success(), "{text}");
    for doc in [
        "README.md",
        "docs/OBSERVABILITY_GUIDE.md",
        "docs/TROUBLESHOOTING_PLAYBOOK.md",
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(&format!("{doc}: ")) && l.contains("runnable block")),
            "{doc} has no runnable example:\n{text}"
        );
    }
}
