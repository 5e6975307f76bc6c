//! [`PlaceStore`] on SQLite.

use haurach_bond::Fix;
use sqlx::Arguments as _;

use super::statements::{MultiRow, runs};
use super::{Sqlite, upsert_positions};
use crate::from_row;
use crate::places::{PinRecord, PlaceRecord, PlaceStore, Waiting};
use crate::{AccountId, BondId, PositionRecord, StoreResult};

impl PlaceStore for Sqlite {
    async fn put_places(
        &self,
        account: AccountId,
        places: &[PlaceRecord],
    ) -> StoreResult<Vec<bool>> {
        let mut tx = self.begin().await?;
        let mut created = Vec::with_capacity(places.len());
        for p in places {
            let existed = sqlx::query("SELECT 1 FROM places WHERE account_id = ? AND name_key = ?")
                .bind(account.0.to_string())
                .bind(p.name.to_lowercase())
                .fetch_optional(&mut *tx)
                .await?
                .is_some();
            sqlx::query(
                "INSERT INTO places (account_id, name, name_key, lat, lon, radius_m, inside, \
                 updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (account_id, name_key) DO UPDATE SET name = excluded.name, \
                 lat = excluded.lat, lon = excluded.lon, radius_m = excluded.radius_m, \
                 inside = excluded.inside, updated_at = excluded.updated_at",
            )
            .bind(account.0.to_string())
            .bind(&p.name)
            .bind(p.name.to_lowercase())
            .bind(p.lat)
            .bind(p.lon)
            .bind(p.radius_m)
            .bind(i64::from(p.inside))
            .bind(p.updated_at)
            .execute(&mut *tx)
            .await?;
            created.push(!existed);
        }
        tx.commit().await?;
        Ok(created)
    }

    async fn places(&self, account: AccountId) -> StoreResult<Vec<PlaceRecord>> {
        let rows = sqlx::query("SELECT * FROM places WHERE account_id = ? ORDER BY name_key")
            .bind(account.0.to_string())
            .fetch_all(&self.reader)
            .await?;
        rows.iter().map(from_row::place).collect()
    }

    async fn delete_place(&self, account: AccountId, name: &str) -> StoreResult<bool> {
        let mut tx = self.begin().await?;
        let res = sqlx::query("DELETE FROM places WHERE account_id = ? AND name_key = ?")
            .bind(account.0.to_string())
            .bind(name.to_lowercase())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(res.rows_affected() == 1)
    }

    async fn set_inside(&self, account: AccountId, changes: &[(String, bool)]) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for (name, inside) in changes {
            sqlx::query("UPDATE places SET inside = ? WHERE account_id = ? AND name_key = ?")
                .bind(i64::from(*inside))
                .bind(account.0.to_string())
                .bind(name.to_lowercase())
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn pin(&self, bond: BondId) -> StoreResult<Option<PinRecord>> {
        let row = sqlx::query("SELECT * FROM meeting_pins WHERE bond_id = ?")
            .bind(bond.0.to_string())
            .fetch_optional(&self.reader)
            .await?;
        row.map(|r| from_row::pin(&r)).transpose()
    }

    async fn set_pin(&self, bond: BondId, pin: Option<&PinRecord>) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        match pin {
            None => {
                sqlx::query("DELETE FROM meeting_pins WHERE bond_id = ?")
                    .bind(bond.0.to_string())
                    .execute(&mut *tx)
                    .await?;
            }
            Some(p) => {
                let reached = i64::from(p.reached[0]) | (i64::from(p.reached[1]) << 1);
                sqlx::query(
                    "INSERT INTO meeting_pins (bond_id, name, lat, lon, pinned_by, pinned_at, \
                     reached) VALUES (?, ?, ?, ?, ?, ?, ?) \
                     ON CONFLICT (bond_id) DO UPDATE SET name = excluded.name, \
                     lat = excluded.lat, lon = excluded.lon, pinned_by = excluded.pinned_by, \
                     pinned_at = excluded.pinned_at, reached = excluded.reached",
                )
                .bind(bond.0.to_string())
                .bind(&p.name)
                .bind(p.lat)
                .bind(p.lon)
                .bind(p.pinned_by.0.to_string())
                .bind(p.pinned_at)
                .bind(reached)
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn save_positions_and_journey(
        &self,
        batch: &[(AccountId, PositionRecord, bool)],
        waiting: Waiting,
    ) -> StoreResult<()> {
        let started = self.write_started();
        let mut tx = self.begin().await?;
        let positions: Vec<(AccountId, PositionRecord)> =
            batch.iter().map(|(a, p, _)| (*a, *p)).collect();
        for run in runs(&positions) {
            upsert_positions(&mut tx, run).await?;
        }
        let journey: Vec<(AccountId, PositionRecord)> = batch
            .iter()
            .filter(|(_, _, journey)| *journey)
            .map(|(a, p, _)| (*a, *p))
            .collect();
        static INSERT_JOURNEY: MultiRow = MultiRow::new(
            "INSERT OR IGNORE INTO journey (account_id, at, lat, lon, accuracy_m)",
            5,
            "",
        );
        for run in runs(&journey) {
            let query = INSERT_JOURNEY.query(run, |args, (account, position)| {
                let fix = position.fix;
                args.add(account.0.to_string())?;
                args.add(fix.at_ms)?;
                args.add(fix.lat)?;
                args.add(fix.lon)?;
                args.add(fix.accuracy_m)
            })?;
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        self.after_write(started, waiting);
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
             WHERE account_id = ? AND at >= ? AND at <= ? ORDER BY at LIMIT ?",
        )
        .bind(account.0.to_string())
        .bind(from_ms)
        .bind(to_ms)
        .bind(i64::from(limit))
        .fetch_all(&self.reader)
        .await?;
        rows.iter().map(from_row::fix).collect()
    }

    async fn forget_journey_before(&self, cutoff_ms: i64) -> StoreResult<u64> {
        let mut tx = self.begin().await?;
        let res = sqlx::query("DELETE FROM journey WHERE at < ?")
            .bind(cutoff_ms)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(res.rows_affected())
    }
}
