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

use chrono::{DateTime, Utc};
use revy_core::Action;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, Query};
use sea_orm::{ConnectionTrait, DbBackend, DbErr, IdenStatic};

use super::numbering::{self, Object};
use super::rows::{
    AttributeChange, Head, NewObjectDelta, OBJECT_DELTA_COLUMNS, actor_columns, newest_link,
    next_version,
};
use super::write::{Outcome, own_values};
use crate::Error;
use crate::journal::attribute_delta::encode_entries;
use crate::journal::object_delta;
use crate::tamper::{DeltaFields, Encoder};

/// Times a write is tried before it gives up on an object whose newest
/// delta keeps changing (each try after the first follows a current read,
/// so a second try already succeeds unless the row is not locked).
const TRIES: usize = 3;

/// A delta about to be written, as its link covers it.
pub(crate) struct Unwritten<'a> {
    pub revision_id: i64,
    pub actor: &'a Option<revy_core::Actor>,
    pub action: Action,
    pub description: &'a str,
    pub content_type: &'a str,
    pub content_id: &'a str,
    pub created_at: DateTime<Utc>,
    pub version: i64,
}

/// The link of a delta about to be written, chained to `previous`.
pub(crate) fn link_of(
    delta: Unwritten<'_>,
    changes: &[AttributeChange],
    previous: Option<&str>,
) -> String {
    let (actor_type, actor_id) = actor_columns(delta.actor);
    let fields = DeltaFields {
        revision_id: delta.revision_id,
        actor_type: actor_type.as_deref(),
        actor_id: actor_id.as_deref(),
        action: delta.action.as_str(),
        description: delta.description,
        content_type: delta.content_type,
        content_id: delta.content_id,
        created_at: delta.created_at,
        version: delta.version,
    };
    let mut encoder = Encoder::new(&fields);
    for change in changes {
        encoder.change(&fields, change);
    }
    encoder.link(previous)
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
    delta: NewObjectDelta<'_>,
    changes: Vec<AttributeChange>,
    created_at: DateTime<Utc>,
) -> Result<Outcome, Error> {
    let object = || (delta.content_type.to_owned(), delta.content_id.to_owned());
    let mut head = match &delta.known_head {
        Some(head) => head.clone(),
        // a create starts a chain unless its key has a history, which the
        // conditional write finds
        None if delta.action == Action::Create && delta.after_version.is_none() => Head::default(),
        None => head(db, object()).await?,
    };
    let _backend = db.get_database_backend();
    for _ in 0..TRIES {
        if delta
            .after_version
            .is_some_and(|after| after != head.version)
        {
            return Ok(Outcome::VersionMoved);
        }
        let version = head.version + 1;
        let hash = link_of(
            Unwritten {
                revision_id: delta.revision_id,
                actor: delta.actor,
                action: delta.action,
                description: delta.description,
                content_type: delta.content_type,
                content_id: delta.content_id,
                created_at,
                version,
            },
            &changes,
            head.hash.as_deref(),
        );
        let written = insert_object_delta(
            db,
            &delta,
            created_at,
            &head,
            &hash,
            &encode_entries(&changes, delta.actor, delta.description),
        )
        .await?
        .is_some();
        if written {
            return Ok(Outcome::Written);
        }
        head = self::head(db, object()).await?;
    }
    Err(Error::Db(DbErr::Custom(format!(
        "revy_object_deltas: the newest delta of {} {} kept changing while a delta of it was written; is the row locked?",
        delta.content_type, delta.content_id
    ))))
}

/// Inserts one object delta with its link when the object's newest delta
/// is `head`; its id, or `None` when it is not.
async fn insert_object_delta<C: ConnectionTrait>(
    db: &C,
    delta: &NewObjectDelta<'_>,
    created_at: DateTime<Utc>,
    head: &Head,
    hash: &str,
    entries: &str,
) -> Result<Option<i64>, Error> {
    let backend = db.get_database_backend();
    let mut columns = OBJECT_DELTA_COLUMNS.to_vec();
    columns.push(object_delta::Column::Hash);
    columns.push(object_delta::Column::Changes);
    let own = own_values(delta, created_at);
    let invalid = |e| Error::Db(DbErr::Custom(format!("revy_object_deltas: {e}")));
    let mut insert = Query::insert();
    insert.into_table(object_delta::Entity).columns(columns);
    if backend == DbBackend::MySql {
        // named; the unique index of versions refuses a version taken
        let mut values = own.to_vec();
        values.extend([
            Expr::val(head.version + 1),
            Expr::val(hash),
            Expr::val(entries),
        ]);
        insert.values(values).map_err(invalid)?;
        return match db.execute_raw(backend.build(&insert)).await {
            Ok(done) => Ok(Some(done.last_insert_id() as i64)),
            Err(e) if numbering::version_taken(&e) => Ok(None),
            Err(e) => Err(Error::from_journal("revy_object_deltas", e)),
        };
    }
    const CURRENT: &str = "revy_current";
    let current = Query::select()
        .expr_as(
            next_version(
                Expr::val(delta.content_type),
                Expr::val(delta.content_id),
                0,
            ),
            object_delta::Column::Version,
        )
        .expr_as(
            newest_link(Expr::val(delta.content_type), Expr::val(delta.content_id)),
            object_delta::Column::Hash,
        )
        .to_owned();
    let at = |c: object_delta::Column| Expr::col((Alias::new(CURRENT), c));
    let mut select = Query::select();
    let mut values = own.to_vec();
    values.extend([
        at(object_delta::Column::Version).add(1),
        Expr::val(hash),
        Expr::val(entries),
    ]);
    select
        .exprs(values)
        .from_subquery(current, Alias::new(CURRENT))
        .and_where(at(object_delta::Column::Version).eq(head.version))
        .and_where(at(object_delta::Column::Hash).eq(head.hash.clone().unwrap_or_default()));
    insert.select_from(select).map_err(invalid)?;
    insert.returning_col(object_delta::Column::Id);
    let row = db
        .query_one_raw(backend.build(&insert))
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    row.map(|r| r.try_get::<i64>("", object_delta::Column::Id.as_str()))
        .transpose()
        .map_err(Error::Db)
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
        link: impl FnOnce(i64, Option<&str>) -> String,
    ) -> (i64, String) {
        let head = self.heads.entry(object).or_default();
        let version = head.version + 1;
        let hash = link(version, head.hash.as_deref());
        *head = Head {
            version,
            hash: Some(hash.clone()),
        };
        (version, hash)
    }
}
