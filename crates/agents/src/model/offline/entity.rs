//! Names in the data and how they relate: the component a pod, deployment, service or host name belongs
//! to (Kubernetes naming conventions), references to other components inside log messages, and objects a
//! Kubernetes message says are missing.

use std::sync::LazyLock;

use regex::Regex;

use crate::finding::{EntityKind, EntityRef};

static POD_HASH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"-[a-z0-9]{6,10}-[a-z0-9]{5}$").expect("constant regex"));
static SHORT_HASH: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"-[a-z0-9]{5}$").expect("constant regex"));
static ORDINAL: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"-\d+$").expect("constant regex"));
static HOST_PORT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b([a-z][a-z0-9-]*[a-z0-9](?:\.[a-z0-9-]+)*):(\d{2,5})\b").expect("constant regex")
});
static URL_HOST: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b[a-z][a-z0-9+.-]*://([a-z][a-z0-9.-]*[a-z0-9])").expect("constant regex")
});
static NAMED_PEER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b(?:to|from|upstream|downstream|calling|call|reach|reaching|contact|contacting|dependency|backend|via)\s+(?:service\s+)?['"`]?([a-z][a-z0-9]*(?:-[a-z0-9]+)+)"#,
    )
    .expect("constant regex")
});
static MISSING_OBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)\b(configmaps?|secrets?|persistentvolumeclaims?|pvc|serviceaccounts?)\s+"?'?([a-z0-9][a-z0-9.-]*[a-z0-9])"?'?\s+(?:is\s+|was\s+)?(?:not found|missing|does not exist|not exist)"#,
    )
    .expect("constant regex")
});
static MISSING_IN_OBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?i)couldn't find key \S+ in (configmap|secret) [a-z0-9-]+/([a-z0-9][a-z0-9.-]*)"#,
    )
    .expect("constant regex")
});

static SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\bsecrets?[\s:="'`/]+(?:[a-z0-9-]+/)?([a-z0-9][a-z0-9.-]*[a-z0-9])"#)
        .expect("constant regex")
});
static CERT_SUBJECT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)\b(?:cn|subject|dns|san|host(?:name)?)\s*[=:]\s*\*?\.?([a-z][a-z0-9-]*[a-z0-9])",
    )
    .expect("constant regex")
});

/// Name suffixes that say what kind of object a name is, not which component.
const KIND_SUFFIXES: &[&str] = &[
    "-deployment",
    "-deploy",
    "-statefulset",
    "-sts",
    "-service",
    "-svc",
    "-pod",
    "-server",
    "-app",
];

/// The component a name belongs to: `database-pod-7b9c4d8f2a-x5m1q`, `database-deployment`,
/// `database-service:5432` and `database-service.production.svc.cluster.local` all give `database`.
pub(crate) fn component(name: &str) -> String {
    let mut n = name.trim().to_lowercase();
    if let Some(rest) = n.split_once("://").map(|(_, r)| r.to_owned()) {
        n = rest;
    }
    n = n.split([':', '/']).next().unwrap_or_default().to_owned();
    n = n.split('.').next().unwrap_or_default().to_owned();
    n = strip_replica_suffix(&n);
    loop {
        let before = n.len();
        for suffix in KIND_SUFFIXES {
            if n.len() > suffix.len() + 1
                && let Some(stripped) = n.strip_suffix(suffix)
            {
                n = stripped.to_owned();
            }
        }
        if n.len() == before {
            return n;
        }
    }
}

/// `web-6d4f9b7c8-k2x7p` → `web`; `db-0` → `db`; a 5-character tail only when it holds a digit.
fn strip_replica_suffix(name: &str) -> String {
    if let Some(m) = POD_HASH.find(name) {
        return name[..m.start()].to_owned();
    }
    if let Some(m) = SHORT_HASH.find(name)
        && m.as_str().chars().any(|c| c.is_ascii_digit())
        && m.start() > 0
    {
        return name[..m.start()].to_owned();
    }
    if let Some(m) = ORDINAL.find(name)
        && m.start() > 0
    {
        return name[..m.start()].to_owned();
    }
    name.to_owned()
}

