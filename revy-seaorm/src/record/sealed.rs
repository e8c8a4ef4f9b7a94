//! Journal writes with tamper evidence on: each object delta carries the
//! link of its object's hash chain (see [`tamper`](crate::tamper)).
//!
//! A link covers the version and the link of the delta before it, so the
//! writer names both before it writes. It takes them from what it read
//! already (the hooks' locked read of an updated or deleted row; nothing
//! before a create, which starts a chain), and the write is conditional:
//! on PostgreSQL and SQLite the statement writes nothing unless the
//! object's newest delta is still that version with that link; on MySQL
//! the unique index of versions refuses a version taken. Then the writer
//! reads the object's newest delta (with a lock on MySQL, after the row's
//! lock elsewhere: the current one) and writes again. Many rows at once
//! (bulk writes, a queued transaction's flush) read their objects' newest
//! deltas first, in one query.

use revy_core::Action;
use sea_orm::{ConnectionTrait, DbBackend};

use super::Seal;
use super::insert::{self, Expect, Row};
use super::numbering::{self, Object};
use super::rows::{Head, NewObjectDelta, actor_columns};
use super::write::Outcome;
use crate::error::{Error, JournalError};
use crate::tamper::{DeltaFields, Encoder, Salts};

/// Times a write is tried before it gives up on an object whose newest
/// delta keeps changing (each try after the first follows a current read,
/// so a second try already succeeds unless the row is not locked).
const TRIES: usize = 3;

/// What a sealed delta carries: its chain link and the salts its values
/// were hashed with (see [`tamper`](crate::tamper)).
#[derive(Clone, Debug)]
pub(crate) struct Link {
    pub hash: String,
    pub salt: String,
}

/// The link of `row`, written as `version`, chained to `previous`, with
/// fresh salts.
pub(crate) fn link_of(row: &Row<'_>, version: i64, previous: Option<&str>) -> Result<Link, Error> {
    let (actor_type, actor_id) = actor_columns(row.actor);
    let fields = DeltaFields {
        revision_id: row.revision_id,
        actor_type: actor_type.as_deref(),
        actor_id: actor_id.as_deref(),
        action: row.action.as_str(),
        description: row.description,
        content_id: row.content_id,
        created_at: row.created_at,
        version,
    };
    let salts = Salts::fresh()?;
    let mut encoder = Encoder::new(&fields, &salts);
    for change in row.changes {
        encoder.change(&fields, change);
    }
    Ok(Link {
        hash: encoder.link(previous),
        salt: salts.text().unwrap_or_default(),
    })
}

/// The newest delta of each of `objects`, current: after the rows' locks
/// on PostgreSQL and SQLite, with a locking read on MySQL.
pub(crate) async fn heads<C: ConnectionTrait>(
    db: &C,
    objects: &[Object],
) -> Result<std::collections::HashMap<Object, Head>, Error> {
    let locked = db.get_database_backend() == DbBackend::MySql;
    numbering::newest_heads(db, objects, locked, true).await
}

async fn head<C: ConnectionTrait>(db: &C, object: Object) -> Result<Head, Error> {
    let mut found = heads(db, std::slice::from_ref(&object)).await?;
    Ok(found.remove(&object).unwrap_or_default())
}

/// [`write::record`](super::write::record) with tamper evidence on.
pub(crate) async fn record<C: ConnectionTrait>(
    db: &C,
    delta: &NewObjectDelta<'_>,
    row: Row<'_>,
) -> Result<Outcome, Error> {
    let object = || (delta.content_type.to_owned(), delta.content_id.to_owned());
    let mut head = match &delta.known_head {
        Some(head) => head.clone(),
        // a create starts a chain unless its key has a history, which the
        // conditional write finds
        None if delta.action == Action::Create && delta.after_version.is_none() => Head::default(),
        None => head(db, object()).await?,
    };
    for _ in 0..TRIES {
        if delta
            .after_version
            .is_some_and(|after| after != head.version)
        {
            return Ok(Outcome::VersionMoved);
        }
        let link = link_of(&row, head.version + 1, head.hash.as_deref())?;
        if insert_chained(db, &row, &head, &link).await? {
            return Ok(Outcome::Written);
        }
        head = self::head(db, object()).await?;
    }
    Err(JournalError::HeadKeptChanging {
        content_type: delta.content_type.to_owned(),
        content_id: delta.content_id.to_owned(),
    }
    .into())
}

/// Inserts `row` with its `link` when the object's newest delta is
/// `head`; whether it was written. MySQL names the version, and its unique
/// index of versions refuses one taken; elsewhere the statement reads the
/// newest delta as it writes.
async fn insert_chained<C: ConnectionTrait>(
    db: &C,
    row: &Row<'_>,
    head: &Head,
    link: &Link,
) -> Result<bool, Error> {
    let backend = db.get_database_backend();
    let failed = |e| Error::from_journal("revy_object_deltas", e);
    if backend == DbBackend::MySql {
        let version = head.version + 1;
        let statement = insert::values([(*row, version, Some(link.clone()))], Seal::On)?;
        return match db.execute_raw(backend.build(&statement)).await {
            Ok(_) => Ok(true),
            Err(e) if numbering::version_taken(&e) => Ok(false),
            Err(e) => Err(failed(e)),
        };
    }
    let statement = insert::read_in_statement(row, Expect::Head { head, link })?;
    let written = db
        .query_one_raw(backend.build(&statement))
        .await
        .map_err(failed)?;
    Ok(written.is_some())
}

/// Names the version and link of each delta of many, in their order: one
/// more than the object's newest (the one named last, else the one read),
/// chained to it.
#[derive(Default)]
pub(crate) struct Chainer {
    heads: std::collections::HashMap<Object, Head>,
}

impl Chainer {
    /// Whether the object's newest delta is known (read, or named here).
    pub(crate) fn knows(&self, object: &Object) -> bool {
        self.heads.contains_key(object)
    }

    /// Objects' newest deltas as read; an object not among them has none.
    pub(crate) fn learn(&mut self, heads: std::collections::HashMap<Object, Head>) {
        self.heads.extend(heads);
    }

    /// The version and link of the next delta of `object`, which becomes
    /// the object's newest; `link` hashes it given its version and the
    /// link before it.
    pub(crate) fn next(
        &mut self,
        object: Object,
        link: impl FnOnce(i64, Option<&str>) -> Result<Link, Error>,
    ) -> Result<(i64, Link), Error> {
        let head = self.heads.entry(object).or_default();
        let version = head.version + 1;
        let made = link(version, head.hash.as_deref())?;
        *head = Head {
            version,
            hash: Some(made.hash.clone()),
        };
        Ok((version, made))
    }
}
