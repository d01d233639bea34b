//! The one way CPU-bound work (polars queries, decoding exports, rendering) leaves the async
//! runtime, so a pull's HTTP, the scheduler's timers and the trigger endpoint keep answering
//! while a million conversations are computed.
//!
//! Not `tokio::task::spawn_blocking`: polars calls `tokio::task::block_in_place` internally,
//! which panics on a thread that belongs to a current-thread runtime (the one `#[tokio::test]`
//! gives); a plain thread outside any runtime works under every runtime flavour. Threads are
//! started per step, a handful per run, so a pool would buy nothing.

/// The work panicked (or its thread could not start): a bug, reported with what was running.
#[derive(Debug, thiserror::Error)]
#[error("{what} stopped unexpectedly ({reason}); please report this with the command you ran")]
pub struct Offloaded {
    pub what: &'static str,
    pub reason: String,
}

/// Runs `work` on its own thread and awaits its result without blocking the runtime.
pub async fn cpu<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Offloaded> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name(format!("baton-{}", what.replace(' ', "-")))
        // polars plans deep expression trees; its optimizer recurses further than a 2 MiB
        // thread stack allows in unoptimised builds.
        .stack_size(32 << 20)
        .spawn(move || {
            let _ = tx.send(work());
        })
        .map_err(|e| Offloaded {
            what,
            reason: format!("cannot start a thread: {e}"),
        })?;
    rx.await.map_err(|_| Offloaded {
        what,
        reason: "it panicked".into(),
    })
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn returns_the_value_and_reports_a_panic() {
        assert_eq!(super::cpu("adding", || 2 + 2).await.unwrap(), 4);
        let err = super::cpu("failing", || -> u8 { panic!("boom") })
            .await
            .unwrap_err();
        assert_eq!(err.what, "failing");
        assert!(err.to_string().contains("failing stopped unexpectedly"));
    }
}
