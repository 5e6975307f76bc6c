//! [`PrivateBondStore`] on PostgreSQL.

use haurach_bond::{Profile, TierSet};
use sqlx::Row;
use uuid::Uuid;

use super::Postgres;
use crate::error::unique_or;
use crate::from_row;
use crate::private_bond::{
    KEY_LEN, PrivateBondStore, PrivateKeys, SealedFixRecord, key_of, places_kept,
};
use crate::{
    AccountId, BondId, BondRecord, Conflict, Missing, StoreError, StoreResult, usable_invite,
};

impl PrivateBondStore for Postgres {
    async fn create_private_invite(
        &self,
        lookup: &[u8; KEY_LEN],
        account: AccountId,
        public_key: &[u8; KEY_LEN],
        kept: &[String],
        now_ms: i64,
        expires_ms: i64,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await?;
        // A place made at the same moment may still land beside the invite; the
        // acceptance finds it (`PartnerPlacesStored`) rather than keep it.
        Self::forget_places(&mut tx, account, kept).await?;
        sqlx::query(
            "INSERT INTO private_invites (lookup, account_id, public_key, created_at, expires_at) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&lookup[..])
        .bind(account.0)
        .bind(&public_key[..])
        .bind(now_ms)
        .bind(expires_ms)
        .execute(&mut *tx)
        .await
        .map_err(|err| unique_or(err, Conflict::InviteCodeTaken))?;
        tx.commit().await?;
        Ok(())
    }

    async fn accept_private_invite(
        &self,
        lookup: &[u8; KEY_LEN],
        acceptor: AccountId,
        public_key: &[u8; KEY_LEN],
        kept: &[String],
        profile: Profile,
        open_tiers: TierSet,
        now_ms: i64,
    ) -> StoreResult<BondRecord> {
        let mut tx = self.pool.begin().await?;
        let maker: Uuid =
            sqlx::query_scalar("SELECT account_id FROM private_invites WHERE lookup = $1")
                .bind(&lookup[..])
                .fetch_optional(&mut *tx)
                .await?
                .ok_or(StoreError::NotFound(Missing::Invite))?;
        // As for a plain invite: both people locked in id order, then the invite, so two
        // acceptances that involve one person take turns.
        let mut people = [maker, acceptor.0];
        people.sort();
        sqlx::query("SELECT 1 FROM accounts WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE")
            .bind(&people[..])
            .fetch_all(&mut *tx)
            .await?;
        let invite = sqlx::query(
            "SELECT account_id, public_key, expires_at FROM private_invites \
             WHERE lookup = $1 FOR UPDATE",
        )
        .bind(&lookup[..])
        .fetch_optional(&mut *tx)
        .await?
        .ok_or(StoreError::NotFound(Missing::Invite))?;
        let inviter = AccountId(invite.try_get("account_id")?);
        let inviter_key = key_of(invite.try_get("public_key")?)?;
        usable_invite(inviter, invite.try_get("expires_at")?, acceptor, now_ms)?;
        if !Self::place_keys(&mut tx, inviter).await?.is_empty() {
            return Err(Conflict::PartnerPlacesStored.into());
        }
        Self::forget_places(&mut tx, acceptor, kept).await?;
        let id = Self::form_bond(&mut tx, inviter, acceptor, profile, open_tiers, now_ms).await?;
        sqlx::query(
            "INSERT INTO private_bonds (bond_id, inviter_key, accepter_key) VALUES ($1, $2, $3)",
        )
        .bind(id.0)
        .bind(&inviter_key[..])
        .bind(&public_key[..])
        .execute(&mut *tx)
        .await?;
        // Nothing positional is kept for a private bond, not even where either was last
        // before it began.
        sqlx::query("DELETE FROM positions WHERE account_id IN ($1, $2)")
            .bind(inviter.0)
            .bind(acceptor.0)
            .execute(&mut *tx)
            .await?;
        let bond = Self::bond_by_id(&mut tx, id.0)
            .await?
            .ok_or_else(|| StoreError::Corrupt("bond vanished inside its transaction".into()))?;
        tx.commit().await?;
        Ok(bond)
    }

    async fn private_invite_waiting(&self, account: AccountId, now_ms: i64) -> StoreResult<bool> {
        Ok(sqlx::query(
            "SELECT 1 FROM private_invites WHERE account_id = $1 AND expires_at > $2 LIMIT 1",
        )
        .bind(account.0)
        .bind(now_ms)
        .fetch_optional(&self.pool)
        .await?
        .is_some())
    }

    async fn private_keys(&self, bond: BondId) -> StoreResult<Option<PrivateKeys>> {
        let row = sqlx::query(
            "SELECT inviter_key, accepter_key, inviter_tag, accepter_tag \
             FROM private_bonds WHERE bond_id = $1",
        )
        .bind(bond.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(from_row::private_keys).transpose()
    }

    async fn set_confirmation(
        &self,
        bond: BondId,
        idx: usize,
        tag: &[u8; KEY_LEN],
    ) -> StoreResult<bool> {
        let sql = if idx == 0 {
            "UPDATE private_bonds SET inviter_tag = $1 WHERE bond_id = $2"
        } else {
            "UPDATE private_bonds SET accepter_tag = $1 WHERE bond_id = $2"
        };
        let done = sqlx::query(sql)
            .bind(&tag[..])
            .bind(bond.0)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn save_sealed_fix(
        &self,
        bond: BondId,
        account: AccountId,
        sealed: &str,
        received_ms: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO sealed_fixes (bond_id, account_id, sealed, received_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (bond_id, account_id) \
             DO UPDATE SET sealed = excluded.sealed, received_at = excluded.received_at",
        )
        .bind(bond.0)
        .bind(account.0)
        .bind(sealed)
        .bind(received_ms)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn sealed_fix(
        &self,
        bond: BondId,
        account: AccountId,
    ) -> StoreResult<Option<SealedFixRecord>> {
        let row = sqlx::query(
            "SELECT sealed, received_at FROM sealed_fixes WHERE bond_id = $1 AND account_id = $2",
        )
        .bind(bond.0)
        .bind(account.0)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(SealedFixRecord {
                sealed: r.try_get("sealed")?,
                received_at: r.try_get("received_at")?,
            })
        })
        .transpose()
    }
}

impl Postgres {
    /// The names (lower case) of the places the server keeps for `account`.
    async fn place_keys(
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        account: AccountId,
    ) -> StoreResult<Vec<String>> {
        Ok(
            sqlx::query_scalar("SELECT name_key FROM places WHERE account_id = $1")
                .bind(account.0)
                .fetch_all(&mut **tx)
                .await?,
        )
    }

    /// Deletes `account`'s places when its device keeps every one (`kept`), else
    /// `Conflict::PlacesStored`.
    async fn forget_places(
        tx: &mut sqlx::Transaction<'static, sqlx::Postgres>,
        account: AccountId,
        kept: &[String],
    ) -> StoreResult<()> {
        places_kept(&Self::place_keys(tx, account).await?, kept)?;
        sqlx::query("DELETE FROM places WHERE account_id = $1")
            .bind(account.0)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
