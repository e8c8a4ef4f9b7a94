//! Tracked bulk writes: [`insert_many`], [`update_many`], [`delete_many`]
//! and [`delete_by_id`], shaped like sea-orm's own builders and journaled
//! like the per-row hooks.
//!
//! sea-orm's `Entity::insert_many`, `update_many`, `delete_many` and
//! `delete_by_id` send one statement and never call the active-model hooks,
//! so [`track!`](crate::track) cannot see them. These builders take the
//! same arguments (`col_expr`, `set`, and sea-orm's own
//! [`QueryFilter::filter`](sea_orm::QueryFilter::filter)) and end in
//! `.exec(&db)` returning what sea-orm's returns:
//!
//! ```
//! # revy_seaorm::__doc_fixture!();
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let db = setup().await?;
//! use revy_core::Context;
//! use revy_seaorm::entity::object_delta;
//! use sea_orm::sea_query::Expr;
//! use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, Set};
//!
//! Context::new().scope(async {
//!     let names = ["Ann", "Bob", "Cid"];
//!     revy_seaorm::bulk::insert_many::<user::Entity>(
//!         names.map(|n| user::ActiveModel { name: Set(n.into()), ..Default::default() }),
//!     )
//!     .exec(&db)
//!     .await?;
//!     let renamed = revy_seaorm::bulk::update_many::<user::Entity>()
//!         .col_expr(user::Column::Name, Expr::value("Anonymous"))
//!         .filter(user::Column::Name.ne("Bob"))
//!         .exec(&db)
//!         .await?;
//!     assert_eq!(renamed.rows_affected, 2);
//!     revy_seaorm::bulk::delete_many::<user::Entity>().exec(&db).await?;
//!     Ok::<_, revy_seaorm::Error>(())
//! })
//! .await?;
//! // three Creates, two Updates, three Deletes
//! assert_eq!(object_delta::Entity::find().count(&db).await?, 8);
//! # Ok(()) }
//! ```
//!
//! # What is recorded
//!
//! Each row the statement changes gets exactly the journal its per-row
//! save or delete would get: a `Create` with every column as the database
//! stored it (columns left `NotSet` are the system's), an `Update` with the
//! columns whose values changed (old values as the database had them), a
//! `Delete`; a baseline first for a row the journal has never seen; nothing
//! for a row the update leaves equal. The whole call is one revision unless
//! the context holds one.
//!
//! # How
//!
//! The call runs in a transaction of its own (a savepoint inside yours;
//! `BEGIN IMMEDIATE` on SQLite, so the database is locked before the
//! first read). It walks the rows the filter selects a chunk at a time
//! ([`DEFAULT_CHUNK_SIZE`](crate::deletion::DEFAULT_CHUNK_SIZE) rows, by primary key,
//! each chunk locked with `FOR UPDATE`), then writes them by key and
//! journals them: a fixed number of statements per chunk, memory bounded
//! by the chunk, and the journal names exactly the rows the statement
//! changed even while other transactions write the same table. Inserted
//! rows are read back with `RETURNING` (PostgreSQL, SQLite) or by key
//! (MySQL/MariaDB; an auto-increment key is read from the statement's
//! first id, which needs `innodb_autoinc_lock_mode` 0 or 1, MariaDB's
//! default; under 2 each row of a chunk is inserted on its own).
//!
//! With tracking disabled, or outside any context, each call is the plain
//! sea-orm statement and nothing more.
//!
//! # Differences from sea-orm's builders
//!
//! - An `update_many` may not set a primary-key column: the journal names
//!   rows by key (a per-row save cannot change a key either).
//! - `insert_many`'s `on_conflict` is two methods,
//!   [`on_conflict_do_nothing`](InsertMany::on_conflict_do_nothing) and
//!   [`on_conflict_update`](InsertMany::on_conflict_update), taking the
//!   target and update columns sea-orm's `OnConflict` would; its `exec`
//!   gives `None` rather than an error when every model conflicted.
//! - `delete_many` and `delete_by_id` apply the child policies registered
//!   with [`register_child_policies`](crate::deletion::cascade::register_child_policies), not
//!   the [`DeletionPolicies`](crate::deletion::DeletionPolicies) an entity declares
//!   but never registered: the builders name only its
//!   [`TrackingPolicy`](crate::policy::TrackingPolicy). [`delete`](crate::deletion::delete)
//!   applies both.

mod conflict;
mod delete;
mod insert;
mod single;
mod update;

