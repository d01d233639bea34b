//! The local cache of pulled pages: plain files under `PullOptions::cache_dir`, one directory
//! per source. Streams (paged endpoints) are journals of numbered pages written atomically
//! (temp file + rename), so a pull that dies mid-way resumes after the last page saved; single
//! documents (a canonical export, a conversation) are blobs under a key.

use super::SourceError;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The cache of one source; a no-op when no cache directory was given.
#[derive(Debug, Clone)]
pub struct Cache {
    root: Option<PathBuf>,
    source: String,
}

/// One saved page of a stream (`key` is the digest of the stream's key): its body, the vendor's cursor of the page after it (null when
/// the vendor has none), whether the pull stopped there, and whether the window needs nothing
/// after it (then a rerun sends no request at all).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedPage {
    pub key: String,
    pub next: serde_json::Value,
    pub done: bool,
    pub complete: bool,
    pub body: serde_json::Value,
}

/// The saved pages of one stream, in order.
#[derive(Debug)]
pub struct Journal {
    dir: Option<PathBuf>,
    key: String,
    source: String,
    pub pages: Vec<SavedPage>,
}

impl Cache {
    pub fn new(dir: Option<&Path>, source: &str) -> Cache {
        Cache {
            root: dir.map(|d| d.join(file_name(source))),
            source: source.to_string(),
        }
    }

    fn path(&self, ns: &str, key: &str, ext: &str) -> Option<PathBuf> {
        self.root
            .as_ref()
            .map(|r| r.join(ns).join(format!("{:016x}.{ext}", fnv1a(key))))
    }

    /// A blob saved under `key`, with the metadata saved alongside it.
    pub fn get(&self, ns: &str, key: &str) -> Option<(Vec<u8>, serde_json::Value)> {
        let meta_path = self.path(ns, key, "meta.json")?;
        let meta: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&meta_path).ok()?).ok()?;
        // The key's digest is stored in the metadata: a collision of the file name reads as a
        // miss.
        if meta.get("key").and_then(|k| k.as_str()) != Some(digest(key).as_str()) {
            return None;
        }
        let body = std::fs::read(self.path(ns, key, "body")?).ok()?;
        Some((body, meta))
    }

    /// Saves a blob; the metadata (an object) is saved with its key's digest (never the key
    /// itself: keys are URLs, and a URL's query may carry an API key).
    pub fn put(
        &self,
        ns: &str,
        key: &str,
        body: &[u8],
        mut meta: serde_json::Value,
    ) -> Result<(), SourceError> {
        let (Some(body_path), Some(meta_path)) =
            (self.path(ns, key, "body"), self.path(ns, key, "meta.json"))
        else {
            return Ok(());
        };
        if let Some(obj) = meta.as_object_mut() {
            obj.insert("key".into(), digest(key).into());
        }
        // Body first, metadata last: a crash in between leaves a miss, never a torn hit.
        write_atomic(&self.source, &body_path, body)?;
        write_atomic(
            &self.source,
            &meta_path,
            &serde_json::to_vec(&meta).unwrap_or_default(),
        )
    }

    /// The journal of the stream named `key` (e.g. the endpoint and its start time), with the
    /// pages saved so far. A page that cannot be read ends the journal there (it is pulled again).
    pub fn journal(&self, ns: &str, key: &str) -> Journal {
        let dir = self.root.as_ref().map(|r| {
            r.join(ns)
                .join(format!("{}-{:016x}", file_name(ns), fnv1a(key)))
        });
        let mut pages = Vec::new();
        if let Some(dir) = &dir {
            for i in 0.. {
                let Ok(bytes) = std::fs::read(dir.join(page_file(i))) else {
                    break;
                };
                match serde_json::from_slice::<SavedPage>(&bytes) {
                    Ok(p) if p.key == digest(key) => pages.push(p),
                    _ => break,
                }
            }
        }
        Journal {
            dir,
            key: key.to_string(),
            source: self.source.clone(),
            pages,
        }
    }
}

