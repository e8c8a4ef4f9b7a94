//! The snapshots of a page of object deltas from the deltas' own inline
//! entries and checkpoints.
//!
//! For each object on the page, one range of its deltas is read: from the
//! newest checkpoint (or create) at or before its oldest delta on the page,
//! to its newest delta on the page. The range is folded in id order: the
//! first delta's checkpoint when it holds one, then each delta's entries.
//! The state after each delta of the page is its snapshot. With a
//! checkpoint every [`CHECKPOINT_EVERY`](crate::record::checkpoint) versions
//! a range holds at most that many deltas more than the page, so a snapshot
//! costs the same at history ten as at history a hundred thousand; one
//! statement reads the ranges of 200 objects.
//!
//! A journal without checkpoints (written by an older writer) reads the
//! same, from its first delta.

use std::collections::{HashMap, HashSet};

use revy_core::Action;
use sea_orm::sea_query::extension::mysql::{IndexHintScope, IndexName, MySqlSelectStatementExt};
use sea_orm::sea_query::{
    Alias, Condition, Expr, ExprTrait, Func, JoinType, Order, Query, QueryStatementBuilder,
    SelectStatement, UnionType,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, FromQueryResult, Iterable, Statement,
};

use super::Found;
use crate::db::keys::content_type;
use crate::error::Error;
use crate::journal::object_delta;
use crate::journal::schema::CONTENT_INDEX;
use crate::journal::state::State;
use crate::policy::{Rules, Treatment};

/// Objects per statement of the range read.
const OBJECTS_PER_QUERY: usize = 200;

/// What a fold reads of an object delta: none of the columns it does not
/// use (times, actors, descriptions, hashes) is read or decoded.
#[derive(Debug, FromQueryResult)]
pub(crate) struct FoldRow {
    pub(crate) id: i64,
    pub(crate) content_id: String,
    /// Read (and checked) as the full row reads it, though no fold uses it.
    #[allow(dead_code)]
    pub(crate) action: Action,
    pub(crate) changes: String,
    pub(crate) state: Option<String>,
}

/// The columns of [`FoldRow`], in its order.
const FOLD_COLUMNS: [object_delta::Column; 5] = [
    object_delta::Column::Id,
    object_delta::Column::ContentId,
    object_delta::Column::Action,
    object_delta::Column::Changes,
    object_delta::Column::State,
];

/// The deltas of each object (of `E`'s table) named in `windows`, from the
/// newest checkpoint or create at or before its window's start to its
/// window's end, in id order per object: one statement per 200 objects.
pub(crate) async fn ranges<C: ConnectionTrait>(
    db: &C,
    table: &str,
    windows: &HashMap<&str, (i64, i64)>,
) -> Result<HashMap<String, Vec<FoldRow>>, Error> {
    let objects: Vec<(&str, (i64, i64))> = windows.iter().map(|(k, w)| (*k, *w)).collect();
    let mut by_object: HashMap<String, Vec<FoldRow>> = HashMap::with_capacity(objects.len());
    for chunk in objects.chunks(OBJECTS_PER_QUERY) {
        let backend = db.get_database_backend();
        let rows = match backend {
            DbBackend::Sqlite => sqlite_ranges(db, table, chunk).await,
            DbBackend::Postgres => {
                FoldRow::find_by_statement(lateral_windows(table, chunk))
                    .all(db)
                    .await
            }
            _ => {
                let statement = match chunk {
                    [(content_id, (oldest, newest))] => {
                        one_range_from_a_constant(table, content_id, *oldest, *newest)
                    }
                    _ => joined_windows(table, chunk),
                };
                FoldRow::find_by_statement(backend.build(&statement))
                    .all(db)
                    .await
            }
        }
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        for row in rows {
            match by_object.get_mut(row.content_id.as_str()) {
                Some(range) => range.push(row),
                None => {
                    by_object.insert(row.content_id.clone(), vec![row]);
                }
            }
        }
    }
    for range in by_object.values_mut() {
        // in id order already, as read (a no-op then)
        range.sort_by_key(|row| row.id);
    }
    Ok(by_object)
}

