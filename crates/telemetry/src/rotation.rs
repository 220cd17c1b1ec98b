//! Keeps the local telemetry files (the OTLP-JSON trace file, the EMF metric file) bounded: when a process
//! starts and finds one larger than the limit, it renames it to its previous-generation name
//! (`traces.jsonl` → `traces.1.jsonl`, replacing an older one) and starts a new file, so each file takes at
//! most about twice the limit on disk. Readers look at both generations ([`previous`]).
//!
//! Several processes may share a data directory (`sre-agent` runs, `backends serve`): the check and the
//! rename happen under an exclusive lock on the file, so two processes starting together rotate it once. A
//! process that still has the old file open keeps appending to it under its new name, where readers find it.

use std::{
    fs::File,
    io,
    path::{Path, PathBuf},
};

/// The previous generation of `path`: `.1` before the extension (`traces.jsonl` → `traces.1.jsonl`), or
/// after the name when it has none.
pub fn previous(path: &Path) -> PathBuf {
    let stem = path.file_stem().unwrap_or(path.as_os_str());
    let mut name = stem.to_os_string();
    name.push(".1");
    if let Some(extension) = path.extension() {
        name.push(".");
        name.push(extension);
    }
    path.with_file_name(name)
}

/// Renames `path` to [`previous`]`(path)` when it is larger than `max_bytes`; returns whether it did. A
/// missing file is not an error (there is nothing to rotate).
pub fn rotate_if_larger(path: &Path, max_bytes: u64) -> io::Result<bool> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    if file.metadata()?.len() <= max_bytes {
        return Ok(false);
    }
    file.lock()?;
    // Another process may have rotated it while this one waited: `path` is then a new, small file.
    let still_large = match std::fs::metadata(path) {
        Ok(meta) => meta.len() > max_bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => false,
        Err(e) => return Err(e),
    };
    if still_large {
        std::fs::rename(path, previous(path))?;
    }
    // The lock goes with `file`.
    Ok(still_large)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_previous_generation_keeps_the_extension() {
        assert_eq!(
            previous(Path::new("/data/traces/traces.jsonl")),
            Path::new("/data/traces/traces.1.jsonl")
        );
        assert_eq!(previous(Path::new("spans")), Path::new("spans.1"));
    }

    #[test]
    fn only_a_file_over_the_limit_is_rotated_and_the_older_generation_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("traces.jsonl");
        assert!(
            !rotate_if_larger(&path, 10).unwrap(),
            "no file, nothing to do"
        );

        std::fs::write(&path, "0123456789").unwrap();
        assert!(!rotate_if_larger(&path, 10).unwrap(), "at the limit");
        assert!(path.exists());

        std::fs::write(&path, "first generation\n").unwrap();
        assert!(rotate_if_larger(&path, 10).unwrap());
        assert!(!path.exists());
        let old = previous(&path);
        assert_eq!(std::fs::read_to_string(&old).unwrap(), "first generation\n");

        std::fs::write(&path, "second generation\n").unwrap();
        assert!(rotate_if_larger(&path, 10).unwrap());
        assert_eq!(
            std::fs::read_to_string(&old).unwrap(),
            "second generation\n"
        );
    }
}
