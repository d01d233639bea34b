//! The outbox transport: each message written as `<dir>/<period>-<owner_id>.eml` (the full
//! RFC 5322 message) plus `<...>.html`, a preview to open in a browser, with the charts beside
//! it as `<...>.<chart>.png` (the preview's `cid:` references point at those files).

use super::{DataGate, SendError, Transport};
use crate::deliver::Outgoing;
use crate::report::file_safe;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct Outbox {
    dir: PathBuf,
}

impl Outbox {
    pub fn new(dir: impl Into<PathBuf>) -> Outbox {
        Outbox { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// `<period>-<owner>`, plus `.<report>` for a message that is not the owner's report
    /// (an alert), so it never overwrites the report.
    fn stem(msg: &Outgoing) -> String {
        let mut stem = format!("{}-{}", file_safe(&msg.key.period), msg.owner);
        if msg.key.report.starts_with("alert-") {
            stem.push('.');
            stem.push_str(&file_safe(&msg.key.report));
        }
        stem
    }

    /// The `.eml` and `.html` paths of a message.
    pub fn paths(&self, msg: &Outgoing) -> (PathBuf, PathBuf) {
        let stem = Self::stem(msg);
        (
            self.dir.join(format!("{stem}.eml")),
            self.dir.join(format!("{stem}.html")),
        )
    }

    fn write(&self, msg: &Outgoing) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let (eml, html) = self.paths(msg);
        write_atomic(&eml, &msg.message.formatted())?;
        let mut preview = msg.html.clone();
        for (img, path) in msg.images.iter().zip(self.image_paths(msg)) {
            write_atomic(&path, &img.png)?;
            let file = path.file_name().unwrap_or_default().to_string_lossy();
            preview = preview.replace(&format!("cid:{}", img.content_id), &file);
        }
        write_atomic(&html, preview.as_bytes())
    }

    /// Where the preview's images go: `<period>-<owner>.<chart>.png`, in image order.
    pub fn image_paths(&self, msg: &Outgoing) -> Vec<PathBuf> {
        let stem = Self::stem(msg);
        msg.images
            .iter()
            .map(|img| {
                let local = img.content_id.split('@').next().unwrap_or("chart");
                self.dir.join(format!("{stem}.{}.png", file_safe(local)))
            })
            .collect()
    }
}

/// Writes through a temporary file and a rename, so a reader (or a crash) never sees half
/// a message.
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

impl Transport for Outbox {
    fn describe(&self) -> String {
        format!("outbox {}", self.dir.display())
    }

    fn rewrites_delivered(&self) -> bool {
        true
    }

    fn rate_limited(&self) -> bool {
        false
    }

    async fn send(&self, msg: &Outgoing, gate: &dyn DataGate) -> Result<(), SendError> {
        // The files appear whole (a rename) or not at all: no point of no return to record,
        // but a ledger that cannot be written still means do not write.
        gate.data_starting().map_err(SendError::Transient)?;
        self.write(msg).map_err(|e| {
            SendError::Setup(format!(
                "cannot write to the outbox {}: {e}",
                self.dir.display()
            ))
        })
    }
}
