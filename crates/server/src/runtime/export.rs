//! A person's data, exported as one zip (`GET /api/v1/me/export`, and the tower's
//! `GET /api/v1/tower/people/{name}/export`): what they wrote and sent, where they went,
//! and their own files, in formats other programs read (JSON, GPX 1.1, the pictures and
//! parcels as they were uploaded).
//!
//! What is in it (`README.txt` inside says the same to whoever opens it):
//! - `account.json`: their name, standing, when they arrived, and their page in the
//!   gatekeeper's book with the tower's answer.
//! - `journey.gpx`: every position the server keeps of them (`journey_days`).
//! - `places.json`: their places.
//! - `journal.json`, `journal/ID.EXT`: their journal, with its photos.
//! - `bond.json`: their live bond (the partner's name, since when) and every message
//!   they sent in it; `pictures/ID.EXT`: the originals of the pictures they sent (a
//!   private bond's picture: `pictures/ID.sealed`, its largest rendition as sealed).
//! - `letters.json`: the letters they sent and hold; `parcels/LETTER/NAME`: the parcels
//!   of letters they sent, and of letters to them that they have read, each named by its
//!   place in the letter and its own name (`0-box.png`) (a sealed letter's
//!   parcel stays sealed, as in the letter box).
//!
//! Not in it: what the partner sent (it is the partner's), ended bonds (the store keeps
//! only their ending), sessions and password hashes.
//!
//! The zip is made in memory, then sent: a person's data is bounded by the upload limits
//! (pictures, parcels and journal photos each have a budget), so this is tens of
//! megabytes at most.

use std::io::{Cursor, Write as _};

use futures_util::TryStreamExt as _;
use haurach_picture::Kind;
use haurach_store::blobs::BlobStore as _;
use haurach_store::city::LetterBox;
use haurach_store::{AccountId, ImageRecord, MemoryRecord, Store};
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use zip::write::SimpleFileOptions;

use super::hub::Hub;
use crate::bus::Bus;
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;
use crate::gpx;

/// Positions read from the store at a time.
const JOURNEY_PAGE: u32 = 10_000;
/// Messages read from the store at a time.
const MESSAGES_PAGE: u32 = 1_000;
/// Letters read from the store at a time.
const LETTERS_PAGE: u32 = 500;

/// What the zip says about itself.
const README: &str = "\
This is everything a Haurach city keeps of one person, as they put it there.

account.json       name, standing, arrival, and the page in the gatekeeper's book
journey.gpx        every position the city keeps (GPX 1.1; accuracy in metres is in
                   the haurach extension of each point)
