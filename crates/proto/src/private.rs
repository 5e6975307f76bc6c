//! A private bond's bodies and its token report (issue 20, `docs/privacy.md`). Keys,
//! lookup hashes and confirmation tags travel as 64 lowercase hex digits (32 bytes); a
//! report's token lists as base64 (standard alphabet, padded), each list the tokens of
//! one tier's grids side by side, 8 bytes each. The invite's secret never appears here:
//! the server is sent only its lookup hash.

use haurach_bond::{Profile, Tier};
use haurach_private::tokens::{EpochTokens, TOKEN_LEN, TierTokens};
use haurach_private::{Report, Token};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// `POST /api/v1/bond/private-invites`: make a private invite. The client makes the
/// invite's secret and its device's key pair, and sends only what the server may keep.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewPrivateInvite {
    /// The lookup hash of the invite's secret, `SHA-256("haurach private invite lookup
    /// v1\0" ‖ secret)`, in hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub lookup: String,
    /// The inviter's device X25519 public key, in hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub public_key: String,
    /// The names of my places the server keeps that my device keeps now: a private
    /// bond keeps no place on the server, so it forgets them in the same transaction.
    /// Refused (409 `places_stored`) while it keeps one not named here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forget_places: Vec<String>,
}

/// `POST /api/v1/bond/private-invites` → 201.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PrivateInvite {
    /// When the invite stops working (as a plain invite, 24 hours after it was made).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: OffsetDateTime,
}

/// `POST /api/v1/bond/private`: accept a private invite.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AcceptPrivateInvite {
    /// The lookup hash of the secret the invite code carries, in hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub lookup: String,
    /// The accepter's device X25519 public key, in hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub public_key: String,
    /// The distances of the bond; `story` when absent.
    #[serde(default)]
    #[schema(schema_with = crate::schemas::optional_profile)]
    pub profile: Option<Profile>,
    /// The names of my places the server keeps that my device keeps now: a private
    /// bond keeps no place on the server, so it forgets them in the same transaction.
    /// Refused (409 `places_stored`) while it keeps one not named here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub forget_places: Vec<String>,
}

/// `GET /api/v1/bond/private`: the keys the server relays between the two devices.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct PrivateBondView {
    /// Which of the two you are: `inviter` or `accepter` (the key derivation needs it).
    #[schema(pattern = "^(inviter|accepter)$")]
    pub role: String,
    /// The inviter's device public key, in hex.
    pub inviter_key: String,
    /// The accepter's device public key, in hex.
    pub accepter_key: String,
    /// The inviter's confirmation tag, in hex, once their device sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inviter_tag: Option<String>,
    /// The accepter's confirmation tag, in hex, once their device sent it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub accepter_tag: Option<String>,
    /// The city's plausible top speed, km/h (the server's `max_speed_kmh`): a position
    /// that jumps faster stretches the bond. The server of a private bond sees no
    /// position, so each device judges its own fixes by it and seals the stretch for the
    /// partner (`docs/privacy.md`, "The stretch").
    pub max_speed_kmh: f64,
}

/// `PUT /api/v1/bond/private/confirmation`: my device's confirmation tag.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Confirmation {
    /// `HMAC-SHA256(K_confirm, role)`, in hex.
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub tag: String,
}

/// `PUT /api/v1/me/tokens` and the link's `report` frame: what a client in a private
/// bond sends instead of a position (`haurach_private::tokens`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenReport {
    /// One epoch, or two consecutive ones near an epoch's end, oldest first.
    pub epochs: Vec<TokenEpoch>,
}

/// One epoch's tokens.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenEpoch {
    /// Unix milliseconds divided by 600,000.
    #[serde(deserialize_with = "whole_epoch")]
    pub epoch: i64,
    /// One entry per tier the bond's profile gives a range, in the tiers' order.
    pub tiers: Vec<TokenTier>,
}

/// An epoch as JSON says a whole number: `5` or `5.0` (JSON Schema's `integer` takes
/// both, and so do some clients' encoders); a fraction is refused by name.
fn whole_epoch<'de, D: serde::Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Whole {
        Int(i64),
        Float(f64),
    }
    match Whole::deserialize(d)? {
        Whole::Int(n) => Ok(n),
        // Below 2^53 a float holds every whole number exactly.
        Whole::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(f as i64),
        Whole::Float(f) => Err(serde::de::Error::custom(format!(
            "epoch must be a whole number, not {f}"
        ))),
    }
}

