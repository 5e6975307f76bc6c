//! Pushing news to a person's devices when the page is closed: the [`Notifier`] the hub
//! holds. Each event is pushed once even when several nodes see it (the node that
//! claims the event in the store sends it), to every device of its receiver, each push
//! on a task of its own so no bond waits for a push service. A device whose push
//! service says it is gone (404, 410) is forgotten. The alarm is pushed again every
//! `push_alarm_repeat_s` until acknowledged.
//!
//! The tasks that wait before pushing (an unseen message waits `push_message_after_s`,
//! an alarm repeats for up to half an hour) each hold the store; the server ends them
//! when it stops ([`Notifier::close`]), so the store, and the data directory's lock, are
//! let go when the server returns, not up to half an hour later.
//!
//! What a push says is [`PushNote`]: who, and what kind of news, never a letter's words
//! or a position, so it carries nothing the receiver may not know at any distance.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use haurach_proto::{MessageKind, PushNote};
use haurach_store::{AccountId, BondId, PushSubscriptionRecord, Store, StoreError};
use tokio::sync::OnceCell;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::clock::now_ms;
use crate::config::Config;
use crate::metrics::PushMetrics;
use crate::push::{Delivery, Device, Outcome, Pusher};

/// How long a claim is remembered: longer than any node takes to see an event.
const CLAIM_KEPT_MS: i64 = 24 * 3600 * 1000;
/// The most times an unacknowledged alarm is pushed.
const ALARM_PUSHES: u32 = 30;
/// How many later messages are looked at for a newer word or feeling from the same
/// sender (the partner's replies may come between).
const NEWER_LOOKED_AT: u32 = 16;
/// The most devices a person subscribes; a new one replaces their oldest.
pub const MAX_DEVICES: u32 = 10;

/// How each kind of news travels: the alarm is urgent and kept a day; contact news is
/// replaced by the next (one topic for lost and restored) and is stale within hours.
pub fn delivery(note: &PushNote) -> Delivery {
    match note {
        PushNote::Alarm { .. } => Delivery {
            urgency: "high",
            topic: "alarm",
            ttl_s: 24 * 3600,
        },
        PushNote::Summons { .. } => Delivery {
            urgency: "high",
            topic: "summons",
            ttl_s: 3600,
        },
        PushNote::Letter { .. } => Delivery {
            urgency: "normal",
            topic: "letter",
            ttl_s: 7 * 24 * 3600,
        },
        PushNote::Place { .. } => Delivery {
            urgency: "low",
            topic: "place",
            ttl_s: 3600,
        },
        PushNote::Locate { .. } => Delivery {
            urgency: "high",
            topic: "locate",
            ttl_s: 600,
        },
        PushNote::ContactLost { .. } | PushNote::ContactRestored { .. } => Delivery {
            urgency: "normal",
            topic: "contact",
            ttl_s: 6 * 3600,
        },
        PushNote::Resumed { .. } => Delivery {
            urgency: "normal",
            topic: "pause",
            ttl_s: 6 * 3600,
        },
        PushNote::Voice { .. } => Delivery {
            urgency: "normal",
            topic: "voice",
            ttl_s: 12 * 3600,
        },
        // As a plain bond's place news; the topic says no more than the kind.
        PushNote::SealedPlace { .. } => Delivery {
            urgency: "low",
            topic: "place",
            ttl_s: 3600,
        },
        PushNote::SealedMeeting { .. } => Delivery {
            urgency: "normal",
            topic: "meeting",
            ttl_s: 6 * 3600,
        },
        // A feeling is of the moment: stale within the hour.
        PushNote::Feeling { .. } => Delivery {
            urgency: "normal",
            topic: "feeling",
            ttl_s: 3600,
        },
    }
}

/// The hub's pushes. Cloning shares it.
#[derive(Clone)]
pub struct Notifier {
    inner: Arc<Inner>,
}

struct Inner {
    /// Made on first use, with the key the store keeps.
    pusher: OnceCell<Arc<Pusher>>,
    config: Config,
    /// Counts each push and how it ended.
    metrics: PushMetrics,
    /// The pushes' tasks, and what ends them when the server stops.
    tasks: TaskTracker,
    stop: CancellationToken,
    /// Unseen messages waiting to be pushed, by bond, sender and [`burst_of`] their kind.
    unseen: Mutex<HashMap<(BondId, AccountId, MessageKind), Unseen>>,
}

/// The newest message of a burst, waiting to be pushed unless seen.
struct Unseen {
    to: AccountId,
    note: PushNote,
    kind: MessageKind,
    seq: i64,
    /// When it has waited `push_message_after_s`.
    due: Instant,
}

/// The kind a message's push is filed under: a newer message of the same makes an older
/// one's push needless ([`MessageKind::covers_push_of`]): words and feelings are one.
fn burst_of(kind: MessageKind) -> MessageKind {
    match kind {
        MessageKind::Feeling => MessageKind::Voice,
        other => other,
    }
}