/// The ranges of `objects` on SQLite, in one row: the windows are a JSON
/// parameter walked by `json_each`, each joined to its object's deltas by
/// the content index (seeking from the correlated walk back to its start),
/// and the deltas come back as one `json_group_array` of `[id, content_id,
/// action, changes, state]`. sqlx hands SQLite's rows over one at a time
/// from its worker thread, at about 5 µs a row: the 1,000 deltas of a
/// time-travel page took 6 ms as rows, against 1 ms as one.
///
/// A delta whose action is none the journal writes is refused, as the
/// rows' own decoding refuses it.
async fn sqlite_ranges<C: ConnectionTrait>(
    db: &C,
    table: &str,
    objects: &[(&str, (i64, i64))],
) -> Result<Vec<FoldRow>, sea_orm::DbErr> {
    let bad = |what: String| sea_orm::DbErr::Type(format!("revy_object_deltas: {what}"));
    let Some(row) = db.query_one_raw(sqlite_aggregate(table, objects)).await? else {
        return Ok(Vec::new());
    };
    let text = row.try_get_by_index::<String>(0)?;
    let rows = serde_json::from_str::<Vec<AggregatedRow>>(&text)
        .map_err(|e| bad(format!("the ranges read as one JSON array: {e}")))?;
    rows.into_iter()
        .map(|r| {
            let id = r.0;
            r.into_row()
                .ok_or_else(|| bad(format!("object delta {id} has an unknown action")))
        })
        .collect()
}

/// One delta of [`sqlite_aggregate`]'s array.
#[derive(serde::Deserialize)]
struct AggregatedRow(i64, String, String, String, Option<String>);

impl AggregatedRow {
    /// The row, when its action is one the journal's rows decode.
    fn into_row(self) -> Option<FoldRow> {
        let AggregatedRow(id, content_id, action, changes, state) = self;
        let action = Action::ALL.into_iter().find(|a| a.as_str() == action)?;
        Some(FoldRow {
            id,
            content_id,
            action,
            changes,
            state,
        })
    }
}

/// The statement of [`sqlite_ranges`]: the windows `[[content_id, oldest,
/// newest], ..]` bound as one JSON text, the table as another value.
fn sqlite_aggregate(table: &str, objects: &[(&str, (i64, i64))]) -> Statement {
    let windows: Vec<serde_json::Value> = objects
        .iter()
        .map(|(content_id, (oldest, newest))| serde_json::json!([content_id, oldest, newest]))
        .collect();
    Statement::from_sql_and_values(
        DbBackend::Sqlite,
        r#"SELECT json_group_array(json_array("d"."id", "d"."content_id", "d"."action", "d"."changes", "d"."state")) FROM json_each(?1) AS "w" CROSS JOIN "revy_object_deltas" AS "d" WHERE "d"."content_type" = ?2 AND "d"."content_id" = json_extract("w"."value", '$[0]') AND "d"."id" <= json_extract("w"."value", '$[2]') AND "d"."id" >= COALESCE((SELECT "s"."id" FROM "revy_object_deltas" AS "s" WHERE "s"."content_type" = ?2 AND "s"."content_id" = json_extract("w"."value", '$[0]') AND "s"."id" <= json_extract("w"."value", '$[1]') AND ("s"."state" IS NOT NULL OR "s"."action" = 'Create') ORDER BY "s"."id" DESC LIMIT 1), 0)"#,
        [
            serde_json::Value::Array(windows).to_string().into(),
            table.into(),
        ],
    )
}

