//! Database cascades: the `ON DELETE CASCADE`, `SET NULL` and `SET DEFAULT`
//! clauses of foreign keys between tracked tables.
//!
//! The database applies such a clause on its own when a parent row goes,
//! so the child rows it deletes or changes never pass through revy, and the
//! journal goes on saying they are alive. revy deals with this in three
//! ways:
//!
//! - **Adopting** the keys: [`register_child_policies`] reads the foreign
//!   keys pointing at an entity's table from the database's catalog and
//!   registers one [`ChildPolicy`] per cascading or set-null key from a
//!   tracked table (besides the policies the entity declares), so one line
//!   at start-up covers them. [`delete`](crate::deletion::delete),
//!   [`delete_many`](crate::bulk::delete_many) and
//!   [`delete_by_id`](crate::bulk::delete_by_id) then delete or update the
//!   children first, journaled, and the database's own clause finds
//!   nothing left to do.
//! - **Reporting** the others: a [`Guarded`](crate::guard::Guarded) connection,
//!   seeing a tracked `DELETE` of a parent table, looks at the foreign keys
//!   pointing at it; each cascading or set-null key from a tracked table
//!   that the delete does not apply a policy for is counted as an untracked
//!   write of the child table ([`untracked_writes`](crate::guard::untracked_writes)),
//!   warned about once per key with `tracing`, and in
//!   [strict](crate::guard::Guarded::strict) mode refused with
//!   [`GuardError::UnjournaledCascade`](crate::guard::GuardError::UnjournaledCascade) before
//!   it runs. An active model's own `delete` applies no policy, so every
//!   such key is reported for it: delete with [`delete`](crate::deletion::delete).
//! - Keys from untracked tables, and `RESTRICT`/`NO ACTION` keys, are left
//!   alone: nothing of theirs belongs in the journal.
//!
//! # When the keys are read
//!
//! Lazily: at the first tracked delete of a table a guard sees, or at
//! [`register_child_policies`], once per table and backend per process
//! (one query to the catalog: `pragma_foreign_key_list` on SQLite,
//! `pg_constraint` on PostgreSQL, `information_schema` on MySQL/MariaDB).
//! After a migration that changes foreign keys while the process runs,
//! call [`reset_foreign_keys`].
//!
//! Which tables are tracked is what revy's registry knows: register child
//! entities ([`register`](crate::registry::register)) before the parent's policies.
//!
//! SQLite enforces foreign keys only with `PRAGMA foreign_keys = ON`
//! (sqlx's default); without it nothing cascades, and nothing needs
//! journaling.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{LazyLock, RwLock};

use sea_orm::{ConnectionTrait, IdenStatic, Iterable};

pub use crate::db::foreign_keys::reset_foreign_keys;
use crate::db::foreign_keys::{self, Rule, foreign_keys_to, same_table};

use crate::db::keys::content_type;
use crate::deletion::{ChildPolicy, DeletionPolicies, OnDelete};
use crate::error::Error;
use crate::handoff;
use crate::registry::TrackedEntity;

/// Makes a policy on one column of a registered entity, named as the
/// catalog names it; `None` when the entity has no such column.
type Maker = fn(&str, OnDelete) -> Option<ChildPolicy>;

/// The entities registered as tracked, by table: what a foreign key's
/// child table is in Rust.
static MAKERS: LazyLock<RwLock<HashMap<String, Maker>>> = LazyLock::new(Default::default);

/// The policies [`register_child_policies`] registered, by parent table.
static REGISTERED: LazyLock<RwLock<HashMap<String, Vec<ChildPolicy>>>> =
    LazyLock::new(Default::default);

fn make<E: TrackedEntity>(column: &str, on_delete: OnDelete) -> Option<ChildPolicy> {
    E::Column::iter()
        .find(|c| c.as_str().eq_ignore_ascii_case(column))
        .map(|c| ChildPolicy::adopted::<E>(c, on_delete))
}

/// Remembers `E` as a possible child: called by [`register`](crate::registry::register).
pub(crate) fn register_entity<E: TrackedEntity>() {
    if let Ok(mut makers) = MAKERS.write() {
        makers.insert(content_type::<E>(), make::<E>);
    }
}

/// Whether a table the catalog names is a registered (tracked) one, and
/// its content type.
fn tracked(catalog_name: &str) -> Option<(String, Maker)> {
    let makers = MAKERS.read().ok()?;
    makers
        .iter()
        .find(|(t, _)| same_table(t, catalog_name))
        .map(|(t, m)| (t.clone(), *m))
}

/// The policies registered for `table` by [`register_child_policies`].
pub(crate) fn registered(table: &str) -> Option<Vec<ChildPolicy>> {
    REGISTERED.read().ok()?.get(table).cloned()
}

/// The policies a delete of `E` applies: those registered for it, which
/// include its declared ones, or else its declared ones.
pub(crate) fn policies_of<E: DeletionPolicies>() -> Vec<ChildPolicy> {
    registered(&content_type::<E>()).unwrap_or_else(E::on_delete)
}

