//! Fills a fresh data directory with bonded pairs and their sessions, straight through the
//! store: registering thousands of accounts over HTTP would spend minutes in argon2, which
//! is not what the benchmark measures. Every account shares one password hash (computed
//! once, by the real argon2id), so logging in still works as usual.

use std::path::Path;

use haurach_server::auth;
use haurach_store::{Postgres, Sqlite, Store};

/// One bonded pair: both members' tokens.
pub struct Pair {
    /// Tokens of the two members.
    pub tokens: [String; 2],
}

/// Creates `n` bonded pairs in `data`, in the story profile.
pub async fn pairs(
    data: &Path,
    n: usize,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<Pair>> {
    pairs_in(Sqlite::open_for_bulk_load(data).await?, n, progress).await
}

/// Creates `n` bonded pairs in the PostgreSQL database at `url`.
pub async fn pairs_in_postgres(
    url: &str,
    n: usize,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<Pair>> {
    pairs_in(Postgres::connect_for_bulk_load(url).await?, n, progress).await
}

async fn pairs_in<S: Store>(
    store: S,
    n: usize,
    progress: &indicatif::ProgressBar,
) -> anyhow::Result<Vec<Pair>> {
    let phc = auth::hash_password("bench-password").map_err(anyhow::Error::msg)?;
    let mut pairs = Vec::with_capacity(n);
    for i in 0..n {
        let a = store.create_account(&format!("a{i}"), &phc, 0).await?;
        let b = store.create_account(&format!("b{i}"), &phc, 0).await?;
        let code = format!("{i:08}");
        store.create_invite(&code, a.id, 0, i64::MAX).await?;
        store
            .accept_invite(
                &code,
                b.id,
                haurach_bond::Profile::Story,
                haurach_bond::TierSet::always(),
                0,
            )
            .await?;
        let tokens = [auth::new_token(), auth::new_token()];
        store
            .create_session(&auth::token_hash(&tokens[0]), a.id, 0)
            .await?;
        store
            .create_session(&auth::token_hash(&tokens[1]), b.id, 0)
            .await?;
        pairs.push(Pair { tokens });
        progress.inc(1);
    }
    Ok(pairs)
}
