//! Checkpoints: every [`CHECKPOINT_EVERY`] versions of an object, its delta
//! also carries the object's whole recorded state after it (`state`): per
//! column, the newest value the journal holds and the id of the delta that
//! set it. A reader of the state at a delta then folds the inline entries
//! of a few deltas from the newest checkpoint (or create) at or before it,
//! however long the object's history, and knows who set each column
//! without reading further back (issue 26).
//!
//! A checkpoint repeats what the deltas up to it say, so a journal without
//! them (written before they existed, or by a writer that does not write
//! them yet) reads the same, only from further back. The one-delta writer
//! writes them inside a transaction, where the object's row lock keeps its
//! deltas from changing between the fold and the write; on a bare
//! connection it leaves them out, as a concurrent write of the same object
//! could slip a delta in between.
//!
//! The state is a JSON object from column name to `[value, setter]`, keys
//! in order, values in revy's encoding (see [`codec`](crate::codec)).

use std::collections::{BTreeMap, HashMap};

use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::error::Error;
use crate::journal::object_delta;

/// Versions of an object between two checkpoints: a reader folds at most
/// this many deltas. Provisional: issue 26 chooses it by measuring journal
/// bytes against snapshot time once snapshots read checkpoints.
pub(crate) const CHECKPOINT_EVERY: i64 = 16;

/// Whether the delta an object gets at `version` is a checkpoint: every
/// [`CHECKPOINT_EVERY`] versions after its first (a create holds the
/// whole row already).
pub(crate) fn due(version: i64) -> bool {
    version > 1 && (version - 1) % CHECKPOINT_EVERY == 0
}

pub(crate) use crate::journal::state::State;

/// Objects per update of [`write`]: their states in one statement.
const OBJECTS_PER_STATEMENT: usize = 200;

/// Makes the newest delta of each object (table, key) a checkpoint: folds
/// its deltas from the newest one a fold can start at (a checkpoint, or a
/// create, which records every column) and writes the state into it. The
/// ranges are read as a snapshot page reads them (see
/// [`inline::ranges`](crate::history::snapshot::inline::ranges): one statement per
/// 200 objects, one text whatever their number), each object's at most
/// about [`CHECKPOINT_EVERY`] rows once it has checkpoints; one update per
/// 200 states. Run by a writer right after the deltas it makes
/// checkpoints, in the same transaction, while it holds the objects' row
/// locks.
pub(crate) async fn write<C: ConnectionTrait>(
    db: &C,
    objects: &[(&str, &str)],
) -> Result<(), Error> {
    let mut by_table: BTreeMap<&str, HashMap<&str, (i64, i64)>> = BTreeMap::new();
    for (content_type, content_id) in objects {
        // from the newest start of a fold to the newest delta
        by_table
            .entry(content_type)
            .or_default()
            .insert(content_id, (i64::MAX, i64::MAX));
    }
    let mut states = Vec::new();
    for (table, windows) in &by_table {
        let ranges = crate::history::snapshot::inline::ranges(db, table, windows).await?;
        for deltas in ranges.values() {
            let Some(newest) = deltas.last().filter(|d| d.state.is_none()) else {
                continue;
            };
            let mut state = State::default();
            for (i, delta) in deltas.iter().enumerate() {
                state.step_columns(delta.id, &delta.changes, delta.state.as_deref(), i == 0)?;
            }
            states.push((newest.id, state.encode()));
        }
    }
    for chunk in states.chunks(OBJECTS_PER_STATEMENT) {
        set_states(db, chunk).await?;
    }
    Ok(())
}

/// Writes each `(delta id, state)` into its delta: one UPDATE with a CASE
/// per id, none for an empty list.
async fn set_states<C: ConnectionTrait>(db: &C, states: &[(i64, String)]) -> Result<(), Error> {
    use object_delta::Column as D;
    let Some(((first_id, first_state), rest)) = states.split_first() else {
        return Ok(());
    };
    let mut case = Expr::case(Expr::col(D::Id).eq(*first_id), first_state.clone());
    for (id, state) in rest {
        case = case.case(Expr::col(D::Id).eq(*id), state.clone());
    }
    object_delta::Entity::update_many()
        .col_expr(
            D::State,
            Into::<Expr>::into(case.finally(Expr::col(D::State))),
        )
        .filter(D::Id.is_in(states.iter().map(|(id, _)| *id)))
        .exec(db)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    Ok(())
}

/// Deltas per read of [`rebuild`].
const DELTAS_PER_READ: u64 = 5_000;