impl Journal {
    /// Saves the next page (before its rows are used, so a crash never loses one).
    pub fn append(
        &mut self,
        next: serde_json::Value,
        done: bool,
        complete: bool,
        body: serde_json::Value,
    ) -> Result<(), SourceError> {
        let page = SavedPage {
            key: digest(&self.key),
            next,
            done,
            complete,
            body,
        };
        if let Some(dir) = &self.dir {
            let bytes = serde_json::to_vec(&page).unwrap_or_default();
            write_atomic(&self.source, &dir.join(page_file(self.pages.len())), &bytes)?;
        }
        self.pages.push(page);
        Ok(())
    }
}

impl Journal {
    /// Saves a new version of the last page in its place (a page asked for again).
    pub fn replace_last(
        &mut self,
        next: serde_json::Value,
        done: bool,
        complete: bool,
        body: serde_json::Value,
    ) -> Result<(), SourceError> {
        self.pages.pop();
        self.append(next, done, complete, body)
    }
}

fn page_file(i: usize) -> String {
    format!("page-{i:06}.json")
}

fn write_atomic(source: &str, path: &Path, bytes: &[u8]) -> Result<(), SourceError> {
    let err = |e: std::io::Error| SourceError::Cache {
        name: source.to_string(),
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(err)?;
    std::fs::rename(&tmp, path).map_err(err)
}

/// A name safe as one path component.
fn file_name(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(40)
        .collect();
    if cleaned.is_empty() {
        "_".into()
    } else {
        cleaned
    }
}

/// What the cache writes to disk for a key: its SHA-256 (hex), so a key that is a URL with a
/// secret in its query never lands on disk in clear.
fn digest(key: &str) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// FNV-1a, 64 bit. Hand-written (six lines) because cache file names must stay the same across
/// Rust releases, which `DefaultHasher` does not promise.
fn fnv1a(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_survives_reopen_and_stops_at_a_torn_page() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Some(dir.path()), "zd");
        let mut j = cache.journal("events", "start=0");
        j.append(
            serde_json::json!(10),
            false,
            false,
            serde_json::json!({"a": 1}),
        )
        .unwrap();
        j.append(
            serde_json::json!(20),
            false,
            false,
            serde_json::json!({"a": 2}),
        )
        .unwrap();
        assert_eq!(cache.journal("events", "start=0").pages.len(), 2);
        // Another stream key sees nothing.
        assert_eq!(cache.journal("events", "start=5").pages.len(), 0);
        // A torn second page ends the journal after the first.
        let jdir = j.dir.clone().unwrap();
        std::fs::write(jdir.join(page_file(1)), b"{\"key\":").unwrap();
        let j2 = cache.journal("events", "start=0");
        assert_eq!(j2.pages.len(), 1);
        assert_eq!(j2.pages[0].next, serde_json::json!(10));
    }

    fn walk(dir: &Path) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
        out
    }

    #[test]
    fn blobs_round_trip_and_disabled_cache_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(Some(dir.path()), "x");
        cache
            .put("doc", "k1", b"body", serde_json::json!({"etag": "\"v1\""}))
            .unwrap();
        let (body, meta) = cache.get("doc", "k1").unwrap();
        assert_eq!(body, b"body");
        assert_eq!(meta["etag"], "\"v1\"");
        assert!(cache.get("doc", "k2").is_none());
        // Keys are URLs: what is on disk never holds one (a query may carry an API key).
        let url_key = "https://h.example/e.csv?api_key=sekrit-123";
        cache
            .put("doc", url_key, b"b", serde_json::json!({}))
            .unwrap();
        assert!(cache.get("doc", url_key).is_some());
        let mut j = cache.journal("s", url_key);
        j.append(serde_json::json!(null), true, true, serde_json::json!({}))
            .unwrap();
        assert_eq!(cache.journal("s", url_key).pages.len(), 1);
        for entry in walk(dir.path()) {
            let text = String::from_utf8_lossy(&std::fs::read(&entry).unwrap()).into_owned();
            assert!(!text.contains("sekrit-123"), "{}: {text}", entry.display());
        }
        let off = Cache::new(None, "x");
        off.put("doc", "k1", b"b", serde_json::json!({})).unwrap();
        assert!(off.get("doc", "k1").is_none());
    }
}
