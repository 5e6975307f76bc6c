//! Removing a person with everything they own ([`crate::Store::remove_account`]): the
//! statements, written once for both backends (each binds the account's id as `$1`, in
//! its own type), and what the removal hands back for the server to finish outside the
//! database (live links to close, files to delete).
//!
//! What goes, in one transaction: the account, its sessions, invites (plain and private,
//! with a private bond's keys and sealed positions), position, journey,
//! places, camera consent, devices' push subscriptions and passwords, pause, asks for a fresh
//! position (made or received), journal (with its photos), every bond it was ever in (live or
//! ended) with all of that bond's messages, pictures and meeting point, the letters it
//! sent, received or holds (with their parcels' records, and the parcels it uploaded),
//! its summonses and summoning permissions, its gate invites and its page in the
//! gatekeeper's book. What stays: everyone else's own data. A partner keeps their
//! journal (entries shared with the removed person's bond are unshared), places,
//! position and journey; other people's pages in the book keep their words but no longer
//! name the removed person as who invited or decided them.
//!
//! **Adding a table that holds an account's rows** is one line in `REMOVE`, before
//! the `accounts` line (the conformance story `removal::nothing_of_the_person_is_left`
//! fails while any column of any table still holds the removed id).

use uuid::Uuid;

/// Every bond the person was ever in (`$1`: the account's id).
const BONDS: &str = "(SELECT id FROM bonds WHERE a = $1 OR b = $1)";

/// Every letter the person sent, received or holds.
const LETTERS: &str =
    "(SELECT id FROM letters WHERE sender_id = $1 OR recipient_id = $1 OR holder_id = $1)";

/// The statements of a removal, in the order the foreign keys need (`{BONDS}` and
/// `{LETTERS}` are replaced by the subqueries above).
pub(crate) const REMOVE: &[&str] = &[
    "DELETE FROM sessions WHERE account_id = $1",
    "DELETE FROM invites WHERE account_id = $1",
    "DELETE FROM private_invites WHERE account_id = $1",
    "DELETE FROM positions WHERE account_id = $1",
    "DELETE FROM journey WHERE account_id = $1",
    "DELETE FROM places WHERE account_id = $1",
    "DELETE FROM camera_consent WHERE account_id = $1",
    "DELETE FROM push_subscriptions WHERE account_id = $1",
    "DELETE FROM devices WHERE account_id = $1",
    "DELETE FROM locate_asks WHERE asker_id = $1 OR asked_id = $1",
    "DELETE FROM pauses WHERE account_id = $1",
    "DELETE FROM memories WHERE account_id = $1",
    "UPDATE memories SET shared_bond = NULL, shared_at = NULL WHERE shared_bond IN {BONDS}",
    "DELETE FROM meeting_pins WHERE bond_id IN {BONDS} OR pinned_by = $1",
    "DELETE FROM messages WHERE bond_id IN {BONDS} OR sender_id = $1",
    "DELETE FROM images WHERE bond_id IN {BONDS} OR sender_id = $1",
    "DELETE FROM sealed_fixes WHERE bond_id IN {BONDS} OR account_id = $1",
    "DELETE FROM private_bonds WHERE bond_id IN {BONDS}",
    "DELETE FROM bond_members WHERE bond_id IN {BONDS} OR account_id = $1",
    "DELETE FROM bonds WHERE a = $1 OR b = $1",
    "DELETE FROM summons WHERE summoner_id = $1 OR summoned_id = $1 OR ended_by = $1",
    "DELETE FROM summon_permissions WHERE grantor_id = $1 OR grantee_id = $1",
    "UPDATE letters SET in_reply_to = NULL WHERE in_reply_to IN {LETTERS}",
    "DELETE FROM letter_parcels WHERE letter_id IN {LETTERS}",
    "DELETE FROM letters WHERE sender_id = $1 OR recipient_id = $1 OR holder_id = $1",
    "DELETE FROM parcel_uploads WHERE account_id = $1",
    "DELETE FROM gate_invites WHERE made_by = $1 OR used_by = $1",
    "UPDATE arrivals SET invited_by = NULL WHERE invited_by = $1",
    "UPDATE arrivals SET decided_by = NULL WHERE decided_by = $1",
    "DELETE FROM arrivals WHERE account_id = $1",
    "DELETE FROM accounts WHERE id = $1",
];

/// A statement of [`REMOVE`] with its subqueries written out.
pub(crate) fn statement(template: &str) -> String {
    template
        .replace("{BONDS}", BONDS)
        .replace("{LETTERS}", LETTERS)
}

/// The account's standing (`$1`), to refuse removing the last tower.
pub(crate) const STANDING: &str = "SELECT standing FROM accounts WHERE id = $1";

/// How many towers the city has.
pub(crate) const TOWERS: &str = "SELECT COUNT(*) FROM accounts WHERE standing = 'tower'";

/// The live sessions' token hashes, so their links can be closed.
pub(crate) const LIVE_SESSIONS: &str =
    "SELECT token_hash FROM sessions WHERE account_id = $1 AND revoked_at IS NULL";

/// The pictures that go (their files are under `DATA/images/ID/`).
pub(crate) fn images() -> String {
    format!("SELECT id FROM images WHERE bond_id IN {BONDS} OR sender_id = $1")
}

/// The journal photos that go (under `DATA/memories/ID/`).
pub(crate) const PHOTOS: &str =
    "SELECT id FROM memories WHERE account_id = $1 AND photo_type IS NOT NULL";

/// The parcels the removal may leave unreferenced.
pub(crate) fn parcels() -> String {
    format!(
        "SELECT hash FROM parcel_uploads WHERE account_id = $1 \
         UNION SELECT hash FROM letter_parcels WHERE letter_id IN {LETTERS}"
    )
}

/// Whether a parcel (`$1`: its hash) is still referenced after the removal.
pub(crate) const PARCEL_KEPT: &str = "SELECT EXISTS (SELECT 1 FROM parcel_uploads WHERE hash = $1) \
     OR EXISTS (SELECT 1 FROM letter_parcels WHERE hash = $1)";

/// What a removal took with it that lives outside its transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Removed {
    /// The token hashes of the sessions that were live, whose links must close.
    pub sessions: Vec<Vec<u8>>,
    /// The pictures removed: their files under `DATA/images/ID/` go too (in PostgreSQL
    /// the `files` rows went in the transaction; a node's renditions cache is on disk).
    pub images: Vec<Uuid>,
    /// The journal photos removed: their files under `DATA/memories/ID/`.
    pub photos: Vec<Uuid>,
    /// Parcels no letter or upload names any more: their bytes under `DATA/parcels/`
    /// go (in PostgreSQL the `parcel_blobs` rows went in the transaction).
    pub parcels: Vec<String>,
}
