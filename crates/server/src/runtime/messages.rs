//! Messages between partners (voice, feelings, the alarm, pictures' notices), thoughts
//! as they are typed, and guarding them: the hub's methods that check a message against
//! the open tiers, commit it, and only then tell both partners.

use haurach_bond::Tier;
use haurach_bond::thoughts::Edit;
use haurach_proto::sealed::Sealed;
use haurach_proto::{Feeling, Message, MessageKind, PushNote, SendMessage, ServerFrame};
use haurach_store::{
    AccountId, Appended, BondRecord, MessageRecord, Missing, NewMessage, Store, StoreError,
};

use super::hub::{Hub, not_bonded};
use crate::bus::{BondEvent, Bus, Frame};
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;

impl<S: Store, B: Bus> Hub<S, B> {
    /// Stores a message if its tier is open and tells both partners. Returns the message
    /// and whether it is new (false: a retry of one already stored).
    pub async fn send_message(
        &self,
        account: AccountId,
        send: SendMessage,
    ) -> Result<(Message, bool), ApiError> {
        validate_message(&send)?;
        self.deliver_message(account, send).await
    }

    /// [`Hub::send_message`] without checking the message's shape: for kinds that only
    /// the server composes (an `image` message, after its picture is stored).
    pub(crate) async fn deliver_message(
        &self,
        account: AccountId,
        send: SendMessage,
    ) -> Result<(Message, bool), ApiError> {
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        // The caller has been heard already: the HTTP extractor and the link both say so.
        let rt = held.lock().await?;
        let sealed = rt.matcher.is_some();
        // A picture's notice is composed by the server, never sealed.
        if send.kind != MessageKind::Image {
            check_sealing(&send, sealed)?;
        }
        let tier = send.kind.tier();
        if !rt.tiers.is_open(tier) {
            // A retry of a message accepted before the partners drifted apart still gets
            // its answer; a new one is refused without being stored.
            if let Some(stored) = self.store.message_by_client_id(account, &send.id).await? {
                return Ok((message_view(&rt.record, &stored, sealed), false));
            }
            let distance = rt.pull_now(held.idx).map(|p| p.0.distance_m);
            return Err(ApiError::tier_closed(
                tier,
                rt.record.profile.range_m(tier),
                distance,
            ));
        }
        let record = rt.record.clone();
        // The bond is free again before the commit: messages of one bond may share a
        // batch. The writer publishes each new message right after the commit, in
        // sequence order, so links (which skip what they have seen by sequence number)
        // never see a later message before an earlier one.
        drop(rt);
        let announce = {
            let (bus, record) = (self.bus.clone(), record.clone());
            Box::new(move |appended: &Appended| {
                if let Appended::New(m, before) = appended {
                    let frame = Frame::of(&ServerFrame::Message {
                        message: message_view(&record, m, sealed),
                    })
                    .after(*before);
                    for member in record.members {
                        bus.publish(member, frame.clone());
                    }
                }
            })
        };
        let appended = self
            .messages
            .append(
                NewMessage {
                    bond: record.id,
                    sender: account,
                    client_id: send.id.clone(),
                    kind: send.kind,
                    // A private bond's sealed content is kept where a plain bond keeps its
                    // words, as the text it came as: the bond says which it is.
                    body: send.sealed.clone().or_else(|| send.body.clone()),
                    feeling: send.feeling,
                    sent_at: now_ms(),
                },
                announce,
            )
            .await?;
        let (stored, is_new) = match appended {
            Appended::Existing(m) => (m, false),
            Appended::Conflict(_) => {
                return Err(ApiError::conflict(
                    "message_id_reused",
                    format!(
                        "you already sent a different message with id {:?}; use a new id",
                        send.id
                    ),
                ));
            }
            Appended::New(m, _) => (m, true),
        };
        if is_new {
            self.metrics.messages.inc();
            if let Some(idx) = record.index_of(account) {
                let (from, to) = (record.names[idx].clone(), record.members[1 - idx]);
                let seq = stored.seq;
                match stored.kind {
                    // The alarm goes through at any range, to the partner's devices too,
                    // and again until they acknowledge it.
                    MessageKind::Alarm => {
                        let note = PushNote::Alarm { from, seq };
                        self.push
                            .notify_alarm(&self.store, to, record.id, note, seq);
                    }
                    // Words and feelings reach a closed page as news that there are some;
                    // so does a private bond's sealed place news and meeting point (the
                    // server cannot say which place or where: `docs/privacy.md`).
                    kind @ (MessageKind::Voice
                    | MessageKind::Feeling
                    | MessageKind::Place
                    | MessageKind::Meeting) => {
                        let note = match kind {
                            MessageKind::Voice => PushNote::Voice { from, seq },
                            MessageKind::Feeling => PushNote::Feeling { from, seq },
                            MessageKind::Place => PushNote::SealedPlace { from, seq },
                            _ => PushNote::SealedMeeting { from, seq },
                        };
                        self.push.notify_unseen(
                            &self.store,
                            (to, account),
                            record.id,
                            (note, kind),
                            seq,
                        );
                    }
                    // A picture's notice is pushed by nobody.
                    MessageKind::Image => {}
                }
            }
        }
        let message = message_view(&record, &stored, sealed);
        Ok((message, is_new))
    }

