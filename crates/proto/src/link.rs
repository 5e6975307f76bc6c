//! The frames of the live link (`GET /api/v1/link`, a WebSocket of JSON text frames).
//! Every frame is an object with a `type`. See `docs/protocol.md` for the conversation.

use haurach_bond::Tier;
use haurach_bond::thoughts::Edit;
use serde::{Deserialize, Serialize};

use crate::api::{BondView, ContactState, Message, NextTier, PullView, SendMessage};
use crate::problem::Problem;

/// What the server sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// First frame of every connection: who you are and the bond as it stands. Stored
    /// messages after the resume point follow as `message` frames, then live frames.
    Hello {
        /// Your name.
        you: String,
        /// The bond, if any.
        bond: Option<Box<BondView>>,
        /// Messages after this sequence number follow this frame.
        resume_after: i64,
    },
    /// The pull moved (either partner moved).
    Pull {
        /// Who moved: `you` or `partner`.
        moved: Mover,
        /// The pull toward the partner.
        pull: PullView,
        /// The bond's strength in [0, 1].
        strength: f64,
        /// The next tier to open.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_tier: Option<NextTier>,
    },
    /// A tier opened or closed.
    Tier {
        /// Which tier.
        tier: Tier,
        /// Whether it is now open.
        open: bool,
        /// Its range, metres (`null`: any range).
        range_m: Option<f64>,
    },
    /// A partner's link went silent or came back (sent to both partners).
    Contact {
        /// Whose link: the partner's name, or yours (you were unreachable).
        who: String,
        /// `lost` or `live`.
        state: ContactState,
        /// For `live` after a loss: how long contact was lost, milliseconds.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lost_for_ms: Option<i64>,
        /// For `lost`: when they were last heard (Unix milliseconds). Of the link, not of
        /// a position: it says when, never where.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_heard_ms: Option<i64>,
    },
    /// Someone paused sharing (sent to both partners): no pull moves and the tiers that
    /// need a distance stay closed until they resume and send a position.
    Paused {
        /// Who paused: the partner's name, or yours.
        who: String,
        /// When the pause ends by itself (absent: until they resume).
        #[serde(
            default,
            with = "time::serde::rfc3339::option",
            skip_serializing_if = "Option::is_none"
        )]
        until: Option<time::OffsetDateTime>,
    },
    /// Someone's pause ended: they resumed, or its `until` came (sent to both partners).
    Resumed {
        /// Who resumed: the partner's name, or yours.
        who: String,
    },
    /// Someone's position jumped faster than plausible travel.
    Stretch {
        /// Whose position jumped.
        who: String,
        /// How far, metres.
        jump_m: f64,
        /// The implied speed, km/h.
        speed_kmh: f64,
    },
    /// A stored message (voice, feeling, alarm), from either partner, in sequence order.
    Message {
        /// The message.
        message: Message,
    },
    /// Your `send` frame was stored (or had been already).
    Sent {
        /// Your id for it.
        id: String,
        /// Its sequence number.
        seq: i64,
    },
    /// An alarm was acknowledged by its receiver.
    AlarmAcknowledged {
        /// The alarm's sequence number.
        seq: i64,
        /// Who acknowledged it.
        by: String,
    },
    /// The partner's thought, as typed (only while thoughts are open and unguarded).
    Thought {
        /// The batch's sequence number.
        seq: u64,
        /// Whether the batch restarts from the empty text.
        reset: bool,
        /// The edits.
        edits: Vec<Edit>,
    },
    /// In a private bond, the partner's thought as typed: their whole current text,
    /// sealed (kind `thought`; the highest counter is the newest). Only while thoughts
    /// are open and they do not guard.
    SealedThought {
        /// The sealed text ([`crate::sealed`]).
        sealed: String,
    },
    /// In a private bond, the partner's position as their device rounded and sealed it
    /// (kind `position`): sent on each of their moves while neither partner is hidden by
    /// a pause, as a plain bond sends a `pull`.
    PartnerSealedFix {
        /// The sealed position ([`crate::sealed`]).
        sealed: String,
        /// When the server received it: only while the feelings tier is open.
        #[serde(
            default,
            with = "time::serde::rfc3339::option",
            skip_serializing_if = "Option::is_none"
        )]
        at: Option<time::OffsetDateTime>,
    },
    /// The partner guarded or unguarded their thoughts.
    Guard {
        /// Whether they are guarded now.
        on: bool,
    },
    /// A bond was made (you accepted an invite, or your invite was accepted).
    Bonded {
        /// The new bond.
        bond: Box<BondView>,
    },
    /// The bond was ended by either partner.
    BondEnded,
    /// Someone arrived at or left one of their places (sent to both partners, at any
    /// range; the place's coordinates are not in it).
    Place(crate::places::PlaceNews),
    /// A partner (or you, on another device) made, changed or deleted a place: read
    /// `GET /api/v1/places` again. Nothing of the place is in it.
    PlacesChanged {
        /// Whose places changed.
        who: String,
    },
    /// Where to meet, after either partner moved or the meeting point was pinned.
    Meeting {
        /// The meeting point as you see it.
        meeting: Box<crate::places::MeetingView>,
    },
    /// Someone reached the meeting point (sent to both).
    MeetingReached {
        /// Who: your partner's name or yours.
        who: String,
    },
    /// Fire-mail: a letter arrived in your hands (sent to you, or returned to you). Its
    /// body is not in the frame: read it with `POST /api/v1/letters/{id}/read`.
    Letter {
        /// The letter as you see it now.
        letter: Box<crate::city::Letter>,
    },
    /// Fire-mail: a letter you sent was delivered, read or returned (a receipt).
    LetterReceipt {
        /// The letter as you see it now.
        letter: Box<crate::city::Letter>,
    },
    /// A summons: someone calls you (`calling`), or a summons you are part of changed
    /// (accepted, declined, ended, arrived, or the other side moved while accepted).
    Summons {
        /// The summons as you see it now.
        summons: Box<crate::city::Summons>,
    },
    /// For the tower: a newcomer applied at the gate and waits for an answer.
    Application {
        /// Their page of the book.
        arrival: Box<crate::city::Arrival>,
    },
    /// Your partner accepted a summons that takes them away from you: the bond stretches.
    PartnerSummoned {
        /// Your partner.
        partner: String,
        /// Who summoned them.
        by: String,
    },
    /// In a private bond, part of a stroke your partner drew, sealed on their device (kind
    /// `trace`): the [`Trace`] as JSON, what it is drawn over included. Only while the
    /// images tier is open.
    SealedTrace {
        /// The sealed stroke ([`crate::sealed`]).
        sealed: String,
    },
    /// Part of a stroke your partner drew over a picture, a glimpse or the sight.
    Trace {
        /// Who drew it.
        from: String,
        /// The stroke.
        #[serde(flatten)]
        trace: Trace,
    },
    /// Your partner asks where you are now: answer with a fresh `position` (the web
    /// client takes a new fix at once). Sent to the asked partner's links only.
    Locate {
        /// Your partner's name.
        by: String,
    },
    /// Your partner asks for a glimpse through your camera (sent only when you allow
    /// it). Answer with one binary frame: `0x01` followed by a JPEG whose longest side is
    /// at most `side`.
    GlimpseAsked {
        /// Your partner's name.
        by: String,
        /// The longest side the glimpse may have at this strength, pixels.
        side: u32,
        /// Whether this is the return glimpse of a picture your partner just sent you
        /// (not a request they made).
        #[serde(default)]
        on_sending: bool,
    },
    /// The glimpse you just sent was passed to your partner, under this id: a stroke they
    /// draw over it comes as a `trace` frame naming it (`"glimpse": ID`). Answers your
    /// binary glimpse frame, on the same link.
    GlimpseSent {
        /// The glimpse's id.
        glimpse: uuid::Uuid,
    },
    /// How your live sight is flowing, about once a second while you send it: what you
    /// sent, what reached your partner, and what the bond allows now.
    SightRate {
        /// Frames a second you sent.
        sent_fps: f64,
        /// Frames a second that reached your partner (the rest were dropped: too fast for
        /// the bond, too large, or your partner's connection was behind).
        delivered_fps: f64,
        /// Frames a second the bond allows now.
        allowed_fps: f64,
        /// The longest side of a frame the bond allows now, pixels.
        side: u32,
    },
    /// A frame you sent could not be taken; the link stays open.
    Error {
        /// Your id, for a failed `send`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        id: Option<String>,
        /// What went wrong.
        problem: Problem,
    },
}

