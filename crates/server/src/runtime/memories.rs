//! Memories: each citizen's private journal of words and photos. When the partners are
//! together (the memories tier, 25 m in every profile) their journals open to each
//! other, and what was opened stays shared afterwards, whatever the distance.
//!
//! Opening marks every entry of both journals not yet opened to this bond as opened, in
//! one statement per partner (idempotent: an entry is opened once, to the first bond that
//! opens it). It happens:
//!
//! - the moment the partners come together: when the hub sees the memories tier open
//!   (`Hub::open_journals` in `hub.rs`, under the bond's lock, committed before the `tier` frame goes
//!   out and before the fix that brought them together is acknowledged), also when a
//!   bond is made between partners already together and when a node loads a bond whose
//!   partners are together. So a partner who never touches the journal while together
//!   still reads the other's entries afterwards. With several nodes every node holding
//!   the bond does it for its own copy; the second time changes nothing;
//! - whenever either partner touches the journals while together (writes an entry or
//!   reads either journal), before the answer: so an entry written while together is
//!   open at once.
//!
//! An entry written while apart stays private until the next time they are together.
//!
//! Photos are accepted like pictures (`haurach_picture::accept`: type, size and bombs
//! checked, every piece of metadata stripped) and kept under `DATA/memories/ID/`. The
//! original is not kept: a journal photo is shown, never handed back with its location.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use haurach_bond::Tier;
use haurach_picture::Kind;
use haurach_proto::sealed::{FRAME_OVERHEAD, PHOTO_MEDIA_TYPE, Sealed};
use haurach_proto::{MemoryList, MemoryView, NewMemory};
use haurach_store::{AccountId, MemoryRecord, Store};
use uuid::Uuid;

use super::hub::{Hub, TierStanding, not_bonded};
use super::private::PrivateContent;
use crate::bus::Bus;
use crate::clock::{now_ms, timestamp};
use crate::error::ApiError;

fn dir(data: &Path, id: Uuid) -> PathBuf {
    data.join("memories").join(id.to_string())
}

fn photo_path(data: &Path, m: &MemoryRecord) -> Option<PathBuf> {
    let photo_type = m.photo_type.as_deref()?;
    let name = if photo_type == PHOTO_MEDIA_TYPE {
        "photo.sealed".to_owned()
    } else {
        format!("photo.{}", Kind::from_mime(photo_type)?.extension())
    };
    Some(dir(data, m.id).join(name))
}

fn view(author: &str, m: &MemoryRecord) -> MemoryView {
    let (body, sealed) = match m.sealed_in {
        Some(_) => (None, m.body.clone()),
        None => (m.body.clone(), None),
    };
    MemoryView {
        id: m.id,
        author: author.to_owned(),
        client_id: m.client_id.clone(),
        body,
        sealed,
        photo: m
            .photo_type
            .as_ref()
            .map(|_| format!("/api/v1/memories/{}/photo", m.id)),
        photo_sealed: m.photo_type.as_deref() == Some(PHOTO_MEDIA_TYPE),
        created_at: timestamp(m.created_at),
        shared_at: m.shared.map(|(_, at)| timestamp(at)),
    }
}

fn check_id(id: &str) -> Result<(), ApiError> {
    if id.is_empty() || id.chars().count() > 64 {
        return Err(ApiError::invalid(
            "invalid_memory_id",
            "a memory's id must be 1 to 64 characters",
        ));
    }
    Ok(())
}

fn no_such_memory() -> ApiError {
    ApiError::not_found("no_such_memory", "there is no such memory you may see")
}

impl<S: Store, B: Bus> Hub<S, B> {
    /// The bond as it stands for memories; when the partners are together, opens both
    /// journals to it first.
    async fn together(&self, account: AccountId) -> Result<Option<TierStanding>, ApiError> {
        let Some(standing) = self.standing(account, Tier::Memories).await? else {
            return Ok(None);
        };
        if standing.open {
            let now = now_ms();
            for member in standing.bond.members {
                self.store
                    .open_memories(member, standing.bond.id, now)
                    .await?;
            }
        }
        Ok(Some(standing))
    }

    async fn my_name(&self, account: AccountId) -> Result<String, ApiError> {
        Ok(self
            .store
            .account(account)
            .await?
            .ok_or_else(|| ApiError::unauthorized("this account no longer exists"))?
            .name)
    }

