//! The relay's cursor, kept in the table `revy_feed_cursors`.
//!
//! One row per named consumer of the feed: `name` (primary key) and
//! `position`, the feed's low watermark (see
//! [`Feed::cursor`](revy_seaorm::feed::Feed::cursor)). The relay writes it
//! only after JetStream acknowledged every message up to it.

use sea_orm::sea_query::{Alias, ColumnDef, Expr, ExprTrait, OnConflict, Query, Table};
use sea_orm::{ConnectionTrait, DbErr};

use crate::Error;

/// The cursor table's name.
///
/// ```
/// assert_eq!(revy_nats::CURSOR_TABLE, "revy_feed_cursors");
/// ```
pub const CURSOR_TABLE: &str = "revy_feed_cursors";

fn table() -> Alias {
    Alias::new(CURSOR_TABLE)
}
fn name_col() -> Alias {
    Alias::new("name")
}
fn position_col() -> Alias {
    Alias::new("position")
}

fn cursor_err(name: &str) -> impl FnOnce(sea_orm::DbErr) -> Error + '_ {
    move |source| Error::Cursor {
        name: name.to_owned(),
        source,
    }
}

/// Creates `revy_feed_cursors` if it does not exist (on SQLite,
/// PostgreSQL and MySQL/MariaDB); running it again changes nothing.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// revy_nats::install_cursors(&db).await?;
/// revy_nats::install_cursors(&db).await?; // idempotent
/// assert_eq!(revy_nats::load_cursor(&db, "search-index").await?, 0);
/// # Ok(()) }
/// ```
pub async fn install_cursors<C: ConnectionTrait>(db: &C) -> Result<(), Error> {
    let create = Table::create()
        .table(table())
        .if_not_exists()
        .col(
            ColumnDef::new(name_col())
                .string_len(255)
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(position_col()).big_integer().not_null())
        .to_owned();
    db.execute(&create)
        .await
        .map(|_| ())
        .map_err(cursor_err(CURSOR_TABLE))
}

/// The stored position of cursor `name`; `0` (the start of the journal)
/// when none is stored yet.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// revy_nats::install_cursors(&db).await?;
/// revy_nats::store_cursor(&db, "relay", 42).await?;
/// assert_eq!(revy_nats::load_cursor(&db, "relay").await?, 42);
/// # Ok(()) }
/// ```
pub async fn load_cursor<C: ConnectionTrait>(db: &C, name: &str) -> Result<i64, Error> {
    let select = Query::select()
        .column(position_col())
        .from(table())
        .and_where(Expr::col(name_col()).eq(name))
        .to_owned();
    let row = db.query_one(&select).await.map_err(cursor_err(name))?;
    match row {
        Some(row) => row.try_get::<i64>("", "position").map_err(cursor_err(name)),
        None => Ok(0),
    }
}

/// Stores `position` as cursor `name` (insert or update).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// revy_nats::install_cursors(&db).await?;
/// revy_nats::store_cursor(&db, "relay", 7).await?;
/// revy_nats::store_cursor(&db, "relay", 9).await?;
/// assert_eq!(revy_nats::load_cursor(&db, "relay").await?, 9);
/// # Ok(()) }
/// ```
pub async fn store_cursor<C: ConnectionTrait>(
    db: &C,
    name: &str,
    position: i64,
) -> Result<(), Error> {
    let mut upsert = Query::insert();
    upsert
        .into_table(table())
        .columns([name_col(), position_col()])
        .values([name.into(), position.into()])
        .map_err(|e| DbErr::Custom(e.to_string()))
        .map_err(cursor_err(name))?
        .on_conflict(
            OnConflict::column(name_col())
                .update_column(position_col())
                .to_owned(),
        );
    db.execute(&upsert)
        .await
        .map(|_| ())
        .map_err(cursor_err(name))
}
