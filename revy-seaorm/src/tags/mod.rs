//! Tags: names for revisions (`"release-2026-11"`), and reading or going
//! back to the journal as it was at one.
//!
//! A tag marks the journal right after the last object delta of its
//! revision: [`as_of_tag`] reads one row there, [`table_as_of`] with
//! [`Moment::tag`](crate::history::Moment::tag) the whole table, and [`undo_to_tag`](crate::rollback::undo_to_tag)
//! brings every row changed since back to it.
//!
//! [`table_as_of`]: crate::history::table_as_of

pub use crate::error::TagError;
use revy_core::{Action, Context};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, PrimaryKeyTrait, QueryFilter,
    QueryOrder, Set, TryIntoModel,
};
use std::marker::PhantomData;

use crate::db::keys::content_type;
use crate::error::{Error, JournalError};
use crate::history::key_text;
use crate::history::snapshot::SelectSnapshotExt;
pub use crate::journal::TAG_NAME_LEN;
use crate::journal::{object_delta, revision, tag};

/// Names the revision `revision_id` `name`, with the context's actor and
/// revision description, and returns the tag.
///
/// Names are unique: a name already taken is [`TagError::TagExists`], one
/// longer than [`TAG_NAME_LEN`] characters
/// [`TagError::TagNameTooLong`], and a revision that does not exist
/// [`JournalError::NoRevision`].
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

/// What [`tag()`] makes: nothing happens until
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
            return Err(Error::from(TagError::TagNameTooLong {
                name,
                len,
                max: TAG_NAME_LEN,
            }));
        }
        if let Some(taken) = find_tag(&name).one(db).await? {
            return Err(Error::from(TagError::TagExists {
                name,
                revision_id: taken.revision_id,
            }));
        }
        let exists = revision::Entity::find_by_id(revision_id)
            .one(db)
            .await
            .map_err(|e| Error::from_journal("revy_revisions", e))?;
        if exists.is_none() {
            return Err(Error::from(JournalError::NoRevision { revision_id }));
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
                .ok_or(Error::from(TagError::NoTag { name })),
            // another writer took the name since the check above
            Err(e)
                if matches!(
                    e.sql_err(),
                    Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
                ) =>
            {
                let taken = find_or_error(db, &name).await?;
                Err(Error::from(TagError::TagExists {
                    name,
                    revision_id: taken.revision_id,
                }))
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

use crate::journal::tag::{bound, find_or_error};

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

/// The row of `E` with primary key `key` as it was at the tag `name`:
/// `None` if it did not exist then. Unknown tags are [`TagError::NoTag`].
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
