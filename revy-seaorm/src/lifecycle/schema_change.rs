//! Schema changes and the history written before them.
//!
//! The journal stores each change as it was made: column names and values
//! in revy's JSON encoding (see [`codec`](crate::codec)), and the table's
//! name as the row's `content_type`. It is never rewritten when the
//! application's schema changes, so its tamper evidence holds; readers map
//! old entries onto the entity as it is now:
//!
//! | change | what you do | snapshots, restore, blame, diff, time travel | history entries |
//! |---|---|---|---|
//! | column added | nothing (give it a `default_value`, or make it nullable) | older states take its default, else NULL; with neither, [`HistoryError::MissingColumn`] | unchanged |
//! | column dropped | nothing | its entries are ignored | still show its values ([`FieldValue::Raw`](crate::history::FieldValue::Raw)) |
//! | column renamed | [`Policy::renamed`](crate::policy::Policy::renamed)`("old", Column::New)` | entries under the old name count as the new column; the newest entry wins when both names occur | show the name as it was at the time, values decoded as the new column |
//! | type changed | nothing when old values decode as the new type; else [`Policy::convert`](crate::policy::Policy::convert) | values decode as the new type, through the conversion; else [`HistoryError::Undecodable`] naming table, column, delta and JSON type | the same decoding |
//! | table renamed | [`rename_table`]`("old", "new").exec(&db)` in the migration | the history follows the table | the same |
//!
//! The guide `docs/schema-changes.md` (in the `revy` crate's
//! documentation as `revy::schema_change`) walks through each with a
//! migration.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, QueryFilter};

use crate::error::Error;
use crate::journal::{CONTENT_TYPE_LEN, object_delta};
use crate::lifecycle::LifecycleError;

/// Object delta ids one statement of [`rename_table`] covers: each
/// `UPDATE` moves the journal rows of the table whose ids fall in one
/// range this wide.
pub const RENAME_CHUNK_SIZE: i64 = 10_000;

/// Moves the journal of a renamed table to its new name: every object
/// delta whose `content_type` is `old` gets `new`, so the table's history
/// (snapshots, restore, blame, history, time travel, tags, the trash) is
/// found under the entity's new name. Returns the number of object deltas
/// moved. Tamper evidence is not disturbed: the chain's hash does not
/// cover the table's name (the chain is per object already), so
/// [`verify`](crate::tamper::verify()) passes after the move.
///
/// Run it in the migration that renames the table, after the `ALTER
/// TABLE .. RENAME` and before the application writes through the renamed
/// entity. `old` and `new` are the journal's names, as
/// [`content_type`](crate::registry::content_type()) gives them
/// (`schema.table` for an entity with a schema).
///
/// # Chunks and transactions
///
/// The rows move in one `UPDATE` per range of [`RENAME_CHUNK_SIZE`]
/// object delta ids, between the table's lowest and highest id read at the
/// start, each statement on the connection given. revy opens no
/// transaction of its own, and the connection decides:
/// - on a bare connection each chunk commits on its own, so a journal of
///   any size never holds one long transaction (its locks, and on
///   PostgreSQL the dead row versions vacuum cannot reclaim until it ends).
///   A rename that stops half-way (a crash) leaves the journal readable
///   under both names for the rows on each side, and running it again
///   moves the rest;
/// - in a transaction (PostgreSQL runs each sea-orm-migration migration in
///   one), all chunks commit together with the schema change itself.
///
/// # Errors
///
/// [`LifecycleError::RenameTable`] when `new` is empty or longer than
/// [`CONTENT_TYPE_LEN`], or when the journal already holds, under `new`, a
/// delta of a row written after one of its deltas under `old`: the renamed
/// entity was written to before its journal moved, so that row's history
/// (versions, chain) restarted under the new name, and revy does not
/// merge two histories of one row. Nothing is moved then.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
/// use sea_orm::sea_query::{Alias, Table};
///
/// let ann = Context::new()
///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
///     .await?;
///
/// // the migration: the table `users` becomes `members`, and its history follows
/// db.execute(&Table::rename().table(Alias::new("users"), Alias::new("members")).to_owned())
///     .await?;
/// let moved = revy_seaorm::lifecycle::rename_table("users", "members").exec(&db).await?;
/// assert_eq!(moved, 1);
///
/// // the entity `member` (table `members`) has the user's history
/// # mod member {
/// #     use sea_orm::entity::prelude::*;
/// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
/// #     #[sea_orm(table_name = "members")]
/// #     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub name: String, pub email: Option<String> }
/// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)] pub enum Relation {}
/// #     #[async_trait::async_trait]
/// #     impl ActiveModelBehavior for ActiveModel { revy_seaorm::track!(); }
/// #     impl revy_seaorm::TrackingPolicy for Entity {}
/// # }
/// let history = revy_seaorm::history::of::<member::Entity>(ann.id).all(&db).await?;
/// let then = revy_seaorm::history::ObjectSnapshot::<member::Entity>::at(history[0].id).one(&db).await?;
/// assert_eq!(then.map(|m| m.name), Some("Ann".to_owned()));
/// // run again, it finds nothing left to move
/// assert_eq!(revy_seaorm::lifecycle::rename_table("users", "members").exec(&db).await?, 0);
/// # Ok(()) }
/// ```
pub fn rename_table(old: impl Into<String>, new: impl Into<String>) -> RenameTable {
    RenameTable {
        old: old.into(),
        new: new.into(),
    }
}

