//! Tags: names for revisions (`"release-2026-11"`), and reading or going
//! back to the journal as it was at one.
//!
//! A tag marks the journal right after the last object delta of its
//! revision: [`as_of_tag`] reads one row there, [`table_as_of`] with
//! [`Moment::tag`](crate::history::Moment::tag) the whole table, and [`undo_to_tag`]
//! brings every row changed since back to it.
//!
//! [`table_as_of`]: crate::history::table_as_of

use revy_core::{Action, Context, LazyRevision};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PrimaryKeyTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait, TryIntoModel,
};
use std::marker::PhantomData;

use crate::error::Error;
use crate::guard::sealed::Sealed;
use crate::guard::{GuardedTransaction, RevyTransaction};
use crate::history::key_text;
use crate::history::snapshot::SelectSnapshotExt;
pub use crate::journal::TAG_NAME_LEN;
use crate::journal::{object_delta, revision, tag};
use crate::record::write;
use crate::registry::keys::content_type;
use crate::rollback::undo::{RollBack, lookup};

/// Names the revision `revision_id` `name`, with the context's actor and
/// revision description, and returns the tag.
///
/// Names are unique: a name already taken is [`Error::TagExists`], one
/// longer than [`TAG_NAME_LEN`](crate::tags::TAG_NAME_LEN) characters
/// [`Error::TagNameTooLong`], and a revision that does not exist
/// [`Error::NoRevision`].
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, Set};
///
/// Context::new()
///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
///     .await?;
/// let revision = revy_seaorm::history::of::<user::Entity>(1).all(&db).await?[0].revision_id;
///
/// let release = revy_seaorm::tags::tag("release-1", revision).exec(&db).await?;
/// assert_eq!(release.revision_id, revision);
/// assert!(revy_seaorm::tags::tag("release-1", revision).exec(&db).await.is_err()); // taken
/// assert_eq!(revy_seaorm::tags::find_tag("release-1").one(&db).await?, Some(release.clone()));
/// assert_eq!(revy_seaorm::tags::all(&db).await?, vec![release]);
/// # Ok(()) }
/// ```
pub fn tag(name: impl Into<String>, revision_id: i64) -> Tag {
    Tag {
        name: name.into(),
        revision_id,
    }
}

/// What [`tag`] makes: nothing happens until
/// [`.exec(db)`](Tag::exec).
#[must_use = "nothing happens until `.exec(db)`"]
pub struct Tag {
    name: String,
    revision_id: i64,
}

impl Tag {
    /// Runs it on `db`.
    pub async fn exec<C: ConnectionTrait>(self, db: &C) -> Result<tag::Model, Error> {
        let Self { name, revision_id } = self;
        let len = name.chars().count();
        if len > TAG_NAME_LEN as usize {
            return Err(Error::TagNameTooLong {
                name,
                len,
                max: TAG_NAME_LEN,
            });
        }
        if let Some(taken) = find_tag(&name).one(db).await? {
            return Err(Error::TagExists {
                name,
                revision_id: taken.revision_id,
            });
        }
        let exists = revision::Entity::find_by_id(revision_id)
            .one(db)
            .await
            .map_err(|e| Error::from_journal("revy_revisions", e))?;
        if exists.is_none() {
            return Err(Error::NoRevision { revision_id });
        }
        let actor = Context::actor();
        let (actor_type, actor_id) = match actor {
            Some(a) => (Some(a.kind), Some(a.id)),
            None => (None, None),
        };
        let row = tag::ActiveModel {
            name: Set(name.clone()),
            revision_id: Set(revision_id),
            actor_type: Set(actor_type),
            actor_id: Set(actor_id),
            description: Set(Context::revision_description()),
            created_at: Set(chrono::Utc::now()),
            ..Default::default()
        };
        match tag::Entity::insert(row).exec(db).await {
            Ok(done) => tag::Entity::find_by_id(done.last_insert_id)
                .one(db)
                .await?
                .ok_or(Error::NoTag { name }),
            // another writer took the name since the check above
            Err(e)
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                let taken = find_or_error(db, &name).await?;
                Err(Error::TagExists {
                    name,
                    revision_id: taken.revision_id,
                })
            }
            Err(e) => Err(Error::from_journal("revy_tags", e)),
        }
    }
}

/// The tag named `name`, if there is one.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), revy_seaorm::Error> {
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// revy_seaorm::install(&db).await?;
/// assert_eq!(revy_seaorm::tags::find_tag("nope").one(&db).await?, None);
/// # Ok(()) }
/// ```
pub fn find_tag(name: impl Into<String>) -> FindTag {
    FindTag { name: name.into() }
}

