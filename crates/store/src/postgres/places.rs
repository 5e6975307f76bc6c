//! [`PlaceStore`] on PostgreSQL: the same places, pins and journeys as the SQLite
//! backend keeps, passing the same conformance suite.

use haurach_bond::Fix;

use super::Postgres;
use crate::from_row;
use crate::{
    AccountId, BondId, PinRecord, PlaceRecord, PlaceStore, PositionRecord, StoreResult, Waiting,
};

impl PlaceStore for Postgres {
    async fn put_places(
        &self,
        account: AccountId,
        places: &[PlaceRecord],
    ) -> StoreResult<Vec<bool>> {
        let mut tx = self.pool().begin().await?;
        let mut created = Vec::with_capacity(places.len());
        for p in places {
            // `xmax = 0` only for a row this statement inserted (not one it updated).
            let inserted: bool = sqlx::query_scalar(
                "INSERT INTO places (account_id, name, name_key, lat, lon, radius_m, inside, \
                 updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (account_id, name_key) DO UPDATE SET name = excluded.name, \
                 lat = excluded.lat, lon = excluded.lon, radius_m = excluded.radius_m, \
                 inside = excluded.inside, updated_at = excluded.updated_at \
                 RETURNING (xmax = 0)",
            )
            .bind(account.0)
            .bind(&p.name)
            .bind(p.name.to_lowercase())
            .bind(p.lat)
            .bind(p.lon)
            .bind(p.radius_m)
            .bind(p.inside)
            .bind(p.updated_at)
            .fetch_one(&mut *tx)
            .await?;
            created.push(inserted);
        }
        tx.commit().await?;
        Ok(created)
    }

    async fn places(&self, account: AccountId) -> StoreResult<Vec<PlaceRecord>> {
        let rows = sqlx::query("SELECT * FROM places WHERE account_id = $1 ORDER BY name_key")
            .bind(account.0)
            .fetch_all(self.pool())
            .await?;
        rows.iter().map(from_row::place).collect()
    }

    async fn delete_place(&self, account: AccountId, name: &str) -> StoreResult<bool> {
        let res = sqlx::query("DELETE FROM places WHERE account_id = $1 AND name_key = $2")
            .bind(account.0)
            .bind(name.to_lowercase())
            .execute(self.pool())
            .await?;
        Ok(res.rows_affected() == 1)
    }

    async fn set_inside(&self, account: AccountId, changes: &[(String, bool)]) -> StoreResult<()> {
        let mut tx = self.pool().begin().await?;
        for (name, inside) in changes {
            sqlx::query("UPDATE places SET inside = $1 WHERE account_id = $2 AND name_key = $3")
                .bind(*inside)
                .bind(account.0)
                .bind(name.to_lowercase())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn pin(&self, bond: BondId) -> StoreResult<Option<PinRecord>> {
        let row = sqlx::query("SELECT * FROM meeting_pins WHERE bond_id = $1")
            .bind(bond.0)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| from_row::pin(&r)).transpose()
    }

    async fn set_pin(&self, bond: BondId, pin: Option<&PinRecord>) -> StoreResult<()> {
        match pin {
            None => {
                sqlx::query("DELETE FROM meeting_pins WHERE bond_id = $1")
                    .bind(bond.0)
                    .execute(self.pool())
                    .await?;
            }
            Some(p) => {
                let reached = i32::from(p.reached[0]) | (i32::from(p.reached[1]) << 1);
                sqlx::query(
                    "INSERT INTO meeting_pins (bond_id, name, lat, lon, pinned_by, pinned_at, \
                     reached) VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (bond_id) DO UPDATE SET name = excluded.name, \
                     lat = excluded.lat, lon = excluded.lon, pinned_by = excluded.pinned_by, \
                     pinned_at = excluded.pinned_at, reached = excluded.reached",
                )
                .bind(bond.0)
                .bind(&p.name)
                .bind(p.lat)
                .bind(p.lon)
                .bind(p.pinned_by.0)
                .bind(p.pinned_at)
                .bind(reached)
                .execute(self.pool())
                .await?;
            }
        }
        Ok(())
    }

    async fn save_positions_and_journey(
        &self,
        batch: &[(AccountId, PositionRecord, bool)],
        _waiting: Waiting,
    ) -> StoreResult<()> {
        let positions: Vec<(AccountId, PositionRecord)> =
            batch.iter().map(|(a, p, _)| (*a, *p)).collect();
        let journey: Vec<(AccountId, Fix)> = batch
            .iter()
            .filter(|(_, _, keep)| *keep)
            .map(|(a, p, _)| (*a, p.fix))
            .collect();
        let mut tx = self.pool().begin().await?;
        super::save_positions_in(&mut tx, &positions, &journey).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn journey(
        &self,
        account: AccountId,
        from_ms: i64,
        to_ms: i64,
        limit: u32,
    ) -> StoreResult<Vec<Fix>> {
        let rows = sqlx::query(
            "SELECT at, lat, lon, accuracy_m FROM journey \
             WHERE account_id = $1 AND at >= $2 AND at <= $3 ORDER BY at LIMIT $4",
        )
        .bind(account.0)
        .bind(from_ms)
        .bind(to_ms)
        .bind(i64::from(limit))
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(from_row::fix).collect()
    }

    async fn forget_journey_before(&self, cutoff_ms: i64) -> StoreResult<u64> {
        let res = sqlx::query("DELETE FROM journey WHERE at < $1")
            .bind(cutoff_ms)
            .execute(self.pool())
            .await?;
        Ok(res.rows_affected())
    }
}
