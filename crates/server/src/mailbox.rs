//! A link's queue: a bounded queue with one sender (the bus's or the relay's entry for the
//! link) and one receiver (the link's task), the way an idle link wants it.
//!
//! Why not a channel crate: every live link has two of these, and most links are idle, so
//! what one costs while empty is what ten thousand idle links cost. Each crate tried kept
//! more than a queue and a waker: tokio's mpsc allocates a block of 32 slots and a
//! cache-padded channel up front (about 1.6 KiB), async-channel and thingbuf allocate
//! every slot up front, futures' mpsc allocates a node per message, and flume, the
//! leanest, allocates its channel, a waiting hook (an `Arc` of its own) and a list of
//! waiters besides the queue (about 540 bytes for a link's two, heaptrack said), and
//! never gives the queue's memory back (issue 21, idle memory). Here a queue is one allocation of 80 bytes while
//! empty: the slots grow as frames wait, are kept while the link is busy (no allocation per
//! frame), and are given back by [`Receiver::shed`] when the link has been quiet.
//!
//! Ownership: the [`Sender`] is held by whoever delivers to the link (the bus, the
//! relay), the [`Receiver`] by the link's task. Dropping the sender closes the queue: the
//! receiver gets what waits, then `None`. Dropping the receiver leaves frames sent
//! meanwhile to be dropped with the sender.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

/// What the sender and the receiver share.
struct Shared<T> {
    state: Mutex<State<T>>,
}

struct State<T> {
    queue: VecDeque<T>,
    /// The receiver's task, when it waits for an item.
    waker: Option<Waker>,
    /// At most this many items wait.
    capacity: u32,
    /// The sender is gone.
    closed: bool,
    /// An item found the queue full (and was not queued).
    overflowed: bool,
}

/// Why [`Sender::try_send`] did not queue an item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Full;

/// A queue of at most `capacity` items.
pub(crate) fn bounded<T>(capacity: u32) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::new(),
            waker: None,
            capacity,
            closed: false,
            overflowed: false,
        }),
    });
    (Sender(shared.clone()), Receiver(shared))
}

/// The delivering end.
pub(crate) struct Sender<T>(Arc<Shared<T>>);

/// The link's end.
pub(crate) struct Receiver<T>(Arc<Shared<T>>);

impl<T> Shared<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // A panic while the lock is held leaves nothing half-done worth refusing: the
        // queue and its flags are each changed in one step.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl<T> Sender<T> {
    /// Queues `item`, and wakes the receiver if it waits; `Err(Full)` (the item dropped,
    /// and [`Receiver::overflowed`] true from now on) when `capacity` items wait.
    pub(crate) fn try_send(&self, item: T) -> Result<(), Full> {
        let waker = {
            let mut state = self.0.lock();
            if state.queue.len() >= state.capacity as usize {
                state.overflowed = true;
                return Err(Full);
            }
            if state.queue.capacity() == 0 {
                // One slot, where a first push would make four: an idle link is sent a
                // frame now and then, one at a time. A busy link's queue grows, doubling.
                state.queue.reserve_exact(1);
            }
            state.queue.push_back(item);
            state.waker.take()
        };
        // Woken outside the lock: the receiver's task may run on another thread at once.
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut state = self.0.lock();
            state.closed = true;
            state.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Receiver<T> {
    /// The next item, waiting for one; `None` once the sender is gone and nothing waits.
    pub(crate) async fn recv(&mut self) -> Option<T> {
        poll_fn(|cx| {
            let mut state = self.0.lock();
            if let Some(item) = state.queue.pop_front() {
                return Poll::Ready(Some(item));
            }
            if state.closed {
                return Poll::Ready(None);
            }
            // One waiting task: a poll from the same task (a link's `select!` polls its
            // branches again and again) keeps the waker it left.
            match &mut state.waker {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                slot => *slot = Some(cx.waker().clone()),
            }
            Poll::Pending
        })
        .await
    }

    /// The next item if one waits, without waiting.
    pub(crate) fn try_recv(&mut self) -> Option<T> {
        self.0.lock().queue.pop_front()
    }

    /// Whether an item ever found the queue full.
    pub(crate) fn overflowed(&self) -> bool {
        self.0.lock().overflowed
    }

    /// Gives back the memory of the queue's slots when nothing waits: for a link that has
    /// been quiet for a while, so an idle link does not keep the room its busiest moment
    /// needed. Not called per item: a busy link keeps its slots.
    pub(crate) fn shed(&mut self) {
        let mut state = self.0.lock();
        if state.queue.is_empty() && state.queue.capacity() > 0 {
            state.queue = VecDeque::new();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn items_come_in_order_then_none_once_the_sender_is_gone() {
        let (tx, mut rx) = bounded(4);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        drop(tx);
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None);
    }

    #[tokio::test]
    async fn a_full_queue_refuses_and_says_so() {
        let (tx, mut rx) = bounded(2);
        tx.try_send(1).unwrap();
        tx.try_send(2).unwrap();
        assert!(!rx.overflowed());
        assert_eq!(tx.try_send(3), Err(Full));
        assert!(rx.overflowed());
        assert_eq!(rx.try_recv(), Some(1));
        assert_eq!(rx.try_recv(), Some(2));
        assert_eq!(rx.try_recv(), None);
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken_by_a_send_from_another_task() {
        let (tx, mut rx) = bounded(4);
        let waiting = tokio::spawn(async move { rx.recv().await });
        tokio::task::yield_now().await;
        tx.try_send(7).unwrap();
        assert_eq!(waiting.await.unwrap(), Some(7));
    }

    #[tokio::test]
    async fn a_waiting_receiver_is_woken_when_the_sender_goes() {
        let (tx, mut rx) = bounded::<u8>(4);
        let waiting = tokio::spawn(async move { rx.recv().await });
        tokio::task::yield_now().await;
        drop(tx);
        assert_eq!(waiting.await.unwrap(), None);
    }

    #[test]
    fn an_empty_queue_is_80_bytes() {
        // With the `Arc`'s two counts: one allocation of the allocator's 80-byte class
        // per queue of an idle link.
        // The items do not count (only the slots, allocated apart): the bus's frames (two
        // numbers and an `Arc<str>`) and the relay's `Bytes` alike.
        assert!(std::mem::size_of::<Shared<(i64, i64, std::sync::Arc<str>)>>() + 16 <= 80);
        assert!(std::mem::size_of::<Shared<bytes::Bytes>>() + 16 <= 80);
    }

    #[test]
    fn a_first_item_takes_one_slot_and_more_grow_the_queue() {
        let (tx, mut rx) = bounded(8);
        tx.try_send(1).unwrap();
        assert_eq!(
            rx.0.lock().queue.capacity(),
            1,
            "not the four a first push makes"
        );
        for i in 2..=5 {
            tx.try_send(i).unwrap();
        }
        assert!(rx.0.lock().queue.capacity() >= 5);
        assert_eq!(rx.try_recv(), Some(1));
    }

    #[test]
    fn shedding_gives_the_slots_back_only_when_empty() {
        let (tx, mut rx) = bounded(8);
        tx.try_send(1).unwrap();
        rx.shed();
        assert!(rx.0.lock().queue.capacity() > 0, "an item waits: kept");
        assert_eq!(rx.try_recv(), Some(1));
        rx.shed();
        assert_eq!(rx.0.lock().queue.capacity(), 0);
    }
}
