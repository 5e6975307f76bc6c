//! Removing a person from the city with everything they own (the tower's tool): the
//! store removes it all in one transaction (`haurach_store::remove` says what goes and
//! what stays); then their live bond ends on every node and the partner is told
//! (`bond_ended`, as when a bond is ended), their links close (1008, as at logout), what
//! this node held of them in memory is dropped, and the files of their pictures, journal
//! photos and parcels are deleted.

use haurach_proto::ServerFrame;
use haurach_store::{AccountId, Store};

use super::hub::Hub;
use crate::bus::{BondEvent, Bus, Frame};
use crate::error::ApiError;

impl<S: Store, B: Bus> Hub<S, B> {
    /// Removes `account` and everything it owns. `no_such_citizen` when there is no such
    /// account; `last_tower` when it is the city's only tower.
    pub async fn remove_person(&self, account: AccountId) -> Result<(), ApiError> {
        let held = self.held(account).await?;
        // The bond's lock is held across the removal, so no fix or message of the bond
        // is judged meanwhile; once it is released, the runtime says the bond ended.
        let mut rt = match &held {
            Some(held) => Some(held.lock().await?),
            None => None,
        };
        self.positions.forget(account);
        let removed = self.store.remove_account(account).await?;
        if let Some(rt) = rt.as_mut() {
            rt.ended = true;
            self.forget_bond(&rt.record);
            self.bus.share(BondEvent::Ended {
                bond: rt.record.id.0,
                members: rt.record.members.map(|m| m.0),
            });
            for member in rt.record.members {
                self.publish(member, &ServerFrame::BondEnded);
            }
        }
        drop(rt);
        for hash in &removed.sessions {
            self.bus.publish(account, Frame::session_ended(hash));
        }
        self.membership.lock().expect("hub lock").forget(account);
        self.last_heard.lock().expect("hub lock").remove(&account);
        self.places.forget_all(account);
        self.summons.forget(account);
        self.relay.forget(account);
        self.pictures.forget(account);
        self.positions.forget(account);

        // Files cannot share the database's transaction: on disk they go after it (a
        // crash in between leaves files no record names, which nothing serves). In
        // PostgreSQL the pictures and parcels went in it; what is left on disk is this
        // node's renditions cache.
        let data = &self.pictures.data;
        let dirs = removed
            .images
            .iter()
            .map(|id| data.join("images").join(id.to_string()))
            .chain(
                removed
                    .photos
                    .iter()
                    .map(|id| data.join("memories").join(id.to_string())),
            );
        for dir in dirs {
            match tokio::fs::remove_dir_all(&dir).await {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    tracing::warn!(error = %e, dir = %dir.display(), "cannot delete a removed person's files");
                }
                _ => {}
            }
        }
        for hash in &removed.parcels {
            if let Err(e) = self.blobs.forget(hash).await {
                tracing::warn!(error = %e, hash, "cannot delete a removed person's parcel");
            }
        }
        Ok(())
    }
}