/// What [`find_tag`] makes: nothing happens until
/// [`.one(db)`](FindTag::one).
#[must_use = "nothing happens until `.one(db)`"]
pub struct FindTag {
    name: String,
}

impl FindTag {
    /// Runs the query on `db`.
    pub async fn one<C: ConnectionTrait>(self, db: &C) -> Result<Option<tag::Model>, Error> {
        let Self { name } = self;
        let name = name.as_str();
        tag::Entity::find()
            .filter(tag::Column::Name.eq(name))
            .one(db)
            .await
            .map_err(|e| Error::from_journal("revy_tags", e))
    }
}

/// The tag named `name`, or [`Error::NoTag`].
pub(crate) async fn find_or_error<C: ConnectionTrait>(
    db: &C,
    name: &str,
) -> Result<tag::Model, Error> {
    find_tag(name).one(db).await?.ok_or_else(|| Error::NoTag {
        name: name.to_owned(),
    })
}

/// Every tag, oldest revision first (and in the order they were made
/// within a revision).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), revy_seaorm::Error> {
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// revy_seaorm::install(&db).await?;
/// assert!(revy_seaorm::tags::all(&db).await?.is_empty());
/// # Ok(()) }
/// ```
pub async fn all<C: ConnectionTrait>(db: &C) -> Result<Vec<tag::Model>, Error> {
    tag::Entity::find()
        .order_by_asc(tag::Column::RevisionId)
        .order_by_asc(tag::Column::Id)
        .all(db)
        .await
        .map_err(|e| Error::from_journal("revy_tags", e))
}

/// The newest object delta at the tag: the last of its revision.
async fn bound<C: ConnectionTrait>(db: &C, tag: &tag::Model) -> Result<i64, Error> {
    let newest: Option<Option<i64>> = object_delta::Entity::find()
        .select_only()
        .column_as(object_delta::Column::Id.max(), "newest")
        .filter(object_delta::Column::RevisionId.eq(tag.revision_id))
        .into_tuple()
        .one(db)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    Ok(newest.flatten().unwrap_or(0))
}

/// The row of `E` with primary key `key` as it was at the tag `name`:
/// `None` if it did not exist then. Unknown tags are [`Error::NoTag`].
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
///
/// let ann = Context::new()
///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
///     .await?;
/// let created = revy_seaorm::history::of::<user::Entity>(ann.id).all(&db).await?[0].revision_id;
/// revy_seaorm::tags::tag("v1", created).exec(&db).await?;
/// let mut am = ann.clone().into_active_model();
/// am.name = Set("Annie".into());
/// Context::new().scope(am.update(&db)).await?;
///
/// let then = revy_seaorm::tags::as_of_tag::<user::Entity>(ann.id, "v1").one(&db).await?;
/// assert_eq!(then, Some(ann));
/// # Ok(()) }
/// ```
pub fn as_of_tag<E: crate::policy::TrackingPolicy>(
    key: <E::PrimaryKey as PrimaryKeyTrait>::ValueType,
    name: impl Into<String>,
) -> AsOfTag<E> {
    AsOfTag {
        key,
        name: name.into(),
        _entity: PhantomData,
    }
}

/// What [`as_of_tag`] makes: nothing happens until
/// [`.one(db)`](AsOfTag::one).
#[must_use = "nothing happens until `.one(db)`"]
pub struct AsOfTag<E: crate::policy::TrackingPolicy> {
    key: <E::PrimaryKey as PrimaryKeyTrait>::ValueType,
    name: String,
    _entity: PhantomData<fn() -> E>,
}

impl<E: crate::policy::TrackingPolicy> AsOfTag<E> {
    /// Runs the query on `db`.
    pub async fn one(self, db: &impl ConnectionTrait) -> Result<Option<E::Model>, Error>
    where
        E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model>,
    {
        let Self { key, name, .. } = self;
        let name = name.as_str();
        let tag = find_or_error(db, name).await?;
        let bound = bound(db, &tag).await?;
        let newest = object_delta::Entity::find()
            .filter(object_delta::Column::ContentType.eq(content_type::<E>()))
            .filter(object_delta::Column::ContentId.eq(key_text::<E>(key)?))
            .filter(object_delta::Column::Id.lte(bound))
            .order_by_desc(object_delta::Column::Id)
            .with_snapshot::<E>()
            .one(db)
            .await?;
        Ok(match newest {
            Some((delta, snapshot)) if delta.action != Action::Delete => snapshot,
            _ => None,
        })
    }
}

/// One row changed after the tag.
struct Changed {
    content_type: String,
    content_id: String,
    first_delta_id: i64,
    last_delta_id: i64,
}

