//! A TTL cache of read-only tool results, keyed by tool name and canonical arguments.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::Value;

use super::ToolOutput;

/// Cache limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// How long a result stays fresh.
    pub ttl: Duration,
    /// Most entries kept; the oldest go first.
    pub max_entries: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            max_entries: 1024,
        }
    }
}

/// Hits and misses so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
}

/// The cache. Its lock is never held across an await.
#[derive(Debug)]
pub struct ResultCache {
    config: CacheConfig,
    entries: Mutex<HashMap<String, (Instant, ToolOutput)>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl ResultCache {
    pub fn new(config: CacheConfig) -> Self {
        Self {
            config,
            entries: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    /// The cache key of a call: the tool name and its arguments with object keys sorted.
    pub fn key(tool: &str, arguments: &Value) -> String {
        let mut key = String::with_capacity(tool.len() + 64);
        key.push_str(tool);
        key.push('\u{1f}');
        write_canonical(arguments, &mut key);
        key
    }

    /// A fresh result for `key`, counting the hit or miss.
    pub fn get(&self, key: &str) -> Option<ToolOutput> {
        let mut entries = self.lock();
        let found = match entries.get(key) {
            Some((stored, output)) if stored.elapsed() < self.config.ttl => Some(output.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        };
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores a result, evicting expired entries, then the oldest, when full.
    pub fn put(&self, key: String, output: ToolOutput) {
        let mut entries = self.lock();
        if entries.len() >= self.config.max_entries {
            let ttl = self.config.ttl;
            entries.retain(|_, (stored, _)| stored.elapsed() < ttl);
        }
        let oldest = (entries.len() >= self.config.max_entries)
            .then(|| {
                entries
                    .iter()
                    .min_by_key(|(_, (stored, _))| *stored)
                    .map(|(k, _)| k.clone())
            })
            .flatten();
        if let Some(oldest) = oldest {
            entries.remove(&oldest);
        }
        entries.insert(key, (Instant::now(), output));
    }

    /// Forgets everything (a tool that changes state was called).
    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, ToolOutput)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// JSON with object keys in sorted order, whatever order the map keeps them in.
fn write_canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, key) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                if let Some(v) = map.get(key) {
                    write_canonical(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn output(text: &str) -> ToolOutput {
        ToolOutput {
            text: text.into(),
            is_error: false,
            cached: false,
        }
    }

    #[test]
    fn keys_ignore_argument_order() {
        let a = ResultCache::key("t", &json!({"b": 1, "a": {"y": [1, 2], "x": null}}));
        let b = ResultCache::key("t", &json!({"a": {"x": null, "y": [1, 2]}, "b": 1}));
        assert_eq!(a, b);
        assert_ne!(
            a,
            ResultCache::key("u", &json!({"b": 1, "a": {"y": [1, 2], "x": null}}))
        );
    }

    #[test]
    fn entries_expire_and_are_counted() {
        let cache = ResultCache::new(CacheConfig {
            ttl: Duration::from_millis(0),
            max_entries: 4,
        });
        cache.put("k".into(), output("v"));
        assert_eq!(cache.get("k"), None, "a zero TTL never serves");
        let cache = ResultCache::new(CacheConfig {
            ttl: Duration::from_secs(60),
            max_entries: 2,
        });
        cache.put("a".into(), output("1"));
        cache.put("b".into(), output("2"));
        cache.put("c".into(), output("3"));
        assert_eq!(cache.get("a"), None, "the oldest was evicted");
        assert_eq!(cache.get("c").map(|o| o.text), Some("3".into()));
        assert_eq!(cache.stats(), CacheStats { hits: 1, misses: 1 });
        cache.clear();
        assert_eq!(cache.get("c"), None);
    }
}