/// Whose move a `pull` frame follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mover {
    /// You moved.
    You,
    /// Your partner moved.
    Partner,
}

/// What a client sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// A new position (same fields and rules as `PUT /api/v1/me/position`).
    Position(crate::api::PositionUpdate),
    /// Send a message; answered by `sent` (after commit) or `error`.
    Send(SendMessage),
    /// I have seen every message up to `seq`: the server resumes after it next time.
    Ack {
        /// The highest sequence number seen.
        seq: i64,
    },
    /// Acknowledge an alarm from the partner.
    AckAlarm {
        /// The alarm's sequence number.
        seq: i64,
    },
    /// A batch of edits to the thought being typed.
    Thought {
        /// Increasing by one per batch; a reset may restart anywhere.
        seq: u64,
        /// Whether this batch restarts from the empty text (send one every few seconds).
        reset: bool,
        /// The edits.
        edits: Vec<Edit>,
    },
    /// In a private bond, instead of `thought`: my whole current text, sealed on my
    /// device (kind `thought`). The server cannot apply edits to what it cannot read, so
    /// each one carries the whole text; it passes only while thoughts are open and I do
    /// not guard, and is never stored.
    SealedThought {
        /// The sealed text ([`crate::sealed`]).
        sealed: String,
    },
    /// Guard (or unguard) my thoughts: while guarded, nothing I type passes.
    Guard {
        /// Whether to guard.
        on: bool,
    },
    /// Nothing to say, but I am here (keeps contact live).
    Heartbeat,
    /// Part of a stroke drawn over a picture of the bond, a glimpse or the live sight
    /// (needs the images tier). Passed to the partner as a `trace` frame; not stored.
    Trace(Trace),
    /// In a private bond, instead of `trace`: part of a stroke sealed on my device (kind
    /// `trace`, the [`Trace`] as JSON). The server sees neither the points nor what they
    /// are drawn over; it passes the stroke while the images tier is open and never
    /// stores it.
    SealedTrace {
        /// The sealed stroke ([`crate::sealed`]).
        sealed: String,
    },
    /// In a private bond, instead of a position: the token report of the client's latest
    /// fix (same fields and rules as `PUT /api/v1/me/tokens`). Never passed to the
    /// partner; the server keeps only the latest in memory.
    Report(crate::private::TokenReport),
    /// In a private bond, after a `report`: my position as my device rounded and sealed
    /// it for my partner (same field and rules as `PUT /api/v1/me/sealed-fix`). The
    /// server relays it and keeps the latest.
    SealedFix {
        /// The sealed position ([`crate::sealed`], kind `position`).
        sealed: String,
    },
    /// Ask for a glimpse through the partner's camera (needs the glimpse tier and the
    /// partner's consent, `PUT /api/v1/me/camera`). The glimpse arrives as a binary
    /// frame `0x01` + JPEG.
    GlimpseAsk,
}