/// Brings every row changed after the tag `name` back to its state at the
/// tag, newest change first, in one transaction and one new revision, whose
/// id it returns (`None` when nothing changed since the tag). Rows created
/// since are deleted, rows deleted since are restored, the others reverted:
/// the effect of undoing every later revision, newest first, with
/// [`undo_revision`](crate::rollback::undo_revision), but in one step, so rows that
/// several later revisions changed do not stand in each other's way.
///
/// Fails, changing nothing, with [`Error::TagConflict`] when a revision at
/// or before the tag's wrote to a row after a later revision did (undoing
/// the later one would discard it too), and with [`Error::UnknownEntity`]
/// for a table no entity is [registered](crate::rollback::register) for.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, PaginatorTrait, Set};
///
/// let ann = Context::new()
///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
///     .await?;
/// let created = revy_seaorm::history::of::<user::Entity>(ann.id).all(&db).await?[0].revision_id;
/// revy_seaorm::tags::tag("before-the-import", created).exec(&db).await?;
/// for name in ["Annie", "Anna"] {
///     let mut am = user::Entity::find_by_id(ann.id).one(&db).await?.unwrap().into_active_model();
///     am.name = Set(name.into());
///     Context::new().scope(am.update(&db)).await?;
/// }
/// Context::new()
///     .scope(user::ActiveModel { name: Set("Bob".into()), ..Default::default() }.insert(&db))
///     .await?;
///
/// revy_seaorm::rollback::undo_to_tag("before-the-import").exec(&db).await?;
/// assert_eq!(user::Entity::find_by_id(ann.id).one(&db).await?, Some(ann));
/// assert_eq!(user::Entity::find().count(&db).await?, 1); // Bob is gone
/// # Ok(()) }
/// ```
pub fn undo_to_tag(name: impl Into<String>) -> UndoToTag {
    UndoToTag { name: name.into() }
}

/// What [`undo_to_tag`] makes: nothing happens until
/// [`.exec(db)`](UndoToTag::exec).
#[must_use = "nothing happens until `.exec(db)`"]
pub struct UndoToTag {
    name: String,
}

impl UndoToTag {
    /// Runs it on `db`.
    pub async fn exec<C>(self, db: &C) -> Result<Option<i64>, Error>
    where
        C: ConnectionTrait + TransactionTrait<Transaction: RevyTransaction>,
    {
        let Self { name } = self;
        let name = name.as_str();
        let tag = find_or_error(db, name).await?;
        let txn = db.begin().await?.into_guarded();
        let result = undo_to_tag_in(&txn, &tag).await;
        write::finish(txn, result).await
    }
}

async fn undo_to_tag_in(txn: &GuardedTransaction, tag: &tag::Model) -> Result<Option<i64>, Error> {
    let bound = bound(txn, tag).await?;
    let later = object_delta::Entity::find()
        .filter(object_delta::Column::Id.gt(bound))
        .order_by_asc(object_delta::Column::Id)
        .all(txn)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    let mut changed: Vec<Changed> = Vec::new();
    for d in later {
        if d.revision_id <= tag.revision_id {
            return Err(Error::TagConflict {
                tag: tag.name.clone(),
                table: d.content_type,
                key: d.content_id,
                revision_id: d.revision_id,
                object_delta_id: d.id,
            });
        }
        match changed
            .iter_mut()
            .find(|c| c.content_type == d.content_type && c.content_id == d.content_id)
        {
            Some(c) => c.last_delta_id = d.id,
            None => changed.push(Changed {
                content_type: d.content_type,
                content_id: d.content_id,
                first_delta_id: d.id,
                last_delta_id: d.id,
            }),
        }
    }
    if changed.is_empty() {
        return Ok(None);
    }
    // the row changed last is put back first, as undoing newest first would
    changed.sort_by_key(|c| std::cmp::Reverse(c.last_delta_id));
    let steps: Vec<RollBack> = changed
        .iter()
        .map(|c| {
            lookup(&c.content_type).ok_or_else(|| Error::UnknownEntity {
                table: c.content_type.clone(),
            })
        })
        .collect::<Result<_, _>>()?;

    let lazy = LazyRevision::new();
    let mut frame = Context::new().revision(lazy.clone());
    if Context::revision_description().is_empty() {
        frame = frame.revision_description(format!("Undo back to tag {}", tag.name));
    }
    frame
        .scope(async {
            for (c, step) in changed.iter().zip(steps) {
                step(txn, &c.content_id, c.first_delta_id).await?;
            }
            Ok::<_, Error>(())
        })
        .await?;
    Ok(lazy.id())
}