/// Other components a log message refers to: `host:port`, URLs, and hyphenated names after words such as
/// "to", "upstream", "calling". Names of the message's own component are left out. Returned as written.
pub(crate) fn peer_references(message: &str, own_component: &str) -> Vec<String> {
    let lower = message.to_lowercase();
    let mut refs: Vec<String> = Vec::new();
    let mut push = |candidate: &str| {
        let host = candidate.split('.').next().unwrap_or(candidate);
        if host.len() < 3 || component(host) == own_component || refs.iter().any(|r| r == host) {
            return;
        }
        refs.push(host.to_owned());
    };
    for c in HOST_PORT.captures_iter(&lower) {
        // `Arrays.java:3512` in a stack trace is a source line, not a host.
        if let Some(m) = c.get(1).filter(|m| !is_source_file(m.as_str())) {
            push(m.as_str());
        }
    }
    for c in URL_HOST.captures_iter(&lower) {
        if let Some(m) = c.get(1) {
            push(m.as_str());
        }
    }
    for c in NAMED_PEER.captures_iter(&lower) {
        if let Some(m) = c.get(1) {
            push(m.as_str());
        }
    }
    refs
}

/// Source-file extensions that turn `name.ext:line` into a stack frame.
const SOURCE_EXTENSIONS: &[&str] = &[
    "java", "kt", "scala", "groovy", "py", "rb", "go", "rs", "js", "mjs", "ts", "tsx", "jsx", "c",
    "cc", "cpp", "h", "hpp", "cs", "php", "swift", "ex", "exs", "erl", "clj",
];

fn is_source_file(host: &str) -> bool {
    host.rsplit_once('.')
        .is_some_and(|(_, ext)| SOURCE_EXTENSIONS.contains(&ext))
}

/// Objects a Kubernetes or application message reports as missing (`configmap "x" not found`).
pub(crate) fn missing_objects(message: &str) -> Vec<EntityRef> {
    let mut found: Vec<EntityRef> = Vec::new();
    let captures = MISSING_OBJECT
        .captures_iter(message)
        .chain(MISSING_IN_OBJECT.captures_iter(message));
    for c in captures {
        let (Some(kind), Some(name)) = (c.get(1), c.get(2)) else {
            continue;
        };
        let kind = kind.as_str().to_lowercase();
        let kind = match kind.trim_end_matches('s') {
            "configmap" => EntityKind::ConfigMap,
            "secret" => EntityKind::Secret,
            "persistentvolumeclaim" | "pvc" => EntityKind::Volume,
            _ => EntityKind::Other,
        };
        let entity = EntityRef::new(kind, name.as_str());
        if !found.contains(&entity) {
            found.push(entity);
        }
    }
    found
}

/// A certificate a message reports as expired, expiring or invalid: the Secrets holding it (`secret
/// payments/gw-tls`) and the host it is issued for (`CN=gw.payments.svc` → `gw`). Empty when the message is
/// not about a certificate's validity.
pub(crate) fn certificate_mentions(message: &str) -> (Vec<String>, Vec<String>) {
    let lower = message.to_lowercase();
    let about_certificate = ["certificate", "x509", "tls", " cert "]
        .iter()
        .any(|w| lower.contains(w));
    let validity = ["expir", "not yet valid", "invalid", "not after", "notafter"]
        .iter()
        .any(|w| lower.contains(w));
    if !(about_certificate && validity) {
        return (Vec::new(), Vec::new());
    }
    let mut secrets: Vec<String> = Vec::new();
    for c in SECRET_NAME.captures_iter(&lower) {
        if let Some(name) = c.get(1).map(|m| m.as_str().to_owned())
            && !["in", "for", "of", "from", "the", "is", "was"].contains(&name.as_str())
            && !secrets.contains(&name)
        {
            secrets.push(name);
        }
    }
    let mut hosts: Vec<String> = Vec::new();
    for c in CERT_SUBJECT.captures_iter(&lower) {
        if let Some(host) = c.get(1).map(|m| m.as_str().to_owned())
            && host.len() >= 3
            && !hosts.contains(&host)
        {
            hosts.push(host);
        }
    }
    (secrets, hosts)
}