    /// A page of the bond's messages after `after`.
    pub async fn messages(
        &self,
        account: AccountId,
        after: i64,
        limit: u32,
    ) -> Result<(Vec<Message>, bool), ApiError> {
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        let (record, sealed) = {
            let rt = held.lock().await?;
            (rt.record.clone(), rt.matcher.is_some())
        };
        let mut page = self
            .store
            .messages_after(record.id, after, limit + 1)
            .await?;
        let more = page.len() > limit as usize;
        page.truncate(limit as usize);
        Ok((
            page.iter()
                .map(|m| message_view(&record, m, sealed))
                .collect(),
            more,
        ))
    }

    /// The receiver acknowledges an alarm; both partners are told.
    pub async fn acknowledge_alarm(
        &self,
        account: AccountId,
        seq: i64,
    ) -> Result<Message, ApiError> {
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        let rt = held.lock().await?;
        let alarm = match self
            .store
            .acknowledge_alarm(rt.record.id, seq, account, now_ms())
            .await
        {
            Ok(alarm) => alarm,
            Err(StoreError::NotFound(Missing::Alarm)) => {
                return Err(ApiError::not_found(
                    "alarm_not_found",
                    format!("there is no alarm {seq} in your bond"),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        let frame = ServerFrame::AlarmAcknowledged {
            seq,
            by: rt.record.names[held.idx].clone(),
        };
        for member in rt.record.members {
            self.publish(member, &frame);
        }
        Ok(message_view(&rt.record, &alarm, rt.matcher.is_some()))
    }

    /// The caller has seen every message up to `seq`.
    pub async fn delivered(&self, account: AccountId, seq: i64) -> Result<(), ApiError> {
        let newest = self.newest_seq(account).await?;
        if seq > newest {
            // Taken as said, it would make every later link skip the messages up to it
            // (hardening finding 9: an ack of 2^63-1 made a link deaf for good).
            return Err(ApiError::invalid(
                "invalid_seq",
                format!("there is no message {seq} to acknowledge: the newest is {newest}"),
            ));
        }
        Ok(self.store.set_delivered(account, seq).await?)
    }

    /// Records that `account` has message `seq`, one a link of theirs sent them (so it
    /// exists).
    pub async fn delivered_seen(&self, account: AccountId, seq: i64) -> Result<(), ApiError> {
        Ok(self.store.set_delivered(account, seq).await?)
    }

    /// The sequence number of the newest message of `account`'s bond (0 without one):
    /// the furthest a link may resume after or acknowledge.
    pub async fn newest_seq(&self, account: AccountId) -> Result<i64, ApiError> {
        Ok(match self.store.bond_of(account).await? {
            Some(bond) => self.store.last_seq(bond.id).await?,
            None => 0,
        })
    }

    /// Passes a batch of thought edits to the partner, if thoughts are open and the
    /// sender is not guarding them. Never stored. Returns whether it passed.
    pub async fn thought(
        &self,
        account: AccountId,
        seq: u64,
        reset: bool,
        edits: Vec<Edit>,
    ) -> Result<bool, ApiError> {
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        let rt = held.lock().await?;
        if rt.matcher.is_some() {
            return Err(ApiError::conflict(
                "private_bond",
                "your bond is private: the server takes no thought in the clear; seal the \
                 whole text on your device and send it as a sealed_thought frame",
            ));
        }
        if rt.guarded[held.idx] || !rt.tiers.is_open(Tier::Thoughts) {
            return Ok(false);
        }
        self.metrics.thoughts.inc();
        let frame = ServerFrame::Thought { seq, reset, edits };
        self.publish(rt.record.members[1 - held.idx], &frame);
        Ok(true)
    }

    /// Passes a private bond's sealed thought (the whole text, sealed on the sender's
    /// device) to the partner, under the same rule as [`Hub::thought`]: only while
    /// thoughts are open and the sender is not guarding them. Never stored. Returns
    /// whether it passed.
    pub async fn sealed_thought(
        &self,
        account: AccountId,
        sealed: String,
    ) -> Result<bool, ApiError> {
        Sealed::decode(&sealed).map_err(|e| ApiError::invalid("invalid_sealed", e.to_string()))?;
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        let rt = held.lock().await?;
        if rt.matcher.is_none() {
            return Err(ApiError::conflict(
                "unexpected_sealed",
                "your bond is not private: send thoughts as thought frames, not sealed",
            ));
        }
        if rt.guarded[held.idx] || !rt.tiers.is_open(Tier::Thoughts) {
            return Ok(false);
        }
        self.metrics.thoughts.inc();
        let frame = ServerFrame::SealedThought { sealed };
        self.publish(rt.record.members[1 - held.idx], &frame);
        Ok(true)
    }

    /// Guards or unguards the caller's thoughts; the partner is told.
    pub async fn guard(&self, account: AccountId, on: bool) -> Result<(), ApiError> {
        let Some(held) = self.held(account).await? else {
            return Err(not_bonded());
        };
        let mut rt = held.lock().await?;
        if rt.guarded[held.idx] != on {
            rt.guarded[held.idx] = on;
            self.bus.share(BondEvent::Guard {
                bond: rt.record.id.0,
                idx: held.idx as u8,
                on,
            });
            let partner = rt.record.members[1 - held.idx];
            self.publish(partner, &ServerFrame::Guard { on });
            if on {
                // Whatever the partner had on screen is withdrawn: an empty reset.
                let clear = ServerFrame::Thought {
                    seq: 0,
                    reset: true,
                    edits: Vec::new(),
                };
                self.publish(partner, &clear);
            }
        }
        Ok(())
    }
}

/// Checks a message's shape (its id, and the body and feeling its kind carries) before
/// anything else is done with it.
pub fn validate_message(send: &SendMessage) -> Result<(), ApiError> {
    if send.id.is_empty() || send.id.chars().count() > 64 {
        return Err(ApiError::invalid(
            "invalid_message_id",
            "a message id must be 1 to 64 characters",
        ));
    }
    let body_len = send.body.as_ref().map_or(0, |b| b.chars().count());
    if body_len > 4000 {
        return Err(ApiError::invalid(
            "body_too_long",
            format!("a message body is at most 4,000 characters, this one has {body_len}"),
        ));
    }
    if send.kind.sealed_only() && send.sealed.is_none() {
        return Err(ApiError::invalid(
            "sealed_required",
            format!(
                "a {} message is sent only by a private bond's devices, sealed; in a plain \
                 bond the server tells of places and the meeting point itself",
                send.kind.key()
            ),
        ));
    }
    if send.sealed.is_some() && send.kind != MessageKind::Image {
        // What a sealed message may carry depends on its bond (`check_sealing`).
        return Ok(());
    }
    match send.kind {
        MessageKind::Voice if send.body.as_deref().is_none_or(|b| b.trim().is_empty()) => {
            Err(ApiError::invalid(
                "body_required",
                "a voice message needs a non-empty body (in a private bond: sealed)",
            ))
        }
        MessageKind::Voice if send.feeling.is_some() => Err(ApiError::invalid(
            "unexpected_feeling",
            "a voice message carries no feeling; send a feeling message for that",
        )),
        MessageKind::Feeling if send.feeling.is_none() => Err(ApiError::invalid(
            "feeling_required",
            format!(
                "a feeling message needs a feeling (in a private bond: sealed), one of: {}",
                Feeling::ALL.map(Feeling::key).join(", ")
            ),
        )),
        MessageKind::Feeling if send.body.is_some() => Err(ApiError::invalid(
            "unexpected_body",
            "a feeling message carries no body; send a voice message for words",
        )),
        MessageKind::Alarm if send.feeling.is_some() => Err(ApiError::invalid(
            "unexpected_feeling",
            "an alarm carries no feeling",
        )),
        MessageKind::Image => Err(ApiError::invalid(
            "use_images_route",
            "send a picture with POST /api/v1/bond/images; its message follows by itself",
        )),
        _ => Ok(()),
    }
}

/// Checks a message against its bond: in a private bond (`sealed`) the words and the
/// feeling travel sealed and never in the clear; in a plain bond nothing is sealed.
fn check_sealing(send: &SendMessage, sealed: bool) -> Result<(), ApiError> {
    if !sealed {
        if send.sealed.is_some() {
            return Err(ApiError::conflict(
                "unexpected_sealed",
                "your bond is not private: send the words in body and the feeling in feeling, \
                 not sealed",
            ));
        }
        return Ok(());
    }
    if send.body.is_some() || send.feeling.is_some() {
        return Err(ApiError::conflict(
            "private_bond",
            "your bond is private: the server takes no words and no feeling in the clear; \
             seal them on your device and send them as sealed",
        ));
    }
    match (&send.sealed, send.kind) {
        (Some(text), _) => Sealed::decode(text)
            .map(|_| ())
            .map_err(|e| ApiError::invalid("invalid_sealed", e.to_string())),
        (None, MessageKind::Voice | MessageKind::Feeling) => Err(ApiError::invalid(
            "sealed_required",
            format!(
                "a {} message in a private bond needs its content sealed (sealed)",
                send.kind.key()
            ),
        )),
        // An alarm may carry no words.
        (None, _) => Ok(()),
    }
}

/// A stored message as the API shows it; in a private bond (`sealed`) what is stored in
/// the body's place is the sealed content, except a picture's notice, whose body is the
/// image's id (composed by the server, never sealed: the picture itself is).
pub fn message_view(bond: &BondRecord, m: &MessageRecord, sealed: bool) -> Message {
    let from = bond
        .index_of(m.sender)
        .map(|i| bond.names[i].clone())
        .unwrap_or_default();
    let (body, sealed) = if sealed && m.kind != MessageKind::Image {
        (None, m.body.clone())
    } else {
        (m.body.clone(), None)
    };
    Message {
        seq: m.seq,
        id: m.client_id.clone(),
        from,
        kind: m.kind,
        body,
        sealed,
        feeling: m.feeling,
        sent_at: timestamp(m.sent_at),
        acknowledged_at: m.acknowledged_at.map(timestamp),
    }
}
