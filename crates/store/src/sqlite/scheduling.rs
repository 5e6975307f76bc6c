//! How SQLite's connection threads share the CPU with the threads serving the links.
//!
//! sqlx runs each SQLite connection on a thread of its own (`sqlx-sqlite-worker-N`). The
//! position writer's group commit keeps that thread busy for milliseconds at a time, and
//! on a busy core every live update that arrived meanwhile waited behind it.
//!
//! - At niceness 10 the thread got a tenth of a contended core, but each turn it got
//!   was a full time slice (the kernel lets a running thread finish its slice before
//!   a woken one takes over). With 19,800 links at 1 Hz on one core, p99 was
//!   2.4-3.0 ms.
//! - Under `SCHED_IDLE`, a link's thread that wakes takes the core at once. p99 fell
//!   to 1.8-2.4 ms with the same load (`haurach bench --pairs 9900 --phases steady`,
//!   docs/benchmarks.md).
//!
//! Nothing is acknowledged sooner or later than its commit either way: the database
//! threads still run whenever the links leave the core idle.
//!
//! A core saturated by the links would leave an idle-scheduled thread almost nothing, so
//! acknowledged writes (a message, a fix over HTTP) could wait for seconds. To prevent
//! that, a write that takes longer than [`SLOW_WRITE`] while the threads spent most of it
//! waiting for the CPU raises them to the normal policy at niceness 10 (a tenth of the
//! core) until [`RAISED_FOR`] passes without such a write. A write slow for another
//! reason (the disk's flush, a long transaction before it) does not: raising would not
//! make the disk faster, and every link would pay for it. Raised threads take whole time
//! slices, and at 9,900 pairs a raise in the measured window took the p99 from about 2.5
//! to 7-13 ms (docs/benchmarks.md); the kernel's count of each thread's time spent
//! waiting to run (`/proc/self/task/TID/schedstat`) tells the two kinds of slow apart. That hold is short on purpose: 19,800 links connecting at once saturate
//! the core for a moment, and a 10 s hold kept the threads raised long after, with p99
//! back at 2.5 ms.
//!
//! A write nobody waits for (a batch of a live link's fixes alone, [`Waiting::Nobody`])
//! raises them only after [`NOBODY_WAITS_FOR`]. At 9,900 pairs on a host that stalls,
//! such batches took 1-4 s inside the measured window, and the raise that followed took
//! whole time slices from the links in their busiest seconds: four runs before, p99 27 to
//! 869 ms (median about 200), four after, 9 to 200 ms (median about 55), Mosquitto's 10-18
//! ms beside each (docs/benchmarks.md). A batch that waits takes in the newer fixes
//! meanwhile, one per account, so it grows no larger.
//!
//! Leaving `SCHED_IDLE` again needs `CAP_SYS_NICE` or an `RLIMIT_NICE` of 10 or more;
//! an ordinary user has neither by default. A process that cannot (tried once, on a
//! thread of its own, [`can_leave_idle`]) keeps its database threads at niceness 10
//! instead, with no raise needed.
//!
//! Linux only; elsewhere the threads keep the process's scheduling.

#[cfg(target_os = "linux")]
use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::places::Waiting;

/// Unix milliseconds by the system clock: when the last slow write was, shared between
/// the connections' threads in one atomic.
fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A write someone waits for, slower than this, raises the database threads (one nobody
/// waits for only after [`NOBODY_WAITS_FOR`]).
pub(super) const SLOW_WRITE: Duration = Duration::from_secs(1);

/// How long a write nobody waits for ([`Waiting::Nobody`]) may be kept from the CPU by
/// the live links before the database threads take some of it back: on a saturated core,
/// the positions a crash could lose are at most about this much of a moving person's
/// track.
pub const NOBODY_WAITS_FOR: Duration = Duration::from_secs(10);

/// How long the threads stay raised after the last slow write.
const RAISED_FOR: Duration = Duration::from_secs(2);

/// The niceness of the database threads while raised.
const RAISED_NICENESS: i32 = 10;

/// When a write began ([`Scheduling::write_started`]): the time, and how long the
/// database threads had waited to run until then.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WriteStart {
    at: Instant,
    waited: Duration,
}

/// The connection threads of one store and how they are scheduled.
#[derive(Debug)]
pub(super) struct Scheduling {
    /// Their thread ids.
    threads: Vec<i32>,
    /// Whether they idle (`SCHED_IDLE`) at all: only when they can be raised again.
    idle: bool,
    /// Until when they stay raised, Unix ms; 0 while idle-scheduled.
    raised_until_ms: AtomicI64,
}

impl Scheduling {
    /// The connection threads started since `before` was taken ([`database_threads`]):
    /// this store's. They are set to `SCHED_IDLE` now.
    pub(super) fn of_threads_since(before: &[i32]) -> Scheduling {
        let threads = database_threads()
            .into_iter()
            .filter(|t| !before.contains(t))
            .collect();
        Scheduling::of(threads, can_leave_idle())
    }