/// Part of a stroke drawn over something the partners both see: points in that picture's
/// own coordinates, from (0, 0) at its top left to (1, 1) at its bottom right, so they land
/// in place whatever size each side shows it at.
///
/// On the wire the target is one field beside the others, `image`, `glimpse` or `sight`
/// (see [`Over`]): `{"type": "trace", "image": ID, "stroke": 1, "points": [[x, y]]}` is
/// a stroke over a picture, as it always was.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trace {
    /// What the stroke is drawn over.
    #[serde(flatten)]
    pub over: Over,
    /// The stroke this belongs to (the drawer's number; a new number starts a new line).
    pub stroke: u32,
    /// Points of the stroke, each `[x, y]` in [0, 1]; at most 256 a frame.
    pub points: Vec<[f32; 2]>,
    /// Whether the stroke ends here.
    #[serde(default)]
    pub end: bool,
}

/// What a stroke is drawn over: the same picture on both sides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Over {
    /// A picture of the bond: the image's id (`"image": ID`).
    Image(uuid::Uuid),
    /// A glimpse: its id (`"glimpse": ID`), which the server gives each glimpse it passes
    /// on (in the binary frame to the one who asked, in `glimpse_sent` to the one who
    /// sent it). The asker draws over what they received, the sender over the frame they
    /// sent: both are the same picture.
    Glimpse(uuid::Uuid),
    /// The live sight through someone's camera: whose, by name (`"sight": NAME`). Drawn
    /// over the partner's sight it appears over that partner's own camera view; drawn
    /// over one's own camera view, over the sight the partner receives of it.
    Sight(String),
}