impl Notifier {
    /// A notifier that counts into `metrics`; its key is read from the store on first use.
    pub fn new(config: &Config, metrics: PushMetrics) -> Notifier {
        Notifier {
            inner: Arc::new(Inner {
                pusher: OnceCell::new(),
                config: config.clone(),
                metrics,
                tasks: TaskTracker::new(),
                stop: CancellationToken::new(),
                unseen: Mutex::default(),
            }),
        }
    }

    /// Runs `work` on a task of its own, which ends early when the server stops.
    fn spawn(&self, work: impl Future<Output = ()> + Send + 'static) {
        let stop = self.inner.stop.clone();
        self.inner.tasks.spawn(async move {
            tokio::select! {
                () = work => {}
                () = stop.cancelled() => {}
            }
        });
    }

    /// Ends every push still waiting or under way, and returns once their tasks (and
    /// the store they hold) are gone. What was not pushed yet is not pushed: the server
    /// is stopping.
    pub async fn close(&self) {
        self.inner.stop.cancel();
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }

    /// The sender, with the key the store keeps (made and kept on first use).
    pub async fn pusher<S: Store>(&self, store: &S) -> Result<Arc<Pusher>, StoreError> {
        self.inner
            .pusher
            .get_or_try_init(|| async {
                let key = store.push_key(&Pusher::new_private_key(), now_ms()).await?;
                Pusher::new(&key, &self.inner.config)
                    .map(Arc::new)
                    .map_err(StoreError::Corrupt)
            })
            .await
            .cloned()
    }

    /// Pushes `note` to every device of `to`, unless another node (or this one) has
    /// claimed `event` already. Returns at once; the pushes run on their own tasks.
    pub fn notify<S: Store>(&self, store: &S, to: AccountId, note: PushNote, event: String) {
        let (this, store) = (self.clone(), store.clone());
        self.spawn(async move {
            // Someone without devices costs a read, not a claim's write.
            if this.has_devices(&store, to).await && this.claim(&store, &event).await {
                this.push_to_devices(&store, to, &note).await;
            }
        });
    }

