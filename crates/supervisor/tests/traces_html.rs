//! The HTML service map renders in a real browser: headless Chromium loads the page written for a fixture
//! and the DOM it dumps holds the service nodes, which only the page's inline script creates.

use std::{
    fs::File,
    path::{Path, PathBuf},
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use sre_supervisor::traces::{MapFormat, service_map};

/// Longest time Chromium may take to load the page and dump its DOM.
const DEADLINE: Duration = Duration::from_secs(90);

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The `chromium` executable on `PATH`; fails the test when there is none.
fn chromium() -> PathBuf {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromium"))
            .find(|candidate| candidate.is_file())
    });
    match found {
        Some(path) => path,
        None => panic!(
            "chromium is not installed, and this test needs it to render the HTML service map: run \
             `apt-get install -y chromium` (the project's test script installs it)"
        ),
    }
}

/// The DOM of `page` after its scripts ran, as headless Chromium serialises it.
fn rendered_dom(page: &Path, work: &Path) -> String {
    let browser = chromium();
    let dom_path = work.join("dom.html");
    let log_path = work.join("chromium.log");
    let profile = work.join("profile");
    let mut child = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(File::create(&dom_path).expect("create the DOM file"))
        .stderr(File::create(&log_path).expect("create the log file"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", browser.display()));
    let started = Instant::now();
    let status = loop {
        match child.try_wait().expect("poll chromium") {
            Some(status) => break status,
            None if started.elapsed() > DEADLINE => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "chromium did not dump the DOM within {DEADLINE:?}; its log:\n{}",
                    std::fs::read_to_string(&log_path).unwrap_or_default()
                );
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    };
    let dom = std::fs::read_to_string(&dom_path).expect("read the DOM");
    assert!(
        status.success() && !dom.is_empty(),
        "chromium failed ({status}); its log:\n{}",
        std::fs::read_to_string(&log_path).unwrap_or_default()
    );
    dom
}

/// `(data-service, data-health)` of every `<g class="node">` element in `dom`, whatever the attribute order.
fn drawn_nodes(dom: &str) -> Vec<(String, String)> {
    let attribute = |tag: &str, name: &str| {
        let needle = format!(" {name}=\"");
        let start = tag.find(&needle)? + needle.len();
        let end = tag[start..].find('"')? + start;
        Some(tag[start..end].to_owned())
    };
    dom.split("<g ")
        .skip(1)
        .filter_map(|rest| {
            let tag = format!(" {}", &rest[..rest.find('>')?]);
            (attribute(&tag, "class")? == "node")
                .then(|| {
                    Some((
                        attribute(&tag, "data-service")?,
                        attribute(&tag, "data-health")?,
                    ))
                })
                .flatten()
        })
        .collect()
}

fn render(fixture_name: &str) -> (String, tempfile::TempDir) {
    let work = tempfile::tempdir().expect("temp dir");
    let report = service_map(&fixture(fixture_name), None).expect("read the fixture");
    let page = work.path().join("service-map.html");
    std::fs::write(&page, report.render(MapFormat::Html).expect("render")).expect("write page");
    let dom = rendered_dom(&page, work.path());
    (dom, work)
}

#[test]
fn chromium_draws_every_service_of_the_real_map() {
    let (dom, _work) = render("traces_real.jsonl");
    assert!(
        dom.contains("data-rendered=\"10\""),
        "the script did not finish:\n{dom}"
    );
    let nodes = drawn_nodes(&dom);
    let services: Vec<&str> = nodes.iter().map(|(s, _)| s.as_str()).collect();
    for expected in [
        "sre-agent",
        "kubernetes-agent",
        "logs-agent",
        "metrics-agent",
        "runbooks-agent",
        "k8s-backend",
        "logs-backend",
        "metrics-backend",
        "runbooks-backend",
        "sre.offline",
    ] {
        assert!(
            services.contains(&expected),
            "{expected} not drawn; drawn: {services:?}"
        );
    }
    assert_eq!(nodes.len(), 10, "{services:?}");
    assert!(
        dom.contains("data-from=\"sre-agent\" data-to=\"kubernetes-agent\""),
        "edges are drawn"
    );
    assert!(dom.contains("class=\"wf-row\""), "the waterfall is there");
}

#[test]
fn chromium_draws_the_dead_backend_as_failing() {
    let (dom, _work) = render("traces_dead_backend.jsonl");
    let nodes = drawn_nodes(&dom);
    assert!(
        nodes.contains(&("k8s-backend".to_owned(), "fault".to_owned())),
        "{nodes:?}"
    );
    assert!(
        nodes.contains(&("logs-backend".to_owned(), "ok".to_owned())),
        "{nodes:?}"
    );
    assert!(
        dom.contains(
            "data-from=\"kubernetes-agent\" data-to=\"k8s-backend\" data-health=\"fault\""
        ),
        "the failing edge is drawn red"
    );
}