/// Registers `E`'s child policies: those its [`DeletionPolicies`] declare,
/// and one for each foreign key the database has from a tracked table to
/// `E`'s table with `ON DELETE CASCADE` (adopted as
/// [`OnDelete::Cascade`]), `SET NULL` ([`OnDelete::SetNull`]) or `SET
/// DEFAULT` ([`OnDelete::SetDefault`]) that no declared policy covers.
/// Returns them all.
///
/// [`delete`](crate::deletion::delete), [`delete_many`](crate::bulk::delete_many) and
/// [`delete_by_id`](crate::bulk::delete_by_id) of `E` then apply them, and a
/// [`Guarded`](crate::guard::Guarded) connection no longer reports those keys.
/// The bulk builders name only the entity's [`TrackingPolicy`](crate::policy::TrackingPolicy),
/// so they apply the policies registered here, declared ones included.
/// Call it at start-up, after registering the child entities
/// ([`register`](crate::registry::register)); it registers `E` too. Calling it again
/// reads the keys again. Keys of more than one column, and keys from
/// tables revy does not know, are not adopted.
///
/// ```
/// mod article {
///     use sea_orm::entity::prelude::*;
///     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
///     #[sea_orm(table_name = "articles")]
///     pub struct Model { #[sea_orm(primary_key)] pub id: i32 }
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
///     #[async_trait::async_trait]
///     impl ActiveModelBehavior for ActiveModel { revy_seaorm::track!(); }
///     impl revy_seaorm::TrackingPolicy for Entity {}
///     impl revy_seaorm::deletion::DeletionPolicies for Entity {} // nothing declared
/// }
/// mod comment {
///     use sea_orm::entity::prelude::*;
///     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
///     #[sea_orm(table_name = "comments")]
///     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub article_id: i32 }
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {
///         // ON DELETE CASCADE in the database
///         #[sea_orm(belongs_to = "super::article::Entity", from = "Column::ArticleId",
///                   to = "super::article::Column::Id", on_delete = "Cascade")]
///         Article,
///     }
///     #[async_trait::async_trait]
///     impl ActiveModelBehavior for ActiveModel { revy_seaorm::track!(); }
///     impl revy_seaorm::TrackingPolicy for Entity {}
///     impl revy_seaorm::deletion::DeletionPolicies for Entity {}
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use revy_core::Context;
/// use revy_seaorm::entity::object_delta;
/// use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, Schema, Set};
///
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// revy_seaorm::install(&db).await?;
/// let schema = Schema::new(db.get_database_backend());
/// db.execute(&schema.create_table_from_entity(article::Entity)).await?;
/// db.execute(&schema.create_table_from_entity(comment::Entity)).await?;
///
/// // one line: the database's cascade becomes a journaled policy
/// revy_seaorm::registry::register::<comment::Entity>();
/// let adopted = revy_seaorm::deletion::cascade::register_child_policies::<article::Entity>(&db).await?;
/// assert_eq!((adopted[0].table(), adopted[0].column()), ("comments", "article_id"));
///
/// let a = article::ActiveModel { id: Set(1) }.insert(&db).await?;
/// comment::ActiveModel { id: Set(1), article_id: Set(a.id) }.insert(&db).await?;
/// Context::new()
///     .scope(revy_seaorm::bulk::delete_many::<article::Entity>().exec(&db))
///     .await?;
/// // the comment's Delete is in the journal, not only the article's
/// let comment_deletes = object_delta::Entity::find()
///     .filter(object_delta::Column::ContentType.eq("comments"))
///     .filter(object_delta::Column::Action.eq(revy_core::Action::Delete))
///     .count(&db)
///     .await?;
/// assert_eq!(comment_deletes, 1);
/// # Ok(()) }
/// ```
pub async fn register_child_policies<E>(
    db: &impl ConnectionTrait,
) -> Result<Vec<ChildPolicy>, Error>
where
    E: TrackedEntity + DeletionPolicies,
{
    crate::registry::register::<E>();
    let table = content_type::<E>();
    foreign_keys::forget(db.get_database_backend(), &table);
    let keys = foreign_keys_to(db, &table).await?;
    let mut policies = E::on_delete();
    for key in keys.iter() {
        let on_delete = match key.on_delete {
            Rule::Cascade => OnDelete::Cascade,
            Rule::SetNull => OnDelete::SetNull,
            Rule::SetDefault => OnDelete::SetDefault,
            Rule::Refuse => continue,
        };
        let [column] = key.child_columns.as_slice() else {
            continue;
        };
        let Some((_, maker)) = tracked(&key.child_table) else {
            continue;
        };
        if policies.iter().any(|p| covers(p, &key.child_table, column)) {
            continue;
        }
        if let Some(policy) = maker(column, on_delete) {
            policies.push(policy);
        }
    }
    if let Ok(mut registered) = REGISTERED.write() {
        registered.insert(table, policies.clone());
    }
    Ok(policies)
}

fn covers(policy: &ChildPolicy, child_table: &str, column: &str) -> bool {
    same_table(policy.table(), child_table) && policy.column().eq_ignore_ascii_case(column)
}

/// Runs `fut`, a delete of `parent`'s rows, as one that has applied
/// `policies` first: a guard seeing its `DELETE` does not report the keys
/// they cover. Held during each poll on the polling thread, as
/// [`own_writes`](crate::handoff::own_writes) is
/// ([`handoff::AppliedPolicies`]).
pub(crate) async fn applying<T>(
    parent: &str,
    policies: &[ChildPolicy],
    fut: impl Future<Output = T>,
) -> T {
    let keys = policies
        .iter()
        .map(|p| (p.table().to_owned(), p.column()))
        .collect();
    handoff::AppliedPolicies::during(parent.to_owned(), keys, fut).await
}