    /// Stores an entry, or finds the one a retry already stored: whether it is new, and
    /// the entry.
    async fn store_memory(
        &self,
        caller: AccountId,
        record: MemoryRecord,
        files: Option<Vec<u8>>,
    ) -> Result<(bool, MemoryView), ApiError> {
        if let Some(existing) = self
            .store
            .memory_by_client_id(caller, &record.client_id)
            .await?
        {
            self.together(caller).await?;
            let existing = self.store.memory(existing.id).await?.unwrap_or(existing);
            return Ok((false, view(&self.my_name(caller).await?, &existing)));
        }
        if let (Some(bytes), Some(path)) = (files, photo_path(&self.config.data, &record)) {
            self.pictures
                .files
                .put(self.pictures.data(), vec![(path, bytes)])
                .await
                .map_err(ApiError::internal)?;
        }
        // A concurrent request that stored it first is `memory_id_reused` (`error.rs`):
        // the client's retry then finds it.
        self.store.insert_memory(&record).await?;
        self.together(caller).await?;
        let stored = self.store.memory(record.id).await?.unwrap_or(record);
        Ok((true, view(&self.my_name(caller).await?, &stored)))
    }

    /// `account` writes words in their journal: whether the entry is new, and the entry.
    /// In a private bond the words come sealed, and are kept as they came, with the bond
    /// they were sealed in (the only one they open to); in a plain bond, or without one,
    /// in the clear.
    pub async fn write_memory(
        &self,
        account: AccountId,
        new: NewMemory,
    ) -> Result<(bool, MemoryView), ApiError> {
        let private_bond = match self.held(account).await? {
            Some(held) => {
                let rt = held.lock().await?;
                rt.matcher.is_some().then_some(rt.record.id)
            }
            None => None,
        };
        let (body, sealed_in) = match (new.body, new.sealed, private_bond) {
            (Some(_), None, Some(_)) => {
                return Err(ApiError::conflict(
                    "private_bond",
                    "your bond is private: the server keeps no journal words in the clear; \
                     seal them on your device and send them as sealed",
                ));
            }
            (None, Some(_), None) => {
                return Err(ApiError::conflict(
                    "unexpected_sealed",
                    "your bond is not private: send the words in body, not sealed",
                ));
            }
            (Some(body), None, None) => {
                check_id(&new.id)?;
                let n = body.chars().count();
                if body.trim().is_empty() || n > 10_000 {
                    return Err(ApiError::invalid(
                        "invalid_memory",
                        "a memory is 1 to 10,000 characters",
                    ));
                }
                (body, None)
            }
            (None, Some(sealed), Some(bond)) => {
                check_id(&new.id)?;
                Sealed::decode(&sealed)
                    .map_err(|e| ApiError::invalid("invalid_sealed", e.to_string()))?;
                (sealed, Some(bond))
            }
            _ => {
                return Err(ApiError::invalid(
                    "invalid_memory",
                    "send the words in body, or sealed in a private bond: one of the two",
                ));
            }
        };
        let record = MemoryRecord {
            id: Uuid::now_v7(),
            account,
            client_id: new.id,
            body: Some(body),
            photo_type: None,
            photo_size: 0,
            created_at: now_ms(),
            shared: None,
            sealed_in,
        };
        self.store_memory(account, record, None).await
    }