/// The ranges of `objects` on PostgreSQL: the windows as three array
/// parameters, `unnest`ed, each joined (`LATERAL`) to its object's deltas
/// by the content index, from the correlated walk back to its start. One
/// text whatever the number of objects, so one plan: an `OR` of one index
/// range per object (the form before) has 600 parameters for 100 objects,
/// and PostgreSQL planned it anew at each run (9 ms of the 11 ms it took for a
/// time-travel page, against 2 ms this way).
///
/// `OFFSET 0` keeps the joined subquery a subquery: without it PostgreSQL
/// may pull it up into a hash join that reads every delta of the table,
/// which it did on statistics that undercounted the table's deltas (after
/// a bulk load, before autovacuum's next ANALYZE): 1,080 ms for the ranges
/// of 200 objects among 304,000 deltas, against 6 ms walking each object's
/// index range.
fn lateral_windows(table: &str, objects: &[(&str, (i64, i64))]) -> Statement {
    let content_ids: Vec<String> = objects.iter().map(|(c, _)| (*c).to_owned()).collect();
    let oldest: Vec<i64> = objects.iter().map(|(_, (o, _))| *o).collect();
    let newest: Vec<i64> = objects.iter().map(|(_, (_, n))| *n).collect();
    Statement::from_sql_and_values(
        DbBackend::Postgres,
        r#"SELECT "d"."id", "d"."content_id", "d"."action", "d"."changes", "d"."state" FROM unnest(CAST($2 AS text[]), CAST($3 AS bigint[]), CAST($4 AS bigint[])) AS "w" ("cid", "lo", "hi") CROSS JOIN LATERAL (SELECT "r"."id", "r"."content_id", "r"."action", "r"."changes", "r"."state" FROM "revy_object_deltas" AS "r" WHERE "r"."content_type" = $1 AND "r"."content_id" = "w"."cid" AND "r"."id" <= "w"."hi" AND "r"."id" >= COALESCE((SELECT "s"."id" FROM "revy_object_deltas" AS "s" WHERE "s"."content_type" = $1 AND "s"."content_id" = "w"."cid" AND "s"."id" <= "w"."lo" AND ("s"."state" IS NOT NULL OR "s"."action" = 'Create') ORDER BY "s"."id" DESC LIMIT 1), 0) OFFSET 0) AS "d""#,
        [
            table.into(),
            content_ids.into(),
            oldest.into(),
            newest.into(),
        ],
    )
}

/// [`range_start`] as the one column, [`RANGE_START`], of a one-row
/// derived table to be joined as [`RANGE`] (its `LIMIT` keeps it one row,
/// and apart): MariaDB reads such a table first, as a constant, and seeks
/// the object's index from it, where a subquery is no bound of its seeks.
pub(crate) fn range_start_table(table: &str, content_id: &str, at: i64) -> SelectStatement {
    Query::select()
        .expr_as(range_start(table, content_id, at), RANGE_START)
        .limit(1)
        .to_owned()
}

/// The name [`range_start_table`] is joined under, and its column.
pub(crate) const RANGE: &str = "revy_range";
pub(crate) const RANGE_START: &str = "start";

/// One object's range as MySQL/MariaDB reads it: its start is the column
/// of a one-row derived table, which MariaDB reads first, as a constant,
/// and seeks the object's index from. Given as a subquery in the `WHERE`,
/// it is no bound of MariaDB's index seeks, and a snapshot at history 100,000 read all of the
/// object's deltas in the index (38 ms, against 0.6 ms at history 10).
fn one_range_from_a_constant(
    table: &str,
    content_id: &str,
    oldest: i64,
    newest: i64,
) -> SelectStatement {
    use object_delta::Column as D;
    let d = object_delta::Entity;
    Query::select()
        .columns(FOLD_COLUMNS.map(|c| (d, c)))
        .from_subquery(range_start_table(table, content_id, oldest), RANGE)
        .inner_join(
            d,
            Condition::all()
                .add(Expr::col((d, D::ContentType)).eq(table))
                .add(Expr::col((d, D::ContentId)).eq(content_id))
                .add(Expr::col((d, D::Id)).lte(newest))
                .add(Expr::col((d, D::Id)).gte(Expr::col((RANGE, RANGE_START)))),
        )
        .order_by((d, D::Id), Order::Asc)
        .to_owned()
}