/// What [`rename_table`] makes: nothing happens until
/// [`.exec(db)`](RenameTable::exec).
#[must_use = "nothing happens until `.exec(db)`"]
pub struct RenameTable {
    old: String,
    new: String,
}

impl RenameTable {
    /// Runs it on `db`.
    pub async fn exec<C: ConnectionTrait>(self, db: &C) -> Result<u64, Error> {
        let Self { old, new } = self;
        let (old, new) = (old.as_str(), new.as_str());
        rename_table_in_chunks(old, new, RENAME_CHUNK_SIZE)
            .exec(db)
            .await
    }
}

/// [`rename_table`], one `UPDATE` per range of `chunk` object delta ids (at
/// least one): smaller chunks hold each statement's locks shorter, larger
/// ones take fewer statements.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, Set};
///
/// for name in ["Ann", "Bob", "Cid"] {
///     let am = user::ActiveModel { name: Set(name.into()), ..Default::default() };
///     Context::new().scope(am.insert(&db)).await?;
/// }
/// // three object deltas, moved by two statements: ids 1-2, then 3
/// assert_eq!(revy_seaorm::lifecycle::rename_table_in_chunks("users", "members", 2).exec(&db).await?, 3);
/// # Ok(()) }
/// ```
pub fn rename_table_in_chunks(
    old: impl Into<String>,
    new: impl Into<String>,
    chunk: i64,
) -> RenameTableInChunks {
    RenameTableInChunks {
        old: old.into(),
        new: new.into(),
        chunk,
    }
}

/// What [`rename_table_in_chunks`] makes: nothing happens until
/// [`.exec(db)`](RenameTableInChunks::exec).
#[must_use = "nothing happens until `.exec(db)`"]
pub struct RenameTableInChunks {
    old: String,
    new: String,
    chunk: i64,
}

