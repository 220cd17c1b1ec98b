//! `ProviderConfig::preflight` reports a missing credential or an unreachable endpoint in one clear line,
//! fast, and passes when the provider is usable.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use sre_agents::model::{
    provider::{ProviderConfig, ProviderError, ProviderKind},
    testing::{FakeAnthropic, FakeBedrock, FakeOpenAi, FakeReply, FakeScript},
};

/// Far above the two seconds preflight promises: the test proves it does not hang, without timing a busy machine
/// tightly (the elapsed-time checks below are generous too).
const GENEROUS: Duration = Duration::from_secs(10);

fn config(kind: ProviderKind, pairs: &[(&str, &str)]) -> ProviderConfig {
    let env: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    ProviderConfig::from_env(kind, None, |k| env.get(k).cloned()).expect("settings parse")
}

async fn preflight(config: &ProviderConfig) -> (Result<(), ProviderError>, Duration) {
    let started = Instant::now();
    let result = tokio::time::timeout(GENEROUS, config.preflight())
        .await
        .expect("preflight finishes without hanging");
    (result, started.elapsed())
}

/// A loopback port nothing listens on.
async fn closed_port() -> u16 {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let port = listener.local_addr().expect("address").port();
    drop(listener);
    port
}

fn assert_one_line(error: &ProviderError, starts: &str) {
    let text = error.to_string();
    assert!(text.starts_with(starts), "{text}");
    assert!(!text.contains('\n'), "one line: {text}");
}

#[tokio::test]
async fn bedrock_without_aws_credentials_fails_fast_with_a_clear_message() {
    // No keys in the environment given; profile files and instance metadata come from the machine, which has
    // no AWS credentials (CI also sets AWS_EC2_METADATA_DISABLED=true).
    let config = config(ProviderKind::Bedrock, &[("AWS_REGION", "us-east-1")]);
    let (result, elapsed) = preflight(&config).await;
    let error = result.expect_err("no credentials");
    assert!(
        matches!(error, ProviderError::MissingCredential { .. }),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "--provider bedrock: no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)"
    );
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[tokio::test]
async fn bedrock_with_credentials_but_an_unreachable_endpoint_says_where() {
    let port = closed_port().await;
    let url = format!("http://127.0.0.1:{port}");
    let config = config(
        ProviderKind::Bedrock,
        &[
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "example-secret"),
            ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", &url),
        ],
    );
    let (result, _) = preflight(&config).await;
    let error = result.expect_err("nothing listens");
    assert!(
        matches!(error, ProviderError::Unreachable { .. }),
        "{error:?}"
    );
    assert_one_line(&error, &format!("--provider bedrock: cannot reach {url} ("));
    assert!(
        error
            .to_string()
            .contains("AWS_ENDPOINT_URL_BEDROCK_RUNTIME")
    );
}

#[tokio::test]
async fn anthropic_without_an_api_key_fails_at_once() {
    let config = config(ProviderKind::Anthropic, &[]);
    let (result, elapsed) = preflight(&config).await;
    let error = result.expect_err("no key");
    assert_eq!(
        error.to_string(),
        "--provider anthropic: ANTHROPIC_API_KEY is not set (create a key in the Anthropic Console and export it)"
    );
    assert!(
        elapsed < Duration::from_secs(1),
        "no network needed: {elapsed:?}"
    );
    let build = config
        .build()
        .await
        .map(|_| ())
        .expect_err("build needs the key too");
    assert_eq!(build.to_string(), error.to_string());
}

#[tokio::test]
async fn an_unreachable_openai_base_url_is_reported_with_what_to_do() {
    let port = closed_port().await;
    let url = format!("http://127.0.0.1:{port}/v1");
    let config = config(ProviderKind::OpenAi, &[("OPENAI_BASE_URL", &url)]);
    let (result, elapsed) = preflight(&config).await;
    let error = result.expect_err("nothing listens");
    assert_one_line(&error, &format!("--provider openai: cannot reach {url} ("));
    assert!(
        error.to_string().contains("refused"),
        "the cause is named: {error}"
    );
    assert!(
        error
            .to_string()
            .ends_with("start the server (e.g. `ollama serve`) or set OPENAI_BASE_URL")
    );
    assert!(elapsed < Duration::from_secs(5), "took {elapsed:?}");
}

#[tokio::test]
async fn openai_itself_needs_a_key_local_servers_do_not() {
    let config = config(ProviderKind::OpenAi, &[]);
    let (result, _) = preflight(&config).await;
    assert_one_line(
        &result.expect_err("api.openai.com needs a key"),
        "--provider openai: OPENAI_API_KEY is not set",
    );
}

#[tokio::test]
async fn usable_providers_pass() {
    let script = || FakeScript::sequence([FakeReply::text("unused")]);
    let bedrock = FakeBedrock::start(script()).await.expect("fake");
    let anthropic = FakeAnthropic::start(script()).await.expect("fake");
    let openai = FakeOpenAi::start(script()).await.expect("fake");
    let configs = [
        config(
            ProviderKind::Bedrock,
            &[
                ("AWS_REGION", "us-east-1"),
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
                ("AWS_SECRET_ACCESS_KEY", "example-secret"),
                ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", bedrock.url()),
            ],
        ),
        config(
            ProviderKind::Anthropic,
            &[
                ("ANTHROPIC_API_KEY", "sk-ant"),
                ("ANTHROPIC_BASE_URL", anthropic.url()),
            ],
        ),
        config(ProviderKind::OpenAi, &[("OPENAI_BASE_URL", openai.url())]),
        config(ProviderKind::Offline, &[]),
    ];
    for config in configs {
        let (result, _) = preflight(&config).await;
        assert!(result.is_ok(), "{}: {result:?}", config.kind);
        config.build().await.expect("builds");
    }
    // The probes call no model: the scripts are untouched.
    for server in [&bedrock, &anthropic, &openai] {
        assert!(server.requests().iter().all(|r| r.method == "GET"));
    }
}
