//! The JSON Schemas that `#[derive(ToSchema)]` cannot say: the bodies whose fields depend
//! on each other ([`SendMessage`], [`SendLetter`], [`PinMeeting`]), texts the server
//! trims before it counts them, and names as the server checks them ([`AccountName`],
//! [`PlaceName`]). Each says exactly what the server accepts, no more and no less: the
//! OpenAPI document is a contract a fuzzer holds the server to, in both directions.
//!
//! What "a space" is follows Rust's `str::trim` (Unicode `White_Space`), which the server
//! trims with; the patterns spell that class out ([`SPACE`]) because JSON Schema's `\s`
//! means something slightly different in each regex dialect. Every pattern here also
//! excludes U+0000, which the server refuses in any text (422 `text_with_nul`).

use serde_json::Value;
use utoipa::openapi::schema::{
    AdditionalProperties, AnyOfBuilder, ArrayBuilder, KnownFormat, ObjectBuilder, OneOfBuilder,
    Schema, SchemaFormat, Type,
};
use utoipa::openapi::{RefOr, schema::SchemaType};
use utoipa::{PartialSchema, ToSchema};

use haurach_bond::{Profile, Tier};

use crate::api::{Feeling, SendMessage};
use crate::city::{ParcelRef, SendLetter};
use crate::images::NewMemory;
use crate::places::PinMeeting;

/// The characters `str::trim` removes (Unicode `White_Space`), as a regex class body.
pub const SPACE: &str =
    r"\t\n\u000B\f\r \u0085\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";

/// The bidirectional controls refused in names, places and letters
/// ([`crate::text::BIDI_CONTROLS`]), as a regex class body.
pub const BIDI: &str = r"\u202A-\u202E\u2066-\u2069";

/// A citizen's name as the server checks it (`http/names.rs`).
pub const NAME_PATTERN: &str = r"^[A-Za-z0-9._-]{1,32}$";

/// A pattern for text of 1 to `max` characters once the spaces around it are trimmed,
/// none of them U+0000 or one of `excluded` (a regex class body). With `blank_ok`, text
/// that is all spaces (or empty) matches too.
pub fn trimmed(max: usize, excluded: &str, blank_ok: bool) -> String {
    let edge = format!(r"[^\u0000{excluded}{SPACE}]");
    let inner = format!(r"[^\u0000{excluded}]");
    let text = format!("{edge}(?:{inner}{{0,{}}}{edge})?", max - 2);
    let text = if blank_ok {
        format!("(?:{text})?")
    } else {
        text
    };
    format!("^[{SPACE}]*{text}[{SPACE}]*$")
}

/// A pattern for text with at least one character that is not a space, and no U+0000.
pub fn not_blank() -> String {
    not_blank_without("")
}

/// [`not_blank`], and none of `excluded` (a regex class body) anywhere.
pub fn not_blank_without(excluded: &str) -> String {
    format!(r"^[{SPACE}]*[^\u0000{excluded}{SPACE}][^\u0000{excluded}]*$")
}

fn string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String)
}

fn nullable_string() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
}

fn null() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::Null)
}

fn number(min: f64, max: f64) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Number)
        .minimum(Some(min))
        .maximum(Some(max))
}

fn keys(keys: impl IntoIterator<Item = &'static str>) -> Vec<Value> {
    keys.into_iter().map(Value::from).collect()
}

/// A field of the gatekeeper's book: at most 200 characters once trimmed; blank is no
/// answer.
pub fn book_text() -> ObjectBuilder {
    nullable_string().pattern(Some(trimmed(200, BIDI, true)))
}

/// The book's note: at most 2,000 characters once trimmed.
pub fn book_note() -> ObjectBuilder {
    nullable_string().pattern(Some(trimmed(2000, BIDI, true)))
}

/// The tower's answer: 1 to 2,000 characters once trimmed.
pub fn answer() -> ObjectBuilder {
    string().pattern(Some(trimmed(2000, BIDI, false)))
}

/// A parcel's file name: 1 to 200 characters once trimmed, without `/` or `\`.
pub fn parcel_name() -> ObjectBuilder {
    string().pattern(Some(trimmed(200, &format!(r"/\\{BIDI}"), false)))
}

/// A journal entry's words: 1 to 10,000 characters, not all spaces.
pub fn memory_body() -> ObjectBuilder {
    string().max_length(Some(10_000)).pattern(Some(not_blank()))
}