    /// `account` puts a photo (stripped of its metadata) in their journal, with an
    /// optional caption; `bytes` is the body as read, or the problem reading it.
    pub async fn write_memory_photo(
        &self,
        account: AccountId,
        client_id: String,
        caption: Option<String>,
        bytes: Result<Bytes, ApiError>,
    ) -> Result<(bool, MemoryView), ApiError> {
        self.refuse_private_content(account, PrivateContent::Journal)
            .await?;
        check_id(&client_id)?;
        let bytes = bytes?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request(
                "image_required",
                "send the photo's bytes (JPEG, PNG or WebP) as the request body",
            ));
        }
        // A journal is for a bond: a photo waits for a partner to open to.
        if self.together(account).await?.is_none() {
            return Err(not_bonded());
        }
        let _lane = self.pictures.lane(account).await;
        self.within_picture_quota(account, bytes.len()).await?;
        let size = bytes.len() as u64;
        let accepted = self.pictures.accept(account, bytes).await?;
        let record = MemoryRecord {
            id: Uuid::now_v7(),
            account,
            client_id,
            body: caption.filter(|c| !c.trim().is_empty()),
            photo_type: Some(accepted.stripped_kind.mime().to_owned()),
            photo_size: size,
            created_at: now_ms(),
            shared: None,
            sealed_in: None,
        };
        self.store_memory(account, record, Some(accepted.stripped))
            .await
    }

    /// `account`, a partner of a private bond, puts a photo in their journal that their
    /// device stripped and sealed with its caption (`haurach_proto::sealed::PhotoContent`,
    /// kind `memory-photo`); `bytes` is the body as read. Kept as it came, with the bond it
    /// was sealed in, and opened to the partner by the same rule as any entry; the server
    /// never holds the photo or its caption in the clear.
    pub async fn write_sealed_memory_photo(
        &self,
        account: AccountId,
        client_id: String,
        bytes: Result<Bytes, ApiError>,
    ) -> Result<(bool, MemoryView), ApiError> {
        let bond = match self.held(account).await? {
            Some(held) => {
                let rt = held.lock().await?;
                rt.matcher.is_some().then_some(rt.record.id)
            }
            None => return Err(not_bonded()),
        };
        let Some(bond) = bond else {
            return Err(ApiError::conflict(
                "unexpected_sealed",
                "your bond is not private: send the photo itself to /api/v1/me/memories/photos",
            ));
        };
        check_id(&client_id)?;
        let bytes = bytes?;
        if bytes.is_empty() {
            return Err(ApiError::bad_request(
                "image_required",
                "send the sealed photo's bytes as the request body",
            ));
        }
        if bytes.len() < FRAME_OVERHEAD {
            return Err(ApiError::invalid(
                "invalid_sealed",
                format!(
                    "a sealed photo is at least {FRAME_OVERHEAD} bytes: the counter, the nonce \
                     and the tag"
                ),
            ));
        }
        let _lane = self.pictures.lane(account).await;
        self.within_picture_quota(account, bytes.len()).await?;
        let record = MemoryRecord {
            id: Uuid::now_v7(),
            account,
            client_id,
            body: None,
            photo_type: Some(PHOTO_MEDIA_TYPE.to_owned()),
            photo_size: bytes.len() as u64,
            created_at: now_ms(),
            shared: None,
            sealed_in: Some(bond),
        };
        self.store_memory(account, record, Some(bytes.to_vec()))
            .await
    }

    /// `account`'s own journal, and whether it is open to the partner now.
    pub async fn my_memories(&self, account: AccountId) -> Result<MemoryList, ApiError> {
        let standing = self.together(account).await?;
        let name = self.my_name(account).await?;
        let memories = self.store.memories_of(account, None).await?;
        Ok(MemoryList {
            open: standing.is_some_and(|s| s.open),
            memories: memories.iter().map(|m| view(&name, m)).collect(),
        })
    }

    /// What the partner's journal has opened to `account`'s bond.
    pub async fn partners_memories(&self, account: AccountId) -> Result<MemoryList, ApiError> {
        let standing = self.together(account).await?.ok_or_else(not_bonded)?;
        let partner_idx = 1 - standing.idx;
        let memories = self
            .store
            .memories_of(standing.bond.members[partner_idx], Some(standing.bond.id))
            .await?;
        let name = &standing.bond.names[partner_idx];
        Ok(MemoryList {
            open: standing.open,
            memories: memories.iter().map(|m| view(name, m)).collect(),
        })
    }

    /// The photo of memory `id` (`None`: unreadable), if `account` may see it: its bytes
    /// and type.
    pub async fn memory_photo(
        &self,
        account: AccountId,
        id: Option<Uuid>,
    ) -> Result<(Vec<u8>, String), ApiError> {
        let id = id.ok_or_else(no_such_memory)?;
        let standing = self.together(account).await?;
        let memory = self.store.memory(id).await?.ok_or_else(no_such_memory)?;
        let may_see = memory.account == account
            || standing.is_some_and(|s| {
                memory.account == s.bond.members[1 - s.idx]
                    && memory.shared.is_some_and(|(bond, _)| bond == s.bond.id)
            });
        if !may_see {
            return Err(no_such_memory());
        }
        let path = photo_path(&self.config.data, &memory).ok_or_else(no_such_memory)?;
        let bytes = self
            .pictures
            .files
            .get(self.pictures.data(), &path)
            .await
            .map_err(ApiError::internal)?
            .ok_or_else(no_such_memory)?;
        let kind = memory.photo_type.unwrap_or_else(|| "image/jpeg".to_owned());
        Ok((bytes, kind))
    }
}
