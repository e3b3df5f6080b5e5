//! Gives the system back the memory the allocator keeps after a burst of work ends.
//!
//! glibc's `free` hands pages back to the kernel only from the top of a heap. After a burst
//! of transfers, listings or logins, the freed chunks below a still-live allocation stay
//! resident: an idle daemon then carried the burst's peak for good (bench/ W7, 1,000 idle
//! sessions after the other workloads: about 18 MiB for the whole process against 15 MiB for
//! a fresh one). `malloc_trim(0)` walks every arena and returns each free page with
//! `madvise`, which is what [`trim_when_quiet`] calls once the server settles.
//!
//! `unsafe` code: a call into glibc with no pointer and no precondition (the crate's other one
//! is `fcntl(F_SETLEASE)` in `storage/spare.rs`). Everything else stays under
//! `unsafe_code = "deny"`.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::ftp::server::Stats;

/// How often [`trim_when_quiet`] looks at the server's counts: a burst is trimmed between
/// half a second and a second after it ends.
const TICK: Duration = Duration::from_millis(500);
/// During continuous activity, the longest time between two trims.
const BUSY_TRIM_EVERY: Duration = Duration::from_secs(30);

/// Asks the allocator to return its free pages to the system; whether it returned any. Does
/// nothing (false) outside glibc: musl's and other systems' allocators return memory by
/// themselves, and have no such call.
pub fn release() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `malloc_trim` takes no pointer and has no precondition; glibc serialises
        // it with every other allocator call (malloc_trim(3): MT-Safe).
        #[allow(unsafe_code)]
        let released = unsafe { libc::malloc_trim(0) };
        released == 1
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    false
}

/// Runs until aborted: trims the allocator ([`release`]) once a control connection closed,
/// a login was done or a transfer ended and then a whole [`TICK`] passed without another
/// (so a burst
/// is trimmed once, after it), or every [`BUSY_TRIM_EVERY`] while endings never stop. An idle
/// server costs two atomic reads a second.
///
/// The trim runs on a blocking thread, never on an executor thread: it locks each arena while
/// it walks it.
pub async fn trim_when_quiet(stats: Arc<Stats>) {
    trim_when_quiet_with(stats, release).await;
}

/// [`trim_when_quiet`] with `trim` in place of [`release`] (tests count the calls).
async fn trim_when_quiet_with(stats: Arc<Stats>, trim: fn() -> bool) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut trimmed_at = stats.ended.load(Ordering::Relaxed);
    let mut last_seen = trimmed_at;
    let mut last_trim = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        let now = stats.ended.load(Ordering::Relaxed);
        let quiet = now == last_seen;
        last_seen = now;
        if now == trimmed_at || !(quiet || last_trim.elapsed() >= BUSY_TRIM_EVERY) {
            continue;
        }
        let released = tokio::task::spawn_blocking(trim).await.unwrap_or(false);
        tracing::trace!(released, "allocator trimmed");
        trimmed_at = now;
        last_trim = tokio::time::Instant::now();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    #[test]
    fn release_gives_back_the_pages_of_freed_memory() {
        // Many small blocks, then all but every 64th freed: each run of 63 freed blocks
        // (about 250 KB, whole pages) sits between live ones, where free() alone cannot
        // return it to the system whatever else the heap holds.
        let mut blocks: Vec<Option<Vec<u8>>> =
            (0..4096).map(|i| Some(vec![i as u8; 4000])).collect();
        for (i, block) in blocks.iter_mut().enumerate() {
            if i % 64 != 63 {
                *block = None;
            }
        }
        let released = release();
        assert_eq!(
            released,
            cfg!(all(target_os = "linux", target_env = "gnu")),
            "about 16 MB freed between live blocks: glibc returns some of it"
        );
        drop(blocks);
    }

    #[tokio::test(start_paused = true)]
    async fn trims_once_after_a_burst_and_not_while_idle() {
        static TRIMS: AtomicUsize = AtomicUsize::new(0);
        fn count() -> bool {
            TRIMS.fetch_add(1, Ordering::Relaxed);
            true
        }
        let stats = Arc::new(Stats::default());
        let trimmer = tokio::spawn(trim_when_quiet_with(Arc::clone(&stats), count));
        let trims = || TRIMS.load(Ordering::Relaxed);
        tokio::time::sleep(TICK * 5).await;
        assert_eq!(trims(), 0, "nothing ended: no trim");
        // A burst: endings in three consecutive ticks, then quiet.
        for _ in 0..3 {
            stats.ended.fetch_add(10, Ordering::Relaxed);
            tokio::time::sleep(TICK).await;
        }
        assert_eq!(trims(), 0, "no trim while endings go on");
        tokio::time::sleep(TICK * 3).await;
        assert_eq!(trims(), 1, "one trim after the burst");
        tokio::time::sleep(TICK * 5).await;
        assert_eq!(trims(), 1, "and none while idle again");
        trimmer.abort();
    }
}