/// A bond's profile, by its key.
pub fn profile() -> ObjectBuilder {
    string().enum_values(Some(keys(Profile::ALL.map(Profile::key))))
}

/// A profile or `null` (the default, `story`).
pub fn optional_profile() -> ObjectBuilder {
    let mut values = keys(Profile::ALL.map(Profile::key));
    values.push(Value::Null);
    nullable_string().enum_values(Some(values))
}

/// A tier, by its key.
pub fn tier() -> ObjectBuilder {
    string().enum_values(Some(keys(Tier::ALL.map(Tier::key))))
}

/// A citizen's name: 1 to 32 letters, digits, `-`, `_` or `.` (a path parameter's
/// schema; the bodies say it with attributes).
pub struct AccountName;

impl PartialSchema for AccountName {
    fn schema() -> RefOr<Schema> {
        string()
            .min_length(Some(1))
            .max_length(Some(32))
            .pattern(Some(NAME_PATTERN))
            .into()
    }
}

impl ToSchema for AccountName {}

/// A place's name: 1 to 64 characters, no control characters, no spaces around it
/// (`runtime/places.rs`, `check_place_name`).
pub struct PlaceName;

impl PlaceName {
    /// The pattern: no control character anywhere, no space at either end.
    pub fn pattern() -> String {
        let control = format!(r"\u0000-\u001F\u007F-\u009F{BIDI}");
        format!(r"^[^{control}{SPACE}](?:[^{control}]*[^{control}{SPACE}])?$")
    }
}

impl PartialSchema for PlaceName {
    fn schema() -> RefOr<Schema> {
        string()
            .min_length(Some(1))
            .max_length(Some(64))
            .pattern(Some(PlaceName::pattern()))
            .into()
    }
}

impl ToSchema for PlaceName {}

/// What the OwnTracks app posts to `POST /owntracks`: one message (an object with a
/// `_type`) or an array of them. Their fields are the OwnTracks project's, described in
/// its booklet; the server reads those it needs (`http/owntracks.rs`).
pub struct OwnTracksBody;

impl PartialSchema for OwnTracksBody {
    fn schema() -> RefOr<Schema> {
        let message = || {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property("_type", string())
                .required("_type")
                .additional_properties(Some(AdditionalProperties::FreeForm(true)))
        };
        let one_of = OneOfBuilder::new()
            .item(message())
            .item(ArrayBuilder::new().items(message()))
            .build();
        RefOr::T(Schema::OneOf(one_of))
    }
}

impl ToSchema for OwnTracksBody {}

/// A body of raw bytes (a picture, a parcel): `string` of `format: binary`, at least a
/// byte (an empty picture or parcel is refused).
pub struct RawBytes;

impl PartialSchema for RawBytes {
    fn schema() -> RefOr<Schema> {
        string()
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
            .min_length(Some(1))
            .into()
    }
}

impl ToSchema for RawBytes {}

fn client_id() -> ObjectBuilder {
    string().min_length(Some(1)).max_length(Some(64))
}

/// One kind of message: `kind` fixed, the given properties, nothing else.
fn message_variant(
    kind: &str,
    required: &[&str],
    body: ObjectBuilder,
    feeling: RefOr<Schema>,
    sealed: ObjectBuilder,
) -> Schema {
    let mut variant = ObjectBuilder::new()
        .schema_type(Type::Object)
        .property("kind", string().enum_values(Some([kind])))
        .property(
            "id",
            client_id().description(Some(
                "the client's id for this message (1 to 64 characters): a retry with the same \
             id is answered with the stored message",
            )),
        )
        .property("body", body)
        .property("feeling", feeling)
        .property("sealed", sealed)
        .required("kind")
        .required("id")
        .additional_properties(Some(AdditionalProperties::FreeForm(false)));
    for field in required {
        variant = variant.required(*field);
    }
    variant.build().into()
}

/// Sealed content as a private bond's clients send it (`crate::sealed`).
fn sealed_content() -> ObjectBuilder {
    string()
        .min_length(Some(crate::sealed::MIN_CHARS))
        .max_length(Some(crate::sealed::MAX_CHARS))
        .pattern(Some(crate::sealed::PATTERN))
        .description(Some(
            "in a private bond: the content sealed on the sender's device, base64url without \
             padding of the sender's counter (8 bytes) and nonce, ciphertext and tag",
        ))
}

