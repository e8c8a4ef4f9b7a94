//! Walking a table in pages ordered by primary key (keyset pagination),
//! and naming a page's rows in one condition.
//!
//! Bulk writes and deletion policies both work a chunk at a time: read a
//! page of the rows a condition selects, locked, then write those rows by
//! key. Paging by key instead of by offset keeps each page one index range
//! however far the walk has gone, and rows the walk has already changed or
//! deleted never shift the pages after them.

use sea_orm::sea_query::{Expr, ExprTrait, ValueTuple};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, ModelTrait, QueryFilter, QueryOrder,
    QuerySelect, Value,
};

use crate::db::keys;
use crate::error::Error;

/// A row's key columns with their values, in key order.
pub(crate) type RowKey<E> = Vec<(<E as EntityTrait>::Column, Value)>;

/// The key of `model`, in the order of `cols`.
pub(crate) fn key_of<E: EntityTrait>(model: &E::Model, cols: &[E::Column]) -> RowKey<E> {
    cols.iter().map(|c| (*c, model.get(*c))).collect()
}

/// The condition "the row's key is one of these": one `IN` list (of tuples
/// for a composite key), flat however many rows the page holds.
pub(crate) fn key_in<E: EntityTrait>(keys: &[RowKey<E>]) -> Condition {
    let cols: Vec<E::Column> = keys
        .first()
        .map(|k| k.iter().map(|(c, _)| *c).collect())
        .unwrap_or_default();
    match cols.as_slice() {
        [] => Condition::all().add(Expr::val(1).eq(0)),
        [col] => Condition::all().add(
            col.is_in(
                keys.iter()
                    .filter_map(|k| k.first().map(|(_, v)| v.clone())),
            ),
        ),
        _ => {
            let tuple = Expr::tuple(cols.iter().map(|c| Expr::col(*c)));
            let values = keys
                .iter()
                .map(|k| ValueTuple::Many(k.iter().map(|(_, v)| v.clone()).collect()));
            Condition::all().add(tuple.in_tuples(values))
        }
    }
}

/// The condition "the row's key comes after this one".
pub(crate) fn key_after<E: EntityTrait>(last: &RowKey<E>) -> Condition {
    // (a, b) > (x, y)  is  a > x OR (a = x AND b > y)
    let mut any = Condition::any();
    for i in 0..last.len() {
        let mut all = Condition::all();
        for (col, value) in last.iter().take(i) {
            all = all.add(col.eq(value.clone()));
        }
        if let Some((col, value)) = last.get(i) {
            all = all.add(col.gt(value.clone()));
        }
        any = any.add(all);
    }
    any
}

/// A walk over the rows `condition` selects, `size` rows a page, in key
/// order, each page locked for the rest of the transaction where the
/// backend has row locks (`FOR UPDATE`; SQLite's transaction holds the
/// whole database).
pub(crate) struct Pages<E: EntityTrait> {
    condition: Condition,
    cols: Vec<E::Column>,
    size: u64,
    after: Option<RowKey<E>>,
    done: bool,
}

impl<E: EntityTrait> Pages<E> {
    pub(crate) fn new(condition: Condition, size: u64) -> Result<Self, Error> {
        Ok(Pages {
            condition,
            cols: keys::key_columns::<E>()?,
            size: std::cmp::max(size, 1),
            after: None,
            done: false,
        })
    }

    /// The key columns pages are ordered by.
    pub(crate) fn key_columns(&self) -> &[E::Column] {
        &self.cols
    }

    /// The next page; empty when the walk is over. A page shorter than the
    /// page size ends the walk without another query.
    pub(crate) async fn next<C: ConnectionTrait>(
        &mut self,
        db: &C,
    ) -> Result<Vec<E::Model>, Error> {
        // see `db::limits`: SQLite plans a bound LIMIT anew at every run
        let db = &crate::db::limits::Literal(db);
        if self.done {
            return Ok(Vec::new());
        }
        let mut query = E::find().filter(self.condition.clone());
        if let Some(last) = &self.after {
            query = query.filter(key_after::<E>(last));
        }
        for col in &self.cols {
            query = query.order_by_asc(*col);
        }
        let rows = query.limit(self.size).lock_exclusive().all(db).await?;
        self.done = (rows.len() as u64) < self.size;
        if let Some(last) = rows.last() {
            self.after = Some(key_of::<E>(last, &self.cols));
        }
        Ok(rows)
    }
}
