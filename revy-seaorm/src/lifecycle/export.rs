//! The JSON Lines format of what [`prune`](crate::lifecycle::prune()) removes, which
//! [`import`](crate::lifecycle::import()) reads back.
//!
//! Each line is one revision with the object deltas removed from it, each
//! with its original id, actor, description, time and version, and its
//! attribute deltas in order, values exactly as the journal held them:
//!
//! ```json
//! {"format":2,"revision":{"id":3,"description":"","meta":null,"created_at":"2026-01-02T03:04:05.000006Z"},
//!  "object_deltas":[{"id":7,"actor_type":"users","actor_id":"1","action":"Update","description":"",
//!   "content_type":"users","content_id":"1","created_at":"2026-01-02T03:04:05.000006Z","version":2,
//!   "attribute_deltas":[{"actor_type":"users","actor_id":"1","action":"Set","description":"",
//!    "field_name":"name","old_value":"Ann","new_value":"Anna"}]}]}
//! ```
//! (one line in the file; wrapped here).
//!
//! `format` is the line's version: 2 since attribute deltas live inline in
//! their object delta and have no ids or times of their own. Lines without
//! it are format 1, whose attribute deltas carry an `id` and `created_at`;
//! [`import`](crate::lifecycle::import()) reads both, and refuses a newer format. A prune works a chunk of objects
//! at a time, so a revision whose deltas fall in several chunks appears on
//! several lines, each with the deltas of one chunk; an export written
//! again after a crash may repeat lines. Import merges both.

use std::io::Write;

use chrono::{DateTime, Utc};
use revy_core::Action;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::journal::attribute_delta::AttributeDelta;
use crate::journal::{object_delta, revision};
use crate::lifecycle::LifecycleError;

/// The format of the lines this revy writes (see the module's docs).
pub(crate) const FORMAT: u32 = 2;

fn format_1() -> u32 {
    1
}

/// One line of an export.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Line {
    /// Absent (1) in lines written before attribute deltas were inline.
    #[serde(default = "format_1")]
    pub format: u32,
    pub revision: RevisionRow,
    pub object_deltas: Vec<ObjectDeltaRow>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct RevisionRow {
    pub id: i64,
    pub description: String,
    /// The revision's meta, which names revy's own revisions' kinds (every
    /// format carries it, and checkpoints have always been marked).
    pub meta: Option<serde_json::Value>,
    pub created_at: DateTime<Utc>,
}

impl RevisionRow {
    /// What made the revision, as [`revision::Model::kind`] tells it.
    pub fn kind(&self) -> revision::RevisionKind {
        revision::RevisionKind::of_meta(self.meta.as_ref())
    }
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct ObjectDeltaRow {
    pub id: i64,
    pub actor_type: Option<String>,
    pub actor_id: Option<String>,
    pub action: Action,
    pub description: String,
    pub content_type: String,
    pub content_id: String,
    pub created_at: DateTime<Utc>,
    /// Absent in exports written before object versions existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
    /// The chain link and a checkpoint's seal (tamper evidence); absent
    /// when the delta has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seal: Option<String>,
    /// The salts of the delta's value digests (tamper evidence).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    pub attribute_deltas: Vec<AttributeDeltaRow>,
}

#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct AttributeDeltaRow {
    /// Format 1 only: the row's id in `revy_attribute_deltas`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    pub actor_type: Option<String>,
    pub actor_id: Option<String>,
    pub action: Action,
    pub description: String,
    pub field_name: String,
    pub old_value: serde_json::Value,
    pub new_value: serde_json::Value,
    /// Format 1 only: the object delta's time, repeated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at: Option<DateTime<Utc>>,
}

impl From<revision::Model> for RevisionRow {
    fn from(r: revision::Model) -> Self {
        RevisionRow {
            id: r.id,
            description: r.description,
            meta: r.meta,
            created_at: r.created_at,
        }
    }
}