impl PartialSchema for NewMemory {
    /// `id` with `body` (a plain bond) or with `sealed` (a private bond), never both.
    fn schema() -> RefOr<Schema> {
        let variant = |field: &str, schema: ObjectBuilder| -> Schema {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    "id",
                    client_id().description(Some(
                        "my id for it (1 to 64 characters), so a retry is stored once",
                    )),
                )
                .property(field, schema)
                .required("id")
                .required(field)
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
                .build()
                .into()
        };
        let one_of = OneOfBuilder::new()
            .description(Some(
                "words for my journal: body (1 to 10,000 characters, not all spaces) in a plain \
                 bond, or sealed (the words sealed on my device) in a private bond",
            ))
            .item(variant("body", memory_body()))
            .item(variant("sealed", sealed_content()))
            .build();
        RefOr::T(Schema::OneOf(one_of))
    }
}

impl ToSchema for NewMemory {}

impl PartialSchema for SendMessage {
    /// One of five kinds (`image` is sent only through `POST /api/v1/bond/images`):
    /// `voice` with words, `feeling` with a feeling, `alarm` with words or none; each
    /// either in the clear (a plain bond) or sealed (a private bond); and, only sealed in
    /// a private bond, `place` and `meeting` (`docs/privacy.md`, "Sealed places").
    fn schema() -> RefOr<Schema> {
        let feeling = || RefOr::Ref(utoipa::openapi::Ref::from_schema_name("Feeling"));
        let words = || string().max_length(Some(4000));
        let one_of = OneOfBuilder::new()
            .description(Some(
                "a message: voice (words, 1 to 4,000 characters, not all spaces), feeling (one \
                 of the feelings, no words) or alarm (words optional, up to 4,000 characters); \
                 in a private bond the words or the feeling are sealed instead (sealed: \
                 required for voice and feeling, optional for an alarm), and a private \
                 bond's devices also send place (a place's news) and meeting (the meeting \
                 point), always sealed",
            ))
            .item(message_variant(
                "voice",
                &["body"],
                words().pattern(Some(not_blank())),
                null().into(),
                null(),
            ))
            .item(message_variant(
                "voice",
                &["sealed"],
                null(),
                null().into(),
                sealed_content(),
            ))
            .item(message_variant(
                "feeling",
                &["feeling"],
                null(),
                feeling(),
                null(),
            ))
            .item(message_variant(
                "feeling",
                &["sealed"],
                null(),
                null().into(),
                sealed_content(),
            ))
            .item(message_variant(
                "alarm",
                &[],
                ObjectBuilder::new()
                    .schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
                    .max_length(Some(4000)),
                null().into(),
                null(),
            ))
            .item(message_variant(
                "alarm",
                &["sealed"],
                null(),
                null().into(),
                sealed_content(),
            ))
            .item(message_variant(
                "place",
                &["sealed"],
                null(),
                null().into(),
                sealed_content(),
            ))
            .item(message_variant(
                "meeting",
                &["sealed"],
                null(),
                null().into(),
                sealed_content(),
            ))
            .build();
        RefOr::T(Schema::OneOf(one_of))
    }
}

impl ToSchema for SendMessage {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((Feeling::name().into(), Feeling::schema()));
    }
}

impl PartialSchema for SendLetter {
    /// The letter's fields, with `to`, `in_reply_to` or both.
    fn schema() -> RefOr<Schema> {
        let letter = |required: &str| {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .property(
                    "to",
                    nullable_string()
                        .pattern(Some(NAME_PATTERN))
                        .description(Some("the recipient's account name; for a reply it may be left out: it goes to the other party of the letter replied to")),
                )
                .property(
                    "body",
                    string()
                        .max_length(Some(20_000))
                        .pattern(Some(not_blank_without(BIDI)))
                        .description(Some("the words: 1 to 20,000 characters, not all spaces")),
                )
                .property(
                    "parcels",
                    ArrayBuilder::new()
                        .items(RefOr::Ref(utoipa::openapi::Ref::from_schema_name("ParcelRef")))
                        .max_items(Some(20))
                        .description(Some("at most 20 files uploaded with POST /api/v1/parcels")),
                )
                .property(
                    "in_reply_to",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
                        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                        .description(Some("the id of the letter this answers")),
                )
                .property(
                    "id",
                    ObjectBuilder::new()
                        .schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
                        .min_length(Some(1))
                        .max_length(Some(64))
                        .description(Some("the client's id for this letter (1 to 64 characters): a retry with the same id gets the stored letter back")),
                )
                .required("body")
                .required(required)
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
                .build()
        };
        // `null` is no recipient: the variant that names one needs a string there.
        let mut to = letter("to");
        to.properties
            .insert("to".into(), string().pattern(Some(NAME_PATTERN)).into());
        let mut reply = letter("in_reply_to");
        reply.properties.insert(
            "in_reply_to".into(),
            string()
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::Uuid)))
                .into(),
        );
        let any_of = AnyOfBuilder::new()
            .description(Some(
                "a letter to someone by name (to), a reply (in_reply_to), or both",
            ))
            .item(to)
            .item(reply)
            .build();
        RefOr::T(Schema::AnyOf(any_of))
    }
}