    async fn has_devices<S: Store>(&self, store: &S, to: AccountId) -> bool {
        match store.push_subscriptions(to).await {
            Ok(devices) => !devices.is_empty(),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read push subscriptions");
                false
            }
        }
    }

    /// [`Notifier::notify`], only if the event named `after` was pushed: contact restored
    /// is news only to whoever heard it was lost (a node whose copy of a bond starts
    /// without news of a partner counts them lost, then restored).
    pub fn notify_after<S: Store>(
        &self,
        store: &S,
        to: AccountId,
        note: PushNote,
        event: String,
        after: String,
    ) {
        let (this, store) = (self.clone(), store.clone());
        self.spawn(async move {
            match store.push_claimed(&after).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot read a push claim");
                    return;
                }
            }
            if this.has_devices(&store, to).await && this.claim(&store, &event).await {
                this.push_to_devices(&store, to, &note).await;
            }
        });
    }

    /// Pushes the alarm `seq` of `bond` to `to`, then again every `push_alarm_repeat_s`
    /// until it is acknowledged (at most 30 times).
    pub fn notify_alarm<S: Store>(
        &self,
        store: &S,
        to: AccountId,
        bond: BondId,
        note: PushNote,
        seq: i64,
    ) {
        let (this, store) = (self.clone(), store.clone());
        let every = Duration::from_secs_f64(self.inner.config.push_alarm_repeat_s);
        self.spawn(async move {
            if !this.has_devices(&store, to).await
                || !this.claim(&store, &format!("alarm:{}:{seq}", bond.0)).await
            {
                return;
            }
            for _ in 0..ALARM_PUSHES {
                this.push_to_devices(&store, to, &note).await;
                tokio::time::sleep(every).await;
                match store.messages_after(bond, seq - 1, 1).await {
                    Ok(found)
                        if found
                            .first()
                            .is_some_and(|m| m.seq == seq && m.acknowledged_at.is_none()) => {}
                    Ok(_) => return,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot tell whether an alarm was acknowledged");
                    }
                }
            }
        });
    }

    /// Pushes `note`, news of message `seq` of `bond` from `from` to `to`, unless within
    /// `push_message_after_s` a page or link of `to`'s took it (acknowledged it up to
    /// `seq`), or `from` sent a newer word or feeling (whose own push tells the same
    /// news: a burst of words is one push, not one each).
    ///
    /// One wait per bond, sender and kind of news: a newer message of a burst takes the
    /// place of the one waiting (whose push it would have made needless) and starts the
    /// wait again, so a burst costs one task and one look at the store, not one per word.
    /// A newer one sent through another node is still found in the store.
    pub fn notify_unseen<S: Store>(
        &self,
        store: &S,
        (to, from): (AccountId, AccountId),
        bond: BondId,
        (note, kind): (PushNote, MessageKind),
        seq: i64,
    ) {
        let key = (bond, from, burst_of(kind));
        let wait = Duration::from_secs_f64(self.inner.config.push_message_after_s);
        let news = Unseen {
            to,
            note,
            kind,
            seq,
            due: Instant::now() + wait,
        };
        match self.inner.unseen.lock().expect("push lock").entry(key) {
            Entry::Occupied(mut waiting) => {
                waiting.insert(news);
                return;
            }
            Entry::Vacant(free) => {
                free.insert(news);
                self.inner.metrics.waiting.inc();
            }
        }
        let (this, store) = (self.clone(), store.clone());
        self.spawn(async move {
            // Until the newest of the burst has waited its full time.
            let news = loop {
                let due = this
                    .inner
                    .unseen
                    .lock()
                    .expect("push lock")
                    .get(&key)
                    .map(|u| u.due);
                let Some(due) = due else {
                    return;
                };
                tokio::time::sleep_until(due).await;
                let mut unseen = this.inner.unseen.lock().expect("push lock");
                if unseen.get(&key).is_some_and(|u| u.due <= Instant::now()) {
                    this.inner.metrics.waiting.dec();
                    break unseen.remove(&key).expect("present");
                }
            };
            this.push_unseen(&store, from, bond, news).await;
        });
    }

    /// The look at the store [`Notifier::notify_unseen`] waits for, then the push.
    async fn push_unseen<S: Store>(&self, store: &S, from: AccountId, bond: BondId, news: Unseen) {
        let Unseen {
            to,
            note,
            kind,
            seq,
            ..
        } = news;
        let seen = match store.account(to).await {
            Ok(account) => account.is_none_or(|a| a.delivered_seq >= seq),
            Err(e) => {
                tracing::warn!(error = %e, "cannot tell whether a message was seen");
                return;
            }
        };
        let newer = match store.messages_after(bond, seq, NEWER_LOOKED_AT).await {
            Ok(later) => later
                .iter()
                .any(|m| m.sender == from && m.kind.covers_push_of(kind)),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the messages after one");
                return;
            }
        };
        if seen || newer || !self.has_devices(store, to).await {
            return;
        }
        if self
            .claim(store, &format!("message:{}:{seq}", bond.0))
            .await
        {
            self.push_to_devices(store, to, &note).await;
        }
    }

    async fn claim<S: Store>(&self, store: &S, event: &str) -> bool {
        let now = now_ms();
        match store.claim_push(event, now, now - CLAIM_KEPT_MS).await {
            Ok(first) => first,
            Err(e) => {
                tracing::warn!(error = %e, event, "cannot claim a push; not pushing it");
                false
            }
        }
    }

    /// Pushes to each device of `to` at once; forgets the devices that are gone.
    pub async fn push_to_devices<S: Store>(&self, store: &S, to: AccountId, note: &PushNote) {
        let devices = match store.push_subscriptions(to).await {
            Ok(devices) => devices,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read push subscriptions");
                return;
            }
        };
        if devices.is_empty() {
            return;
        }
        let pusher = match self.pusher(store).await {
            Ok(pusher) => pusher,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the push key");
                return;
            }
        };
        let payload = serde_json::to_vec(note).expect("a note serialises");
        let delivery = delivery(note);
        let mut sends = tokio::task::JoinSet::new();
        for sub in devices {
            let (pusher, store, payload) = (pusher.clone(), store.clone(), payload.clone());
            let metrics = self.inner.metrics.clone();
            sends.spawn(async move {
                metrics.in_flight.inc();
                let outcome = push_one(&pusher, &store, &sub, &payload, delivery).await;
                metrics.in_flight.dec();
                metrics.ended(outcome);
            });
        }
        while sends.join_next().await.is_some() {}
    }
}

/// Pushes to one device; how it ended, as `haurach_pushes_total` names it.
async fn push_one<S: Store>(
    pusher: &Pusher,
    store: &S,
    sub: &PushSubscriptionRecord,
    payload: &[u8],
    delivery: Delivery,
) -> &'static str {
    let device = match Device::new(
        &sub.endpoint,
        &sub.p256dh,
        &sub.auth,
        pusher.allow_loopback(),
    ) {
        Ok(device) => device,
        Err(refused) => {
            tracing::info!(reason = %refused, "a kept push subscription is no longer usable");
            return "refused";
        }
    };
    match pusher.send(&device, payload, delivery).await {
        Outcome::Accepted => "accepted",
        Outcome::Gone => {
            if let Err(e) = store.forget_push_endpoint(&sub.endpoint).await {
                tracing::warn!(error = %e, "cannot forget a gone push subscription");
            }
            "gone"
        }
        Outcome::Failed(why) => {
            tracing::info!(reason = %why, "a push was not delivered");
            "failed"
        }
    }
}