/// The ranges of `objects` as MySQL/MariaDB reads them: the windows as a
/// derived table of values, each with its range's start (its own
/// subquery, of constants), joined to its object's deltas by the content
/// index.
///
/// The start is a column of the windows, not a subquery in the join: so
/// MariaDB checks `id >= start` in the index (index condition pushdown)
/// and reads only the range's rows. Given a subquery correlated to the
/// window, it read every row of the object's history to check it: the
/// checkpoints of a bulk update of 1,000 rows with 450 deltas each read
/// 176 ms a statement of 200 objects, against 34 ms this way. (The scan
/// of the object's index entries is left: MariaDB does not seek from a
/// joined table's column.)
///
/// An `OR` of one index range per object is as quick there, but it opens the
/// journal table once per object, and MariaDB 10.11 then ran the next
/// time-travel walk on the same connection 50 times slower (4 ms to 220
/// ms, measured through sqlx on the history browser's bench journal).
fn joined_windows(table: &str, objects: &[(&str, (i64, i64))]) -> SelectStatement {
    use object_delta::Column as D;
    let w = Alias::new("revy_window");
    let (cid, start, hi) = (Alias::new("cid"), Alias::new("start"), Alias::new("hi"));
    let mut windows: Option<SelectStatement> = None;
    for (content_id, (oldest, newest)) in objects {
        let row = Query::select()
            .expr_as(Expr::val(*content_id), cid.clone())
            .expr_as(range_start(table, content_id, *oldest), start.clone())
            .expr_as(Expr::val(*newest), hi.clone())
            .to_owned();
        match windows.as_mut() {
            None => windows = Some(row),
            Some(union) => {
                union.union(UnionType::All, row);
            }
        }
    }
    let windows = windows.unwrap_or_else(|| {
        // no objects: a window that matches no delta
        Query::select()
            .expr_as(Expr::val(""), cid.clone())
            .expr_as(Expr::val(0i64), start.clone())
            .expr_as(Expr::val(-1i64), hi.clone())
            .to_owned()
    });
    let d = object_delta::Entity;
    Query::select()
        .columns(FOLD_COLUMNS.map(|c| (d, c)))
        .from(d)
        // the object's index, whatever the statistics say: on a young
        // journal MariaDB took a scan of the table with a join buffer
        // (175 ms for 200 objects, against about 2 ms)
        .force_index(IndexName::new(CONTENT_INDEX), IndexHintScope::All)
        .join_subquery(
            JoinType::InnerJoin,
            windows,
            w.clone(),
            Condition::all()
                .add(Expr::col((d, D::ContentType)).eq(table))
                .add(Expr::col((d, D::ContentId)).equals((w.clone(), cid)))
                .add(Expr::col((d, D::Id)).lte(Expr::col((w.clone(), hi))))
                .add(Expr::col((d, D::Id)).gte(Expr::col((w, start)))),
        )
        .order_by((d, D::Id), Order::Asc)
        .to_owned()
}

/// The id a fold of the object's state at delta `at` starts from: its
/// newest checkpoint or create at or before `at`, else 0 (its first delta).
/// Written as a walk back by the object's index (`ORDER BY id DESC LIMIT
/// 1`): MariaDB answers a `MAX` with a condition off the index by reading
/// the whole range.
pub(crate) fn range_start(table: &str, content_id: &str, at: i64) -> Expr {
    use object_delta::Column as D;
    let mut start = Query::select();
    start
        .column(D::Id)
        .from(object_delta::Entity)
        .and_where(D::ContentType.eq(table))
        .and_where(D::ContentId.eq(content_id))
        .and_where(D::Id.lte(at))
        .and_where(
            D::State
                .is_not_null()
                .or(D::Action.eq(Action::Create.as_str())),
        )
        .order_by(D::Id, Order::Desc)
        .limit(1);
    Func::coalesce([
        Expr::SubQuery(None, Box::new(start.into_sub_query_statement())),
        Expr::val(0i64),
    ])
    .into()
}