    /// `threads`, idling when `idle` (else at niceness 10 for good), set now.
    fn of(threads: Vec<i32>, idle: bool) -> Scheduling {
        let scheduling = Scheduling {
            threads,
            idle,
            raised_until_ms: AtomicI64::new(0),
        };
        scheduling.set(!idle);
        scheduling
    }

    /// A write begins: what [`Scheduling::after_write`] measures it from.
    pub(super) fn write_started(&self) -> WriteStart {
        WriteStart {
            at: Instant::now(),
            waited: self.waited(),
        }
    }

    /// A write that began at `start` has committed: judged by how long it took, how much
    /// of that the threads waited to run, and whether anyone waited for it
    /// ([`Scheduling::judge`]).
    pub(super) fn after_write(&self, start: WriteStart, waiting: Waiting) {
        if !self.idle {
            return;
        }
        let starved = self.waited().saturating_sub(start.waited);
        self.judge(start.at.elapsed(), starved, waiting);
    }

    /// A write took `took`, of which the threads waited `starved` to run: raise them when
    /// it was slow ([`SLOW_WRITE`], or [`NOBODY_WAITS_FOR`] when nobody waited for it) and
    /// starved for at least half of it, or lower them again once [`RAISED_FOR`] has passed
    /// since the last such write.
    fn judge(&self, took: Duration, starved: Duration, waiting: Waiting) {
        if !self.idle {
            return;
        }
        let now = now_ms();
        let until = self.raised_until_ms.load(Ordering::Relaxed);
        let slow = match waiting {
            Waiting::Someone => SLOW_WRITE,
            Waiting::Nobody => NOBODY_WAITS_FOR,
        };
        if took > slow && starved * 2 >= took {
            if until == 0 {
                tracing::warn!(
                    took_ms = took.as_millis() as u64,
                    starved_ms = starved.as_millis() as u64,
                    "a database write was slow: the CPU is saturated; database threads \
                     now take a tenth of it from the live links"
                );
                self.set(true);
            }
            self.raised_until_ms
                .store(now + RAISED_FOR.as_millis() as i64, Ordering::Relaxed);
            return;
        }
        if took > slow {
            tracing::debug!(
                took_ms = took.as_millis() as u64,
                starved_ms = starved.as_millis() as u64,
                "a database write was slow, not for want of the CPU"
            );
        }
        if until != 0 && now > until {
            self.raised_until_ms.store(0, Ordering::Relaxed);
            self.set(false);
        }
    }

    /// How long the threads have waited to run, together, since they started (the
    /// second figure of each one's `schedstat`). Zero where the kernel does not say.
    fn waited(&self) -> Duration {
        let nanos = self
            .threads
            .iter()
            .filter_map(|tid| {
                std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat"))
                    .ok()?
                    .split_whitespace()
                    .nth(1)?
                    .parse::<u64>()
                    .ok()
            })
            .sum();
        Duration::from_nanos(nanos)
    }

    /// The store is closing: the threads are raised for good, so its last writes are not
    /// starved. The data directory stays locked until they are done, and a server
    /// started again on it (or a test restarting one in the same process) waits for
    /// them, at most 10 s; on a saturated machine `SCHED_IDLE` threads may not run at
    /// all.
    pub(super) fn closing(&self) {
        if self.idle {
            self.raised_until_ms.store(i64::MAX, Ordering::Relaxed);
            self.set(true);
        }
    }

    /// Whether the threads are raised now.
    #[cfg(test)]
    pub(super) fn raised(&self) -> bool {
        self.raised_until_ms.load(Ordering::Relaxed) != 0
    }

    fn set(&self, raised: bool) {
        for tid in &self.threads {
            if let Err(e) = schedule(*tid, raised) {
                tracing::debug!(error = %e, tid, "cannot set a database thread's scheduling");
            }
        }
    }
}

/// Schedules thread `tid` raised (the normal policy at [`RAISED_NICENESS`]) or idle
/// (`SCHED_IDLE`). On Linux, a thread id given as the "process" sets that one thread.
/// Raising sets the niceness first: leaving `SCHED_IDLE` is allowed up to the niceness
/// `RLIMIT_NICE` permits, judged at the thread's niceness at that moment.
#[cfg(target_os = "linux")]
fn schedule(tid: i32, raised: bool) -> uapi::Result<()> {
    let param = uapi::c::sched_param { sched_priority: 0 };
    if raised {
        uapi::setpriority(uapi::c::PRIO_PROCESS as _, tid as _, RAISED_NICENESS)?;
        uapi::sched_setscheduler(tid, uapi::c::SCHED_OTHER, &param).map(drop)
    } else {
        uapi::sched_setscheduler(tid, uapi::c::SCHED_IDLE, &param).map(drop)
    }
}

#[cfg(not(target_os = "linux"))]
fn schedule(_tid: i32, _raised: bool) -> std::io::Result<()> {
    Ok(())
}

