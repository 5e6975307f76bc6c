//! Web Push: the server's public key, a device's subscription, and the payload the
//! server pushes, which the web client's service worker turns into a notification.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

/// `GET /api/v1/push/key` → 200: the key the server signs its pushes with (VAPID), for
/// `pushManager.subscribe({applicationServerKey})`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PushKey {
    /// The uncompressed P-256 public key (65 bytes), base64url without padding.
    pub public_key: String,
}

/// A device's keys, as the browser's `PushSubscription.toJSON()` gives them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushSubscriptionKeys {
    /// The device's P-256 public key (65 bytes uncompressed), base64url.
    #[schema(min_length = 1, max_length = 200)]
    pub p256dh: String,
    /// The device's 16-byte authentication secret, base64url.
    #[schema(min_length = 1, max_length = 100)]
    pub auth: String,
}

/// `POST /api/v1/push/subscriptions`: the browser's `PushSubscription.toJSON()`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushSubscription {
    /// The push service's URL for this device: `https`, on a public address.
    #[schema(min_length = 1, max_length = 2048)]
    pub endpoint: String,
    /// When the subscription expires (milliseconds), if the browser says; not used.
    #[serde(
        default,
        rename = "expirationTime",
        skip_serializing_if = "Option::is_none"
    )]
    pub expiration_time: Option<f64>,
    /// The device's keys.
    pub keys: PushSubscriptionKeys,
}

/// `DELETE /api/v1/push/subscriptions`: the device that no longer wants pushes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PushUnsubscribe {
    /// The endpoint it was subscribed with.
    #[schema(min_length = 1, max_length = 2048)]
    pub endpoint: String,
}

/// What a push says, decrypted by the device: the service worker shows it as a
/// notification that opens the right screen. It carries only what the receiver may know
/// now: who, and what kind of news; never a letter's words or a position.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PushNote {
    /// The partner raised the alarm (its sequence number, to acknowledge it).
    Alarm {
        /// The partner's name.
        from: String,
        /// The alarm message's sequence number.
        seq: i64,
    },
    /// Someone summoned the receiver.
    Summons {
        /// The summoner's name.
        from: String,
        /// The summons.
        id: Uuid,
    },
    /// A letter arrived.
    Letter {
        /// The sender's name.
        from: String,
        /// The letter.
        id: Uuid,
    },
    /// The partner arrived at or left one of their places (its name is theirs to share at
    /// any range, like the link's place news).
    Place {
        /// The partner's name.
        who: String,
        /// The place's name.
        place: String,
        /// Arrived or left.
        event: crate::PlaceEvent,
    },
    /// Contact with the partner was lost.
    ContactLost {
        /// The partner's name.
        who: String,
    },
    /// Contact with the partner is back.
    ContactRestored {
        /// The partner's name.
        who: String,
    },
    /// The partner asks where the receiver is now: opening the page answers.
    Locate {
        /// The partner's name.
        from: String,
    },
    /// The partner resumed sharing after a pause (or its time ran out).
    Resumed {
        /// The partner's name.
        who: String,
    },
    /// The partner spoke, and no page or link of the receiver's took the words in time.
    /// Never the words: only that there are some, and which message to open.
    Voice {
        /// The partner's name.
        from: String,
        /// The message's sequence number.
        seq: i64,
    },
    /// The partner sent a feeling nobody has seen yet. Never which feeling.
    Feeling {
        /// The partner's name.
        from: String,
        /// The message's sequence number.
        seq: i64,
    },
    /// In a private bond, the partner's device told of arriving at or leaving one of
    /// their places, sealed, and no page or link of the receiver's took it in time. The
    /// server cannot say which place, nor arrived or left: only that there is news.
    SealedPlace {
        /// The partner's name.
        from: String,
        /// The message's sequence number.
        seq: i64,
    },
    /// In a private bond, the partner's device pinned, unpinned or reached the meeting
    /// point, sealed, and no page or link of the receiver's took it in time. Never where.
    SealedMeeting {
        /// The partner's name.
        from: String,
        /// The message's sequence number.
        seq: i64,
    },
}

impl PushNote {
    /// The kind as the payload's `kind` names it (also the push's `Topic`).
    pub fn kind(&self) -> &'static str {
        match self {
            PushNote::Alarm { .. } => "alarm",
            PushNote::Summons { .. } => "summons",
            PushNote::Letter { .. } => "letter",
            PushNote::Place { .. } => "place",
            PushNote::ContactLost { .. } => "contact_lost",
            PushNote::ContactRestored { .. } => "contact_restored",
            PushNote::Locate { .. } => "locate",
            PushNote::Resumed { .. } => "resumed",
            PushNote::Voice { .. } => "voice",
            PushNote::SealedPlace { .. } => "sealed_place",
            PushNote::SealedMeeting { .. } => "sealed_meeting",
            PushNote::Feeling { .. } => "feeling",
        }
    }
}