/// Each object delta with what its snapshot's columns are, by folding each
/// object's range (see the module documentation), and per column the id of
/// the delta that set the value found (`None` for a column with none).
/// Deltas of other tables get no values (no snapshot).
///
/// A column reads the fold's value of its own name, or of a name it had
/// before a rename the policy declares: whichever the newest delta set.
/// Names no column of `E` has (dropped columns) are not read.
#[allow(clippy::type_complexity)]
pub(super) async fn found<E, C, D>(
    db: &C,
    deltas: Vec<D>,
    rules: &Rules<E>,
) -> Result<Vec<(D, Vec<Found>, Vec<Option<i64>>)>, Error>
where
    E: EntityTrait,
    C: ConnectionTrait,
    D: super::Picked,
{
    let table = content_type::<E>();
    let mut windows: HashMap<&str, (i64, i64)> = HashMap::new();
    for d in deltas.iter().filter(|d| d.content_type() == table) {
        let w = windows.entry(d.content_id()).or_insert((d.id(), d.id()));
        w.0 = std::cmp::min(w.0, d.id());
        w.1 = std::cmp::max(w.1, d.id());
    }
    let ranges = ranges(db, &table, &windows).await?;
    let wanted: HashSet<i64> = deltas
        .iter()
        .filter(|d| d.content_type() == table)
        .map(|d| d.id())
        .collect();
    let mut states: HashMap<i64, (Vec<Found>, Vec<Option<i64>>)> =
        HashMap::with_capacity(wanted.len());
    for range in ranges.values() {
        // deltas after the range's last wanted one change no snapshot
        let Some(last) = range.iter().rposition(|d| wanted.contains(&d.id)) else {
            continue;
        };
        let mut state = State::default();
        for (i, delta) in range[..last].iter().enumerate() {
            state.step_columns(delta.id, &delta.changes, delta.state.as_deref(), i == 0)?;
            if wanted.contains(&delta.id) {
                states.insert(delta.id, columns_of::<E>(&state, rules));
            }
        }
        // the last one takes the state's values instead of copies
        let delta = &range[last];
        state.step_columns(delta.id, &delta.changes, delta.state.as_deref(), last == 0)?;
        states.insert(delta.id, columns_from::<E>(state, rules));
    }
    let blank: Vec<Found> = E::Column::iter()
        .map(|c| match rules.treatment(c) {
            Treatment::Record => Found::Missing,
            _ => Found::Withheld,
        })
        .collect();
    Ok(deltas
        .into_iter()
        .map(|delta| {
            let (columns, setters) = states
                .remove(&delta.id())
                .unwrap_or_else(|| (blank.clone(), vec![None; blank.len()]));
            (delta, columns, setters)
        })
        .collect())
}

/// [`columns_of`], taking the state's values.
fn columns_from<E: EntityTrait>(state: State, rules: &Rules<E>) -> (Vec<Found>, Vec<Option<i64>>) {
    let mut columns = state.into_columns();
    E::Column::iter()
        .map(|c| match rules.treatment(c) {
            Treatment::Record => {
                let held = rules
                    .schema
                    .held_name(c, |name| columns.get(name).map(|(_, id)| *id));
                match held.and_then(|name| columns.remove(name)) {
                    Some((value, setter)) => (Found::Value(value), Some(setter)),
                    None => (Found::Missing, None),
                }
            }
            _ => (Found::Withheld, None),
        })
        .unzip()
}

/// A snapshot's columns from a folded state, with the delta that set each.
fn columns_of<E: EntityTrait>(state: &State, rules: &Rules<E>) -> (Vec<Found>, Vec<Option<i64>>) {
    E::Column::iter()
        .map(|c| match rules.treatment(c) {
            Treatment::Record => {
                let held = rules
                    .schema
                    .held_name(c, |name| state.get(name).map(|(_, id)| *id));
                match held.and_then(|name| state.get(name)) {
                    Some((value, setter)) => (Found::Value(value.clone()), Some(*setter)),
                    None => (Found::Missing, None),
                }
            }
            _ => (Found::Withheld, None),
        })
        .unzip()
}
