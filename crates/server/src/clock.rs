//! The server's one clock: every run-time decision reads the time here, as Unix
//! milliseconds, and the bond's rules take it as an argument.
//!
//! The clock runs on tokio's time: the wall clock when the process first read it,
//! advanced by tokio's monotonic clock since. In a server the two are the same clock;
//! in a test under `tokio::time::pause()` the server's time stands still until the
//! test advances it, so contact, hysteresis and speeds are tested without sleeping.
//! When the wall clock is set (by NTP at boot, or by hand) by more than a second, the
//! clock follows it: a server started before the machine knew the time does not keep
//! the wrong time until it restarts.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use time::OffsetDateTime;

/// A wall-clock step smaller than this is not followed (a clock that is only being
/// slewed never steps).
const STEP_FOLLOWED_MS: i64 = 1_000;

/// The three clocks at the first reading.
struct Anchor {
    /// The wall clock, Unix milliseconds.
    wall_ms: i64,
    /// The process's monotonic clock, which tokio's pause does not stop.
    real: std::time::Instant,
    /// tokio's clock, which a test may pause and advance.
    tokio: tokio::time::Instant,
}

static ANCHOR: OnceLock<Anchor> = OnceLock::new();

/// How far the wall clock has been set since the first reading, as last followed.
static STEPPED_MS: AtomicI64 = AtomicI64::new(0);

fn wall_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The current time, Unix milliseconds.
pub fn now_ms() -> i64 {
    let anchor = ANCHOR.get_or_init(|| Anchor {
        wall_ms: wall_ms(),
        real: std::time::Instant::now(),
        tokio: tokio::time::Instant::now(),
    });
    let stepped = wall_ms() - anchor.wall_ms - anchor.real.elapsed().as_millis() as i64;
    let mut followed = STEPPED_MS.load(Ordering::Relaxed);
    if (stepped - followed).abs() > STEP_FOLLOWED_MS {
        STEPPED_MS.store(stepped, Ordering::Relaxed);
        followed = stepped;
    }
    let elapsed = tokio::time::Instant::now().saturating_duration_since(anchor.tokio);
    anchor.wall_ms + followed + elapsed.as_millis() as i64
}

/// Unix milliseconds as a timestamp.
pub fn timestamp(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_reads_the_wall_clock() {
        assert!((now_ms() - wall_ms()).abs() <= STEP_FOLLOWED_MS);
    }

    #[tokio::test(start_paused = true)]
    async fn a_paused_clock_moves_only_when_advanced() {
        let before = now_ms();
        tokio::time::advance(std::time::Duration::from_secs(90)).await;
        let after = now_ms();
        assert!((after - before - 90_000).abs() < 50, "{}", after - before);
    }
}