/// One tier's tokens in one epoch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenTier {
    /// The tier.
    #[schema(schema_with = crate::schemas::tier)]
    pub tier: Tier,
    /// The open grids' tokens, 8 bytes each, sorted, in base64.
    pub open: String,
    /// The keep grids' tokens, 8 bytes each, sorted, in base64.
    pub keep: String,
}

/// Bytes as lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 32 bytes from 64 hex digits (either case).
pub fn key_from_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.is_ascii() {
        return None;
    }
    let mut out = [0; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

impl TokenReport {
    /// A report as it goes on the wire.
    pub fn of(report: &Report) -> TokenReport {
        use base64::Engine as _;
        let list = |tokens: &[Token]| {
            let bytes: Vec<u8> = tokens.iter().flat_map(|t| t.0).collect();
            base64::engine::general_purpose::STANDARD.encode(bytes)
        };
        TokenReport {
            epochs: report
                .epochs
                .iter()
                .map(|e| TokenEpoch {
                    epoch: e.epoch,
                    tiers: e
                        .tiers
                        .iter()
                        .map(|t| TokenTier {
                            tier: t.tier,
                            open: list(&t.open),
                            keep: list(&t.keep),
                        })
                        .collect(),
                })
                .collect(),
        }
    }

    /// The report it carries; `None` when a list is not base64 of whole tokens. Its shape
    /// (tiers, lengths, order) is for `Report::check` to judge.
    pub fn report(&self) -> Option<Report> {
        use base64::Engine as _;
        let list = |text: &str| -> Option<Vec<Token>> {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text)
                .ok()?;
            if bytes.len() % TOKEN_LEN != 0 {
                return None;
            }
            Some(
                bytes
                    .chunks_exact(TOKEN_LEN)
                    .map(|c| Token(c.try_into().expect("chunks of a token's length")))
                    .collect(),
            )
        };
        let epochs = self
            .epochs
            .iter()
            .map(|e| {
                let tiers = e
                    .tiers
                    .iter()
                    .map(|t| {
                        Some(TierTokens {
                            tier: t.tier,
                            open: list(&t.open)?,
                            keep: list(&t.keep)?,
                        })
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(EpochTokens {
                    epoch: e.epoch,
                    tiers,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(Report { epochs })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use haurach_bond::Fix;
    use haurach_private::BondKey;

    #[test]
    fn an_epoch_is_a_whole_number_written_either_way() {
        let read =
            |text: &str| serde_json::from_str::<TokenReport>(text).map(|r| r.epochs[0].epoch);
        assert_eq!(read(r#"{"epochs":[{"epoch":5,"tiers":[]}]}"#).unwrap(), 5);
        assert_eq!(read(r#"{"epochs":[{"epoch":5.0,"tiers":[]}]}"#).unwrap(), 5);
        let half = read(r#"{"epochs":[{"epoch":5.5,"tiers":[]}]}"#).unwrap_err();
        assert!(half.to_string().contains("whole number"), "{half}");
    }

    #[test]
    fn a_report_crosses_the_wire_unchanged() {
        let fix = Fix {
            lat: 46.2,
            lon: 7.3,
            accuracy_m: 5.0,
            at_ms: 1_000 * 600_000,
        };
        let report =
            haurach_private::tokens::report(&BondKey::from_bytes([1; 32]), Profile::Story, &fix);
        let wire = TokenReport::of(&report);
        let json = serde_json::to_string(&wire).unwrap();
        let back: TokenReport = serde_json::from_str(&json).unwrap();
        assert_eq!(back.report().unwrap(), report);
        let mut cut = back.clone();
        cut.epochs[0].tiers[0].open.truncate(8);
        assert!(
            cut.report()
                .is_none_or(|r| r.check(Profile::Story).is_err())
        );
    }

    #[test]
    fn keys_read_back_from_hex() {
        let key = [0xab; 32];
        assert_eq!(key_from_hex(&to_hex(&key)), Some(key));
        assert_eq!(key_from_hex(&to_hex(&key).to_uppercase()), Some(key));
        assert_eq!(key_from_hex("abc"), None);
        assert_eq!(key_from_hex(&"zz".repeat(32)), None);
        assert_eq!(key_from_hex(&"é".repeat(32)), None);
    }
}