impl RenameTableInChunks {
    /// Runs it on `db`.
    pub async fn exec<C: ConnectionTrait>(self, db: &C) -> Result<u64, Error> {
        let Self { old, new, chunk } = self;
        let (old, new) = (old.as_str(), new.as_str());
        let chunk = std::cmp::max(chunk, 1);
        let refuse = |reason: String| {
            Error::from(LifecycleError::RenameTable {
                old: old.to_owned(),
                new: new.to_owned(),
                reason,
            })
        };
        if new.is_empty() {
            return Err(refuse("the new name is empty".into()));
        }
        let len = new.chars().count();
        if len > CONTENT_TYPE_LEN as usize {
            return Err(refuse(format!(
                "the new name is {len} characters long; the journal stores table names of at most \
             {CONTENT_TYPE_LEN}"
            )));
        }
        if old == new {
            return Ok(0);
        }
        if let Some(clash) = restarted_history(db, old, new).await? {
            return Err(refuse(format!(
                "row {} already has deltas under {new} (object delta {}) written after its deltas \
             under {old}: the renamed entity was written to before its journal moved, so the \
             row's history restarted under the new name, and revy does not merge two histories \
             of one row; run rename_table in the migration that renames the table, before the \
             application writes through the renamed entity",
                clash.content_id, clash.id
            )));
        }
        let Some((lowest, highest)) = bounds(db, old).await? else {
            return Ok(0);
        };
        let mut moved = 0;
        let mut start = lowest;
        while start <= highest {
            let end = start.saturating_add(chunk);
            let done = object_delta::Entity::update_many()
                .col_expr(object_delta::Column::ContentType, Expr::value(new))
                .filter(object_delta::Column::ContentType.eq(old))
                .filter(object_delta::Column::Id.gte(start))
                .filter(object_delta::Column::Id.lt(end))
                .exec(db)
                .await
                .map_err(journal)?;
            moved += done.rows_affected;
            if end == i64::MAX {
                break;
            }
            start = end;
        }
        // the table's erasures follow it (their own deltas, which the feed
        // carried, keep the name they were made under)
        crate::journal::erasure::Entity::update_many()
            .col_expr(
                crate::journal::erasure::Column::ContentType,
                Expr::value(new),
            )
            .filter(crate::journal::erasure::Column::ContentType.eq(old))
            .exec(db)
            .await
            .map_err(|e| Error::from_journal("revy_erasures", e))?;
        Ok(moved)
    }
}

fn journal(e: sea_orm::DbErr) -> Error {
    Error::from_journal("revy_object_deltas", e)
}

/// The lowest and highest object delta id of the table `table`, if it has any.
async fn bounds<C: ConnectionTrait>(db: &C, table: &str) -> Result<Option<(i64, i64)>, Error> {
    #[derive(FromQueryResult)]
    struct Bounds {
        lowest: Option<i64>,
        highest: Option<i64>,
    }
    let d = object_delta::Entity;
    let statement = Query::select()
        .expr_as(
            Expr::col(object_delta::Column::Id).min(),
            Alias::new("lowest"),
        )
        .expr_as(
            Expr::col(object_delta::Column::Id).max(),
            Alias::new("highest"),
        )
        .from(d)
        .and_where(Expr::col(object_delta::Column::ContentType).eq(table))
        .to_owned();
    let found = Bounds::find_by_statement(db.get_database_backend().build(&statement))
        .one(db)
        .await
        .map_err(journal)?;
    Ok(found.and_then(|b| b.lowest.zip(b.highest)))
}

/// A delta of `new` written after a delta of the same row under `old`.
#[derive(FromQueryResult)]
struct Clash {
    id: i64,
    content_id: String,
}

/// The first delta under `new` of a row whose history under `old` is older
/// than it (one seek of the content index per delta under `new`). A rename
/// that stopped half-way moved each row's oldest deltas first, so its rows
/// under `new` are older than those left under `old`: no clash.
async fn restarted_history<C: ConnectionTrait>(
    db: &C,
    old: &str,
    new: &str,
) -> Result<Option<Clash>, Error> {
    use object_delta::Column as D;
    let (n, o) = (Alias::new("revy_new"), Alias::new("revy_old"));
    let earlier = Query::select()
        .expr(Expr::val(1))
        .from_as(object_delta::Entity, o.clone())
        .and_where(Expr::col((o.clone(), D::ContentType)).eq(old))
        .and_where(Expr::col((o.clone(), D::ContentId)).equals((n.clone(), D::ContentId)))
        .and_where(Expr::col((o, D::Id)).lt(Expr::col((n.clone(), D::Id))))
        .to_owned();
    let statement = Query::select()
        .column((n.clone(), D::Id))
        .column((n.clone(), D::ContentId))
        .from_as(object_delta::Entity, n.clone())
        .and_where(Expr::col((n.clone(), D::ContentType)).eq(new))
        .and_where(Expr::exists(earlier))
        .order_by((n, D::Id), sea_orm::sea_query::Order::Asc)
        .limit(1)
        .to_owned();
    Clash::find_by_statement(db.get_database_backend().build(&statement))
        .one(db)
        .await
        .map_err(journal)
}