impl std::fmt::Display for Over {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Over::Image(id) => write!(f, "a picture ({id})"),
            Over::Glimpse(id) => write!(f, "a glimpse ({id})"),
            Over::Sight(whose) => write!(f, "{whose}'s sight"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::LatLon;
    use crate::city::{Letter, LetterState, Parcel, SummonState, Summons};
    use time::OffsetDateTime;
    use uuid::Uuid;

    fn at(s: &str) -> OffsetDateTime {
        OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).unwrap()
    }

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    // The city's frames (snapshots under `src/snapshots/`); their bodies are in
    // `city.rs`.
    #[test]
    fn a_sealed_letter_frame() {
        let letter = Letter {
            id: id(1),
            from: "spike".into(),
            to: "twilight".into(),
            holder: "twilight".into(),
            state: LetterState::Unread,
            body: None,
            parcels: vec![Parcel {
                index: 0,
                name: "box.png".into(),
                hash: "ab".repeat(32),
                size: 1234,
            }],
            thread: id(1),
            in_reply_to: None,
            sent_at: at("2026-11-23T10:00:00Z"),
            delivered_at: None,
            read_at: None,
            returned_at: None,
        };
        insta::assert_json_snapshot!(ServerFrame::Letter {
            letter: Box::new(letter)
        });
    }

    #[test]
    fn a_summons_frame_on_the_way() {
        let summons = Summons {
            id: id(2),
            from: "twilight".into(),
            to: "spike".into(),
            state: SummonState::Accepted,
            summoner: LatLon {
                lat: 46.05,
                lon: 7.0,
            },
            summoned: Some(LatLon {
                lat: 46.03,
                lon: 7.0,
            }),
            bearing_deg: Some(0.0),
            distance_m: Some(2223.9),
            created_at: at("2026-11-23T10:00:00Z"),
        };
        insta::assert_json_snapshot!(ServerFrame::Summons {
            summons: Box::new(summons)
        });
    }

    fn trace(json: serde_json::Value) -> Trace {
        match serde_json::from_value(json).expect("a trace frame") {
            ClientFrame::Trace(t) => t,
            other => panic!("not a trace: {other:?}"),
        }
    }

    #[test]
    fn a_trace_names_an_image_as_it_always_did() {
        let id = uuid::Uuid::nil();
        let t = trace(serde_json::json!({
            "type": "trace", "image": id, "stroke": 3, "points": [[0.5, 0.25]]
        }));
        assert_eq!(t.over, Over::Image(id));
        assert!(!t.end);
        let back = serde_json::to_value(ClientFrame::Trace(t)).unwrap();
        assert_eq!(
            back,
            serde_json::json!({
                "type": "trace", "image": id, "stroke": 3, "points": [[0.5, 0.25]], "end": false
            })
        );
    }

    #[test]
    fn a_trace_may_name_a_glimpse_or_someones_sight() {
        let id = uuid::Uuid::from_u128(7);
        let t = trace(serde_json::json!({
            "type": "trace", "glimpse": id, "stroke": 1, "points": [], "end": true
        }));
        assert_eq!(t.over, Over::Glimpse(id));
        let t = trace(serde_json::json!({
            "type": "trace", "sight": "amethyst", "stroke": 1, "points": [[0.0, 1.0]]
        }));
        assert_eq!(t.over, Over::Sight("amethyst".into()));
        let frame = ServerFrame::Trace {
            from: "spike".into(),
            trace: t,
        };
        let json = serde_json::to_value(&frame).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "type": "trace", "from": "spike", "sight": "amethyst", "stroke": 1,
                "points": [[0.0, 1.0]], "end": false
            })
        );
        assert_eq!(serde_json::from_value::<ServerFrame>(json).unwrap(), frame);
    }

    #[test]
    fn a_trace_over_nothing_is_refused() {
        let res = serde_json::from_value::<ClientFrame>(serde_json::json!({
            "type": "trace", "stroke": 1, "points": []
        }));
        assert!(res.is_err());
    }
}
