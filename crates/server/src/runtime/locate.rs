//! "Where are you now?": a partner asks for a fresh position, and the battery level a
//! device sends with its fixes. The ask is kept in the store (so the asked partner's
//! OwnTracks app is told once, `reportLocation`, whichever node it posts to, and one
//! person asks at most once a minute on every node together), told to the asked
//! partner's open links (`locate`: the web client answers with a fresh fix at once) and
//! pushed to their devices. The answer is an ordinary position: the asker sees it
//! arrive as a pull, with its "last seen" while the feelings tier is open.

use haurach_proto::{PushNote, ServerFrame};
use haurach_store::{AccountId, Store};

use super::hub::{Hub, not_bonded};
use crate::bus::{BondEvent, Bus};
use crate::clock::now_ms;
use crate::error::{ApiError, StatusCode};

/// How often one person may ask: once a minute.
pub const ASK_EVERY_MS: i64 = 60_000;

/// How long an ask waits for the asked partner's OwnTracks app: a phone that posts only
/// an hour later is not told to report (the asker has long stopped waiting).
const ASK_KEPT_MS: i64 = 3_600_000;

impl<S: Store, B: Bus> Hub<S, B> {
    /// `asker` asks their partner where they are now. 404 `not_bonded` without a
    /// partner; 429 `asked_recently` (with when to ask again) within a minute of the
    /// last ask.
    pub async fn ask_locate(&self, asker: AccountId) -> Result<(), ApiError> {
        let held = self.held(asker).await?.ok_or_else(not_bonded)?;
        let (partner, name) = {
            let rt = held.lock().await?;
            (
                rt.record.members[1 - held.idx],
                rt.record.names[held.idx].clone(),
            )
        };
        let now = now_ms();
        if let Some(again) = self
            .store
            .ask_locate(asker, partner, now, ASK_EVERY_MS)
            .await?
        {
            let wait_s = ((again - now).max(0) as u64).div_ceil(1000).max(1);
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "asked_recently",
                format!(
                    "you asked a moment ago: ask again in {}",
                    haurach_proto::human::duration_ms(wait_s as i64 * 1000)
                ),
            )
            .retry_after(wait_s));
        }
        self.publish(partner, &ServerFrame::Locate { by: name.clone() });
        self.push.notify(
            &self.store,
            partner,
            PushNote::Locate { from: name },
            format!("locate:{}:{now}", asker.0),
        );
        Ok(())
    }

    /// Whether someone asked `account` where they are since their OwnTracks app last
    /// posted: true once per ask, for the answer's `reportLocation` command.
    pub async fn locate_asked(&self, account: AccountId) -> Result<bool, ApiError> {
        Ok(self
            .store
            .take_locate(account, now_ms() - ASK_KEPT_MS)
            .await?)
    }

    /// `account`'s device said its battery level, `percent`: kept beside their latest fix
    /// (call it before the fix, which tells the partner) and shared with the other nodes.
    pub async fn note_battery(&self, account: AccountId, percent: u8) -> Result<(), ApiError> {
        let Some(held) = self.held(account).await? else {
            return Ok(());
        };
        let mut rt = held.lock().await?;
        let percent = percent.min(100);
        if rt.battery[held.idx] != Some(percent) {
            rt.battery[held.idx] = Some(percent);
            self.bus.share(BondEvent::Battery {
                bond: rt.record.id.0,
                idx: held.idx as u8,
                percent,
            });
        }
        Ok(())
    }
}