impl ToSchema for SendLetter {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((ParcelRef::name().into(), ParcelRef::schema()));
    }
}

impl PartialSchema for PinMeeting {
    /// One of your places by name, or a point.
    fn schema() -> RefOr<Schema> {
        let label = || {
            ObjectBuilder::new()
                .schema_type(SchemaType::Array(vec![Type::String, Type::Null]))
                .min_length(Some(1))
                .max_length(Some(64))
                .pattern(Some(PlaceName::pattern()))
                .description(Some(
                    "a label for the point (\"the Needle\"), a place's name by the same rules",
                ))
        };
        let pin =
            |place: RefOr<Schema>, lat: ObjectBuilder, lon: ObjectBuilder, required: &[&str]| {
                let mut pin = ObjectBuilder::new()
                    .schema_type(Type::Object)
                    .property("place", place)
                    .property("lat", lat)
                    .property("lon", lon)
                    .property("name", label())
                    .additional_properties(Some(AdditionalProperties::FreeForm(false)));
                for field in required {
                    pin = pin.required(*field);
                }
                Schema::from(pin.build())
            };
        let one_of = OneOfBuilder::new()
            .description(Some(
                "pin one of your places (place) or a point (lat and lon), not both",
            ))
            .item(pin(PlaceName::schema(), null(), null(), &["place"]))
            .item(pin(
                null().into(),
                number(-90.0, 90.0),
                number(-180.0, 180.0),
                &["lat", "lon"],
            ))
            .build();
        RefOr::T(Schema::OneOf(one_of))
    }
}

impl ToSchema for PinMeeting {}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`SPACE`]'s ranges, as numbers.
    const SPACE_RANGES: [(u32, u32); 10] = [
        (0x09, 0x0D),
        (0x20, 0x20),
        (0x85, 0x85),
        (0xA0, 0xA0),
        (0x1680, 0x1680),
        (0x2000, 0x200A),
        (0x2028, 0x2029),
        (0x202F, 0x202F),
        (0x205F, 0x205F),
        (0x3000, 0x3000),
    ];

    #[test]
    fn the_space_class_is_exactly_what_trim_removes() {
        for c in (0..=0x10FFFF).filter_map(char::from_u32) {
            let listed = SPACE_RANGES
                .iter()
                .any(|&(lo, hi)| (lo..=hi).contains(&(c as u32)));
            assert_eq!(listed, c.is_whitespace(), "U+{:04X}", c as u32);
        }
        let spelled: String = SPACE_RANGES
            .iter()
            .map(|&(lo, hi)| {
                let one = |n: u32| match n {
                    0x09 => r"\t".to_owned(),
                    0x20 => " ".to_owned(),
                    n => format!(r"\u{n:04X}"),
                };
                match (lo, hi) {
                    (0x09, 0x0D) => r"\t\n\u000B\f\r".to_owned(),
                    (lo, hi) if lo == hi => one(lo),
                    (0x2028, 0x2029) => r"\u2028\u2029".to_owned(),
                    (lo, hi) => format!("{}-{}", one(lo), one(hi)),
                }
            })
            .collect();
        assert_eq!(spelled, SPACE);
    }

    #[test]
    fn the_bidi_class_is_the_servers_list() {
        let spelled: Vec<u32> = (0x202A..=0x202E).chain(0x2066..=0x2069).collect();
        let listed: Vec<u32> = crate::text::BIDI_CONTROLS.map(u32::from).to_vec();
        assert_eq!(spelled, listed);
        assert_eq!(BIDI, r"\u202A-\u202E\u2066-\u2069");
    }

    #[test]
    fn the_trimmed_pattern_reads_as_intended() {
        assert_eq!(
            trimmed(5, "/", false),
            format!(
                r"^[{SPACE}]*[^\u0000/{SPACE}](?:[^\u0000/]{{0,3}}[^\u0000/{SPACE}])?[{SPACE}]*$"
            )
        );
    }
}
