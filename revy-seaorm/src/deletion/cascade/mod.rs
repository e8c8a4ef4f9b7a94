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
//!   [`GuardError::UnjournaledCascade`] before
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
//! entities ([`register`](crate::rollback::register)) before the parent's policies.
//!
//! SQLite enforces foreign keys only with `PRAGMA foreign_keys = ON`
//! (sqlx's default); without it nothing cascades, and nothing needs
//! journaling.

mod catalog;

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::{LazyLock, Mutex, RwLock};

use sea_orm::{ConnectionTrait, IdenStatic, Iterable};

pub use catalog::reset_foreign_keys;
use catalog::{ForeignKey, Rule, foreign_keys_to};

use crate::db::keys::content_type;
use crate::deletion::{ChildPolicy, DeletionPolicies, OnDelete};
use crate::error::Error;
use crate::guard;
use crate::guard::GuardError;
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

/// The keys already warned about.
static WARNED: LazyLock<Mutex<BTreeSet<String>>> = LazyLock::new(Default::default);

fn make<E: TrackedEntity>(column: &str, on_delete: OnDelete) -> Option<ChildPolicy> {
    E::Column::iter()
        .find(|c| c.as_str().eq_ignore_ascii_case(column))
        .map(|c| ChildPolicy::adopted::<E>(c, on_delete))
}

/// Remembers `E` as a possible child: called by [`register`](crate::rollback::register).
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

/// A content type (`table` or `schema.table`) and a catalog's table name.
fn same_table(content_type: &str, catalog_name: &str) -> bool {
    let name = content_type
        .rsplit_once('.')
        .map_or(content_type, |(_, t)| t);
    name.eq_ignore_ascii_case(catalog_name)
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
/// ([`register`](crate::rollback::register)); it registers `E` too. Calling it again
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
/// revy_seaorm::rollback::register::<comment::Entity>();
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
    crate::rollback::register::<E>();
    let table = content_type::<E>();
    catalog::forget(db.get_database_backend(), &table);
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

/// Looks at the foreign keys pointing at `parent`, whose rows a tracked
/// `DELETE` is about to remove having applied the policies in `applied`:
/// each cascading or set-null key from a tracked table that they do not
/// cover is counted, warned about once, and refused when `strict`.
pub(crate) async fn check<C: ConnectionTrait + ?Sized>(
    db: &C,
    parent: &str,
    applied: &[(String, &'static str)],
    strict: bool,
) -> Result<(), Error> {
    let keys = foreign_keys_to(db, parent).await?;
    // every uncovered key is counted and warned about, the first refused
    let mut refusal = Ok(());
    for key in keys.iter().filter(|k| k.on_delete != Rule::Refuse) {
        let Some((child, _)) = tracked(&key.child_table) else {
            continue;
        };
        let covered = match key.child_columns.as_slice() {
            [column] => applied
                .iter()
                .any(|(t, c)| same_table(t, &key.child_table) && c.eq_ignore_ascii_case(column)),
            _ => false,
        };
        if !covered && let Err(e) = report(parent, &child, key, strict) {
            refusal = refusal.and(Err(e));
        }
    }
    refusal
}

fn report(parent: &str, child: &str, key: &ForeignKey, strict: bool) -> Result<(), Error> {
    guard::count_untracked(child);
    let name = format!("{} -> {parent}", key.columns_text());
    let first = WARNED
        .lock()
        .map(|mut warned| warned.insert(name.clone()))
        .unwrap_or(false);
    let fix = fix(parent, key);
    if first {
        tracing::warn!(
            table = parent,
            child,
            key = name.as_str(),
            "revy: a DELETE on table {parent} lets the database apply ON DELETE {} of {} \
             to tracked table {child}, and the journal does not see it; {fix} \
             (warned once per key; revy::guard::untracked_writes() counts every one under {child})",
            key.on_delete.sql(),
            key.columns_text(),
        );
    }
    if strict {
        return Err(GuardError::UnjournaledCascade {
            parent: parent.to_owned(),
            child: child.to_owned(),
            key: key.columns_text(),
            rule: key.on_delete.sql(),
            fix,
        }
        .into());
    }
    Ok(())
}

fn fix(parent: &str, key: &ForeignKey) -> String {
    if key.child_columns.len() > 1 {
        return format!(
            "revy cannot apply a policy to a key of several columns: delete the {} rows \
             with revy::bulk::delete_many before their parent",
            key.child_table
        );
    }
    format!(
        "adopt the database's keys with revy::deletion::cascade::register_child_policies::<E>(&db) at start-up \
         (or declare a ChildPolicy for {} in E's DeletionPolicies), and delete through \
         revy::deletion::delete(&db, model), revy::bulk::delete_many::<E>() or revy::bulk::delete_by_id::<E>(..), \
         which apply them (E = the entity of table {parent})",
        key.columns_text()
    )
}

/// Lets each key warn once more: part of
/// [`reset_untracked_writes`](crate::guard::reset_untracked_writes).
pub(crate) fn forget_warnings() {
    if let Ok(mut warned) = WARNED.lock() {
        warned.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_names_match_content_types() {
        assert!(same_table("comments", "COMMENTS"));
        assert!(same_table("blog.comments", "comments"));
        assert!(!same_table("comments", "comment"));
    }

    /// Counts the warnings sent to it.
    struct Warnings(std::sync::Arc<std::sync::atomic::AtomicUsize>);

    impl tracing::Subscriber for Warnings {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            if *event.metadata().level() == tracing::Level::WARN {
                self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    fn key(child: &str, rule: Rule) -> ForeignKey {
        ForeignKey {
            child_table: child.into(),
            child_columns: vec!["parent_id".into()],
            on_delete: rule,
        }
    }

    #[test]
    fn each_key_warns_once_and_counts_every_delete() {
        let warnings = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let cascade = key("unit_cascade_child", Rule::Cascade);
        let set_null = key("unit_set_null_child", Rule::SetNull);
        tracing::subscriber::with_default(Warnings(warnings.clone()), || {
            for _ in 0..3 {
                report("unit_parent", "unit_cascade_child", &cascade, false).unwrap();
            }
            report("unit_parent", "unit_set_null_child", &set_null, false).unwrap();
            let refused =
                report("unit_parent", "unit_set_null_child", &set_null, true).unwrap_err();
            let text = refused.to_string();
            assert!(text.contains("unit_set_null_child.parent_id"), "{text}");
            assert!(text.contains("SET NULL"), "{text}");
            assert!(text.contains("register_child_policies"), "{text}");
        });
        assert_eq!(warnings.load(std::sync::atomic::Ordering::SeqCst), 2);
        let counts = crate::guard::untracked_writes();
        assert_eq!(counts.get("unit_cascade_child"), 3);
        assert_eq!(counts.get("unit_set_null_child"), 2);
    }
}
