//! MariaDB/MySQL: the snapshots of a page of object deltas by replay.
//!
//! The correlated form asks, for every delta of the page and every column,
//! for the newest attribute delta at or before it; MariaDB runs each of
//! those as a walk back from the object's newest delta, so a page of one
//! object's history costs deltas × columns walks. Here each object of the
//! page is asked once, at its oldest delta on the page (the same correlated
//! form), and the attribute deltas of the object between its oldest and
//! newest delta on the page are read in one statement (a range of the
//! snapshot index per object and column) and replayed in Rust, in the
//! (object delta, id) order the correlated form picks by. A page with one
//! delta per object costs what it did; a page of an object's history costs
//! one walk per column and one range.

use std::collections::HashMap;

use sea_orm::sea_query::Condition;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, IdenStatic, Iterable, QueryFilter, QueryOrder,
    QuerySelect, Select,
};

use super::{Found, Pick, SnapshotSelect, read_row};
use crate::Error;
use crate::journal::{attribute_delta, object_delta};
use crate::keys::content_type;
use crate::policy::{Rules, TrackingPolicy, Treatment};

/// Objects per statement of the window read and of the state at each
/// window's start.
const OBJECTS_PER_QUERY: usize = 200;

/// Each object delta of `select` and what its snapshot's columns are, by
/// replay (see the module documentation).
pub(super) async fn found<E, C>(
    db: &C,
    select: Select<object_delta::Entity>,
    rules: &Rules<E>,
) -> Result<Vec<(object_delta::Model, Vec<Found>)>, Error>
where
    E: TrackingPolicy,
    E::ActiveModel: sea_orm::ActiveModelTrait<Entity = E> + sea_orm::TryIntoModel<E::Model>,
    C: ConnectionTrait,
{
    let deltas = select
        .all(db)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
    let table = content_type::<E>();
    // each object's window: its oldest and newest delta on the page
    let mut windows: HashMap<&str, (i64, i64)> = HashMap::new();
    for d in deltas.iter().filter(|d| d.content_type == table) {
        let w = windows.entry(&d.content_id).or_insert((d.id, d.id));
        w.0 = w.0.min(d.id);
        w.1 = w.1.max(d.id);
    }
    let objects: Vec<(&str, (i64, i64))> = windows.iter().map(|(k, w)| (*k, *w)).collect();

    // the state at each window's start
    let backend = db.get_database_backend();
    let mut at_start: HashMap<i64, Vec<Found>> = HashMap::with_capacity(objects.len());
    for chunk in objects.chunks(OBJECTS_PER_QUERY) {
        let starts = chunk.iter().map(|(_, (start, _))| *start);
        let query = SnapshotSelect::<E> {
            select: object_delta::Entity::find().filter(object_delta::Column::Id.is_in(starts)),
            entity: std::marker::PhantomData,
        }
        .into_query(rules, Pick::Id);
        for row in db
            .query_all_raw(backend.build(&query))
            .await
            .map_err(|e| Error::from_journal("revy_attribute_deltas", e))?
        {
            let (delta, columns) = read_row::<E>(&row, rules, Pick::Id)?;
            at_start.insert(delta.id, columns);
        }
    }

    // the attribute deltas inside each window, after its start
    let recorded: HashMap<&'static str, usize> = E::Column::iter()
        .enumerate()
        .filter(|(_, c)| rules.treatment(*c) == Treatment::Record)
        .map(|(i, c)| (c.as_str(), i))
        .collect();
    let mut inside: HashMap<String, Vec<(i64, i64, usize)>> = HashMap::new();
    let wide: Vec<&(&str, (i64, i64))> = objects.iter().filter(|(_, (a, b))| b > a).collect();
    for chunk in wide.chunks(OBJECTS_PER_QUERY) {
        use attribute_delta::Column as A;
        let mut within = Condition::any();
        for (content_id, (start, end)) in chunk {
            within = within.add(
                Condition::all()
                    .add(A::ContentId.eq(*content_id))
                    .add(A::ObjectDeltaId.gt(*start))
                    .add(A::ObjectDeltaId.lte(*end)),
            );
        }
        let rows: Vec<(String, i64, i64, String)> = attribute_delta::Entity::find()
            .select_only()
            .columns([A::ContentId, A::ObjectDeltaId, A::Id, A::FieldName])
            .filter(A::ContentType.eq(table.as_str()))
            .filter(A::FieldName.is_in(recorded.keys().copied()))
            .filter(within)
            .order_by_asc(A::ObjectDeltaId)
            .order_by_asc(A::Id)
            .into_tuple()
            .all(db)
            .await
            .map_err(|e| Error::from_journal("revy_attribute_deltas", e))?;
        for (content_id, object_delta_id, id, field) in rows {
            if let Some(&column) = recorded.get(field.as_str()) {
                inside
                    .entry(content_id)
                    .or_default()
                    .push((object_delta_id, id, column));
            }
        }
    }

    // replay: each object's deltas in id order, the window's attribute
    // deltas applied up to each
    let mut order: Vec<usize> = (0..deltas.len()).collect();
    order.sort_by_key(|&i| deltas[i].id);
    let mut state: HashMap<&str, (Vec<Found>, usize)> = HashMap::new();
    let mut columns: Vec<Option<Vec<Found>>> = vec![None; deltas.len()];
    for i in order {
        let d = &deltas[i];
        if d.content_type != table {
            continue;
        }
        let Some(&(start, _)) = windows.get(d.content_id.as_str()) else {
            continue;
        };
        let (found, next) = state
            .entry(&d.content_id)
            .or_insert_with(|| (at_start.get(&start).cloned().unwrap_or_default(), 0));
        if let Some(applied) = inside.get(&d.content_id) {
            while let Some(&(object_delta_id, id, column)) = applied.get(*next) {
                if object_delta_id > d.id {
                    break;
                }
                if let Some(slot) = found.get_mut(column) {
                    *slot = Found::Delta(id);
                }
                *next += 1;
            }
        }
        columns[i] = Some(found.clone());
    }
    deltas
        .into_iter()
        .zip(columns)
        .map(|(delta, columns)| {
            let columns = match columns {
                Some(c) if !c.is_empty() => c,
                // another table's delta: what the correlated form gives it
                _ => E::Column::iter()
                    .map(|c| match rules.treatment(c) {
                        Treatment::Record => Found::Missing,
                        _ => Found::Withheld,
                    })
                    .collect(),
            };
            Ok((delta, columns))
        })
        .collect()
}