/// Writes the checkpoints of whole objects again, from their first deltas:
/// every delta whose version is [`due`] holds the state after it, and no
/// other delta holds one. For writers that add deltas anywhere in an
/// object's history (import) or load a journal in bulk (the benchmarks'
/// seeds): the objects are those `objects` selects (a condition on the
/// object deltas' table and key), read 5,000 deltas at a time in (table,
/// key, id) order; one update per 200 changed deltas.
pub(crate) async fn rebuild<C: ConnectionTrait>(db: &C, objects: Condition) -> Result<(), Error> {
    use object_delta::Column as D;
    let journal = |e| Error::from_journal("revy_object_deltas", e);
    let mut after: Option<(String, String, i64)> = None;
    let mut object: Option<(String, String)> = None;
    let mut state = State::default();
    let mut first = true;
    let mut set: Vec<(i64, String)> = Vec::new();
    let mut cleared: Vec<i64> = Vec::new();
    loop {
        let mut query = object_delta::Entity::find().filter(objects.clone());
        if let Some((table, key, id)) = &after {
            query = query.filter(
                Condition::any().add(D::ContentType.gt(table.as_str())).add(
                    Condition::all().add(D::ContentType.eq(table.as_str())).add(
                        Condition::any().add(D::ContentId.gt(key.as_str())).add(
                            Condition::all()
                                .add(D::ContentId.eq(key.as_str()))
                                .add(D::Id.gt(*id)),
                        ),
                    ),
                ),
            );
        }
        let page = query
            .order_by_asc(D::ContentType)
            .order_by_asc(D::ContentId)
            .order_by_asc(D::Id)
            .limit(DELTAS_PER_READ)
            .all(db)
            .await
            .map_err(journal)?;
        let Some(last) = page.last() else { break };
        after = Some((last.content_type.clone(), last.content_id.clone(), last.id));
        let full = page.len() as u64 == DELTAS_PER_READ;
        for delta in page {
            let this = (delta.content_type.clone(), delta.content_id.clone());
            if object.as_ref() != Some(&this) {
                object = Some(this);
                state = State::default();
                first = true;
            }
            // a fold from the first delta: its own checkpoint is what is
            // being rebuilt, so it is not read
            let mut bare = delta;
            let held = bare.state.take();
            state.step(&bare, first)?;
            first = false;
            if due(bare.version) {
                let text = state.encode();
                if held.as_deref() != Some(text.as_str()) {
                    set.push((bare.id, text));
                }
            } else if held.is_some() {
                cleared.push(bare.id);
            }
        }
        write_states(db, &mut set, &mut cleared, full).await?;
        if !full {
            break;
        }
    }
    write_states(db, &mut set, &mut cleared, false).await
}

/// Writes the states [`rebuild`] collected, 200 a statement; with `partial`,
/// leaves a last part under 200 for the next call.
async fn write_states<C: ConnectionTrait>(
    db: &C,
    set: &mut Vec<(i64, String)>,
    cleared: &mut Vec<i64>,
    partial: bool,
) -> Result<(), Error> {
    use object_delta::Column as D;
    let journal = |e| Error::from_journal("revy_object_deltas", e);
    while set.len() >= OBJECTS_PER_STATEMENT || (!partial && !set.is_empty()) {
        let part: Vec<(i64, String)> = set.drain(..set.len().min(OBJECTS_PER_STATEMENT)).collect();
        set_states(db, &part).await?;
    }
    while cleared.len() >= 1_000 || (!partial && !cleared.is_empty()) {
        let part: Vec<i64> = cleared.drain(..cleared.len().min(1_000)).collect();
        object_delta::Entity::update_many()
            .col_expr(D::State, Expr::value(Option::<String>::None))
            .filter(D::Id.is_in(part))
            .exec(db)
            .await
            .map_err(journal)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checkpoints_fall_every_so_many_versions_after_the_first() {
        let due: Vec<i64> = (1..=40).filter(|v| due(*v)).collect();
        assert_eq!(due, [1 + CHECKPOINT_EVERY, 1 + 2 * CHECKPOINT_EVERY]);
    }

    #[test]
    fn a_state_reads_back_as_written() {
        let mut columns = BTreeMap::new();
        columns.insert("name".to_owned(), (json!("Ann"), 7));
        columns.insert("note".to_owned(), (json!(null), 3));
        columns.insert("data".to_owned(), (json!({"a": [1, null]}), 9));
        let state = State(columns);
        let text = state.encode();
        assert_eq!(
            text,
            r#"{"data":[{"a":[1,null]},9],"name":["Ann",7],"note":[null,3]}"#
        );
        assert_eq!(State::decode(&text), Ok(state));
        assert!(State::decode("[]").is_err());
        assert!(State::decode(r#"{"name":["Ann"]}"#).is_err());
        assert!(State::decode(r#"{"name":["Ann","7"]}"#).is_err());
    }
}