impl ObjectDeltaRow {
    fn new(d: object_delta::Model) -> Result<Self, Error> {
        let attribute_deltas = d
            .attribute_deltas()?
            .into_iter()
            .map(AttributeDeltaRow::from)
            .collect();
        Ok(ObjectDeltaRow {
            id: d.id,
            actor_type: d.actor_type,
            actor_id: d.actor_id,
            action: d.action,
            description: d.description,
            content_type: d.content_type,
            content_id: d.content_id,
            created_at: d.created_at,
            version: Some(d.version),
            hash: d.hash,
            seal: d.seal,
            salt: d.salt,
            attribute_deltas,
        })
    }
}

impl From<AttributeDelta> for AttributeDeltaRow {
    fn from(a: AttributeDelta) -> Self {
        let (actor_type, actor_id) = match a.actor() {
            Some(actor) => (Some(actor.kind), Some(actor.id)),
            None => (None, None),
        };
        AttributeDeltaRow {
            id: None,
            actor_type,
            actor_id,
            action: a.action,
            description: a.description,
            field_name: a.field_name,
            old_value: a.old_value,
            new_value: a.new_value,
            created_at: None,
        }
    }
}

impl AttributeDeltaRow {
    /// The entry as revy's value of it.
    pub(crate) fn to_attribute_delta(&self) -> AttributeDelta {
        AttributeDelta::new(
            self.field_name.clone(),
            self.old_value.clone(),
            self.new_value.clone(),
            crate::journal::actor_from_columns(self.actor_type.clone(), self.actor_id.clone()),
            self.description.clone(),
        )
    }
}

/// Object deltas read per query while walking what a chunk removes.
const PAGE: u64 = 500;

/// Walks the object deltas `removed` selects, in revision order, a page at
/// a time: writes them with their attribute deltas to `out` (when there is
/// one), a line per revision, and returns the ids of their revisions in
/// ascending order (each once).
pub(crate) async fn walk<C: ConnectionTrait>(
    db: &C,
    removed: Condition,
    mut out: Option<&mut (dyn Write + Send)>,
) -> Result<Vec<i64>, Error> {
    let mut revisions: Vec<i64> = Vec::new();
    let mut open: Option<Line> = None;
    let mut after: Option<(i64, i64)> = None;
    loop {
        let mut query = object_delta::Entity::find().filter(removed.clone());
        if let Some((rev, id)) = after {
            query = query.filter(
                Condition::any()
                    .add(object_delta::Column::RevisionId.gt(rev))
                    .add(
                        Condition::all()
                            .add(object_delta::Column::RevisionId.eq(rev))
                            .add(object_delta::Column::Id.gt(id)),
                    ),
            );
        }
        let page = query
            .order_by_asc(object_delta::Column::RevisionId)
            .order_by_asc(object_delta::Column::Id)
            .limit(PAGE)
            .all(db)
            .await
            .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        let full = page.len() as u64 == PAGE;
        after = page.last().map(|d| (d.revision_id, d.id));
        for d in &page {
            if revisions.last() != Some(&d.revision_id) {
                revisions.push(d.revision_id);
            }
        }
        if let Some(out) = reborrow(&mut out) {
            write_page(db, out, page, &mut open).await?;
        }
        if !full {
            break;
        }
    }
    if let (Some(out), Some(line)) = (out, open) {
        write_line(out, &line)?;
    }
    Ok(revisions)
}