pub use crate::error::BulkError;
pub use delete::{DeleteMany, delete_by_id, delete_many};
pub use insert::{InsertMany, insert_many};
pub use single::{DeleteOne, InsertOne, UpdateOne, delete_one, insert_one, update_one};
pub use update::{UpdateMany, update_many};

use std::future::Future;

use revy_core::{Context, LazyRevision};
use sea_orm::sea_query::{ConditionalStatement, IntoCondition, LogicalChainOper};
use sea_orm::{
    Condition, ConnectionTrait, DbBackend, EntityTrait, SqliteTransactionMode, TransactionOptions,
    TransactionTrait,
};

use crate::db::keys::content_type;
use crate::error::Error;
use crate::handoff::own_writes;

/// The conditions a bulk builder collected through sea-orm's
/// [`QueryFilter`](sea_orm::QueryFilter): the builders' `QueryStatement`.
/// You do not name it; `filter` and its siblings fill it.
#[derive(Debug, Clone)]
pub struct Where {
    condition: Condition,
}

impl Default for Where {
    fn default() -> Self {
        Where {
            condition: Condition::all(),
        }
    }
}

impl Where {
    /// Everything collected, as one condition.
    pub fn condition(&self) -> Condition {
        self.condition.clone()
    }
}

impl ConditionalStatement for Where {
    fn and_or_where(&mut self, condition: LogicalChainOper) -> &mut Self {
        let current = std::mem::replace(&mut self.condition, Condition::all());
        self.condition = match condition {
            LogicalChainOper::And(e) => current.add(e),
            // an empty condition is "true": `true OR e` would select every row
            LogicalChainOper::Or(e) if current.is_empty() => Condition::all().add(e),
            LogicalChainOper::Or(e) => Condition::any().add(current).add(e),
        };
        self
    }

    fn cond_where<C: IntoCondition>(&mut self, condition: C) -> &mut Self {
        let current = std::mem::replace(&mut self.condition, Condition::all());
        self.condition = current.add(condition.into_condition());
        self
    }
}

/// Begins the transaction a tracked bulk call runs in: on SQLite an
/// `IMMEDIATE` one, which takes the write lock before the first read, so
/// no other connection changes a row between its read and its write.
pub(crate) async fn begin<C>(db: &C) -> Result<C::Transaction, Error>
where
    C: ConnectionTrait + TransactionTrait,
{
    let options = TransactionOptions {
        sqlite_transaction_mode: (db.get_database_backend() == DbBackend::Sqlite)
            .then_some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    Ok(db.begin_with_options(options).await?)
}

/// Runs the tracked `work` of one bulk call on `E`'s table: in the
/// context's revision, or in one new revision of its own when the context
/// has none, so a whole call is one revision; its writes to the table are
/// revy's own (see [`Guarded`](crate::guard::Guarded)).
pub(crate) async fn as_one_call<E, T>(
    work: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error>
where
    E: EntityTrait,
{
    let table = content_type::<E>();
    let work = own_writes(&table, work);
    if Context::revision().is_some() {
        work.await
    } else {
        Context::via_revision(LazyRevision::new()).scope(work).await
    }
}

#[cfg(test)]
mod tests {
    use super::Where;
    use sea_orm::sea_query::{
        Alias, ConditionalStatement, Expr, ExprTrait, LogicalChainOper, Query, SqliteQueryBuilder,
    };

    fn sql(w: &Where) -> String {
        Query::select()
            .column(Alias::new("id"))
            .from(Alias::new("t"))
            .cond_where(w.condition())
            .to_string(SqliteQueryBuilder)
    }

    #[test]
    fn filters_collect_into_one_condition() {
        let mut w = Where::default();
        assert_eq!(sql(&w), r#"SELECT "id" FROM "t" WHERE TRUE"#);
        w.cond_where(Expr::col(Alias::new("a")).eq(1));
        w.cond_where(Expr::col(Alias::new("b")).eq(2));
        assert_eq!(sql(&w), r#"SELECT "id" FROM "t" WHERE "a" = 1 AND "b" = 2"#);
        w.and_or_where(LogicalChainOper::Or(Expr::col(Alias::new("c")).eq(3)));
        assert_eq!(
            sql(&w),
            r#"SELECT "id" FROM "t" WHERE ("a" = 1 AND "b" = 2) OR "c" = 3"#
        );
    }

    #[test]
    fn an_or_on_nothing_is_not_true() {
        let mut w = Where::default();
        w.and_or_where(LogicalChainOper::Or(Expr::col(Alias::new("c")).eq(3)));
        assert_eq!(sql(&w), r#"SELECT "id" FROM "t" WHERE "c" = 3"#);
    }
}