/// The cause hint of failed name lookups.
pub(crate) const DNS_HINT: &str = "DNS resolution failures";

/// True when `name` is a cluster DNS server (`coredns`, `kube-dns`, `rke2-coredns-rke2-coredns`).
pub(crate) fn is_dns_server(name: &str) -> bool {
    let lower = name.to_lowercase();
    lower.contains("coredns") || lower.contains("kube-dns") || lower == "dns"
}

static IMAGE_IN_MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)\bimage\s+"?([a-z0-9][a-z0-9._/:@-]*[a-z0-9])"?"#).expect("constant regex")
});

/// The image a pull failure names (`Failed to pull image "registry/app:1.2": ... not found`).
pub(crate) fn pulled_image(message: &str) -> Option<String> {
    let lower = message.to_lowercase();
    let pull_failure = [
        "failed to pull",
        "errimagepull",
        "imagepullbackoff",
        "back-off pulling",
    ]
    .iter()
    .any(|w| lower.contains(w));
    if !pull_failure {
        return None;
    }
    IMAGE_IN_MESSAGE
        .captures(message)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_owned())
        .filter(|image| image.contains(':') || image.contains('/') || image.contains('@'))
}

/// Plain-language causes a failure message points at.
pub(crate) fn cause_hints(text: &str) -> Vec<&'static str> {
    let lower = text.to_lowercase();
    let rules: &[(&[&str], &str)] = &[
        (
            &[
                "permission denied",
                "operation not permitted",
                "eacces",
                "forbidden",
            ],
            "a permissions problem",
        ),
        (
            &[
                "not found",
                "no such file",
                "could not open",
                "missing",
                "does not exist",
            ],
            "a missing file or object",
        ),
        (
            &[
                "oomkilled",
                "out of memory",
                "outofmemory",
                "oom-kill",
                "memory limit",
            ],
            "memory exhaustion",
        ),
        (
            &[
                "imagepull",
                "errimagepull",
                "manifest unknown",
                "pull access denied",
            ],
            "an image that cannot be pulled",
        ),
        (
            &["probe failed", "liveness", "readiness"],
            "failing health probes",
        ),
        (
            &[
                "connection refused",
                "econnrefused",
                "refused connection",
                "refuses connection",
            ],
            "refused connections",
        ),
        (
            &[
                "no such host",
                "unknownhostexception",
                "eai_again",
                "name resolution",
                "could not resolve",
                "couldn't resolve",
                "nxdomain",
                "server misbehaving",
                "name or service not known",
                "dns lookup",
                "dns resolution",
            ],
            DNS_HINT,
        ),
        (&["timed out", "timeout", "deadline exceeded"], "timeouts"),
        (
            &[
                "no space left",
                "disk pressure",
                "diskpressure",
                "disk full",
            ],
            "a full disk",
        ),
        (
            &[
                "x509",
                "certificate has expired",
                "certificate expired",
                "tls handshake",
            ],
            "an expired or invalid certificate",
        ),
        (
            &[
                "pool exhausted",
                "too many connections",
                "too many clients",
                "max_connections",
                "connection slots",
                "connection limit",
                "no more connections",
            ],
            "connection exhaustion",
        ),
    ];
    rules
        .iter()
        .filter(|(needles, _)| needles.iter().any(|n| lower.contains(n)))
        .map(|(_, hint)| *hint)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_follow_kubernetes_naming() {
        assert_eq!(component("database-pod-7b9c4d8f2a-x5m1q"), "database");
        assert_eq!(component("database-deployment"), "database");
        assert_eq!(component("database-service:5432"), "database");
        assert_eq!(
            component("database-service.production.svc.cluster.local"),
            "database"
        );
        assert_eq!(component("web-service-6d4f9b7c8-k2x7p"), "web");
        assert_eq!(component("web-service"), "web");
        assert_eq!(component("product-catalog-service"), "product-catalog");
        assert_eq!(component("redis-0"), "redis");
        assert_eq!(component("session-cache"), "session-cache");
        assert_eq!(component("fluentd-x7k2p"), "fluentd");
        assert_eq!(component("service"), "service");
        assert_eq!(
            component("http://payments-api.internal:8080/v1"),
            "payments-api"
        );
    }

    #[test]
    fn peers_are_found_in_messages() {
        let msg = "Connection timeout after 5000ms to database-service:5432 (pool: user-db)";
        assert_eq!(peer_references(msg, "web"), vec!["database-service"]);
        let msg = "Upstream payment-gateway returned 503; retrying call to fraud-check";
        assert_eq!(
            peer_references(msg, "checkout"),
            vec!["payment-gateway", "fraud-check"]
        );
        assert!(peer_references("GET https://web-service.prod/health ok", "web").is_empty());
        assert!(peer_references("Out of memory", "web").is_empty());
        let frame = "java.lang.OutOfMemoryError at java.util.Arrays.copyOf(Arrays.java:3512) at UserService.java:142";
        assert!(
            peer_references(frame, "web").is_empty(),
            "stack frames are not peers"
        );
    }

    #[test]
    fn missing_objects_are_read_from_kubelet_messages() {
        let msg = r#"MountVolume.SetUp failed for volume "config" : configmap "database-config" not found"#;
        assert_eq!(
            missing_objects(msg),
            vec![EntityRef::new(EntityKind::ConfigMap, "database-config")]
        );
        let msg = "Error: secret \"api-tls\" not found";
        assert_eq!(
            missing_objects(msg),
            vec![EntityRef::new(EntityKind::Secret, "api-tls")]
        );
        let msg = "couldn't find key DB_HOST in ConfigMap production/app-settings";
        assert_eq!(
            missing_objects(msg),
            vec![EntityRef::new(EntityKind::ConfigMap, "app-settings")]
        );
        assert!(missing_objects("all good").is_empty());
    }

    #[test]
    fn certificates_name_their_secret_and_host() {
        let msg = "certificate expiring: secret payments-gateway-tls in namespace payments \
                   (CN=payments-gateway.payments.svc, issuer=\"Acme CA\") expires in 4m 1s";
        assert_eq!(
            certificate_mentions(msg),
            (
                vec!["payments-gateway-tls".to_owned()],
                vec!["payments-gateway".to_owned()]
            )
        );
        let msg = "TLS certificate in secret/edge/ingress-cert has expired";
        assert_eq!(certificate_mentions(msg).0, vec!["ingress-cert".to_owned()]);
        assert_eq!(
            certificate_mentions("secret db-password rotated"),
            (Vec::new(), Vec::new()),
            "not about a certificate"
        );
        assert_eq!(
            certificate_mentions("coupon WELCOME5 expired"),
            (Vec::new(), Vec::new())
        );
    }

    #[test]
    fn pull_failures_name_their_image_and_dns_failures_their_cause() {
        assert_eq!(
            pulled_image(
                r#"Failed to pull image "registry.acme/app:2.14.0": rpc error: not found"#
            )
            .as_deref(),
            Some("registry.acme/app:2.14.0")
        );
        assert_eq!(
            pulled_image(r#"Back-off pulling image "app:1""#).as_deref(),
            Some("app:1")
        );
        assert_eq!(pulled_image(r#"Successfully pulled image "app:1""#), None);
        assert_eq!(
            cause_hints("dial tcp: lookup fares.travel.svc on 10.43.0.10:53: no such host"),
            vec![DNS_HINT]
        );
        assert!(is_dns_server("rke2-coredns-rke2-coredns") && is_dns_server("kube-dns"));
        assert!(!is_dns_server("web-service"));
    }

    #[test]
    fn hints_name_causes() {
        let hints = cause_hints(
            "initdb: could not change permissions of directory: Operation not permitted",
        );
        assert!(hints.contains(&"a permissions problem"));
        assert_eq!(
            cause_hints("Last state: OOMKilled"),
            vec!["memory exhaustion"]
        );
    }
}
