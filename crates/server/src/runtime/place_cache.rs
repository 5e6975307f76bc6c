//! The state of places a hub keeps: each account's places with whether they are inside
//! (loaded on first use, judged one fix at a time), and the place news held for the
//! OwnTracks app. What is done with it is in [`places`](super::places).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use haurach_bond::Fix;
use haurach_store::{AccountId, PlaceRecord};
use tokio::sync::Mutex as AsyncMutex;

/// One person's places as last loaded, and the time of the fix they were judged by.
#[derive(Debug, Default)]
pub(crate) struct Judged {
    pub(crate) places: Option<Vec<PlaceRecord>>,
    pub(crate) last_at_ms: i64,
    /// The newest fix judged: fresher than the store's, whose write may still be queued.
    pub(crate) last_fix: Option<Fix>,
}

/// Every person's places, loaded on first use. The map's lock is held only to look up or
/// insert; each person's entry has its own async lock, held across the store's commit so
/// their fixes are judged one at a time.
#[derive(Debug, Default)]
pub struct PlaceCache {
    by_account: Mutex<HashMap<AccountId, Arc<AsyncMutex<Judged>>>>,
    /// The partner's place news held for citizens who use the OwnTracks app.
    pub(crate) owntracks_news: NewsBox,
}

impl PlaceCache {
    /// Drops what is held of `account`'s places: another node changed them.
    pub(crate) fn forget(&self, account: AccountId) {
        self.by_account
            .lock()
            .expect("places lock")
            .remove(&account);
    }

    /// Drops everything held of `account` (removed from the city): its places and its
    /// OwnTracks news.
    pub(crate) fn forget_all(&self, account: AccountId) {
        self.forget(account);
        self.owntracks_news.take(account);
    }

    pub(crate) fn entry(&self, account: AccountId) -> Arc<AsyncMutex<Judged>> {
        self.by_account
            .lock()
            .expect("places lock")
            .entry(account)
            .or_default()
            .clone()
    }
}

/// News of a partner's places, held for citizens who use the app: it cannot be pushed to
/// a phone in HTTP mode, so it rides on the answer to the phone's next post, as OwnTracks
/// `transition` messages (which the app shows as notifications). Held in memory, at most
/// [`NEWS_KEPT`] per citizen: a restart drops what was not fetched yet (the places'
/// state itself is stored, and shows in the app's next answer).
#[derive(Debug, Default)]
pub struct NewsBox {
    boxes: Mutex<HashMap<AccountId, std::collections::VecDeque<haurach_proto::PlaceNews>>>,
}

/// The most place news held for one phone.
pub const NEWS_KEPT: usize = 20;

impl NewsBox {
    /// From now on, hold news for `account` (it posted from the app).
    pub fn enrol(&self, account: AccountId) {
        self.boxes
            .lock()
            .expect("news lock")
            .entry(account)
            .or_default();
    }

    /// Holds news for `account` if it uses the app.
    pub fn offer(&self, account: AccountId, news: &haurach_proto::PlaceNews) {
        if let Some(queue) = self.boxes.lock().expect("news lock").get_mut(&account) {
            if queue.len() == NEWS_KEPT {
                queue.pop_front();
            }
            queue.push_back(news.clone());
        }
    }

    /// Everything held for `account`, oldest first.
    pub(crate) fn take(&self, account: AccountId) -> Vec<haurach_proto::PlaceNews> {
        self.boxes
            .lock()
            .expect("news lock")
            .get_mut(&account)
            .map(|q| q.drain(..).collect())
            .unwrap_or_default()
    }
}