/// Adds a page of object deltas (in revision order) to the open line,
/// writing each line a new revision closes.
async fn write_page<C: ConnectionTrait>(
    db: &C,
    out: &mut (dyn Write + Send),
    page: Vec<object_delta::Model>,
    open: &mut Option<Line>,
) -> Result<(), Error> {
    if page.is_empty() {
        return Ok(());
    }
    let mut revision_ids: Vec<i64> = page.iter().map(|d| d.revision_id).collect();
    revision_ids.dedup();
    let mut revisions = revision::Entity::find()
        .filter(revision::Column::Id.is_in(revision_ids))
        .order_by_desc(revision::Column::Id)
        .all(db)
        .await
        .map_err(|e| Error::from_journal("revy_revisions", e))?;
    // the page is sorted by (revision, id), the revisions newest first:
    // pop them off the end in step with the page
    for d in page {
        if open.as_ref().map(|l| l.revision.id) != Some(d.revision_id) {
            if let Some(line) = open.take() {
                write_line(out, &line)?;
            }
            while revisions.last().is_some_and(|r| r.id < d.revision_id) {
                revisions.pop();
            }
            let revision = match revisions.pop() {
                Some(r) if r.id == d.revision_id => RevisionRow::from(r),
                // an object delta whose revision row is gone (the foreign
                // key forbids it; a journal edited by hand may not)
                _ => RevisionRow {
                    id: d.revision_id,
                    description: String::new(),
                    meta: None,
                    created_at: d.created_at,
                },
            };
            *open = Some(Line {
                format: FORMAT,
                revision,
                object_deltas: Vec::new(),
            });
        }
        if let Some(line) = open.as_mut() {
            line.object_deltas.push(ObjectDeltaRow::new(d)?);
        }
    }
    Ok(())
}

fn write_line(out: &mut (dyn Write + Send), line: &Line) -> Result<(), Error> {
    serde_json::to_writer(&mut *out, line)
        .map_err(|e| LifecycleError::Export(std::io::Error::other(e)))?;
    out.write_all(b"\n")
        .map_err(|e| LifecycleError::Export(e).into())
}

/// A shorter borrow of an optional writer (`as_deref_mut` would keep the
/// trait object's own lifetime, which `&mut` does not let shrink).
pub(crate) fn reborrow<'a>(
    out: &'a mut Option<&mut (dyn Write + Send)>,
) -> Option<&'a mut (dyn Write + Send)> {
    match out {
        Some(out) => Some(&mut **out),
        None => None,
    }
}

/// The condition "an object delta of this object at or before `last`".
pub(crate) fn up_to(content_type: &str, content_id: &str, last: i64) -> Condition {
    Condition::all()
        .add(Expr::col(object_delta::Column::ContentType).eq(content_type))
        .add(Expr::col(object_delta::Column::ContentId).eq(content_id))
        .add(Expr::col(object_delta::Column::Id).lte(last))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A line survives writing and reading: values (a redaction marker, a
    /// float written as a string, JSON `null` against a missing meta) as
    /// they were.
    #[test]
    fn a_line_round_trips_through_its_text() {
        let at: DateTime<Utc> = "2026-01-02T03:04:05.000006Z".parse().unwrap();
        let line = Line {
            format: FORMAT,
            revision: RevisionRow {
                id: 3,
                description: "import".into(),
                meta: Some(serde_json::json!({"request": 1})),
                created_at: at,
            },
            object_deltas: vec![ObjectDeltaRow {
                id: 7,
                actor_type: None,
                actor_id: None,
                action: Action::Update,
                description: String::new(),
                content_type: "users".into(),
                content_id: "[1,\"a\"]".into(),
                created_at: at,
                version: Some(3),
                hash: None,
                seal: None,
                salt: None,
                attribute_deltas: vec![AttributeDeltaRow {
                    id: None,
                    actor_type: Some("users".into()),
                    actor_id: Some("1".into()),
                    action: Action::Set,
                    description: String::new(),
                    field_name: "secret".into(),
                    old_value: serde_json::json!({"revy": "redacted"}),
                    new_value: serde_json::json!("NaN"),
                    created_at: None,
                }],
            }],
        };
        let mut text = Vec::new();
        write_line(&mut text, &line).unwrap();
        assert_eq!(text.iter().filter(|b| **b == b'\n').count(), 1);
        let back: Line = serde_json::from_slice(&text).unwrap();
        assert_eq!(format!("{back:?}"), format!("{line:?}"));
    }
}
