//! Statements the SQLite backend builds: multi-row `INSERT`s cut into runs of a few
//! sizes, and the columns a message is read from.

use std::sync::OnceLock;

use sqlx::Arguments as _;
use sqlx::Sqlite as Db;
use sqlx::sqlite::SqliteArguments;

use crate::StoreResult;

/// How many rows one multi-row statement carries, largest first. A batch is cut greedily
/// into runs of these sizes: a handful of distinct statements (each prepared once, then
/// cached by sqlx) serve every batch, and a run costs one round trip to the connection's
/// thread instead of one per row. 512 rows of 9 columns (a message's, the widest) stay
/// far below SQLite's 32,766 parameters.
const ROWS_PER_STATEMENT: [usize; 4] = [512, 64, 8, 1];

/// `items` cut into runs of [`ROWS_PER_STATEMENT`] sizes, in order.
pub(super) fn runs<T>(mut items: &[T]) -> Vec<&[T]> {
    let mut out = Vec::new();
    while !items.is_empty() {
        let size = ROWS_PER_STATEMENT
            .into_iter()
            .find(|size| *size <= items.len())
            .unwrap_or(1);
        let (run, rest) = items.split_at(size);
        out.push(run);
        items = rest;
    }
    out
}

/// A multi-row `INSERT`: `head`, a `VALUES` list of one row per item, then `tail`. Its text
/// for each run size is built once, on first use; the arguments of a run are bound into
/// one buffer sized for them.
pub(super) struct MultiRow {
    head: &'static str,
    tail: &'static str,
    columns: usize,
    sql: OnceLock<Vec<String>>,
}

impl MultiRow {
    pub(super) const fn new(head: &'static str, columns: usize, tail: &'static str) -> MultiRow {
        MultiRow {
            head,
            tail,
            columns,
            sql: OnceLock::new(),
        }
    }

    /// The statement for a run of `rows` rows (one of [`ROWS_PER_STATEMENT`]).
    fn sql(&'static self, rows: usize) -> &'static str {
        let all = self.sql.get_or_init(|| {
            let row = format!("({})", vec!["?"; self.columns].join(", "));
            ROWS_PER_STATEMENT
                .iter()
                .map(|n| {
                    format!(
                        "{} VALUES {} {}",
                        self.head,
                        vec![row.as_str(); *n].join(", "),
                        self.tail
                    )
                })
                .collect()
        });
        let at = ROWS_PER_STATEMENT
            .iter()
            .position(|n| *n == rows)
            .expect("a run has one of the statement sizes");
        &all[at]
    }

    /// The query for `run`, each item's columns added by `bind` in order.
    pub(super) fn query<T>(
        &'static self,
        run: &[T],
        mut bind: impl FnMut(&mut SqliteArguments, &T) -> Result<(), sqlx::error::BoxDynError>,
    ) -> StoreResult<sqlx::query::Query<'static, Db, SqliteArguments>> {
        let mut args = SqliteArguments::default();
        args.reserve(run.len() * self.columns, 0);
        for item in run {
            bind(&mut args, item).map_err(sqlx::Error::Encode)?;
        }
        Ok(sqlx::query_with(self.sql(run.len()), args))
    }
}

/// The columns [`from_row::message`](crate::from_row::message) reads (a macro, so statements built at compile time
/// can name them too).
macro_rules! message_columns {
    () => {
        "seq, bond_id, sender_id, client_id, kind, body, feeling, sent_at, acknowledged_at"
    };
}
pub(super) use message_columns;
/// The columns of a message, for statements built at run time.
pub(super) const MESSAGE_COLUMNS: &str = message_columns!();