places.json        places, each a centre and a radius in metres
journal.json       the journal; journal/ holds its photos, named by entry id
bond.json          the live bond and every message sent in it; pictures/ holds the
                   originals of the pictures sent, named by picture id (a private
                   bond's picture as its largest rendition, sealed: ID.sealed)
letters.json       letters sent and held; parcels/LETTER/ holds the parcels of letters
                   sent, and of letters received and read (0-NAME, 1-NAME, ...)

Times are RFC 3339, in UTC. What the partner sent is theirs, and not here.
";

/// One file of the zip.
struct Entry {
    path: String,
    bytes: Vec<u8>,
}

impl<S: Store, B: Bus> Hub<S, B> {
    /// `account`'s data as a zip. `no_such_citizen` when there is no such account.
    pub async fn export(&self, account: AccountId) -> Result<Vec<u8>, ApiError> {
        let record = self
            .store
            .account(account)
            .await?
            .ok_or_else(|| ApiError::not_found("no_such_citizen", "no citizen by that name"))?;
        let mut entries = vec![Entry {
            path: "README.txt".into(),
            bytes: README.into(),
        }];
        let arrival = self.store.arrival(account).await?;
        entries.push(json_entry(
            "account.json",
            &json!({
                "name": record.name,
                "standing": arrival.as_ref().map(|a| a.standing),
                "created_at": when(record.created_at),
                "exported_at": when(now_ms()),
                "book": arrival.as_ref().map(|a| &a.book),
                "way": arrival.as_ref().map(|a| &a.way),
                "invited_by": arrival.as_ref().and_then(|a| a.invited_by.as_ref()),
                "decision": arrival.as_ref().and_then(|a| a.decision),
                "answer": arrival.as_ref().and_then(|a| a.answer.as_ref()),
                "decided_at": arrival.as_ref().and_then(|a| a.decided_at).map(when),
            }),
        ));
        entries.push(Entry {
            path: "journey.gpx".into(),
            bytes: gpx::write(
                &format!("{}'s journey", record.name),
                &self.whole_journey(account).await?,
            )
            .into_bytes(),
        });
        let places: Vec<Value> = self
            .store
            .places(account)
            .await?
            .iter()
            .map(|p| {
                json!({"name": p.name, "lat": p.lat, "lon": p.lon, "radius_m": p.radius_m,
                       "updated_at": when(p.updated_at)})
            })
            .collect();
        entries.push(json_entry("places.json", &json!({ "places": places })));
        self.export_journal(account, &mut entries).await?;
        self.export_bond(account, &mut entries).await?;
        self.export_letters(account, &mut entries).await?;
        tokio::task::spawn_blocking(move || zip(entries))
            .await
            .map_err(ApiError::internal)?
    }

    /// Every fix of `account`'s journey, oldest first.
    async fn whole_journey(&self, account: AccountId) -> Result<Vec<haurach_bond::Fix>, ApiError> {
        let mut fixes = Vec::new();
        let mut from = i64::MIN;
        loop {
            let page = self
                .store
                .journey(account, from, i64::MAX, JOURNEY_PAGE)
                .await?;
            let full = page.len() == JOURNEY_PAGE as usize;
            if let Some(last) = page.last() {
                from = last.at_ms + 1;
            }
            fixes.extend(page);
            if !full {
                return Ok(fixes);
            }
        }
    }

    /// `journal.json` and the journal's photos.
    async fn export_journal(
        &self,
        account: AccountId,
        entries: &mut Vec<Entry>,
    ) -> Result<(), ApiError> {
        let memories = self.store.memories_of(account, None).await?;
        let mut listed = Vec::with_capacity(memories.len());
        for m in &memories {
            let photo = match photo_name(m) {
                Some(name) => {
                    let (bytes, _) = self.memory_photo(account, Some(m.id)).await?;
                    let path = format!("journal/{name}");
                    entries.push(Entry {
                        path: path.clone(),
                        bytes,
                    });
                    Some(path)
                }
                None => None,
            };
            // A private bond's entry is listed as it was sealed: the server cannot open it.
            let (body, sealed) = match m.sealed_in {
                Some(_) => (None, m.body.as_deref()),
                None => (m.body.as_deref(), None),
            };
            let mut entry = json!({
                "id": m.id,
                "body": body,
                "photo": photo,
                "created_at": when(m.created_at),
                "shared_at": m.shared.map(|(_, at)| when(at)),
            });
            if let Some(sealed) = sealed {
                entry["sealed"] = json!(sealed);
            }
            listed.push(entry);
        }
        entries.push(json_entry("journal.json", &json!({ "entries": listed })));
        Ok(())
    }

    /// `bond.json` and the originals of the pictures `account` sent in it.
    async fn export_bond(
        &self,
        account: AccountId,
        entries: &mut Vec<Entry>,
    ) -> Result<(), ApiError> {
        let Some(bond) = self.store.bond_of(account).await? else {
            entries.push(json_entry("bond.json", &json!({ "bond": null })));
            return Ok(());
        };
        let idx = usize::from(bond.members[1] == account);
        let partner = &bond.names[1 - idx];
        // A private bond's words and feelings are kept as they were sealed: the export
        // says so rather than call the sealed text words.
        let sealed = self.is_private(account).await?;
        let mut sent = Vec::new();
        let mut after = 0;
        loop {
            let page = self
                .store
                .messages_after(bond.id, after, MESSAGES_PAGE)
                .await?;
            let full = page.len() == MESSAGES_PAGE as usize;
            if let Some(last) = page.last() {
                after = last.seq;
            }
            sent.extend(page.into_iter().filter(|m| m.sender == account).map(|m| {
                let mut entry = json!({"seq": m.seq, "kind": m.kind, "body": m.body,
                       "feeling": m.feeling, "sent_at": when(m.sent_at),
                       "acknowledged_at": m.acknowledged_at.map(when)});
                if sealed && m.kind != haurach_proto::MessageKind::Image {
                    entry["sealed"] = entry["body"].take();
                }
                entry
            }));
            if !full {
                break;
            }
        }
        let mut pictures = Vec::new();
        let images = self.store.images_of_bond(bond.id, u32::MAX).await?;
        for image in images.iter().filter(|i| i.sender == account) {
            if image.sealed {
                // A private bond's picture has no original here: its largest rendition,
                // sealed as the sender's device sent it (its devices open it).
                let (bytes, _, _) = self.picture(account, Some(image.id.0), None).await?;
                let path = format!("pictures/{}.sealed", image.id.0);
                entries.push(Entry {
                    path: path.clone(),
                    bytes,
                });
                pictures.push(json!({"id": image.id.0, "file": path, "sealed": true,
                                     "longest_side": image.width,
                                     "sent_at": when(image.sent_at)}));
                continue;
            }
            let (bytes, _) = self.original(account, Some(image.id.0)).await?;
            let path = format!("pictures/{}", picture_name(image));
            entries.push(Entry {
                path: path.clone(),
                bytes,
            });
            pictures.push(json!({"id": image.id.0, "file": path, "width": image.width,
                                 "height": image.height, "sent_at": when(image.sent_at)}));
        }
        entries.push(json_entry(
            "bond.json",
            &json!({
                "bond": {
                    "partner": partner,
                    "profile": bond.profile,
                    "since": when(bond.created_at),
                    "messages_sent": sent,
                    "pictures_sent": pictures,
                }
            }),
        ));
        Ok(())
    }

    /// `letters.json` and the parcels `account` may open.
    async fn export_letters(
        &self,
        account: AccountId,
        entries: &mut Vec<Entry>,
    ) -> Result<(), ApiError> {
        let mut boxes = serde_json::Map::new();
        for (key, which) in [("sent", LetterBox::Sent), ("held", LetterBox::Inbox)] {
            let mut letters = Vec::new();
            let mut before = None;
            loop {
                let page = self
                    .store
                    .letters(account, which, LETTERS_PAGE, before)
                    .await?;
                let full = page.len() == LETTERS_PAGE as usize;
                before = page.last().map(|l| l.id);
                for letter in page {
                    let open = letter.sender == account
                        || letter.state == haurach_proto::LetterState::Read;
                    let mut parcels = Vec::new();
                    for (i, p) in letter.parcels.iter().enumerate() {
                        let file = if open {
                            let path =
                                format!("parcels/{}/{i}-{}", letter.id.0, safe_name(&p.name));
                            entries.push(Entry {
                                path: path.clone(),
                                bytes: self.blob(&p.hash).await?,
                            });
                            Some(path)
                        } else {
                            None
                        };
                        parcels.push(json!({"name": p.name, "size": p.size, "file": file}));
                    }
                    letters.push(json!({
                        "id": letter.id.0,
                        "from": letter.sender_name,
                        "to": letter.recipient_name,
                        "in_reply_to": letter.in_reply_to.map(|l| l.0),
                        "body": if open { Some(&letter.body) } else { None },
                        "state": letter.state,
                        "parcels": parcels,
                        "sent_at": when(letter.sent_at),
                        "delivered_at": letter.delivered_at.map(when),
                        "read_at": letter.read_at.map(when),
                        "returned_at": letter.returned_at.map(when),
                    }));
                }
                if !full {
                    break;
                }
            }
            boxes.insert(key.into(), Value::Array(letters));
        }
        entries.push(json_entry("letters.json", &Value::Object(boxes)));
        Ok(())
    }

    /// A parcel's bytes.
    async fn blob(&self, hash: &str) -> Result<Vec<u8>, ApiError> {
        let (size, stream) = self
            .blobs
            .get(hash)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(|| {
                ApiError::internal(format!("parcel {hash} is missing from the blob store"))
            })?;
        let mut bytes = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        let mut stream = stream;
        while let Some(chunk) = stream.try_next().await.map_err(ApiError::internal)? {
            bytes.extend_from_slice(&chunk);
        }
        Ok(bytes)
    }
}

/// `ms` as RFC 3339.
fn when(ms: i64) -> String {
    timestamp(ms)
        .format(&Rfc3339)
        .unwrap_or_else(|_| ms.to_string())
}

/// A JSON file, pretty-printed: people open these.
fn json_entry(path: &str, value: &Value) -> Entry {
    Entry {
        path: path.into(),
        bytes: serde_json::to_vec_pretty(value).expect("JSON values serialize"),
    }
}

/// A journal photo's file name, if the entry has one.
fn photo_name(m: &MemoryRecord) -> Option<String> {
    let photo_type = m.photo_type.as_deref()?;
    if photo_type == haurach_proto::sealed::PHOTO_MEDIA_TYPE {
        // Sealed on the author's device: exported as it is kept, for that device to open.
        return Some(format!("{}.sealed", m.id));
    }
    let kind = Kind::from_mime(photo_type)?;
    Some(format!("{}.{}", m.id, kind.extension()))
}

/// A picture's file name: its id and the extension of its original's type.
fn picture_name(image: &ImageRecord) -> String {
    match Kind::from_mime(&image.original_type) {
        Some(kind) => format!("{}.{}", image.id.0, kind.extension()),
        None => image.id.0.to_string(),
    }
}

/// A parcel's name as a file name inside the zip: no directories, nothing hidden.
fn safe_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = base
        .chars()
        .map(|c| if c.is_control() { '_' } else { c })
        .collect();
    let cleaned = cleaned.trim_start_matches('.');
    if cleaned.is_empty() {
        "parcel".into()
    } else {
        cleaned.into()
    }
}

/// The entries as a zip, deflated (pictures and parcels already compressed are stored).
fn zip(entries: Vec<Entry>) -> Result<Vec<u8>, ApiError> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let deflated = SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o600);
    let stored = deflated.compression_method(zip::CompressionMethod::Stored);
    for e in entries {
        let text =
            e.path.ends_with(".json") || e.path.ends_with(".gpx") || e.path.ends_with(".txt");
        zip.start_file(e.path, if text { deflated } else { stored })
            .map_err(ApiError::internal)?;
        zip.write_all(&e.bytes).map_err(ApiError::internal)?;
    }
    Ok(zip.finish().map_err(ApiError::internal)?.into_inner())
}