/// Whether this process may take a thread out of `SCHED_IDLE` again: tried once, on a
/// short-lived thread of its own (which may stay idle: it ends at once).
#[cfg(target_os = "linux")]
fn can_leave_idle() -> bool {
    static CAN: OnceLock<bool> = OnceLock::new();
    *CAN.get_or_init(|| {
        std::thread::spawn(|| {
            let tid = uapi::gettid();
            schedule(tid, false).is_ok() && schedule(tid, true).is_ok()
        })
        .join()
        .unwrap_or(false)
    })
}

#[cfg(not(target_os = "linux"))]
fn can_leave_idle() -> bool {
    false
}

/// The ids of the process's SQLite connection threads.
pub(super) fn database_threads() -> Vec<i32> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    tasks
        .flatten()
        .filter(|task| {
            std::fs::read_to_string(task.path().join("comm"))
                .is_ok_and(|comm| comm.starts_with("sqlx-sqlite-wor"))
        })
        .filter_map(|task| task.file_name().to_str()?.parse().ok())
        .collect()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    /// The policy of thread `tid` as the kernel reports it (5 is `SCHED_IDLE`, 0 the
    /// normal policy), and its niceness.
    fn policy_and_nice(tid: i32) -> (u32, i32) {
        let sched = std::fs::read_to_string(format!("/proc/self/task/{tid}/sched")).unwrap();
        let policy = sched
            .lines()
            .find(|l| l.starts_with("policy"))
            .and_then(|l| l.split(':').nth(1))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).unwrap();
        // Fields after the command name (which ends with ')'): niceness is field 19.
        let nice = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .nth(16)
            .unwrap();
        (policy, nice.parse().unwrap())
    }

    #[tokio::test]
    async fn the_database_threads_idle_a_slow_write_raises_them_and_without_the_right_they_stay_at_ten()
     {
        let before = database_threads();
        let dir = tempfile::tempdir().unwrap();
        let store = crate::Sqlite::open(dir.path()).await.unwrap();
        let scheduling = &store.scheduling;
        assert!(
            !scheduling.threads.is_empty(),
            "the store's threads are found"
        );
        for tid in &scheduling.threads {
            assert_eq!(policy_and_nice(*tid).0, 5, "idle-scheduled at start");
        }
        scheduling.judge(SLOW_WRITE / 2, SLOW_WRITE / 2, Waiting::Someone);
        assert!(!scheduling.raised());
        // Slow, but the threads were not kept from the CPU (the disk, another write).
        scheduling.judge(SLOW_WRITE * 2, SLOW_WRITE / 2, Waiting::Someone);
        assert!(!scheduling.raised(), "a slow disk raises nothing");
        // Starved, but nobody waits for it (a live link's fixes): the links keep the CPU,
        // up to a point.
        scheduling.judge(SLOW_WRITE * 4, SLOW_WRITE * 4, Waiting::Nobody);
        assert!(
            !scheduling.raised(),
            "a background write starved for seconds"
        );
        scheduling.judge(SLOW_WRITE * 2, SLOW_WRITE, Waiting::Someone);
        assert!(scheduling.raised());
        for tid in &scheduling.threads {
            assert_eq!(policy_and_nice(*tid), (0, RAISED_NICENESS), "raised");
        }
        // Quick writes within the raised time keep them raised; after it, they idle again.
        scheduling.judge(Duration::ZERO, Duration::ZERO, Waiting::Someone);
        assert!(scheduling.raised());
        scheduling
            .raised_until_ms
            .store(now_ms() - 1, Ordering::Relaxed);
        scheduling.judge(Duration::ZERO, Duration::ZERO, Waiting::Someone);
        assert!(!scheduling.raised());
        for tid in &scheduling.threads {
            assert_eq!(policy_and_nice(*tid).0, 5, "idle again");
        }
        // Starved for long enough, a write nobody waits for raises them too.
        scheduling.judge(NOBODY_WAITS_FOR * 2, NOBODY_WAITS_FOR * 2, Waiting::Nobody);
        assert!(
            scheduling.raised(),
            "a background write starved past its bound"
        );
        assert!(before.iter().all(|t| !scheduling.threads.contains(t)));

        // Closing raises them for good: the last writes before the lock is released.
        scheduling.closing();
        scheduling.judge(Duration::ZERO, Duration::ZERO, Waiting::Someone);
        assert!(scheduling.raised(), "still raised after a quick write");
        for tid in &scheduling.threads {
            assert_eq!(
                policy_and_nice(*tid),
                (0, RAISED_NICENESS),
                "raised to close"
            );
        }
        scheduling.set(false);

        // A process that could not raise them again keeps them at niceness 10 for good.
        let fixed = Scheduling::of(scheduling.threads.clone(), false);
        for tid in &fixed.threads {
            assert_eq!(policy_and_nice(*tid), (0, RAISED_NICENESS), "never idle");
        }
        fixed.judge(SLOW_WRITE * 2, SLOW_WRITE * 2, Waiting::Someone);
        assert!(!fixed.raised(), "nothing to raise");
    }
}
