//! Whole-table time travel: every row of an entity as it was at a moment
//! (a time or a tag), a page at a time.
//!
//! A page is two statements. In the first, on PostgreSQL and SQLite, a
//! recursive walk steps from one
//! key in the journal to the next (one seek of the object deltas' content
//! index per key), asks each key for its newest object delta at the moment
//! (one more seek) and stops once the page is full. The second reads the
//! rows' values as a [snapshot](crate::history::ObjectSnapshot) does: each picked
//! delta's object from its newest checkpoint, a few deltas per row. Nothing
//! reads a row's whole history, so a page costs the same whether each row
//! has ten deltas or a hundred thousand. Keys the walk
//! passes over (rows created after the moment, or deleted before it) cost
//! a seek each.
//!
//! MariaDB/MySQL cannot seek an index by a bound taken from the walk's
//! previous row (a correlated `>`): a walk there read the table's keys
//! from the cursor to the current one at each step. So there the first
//! statement has no walk. It reads the table's next keys in one skip over
//! the content index (a loose index scan: one seek per key, whatever the
//! history of each), twice as many as the page holds, and each key's
//! newest delta at the moment. The page takes the first of them that hold
//! a row at the moment. When more than half of the keys it read hold none
//! (rows created after the moment, or deleted before it), a MySQL page
//! comes back with fewer rows than its size, and still with a cursor:
//! [`Page::next`] is `None` only on the last page, on every backend.
//!
//! A moment that is a time finds each key's newest delta at or before it
//! by reading that key's deltas backwards from its newest: the cost grows
//! with the deltas written after the moment, not with those before. A tag
//! is an index bound: one seek.
//!
//! Pages follow the journal's key text (`content_id`) in the database's
//! order, which for integer keys is text order (`"10"` before `"9"`): a
//! stable order to page by, not the numeric one.

use std::marker::PhantomData;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use revy_core::Action;
use sea_orm::sea_query::{
    Alias, CommonTableExpression, Expr, ExprTrait, Order, Query, SelectStatement, SimpleExpr,
    UnionType, WithClause, WithQuery,
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, JoinType, QueryFilter,
    QueryOrder, QuerySelect, QueryTrait, Statement, TryIntoModel,
};

use crate::db::keys::{content_type, mysql_text as journal_text};
use crate::error::Error;
use crate::history::snapshot::snapshots_of;
use crate::journal::{object_delta, tag};
use crate::policy;

/// Rows a page holds unless told otherwise.
pub const DEFAULT_PAGE_SIZE: u64 = 100;

/// A moment in the journal: a time, or a tag (the journal right after the
/// last object delta of the tag's revision).
///
/// ```
/// use revy_seaorm::history::Moment;
///
/// let now: Moment = chrono::Utc::now().into();
/// let release = Moment::tag("release-2026-11");
/// assert!(matches!(release, Moment::Tag(ref name) if name == "release-2026-11"));
/// # let _ = now;
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Moment {
    /// Everything written at or before this time.
    Time(DateTime<Utc>),
    /// Everything up to the tag's revision.
    Tag(String),
}

impl Moment {
    /// The moment of the tag `name`.
    pub fn tag(name: impl Into<String>) -> Self {
        Moment::Tag(name.into())
    }
}

impl From<DateTime<Utc>> for Moment {
    fn from(at: DateTime<Utc>) -> Self {
        Moment::Time(at)
    }
}

/// The object deltas a moment includes, as a condition on the alias
/// `delta` of `revy_object_deltas`.
fn includes(moment: &Moment, delta: &str) -> SimpleExpr {
    let delta = Alias::new(delta);
    match moment {
        Moment::Time(at) => Expr::col((delta, object_delta::Column::CreatedAt)).lte(*at),
        Moment::Tag(name) => {
            Expr::col((delta, object_delta::Column::Id)).lte(tag_bound(name.as_str()))
        }
    }
}

/// The newest object delta of the tag `name`'s revision, as an expression
/// (NULL when there is no such tag): one seek of the tag's name index and
/// one of the object deltas' revision index.
pub(crate) fn tag_bound(name: &str) -> SimpleExpr {
    let revision = Query::select()
        .column(tag::Column::RevisionId)
        .from(tag::Entity)
        .and_where(Expr::col(tag::Column::Name).eq(name))
        .to_owned();
    let newest = Query::select()
        .expr(Expr::col((Alias::new("revy_tagged"), object_delta::Column::Id)).max())
        .from_as(object_delta::Entity, Alias::new("revy_tagged"))
        .and_where(
            Expr::col((Alias::new("revy_tagged"), object_delta::Column::RevisionId))
                .eq(Expr::SubQuery(None, Box::new(revision.into()))),
        )
        .to_owned();
    Expr::SubQuery(None, Box::new(newest.into()))
}

/// Every row of `E` as it was at a moment: made by [`table_as_of`], run a
/// page at a time by [`TableAsOf::page`].
#[must_use = "a time-travel query does nothing until .page(&db) runs it"]
pub struct TableAsOf<E> {
    moment: Moment,
    size: u64,
    after: Option<String>,
    entity: PhantomData<E>,
}

/// One page of [`TableAsOf`]: the rows, and the cursor of the next page.
/// Serializes as `{"rows": [..], "next": ..}` when the rows do.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[non_exhaustive]
pub struct Page<M> {
    /// The rows, in the journal's key order. As many as the page's size
    /// unless the page is the last, or (on MySQL/MariaDB) more than half
    /// of the keys it read held no row at the moment: page on while
    /// [`next`](Self::next) is `Some`.
    pub rows: Vec<M>,
    /// Pass to [`TableAsOf::after`] for the next page; `None` when this
    /// page was the last.
    pub next: Option<String>,
}

/// Every row of `E` as it was at `moment` (a time, or a [`Moment::tag`]):
/// rows deleted since come back, rows created after it are absent.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
///
/// let mut users = Vec::new();
/// for name in ["Ann", "Bob", "Cid"] {
///     let am = user::ActiveModel { name: Set(name.into()), ..Default::default() };
///     users.push(Context::new().scope(am.insert(&db)).await?);
/// }
/// # tokio::time::sleep(std::time::Duration::from_millis(5)).await;
/// let then = chrono::Utc::now();
/// # tokio::time::sleep(std::time::Duration::from_millis(5)).await;
/// Context::new().scope(users[1].clone().into_active_model().delete(&db)).await?;
/// Context::new()
///     .scope(user::ActiveModel { name: Set("Dee".into()), ..Default::default() }.insert(&db))
///     .await?;
///
/// let mut names = Vec::new();
/// let mut query = revy_seaorm::history::table_as_of::<user::Entity>(then).page_size(2);
/// loop {
///     let page = query.page(&db).await?;
///     names.extend(page.rows.into_iter().map(|u| u.name));
///     match page.next {
///         Some(cursor) => query = revy_seaorm::history::table_as_of::<user::Entity>(then).page_size(2).after(cursor),
///         None => break,
///     }
/// }
/// assert_eq!(names, ["Ann", "Bob", "Cid"]); // Bob is back, Dee not yet there
/// # Ok(()) }
/// ```
pub fn table_as_of<E: crate::policy::TrackingPolicy>(moment: impl Into<Moment>) -> TableAsOf<E> {
    TableAsOf {
        moment: moment.into(),
        size: DEFAULT_PAGE_SIZE,
        after: None,
        entity: PhantomData,
    }
}

/// The alias of the walk over the journal's keys.
const WALK: &str = "revy_walk";
/// Its columns: the key, and how many live rows came before it.
const WALK_KEY: &str = "content_id";
const WALK_FOUND: &str = "found";
/// The newest object delta at the moment of each key walked.
const PICKED: &str = "revy_picked";
const PICKED_ID: &str = "object_delta_id";

impl<E> TableAsOf<E>
where
    E: crate::policy::TrackingPolicy,
    E::ActiveModel: ActiveModelTrait<Entity = E> + TryIntoModel<E::Model>,
{
    /// At most `n` rows a page (at least one); [`DEFAULT_PAGE_SIZE`] unless set.
    pub fn page_size(mut self, n: u64) -> Self {
        self.size = std::cmp::max(n, 1);
        self
    }

    /// The page after the cursor a previous page returned in [`Page::next`].
    pub fn after(mut self, cursor: impl Into<String>) -> Self {
        self.after = Some(cursor.into());
        self
    }

    /// The key after `key` in the journal of this table (the first key
    /// past the cursor when `None`), as an expression.
    fn next_key(&self, key: Option<SimpleExpr>) -> SimpleExpr {
        let y = Alias::new("revy_next");
        let content_id = Expr::col((y.clone(), object_delta::Column::ContentId));
        let mut q = Query::select();
        q.column((y.clone(), object_delta::Column::ContentId))
            .from_as(object_delta::Entity, y.clone())
            .and_where(
                Expr::col((y.clone(), object_delta::Column::ContentType)).eq(content_type::<E>()),
            );
        if let Some(key) = key {
            q.and_where(content_id.clone().gt(key));
        }
        // Every step is also past the cursor, a constant bound (the form a
        // MariaDB walk needed before it had a scan of its own; kept, as the
        // plans measured on PostgreSQL and SQLite were made with it).
        if let Some(after) = &self.after {
            q.and_where(content_id.gt(after.clone()));
        }
        q.order_by((y, object_delta::Column::ContentId), Order::Asc)
            .limit(1);
        Expr::SubQuery(None, Box::new(q.into()))
    }

    /// A column of the newest object delta of `key` at the moment.
    fn newest(&self, column: object_delta::Column, key: SimpleExpr) -> SelectStatement {
        let x = "revy_newest";
        Query::select()
            .column((Alias::new(x), column))
            .from_as(object_delta::Entity, Alias::new(x))
            .and_where(
                Expr::col((Alias::new(x), object_delta::Column::ContentType))
                    .eq(content_type::<E>()),
            )
            .and_where(Expr::col((Alias::new(x), object_delta::Column::ContentId)).eq(key))
            .and_where(includes(&self.moment, x))
            .order_by((Alias::new(x), object_delta::Column::Id), Order::Desc)
            .limit(1)
            .to_owned()
    }

    /// The walk: from the cursor, key after key, until `size` keys that
    /// hold a row at the moment have been passed.
    fn walk(&self) -> CommonTableExpression {
        let walk_col = |c: &str| Expr::col((Alias::new(WALK), Alias::new(c)));
        let first = Query::select()
            .expr_as(self.next_key(None), Alias::new(WALK_KEY))
            .expr_as(Expr::val(0i64), Alias::new(WALK_FOUND))
            .to_owned();
        let action = self.newest(object_delta::Column::Action, walk_col(WALK_KEY));
        let live = Expr::case(
            Expr::SubQuery(None, Box::new(action.into())).ne(Action::Delete.as_str()),
            1i64,
        )
        .finally(0i64);
        let found = walk_col(WALK_FOUND).add(live);
        let step = Query::select()
            .expr(self.next_key(Some(walk_col(WALK_KEY))))
            .expr(found.clone())
            .from(Alias::new(WALK))
            .and_where(walk_col(WALK_KEY).is_not_null())
            .and_where(found.lt(i64::try_from(self.size).unwrap_or(i64::MAX)))
            .to_owned();
        let mut union = first;
        union.union(UnionType::All, step);
        CommonTableExpression::new()
            .table_name(Alias::new(WALK))
            .columns([Alias::new(WALK_KEY), Alias::new(WALK_FOUND)])
            .query(union)
            .to_owned()
    }

    /// The page's statement on `backend`.
    fn statement(&self) -> WithQuery {
        // the newest object delta of each key the walk passed, joined by
        // primary key: the walk drives the page, never a scan of the table's
        // deltas
        let picked = Query::select()
            .expr_as(
                Expr::SubQuery(
                    None,
                    Box::new(
                        self.newest(
                            object_delta::Column::Id,
                            Expr::col((Alias::new(WALK), Alias::new(WALK_KEY))),
                        )
                        .into(),
                    ),
                ),
                Alias::new(PICKED_ID),
            )
            .from(Alias::new(WALK))
            .and_where(Expr::col((Alias::new(WALK), Alias::new(WALK_KEY))).is_not_null())
            .to_owned();
        // No filter on the table: the picked ids are of this table already,
        // and given one, SQLite walked the table's content index for the
        // ORDER BY and ran the walk again for each entry (1.3 s a page).
        let select = object_delta::Entity::find()
            .select_only()
            .column(object_delta::Column::Id)
            .column(object_delta::Column::ContentId)
            .filter(object_delta::Column::Action.ne(Action::Delete))
            .order_by_asc(object_delta::Column::ContentId)
            .limit(self.size);
        let mut query = select.into_query();
        query.join_subquery(
            JoinType::InnerJoin,
            picked,
            Alias::new(PICKED),
            Expr::col((object_delta::Entity, object_delta::Column::Id))
                .equals((Alias::new(PICKED), Alias::new(PICKED_ID))),
        );
        let with = WithClause::new()
            .recursive(true)
            .cte(self.walk())
            .to_owned();
        query.with(with)
    }

    /// How many keys a MySQL page reads: twice the page's size, so that a
    /// page comes back full unless more than half the keys it passes hold
    /// no row at the moment.
    fn scan_size(&self) -> u64 {
        self.size.saturating_mul(2)
    }

    /// The page's first statement on MySQL/MariaDB: the table's next keys
    /// in the journal (past the cursor), read by skipping from key to key
    /// in the content index (MariaDB's loose index scan, "Using index for
    /// group-by"), each with the id of its newest delta at the moment,
    /// negated when that delta is a delete.
    ///
    /// One level of derived table: with a second one (joined to the
    /// deltas for their actions), MariaDB 10.11 ran the prepared statement
    /// once and then failed it ("Unknown column") at every later run.
    fn scan_statement(&self) -> SelectStatement {
        use object_delta::Column as C;
        let scan = Alias::new("revy_scan");
        let mut keys = Query::select();
        keys.column((scan.clone(), C::ContentId))
            .from_as(object_delta::Entity, scan.clone())
            .and_where(
                Expr::col((scan.clone(), C::ContentType)).eq(journal_text(&content_type::<E>())),
            );
        if let Some(after) = &self.after {
            keys.and_where(Expr::col((scan.clone(), C::ContentId)).gt(journal_text(after)));
        }
        keys.group_by_col((scan.clone(), C::ContentType))
            .group_by_col((scan.clone(), C::ContentId))
            .order_by((scan, C::ContentId), Order::Asc)
            .limit(self.scan_size());
        let newest = "revy_newest";
        let signed = Expr::case(
            Expr::col((Alias::new(newest), C::Action)).eq(Action::Delete.as_str()),
            Expr::val(0i64).sub(Expr::col((Alias::new(newest), C::Id))),
        )
        .finally(Expr::col((Alias::new(newest), C::Id)));
        let key = Alias::new(PICKED);
        let mut newest_id = self.newest(C::Id, Expr::col((key.clone(), C::ContentId)));
        newest_id.clear_selects().expr(signed);
        Query::select()
            .column((key.clone(), C::ContentId))
            .expr_as(
                Expr::SubQuery(None, Box::new(newest_id.into())),
                Alias::new(PICKED_ID),
            )
            .from_subquery(keys, key.clone())
            .order_by((key, C::ContentId), Order::Asc)
            .to_owned()
    }

    /// Runs [`Self::scan_statement`]: the first `size` keys that hold a row
    /// at the moment, with their deltas, and the last key read when the
    /// scan read all it asked for and found fewer (the next page's cursor).
    async fn scanned<C: ConnectionTrait>(
        &self,
        db: &C,
        statement: Statement,
        table: &str,
    ) -> Result<(Vec<PickedDelta>, Option<String>), sea_orm::DbErr> {
        let content_type: Arc<str> = Arc::from(table);
        let rows = db.query_all_raw(statement).await?;
        let mut deltas = Vec::with_capacity(rows.len());
        let mut last = None;
        for row in &rows {
            let content_id: String = row.try_get("", "content_id")?;
            // no delta at the moment, or a delete: no row
            let id: Option<i64> = row.try_get("", PICKED_ID)?;
            if let Some(id) = id.filter(|id| *id > 0) {
                deltas.push(PickedDelta {
                    id,
                    content_id: content_id.clone(),
                    content_type: content_type.clone(),
                });
                if deltas.len() as u64 == self.size {
                    return Ok((deltas, None));
                }
            }
            last = Some(content_id);
        }
        let full = rows.len() as u64 == self.scan_size();
        Ok((deltas, last.filter(|_| full)))
    }

    /// Runs one page: two statements (an empty page at a tag asks once more,
    /// to tell an unknown tag, [`TagError::NoTag`](crate::tags::TagError::NoTag), from an empty table).
    pub async fn page<C: ConnectionTrait>(self, db: &C) -> Result<Page<E::Model>, Error> {
        // see `db::limits`: SQLite plans a bound LIMIT anew at every run
        let db = &crate::db::limits::Literal(db);
        let backend = db.get_database_backend();
        let table = content_type::<E>();
        let rules = policy::rules::<E>()?;
        // the keys' newest deltas at the moment, and where a MySQL scan
        // that read every key it asked for stopped
        let (deltas, scanned) = if backend == DbBackend::MySql {
            self.scanned(db, backend.build(&self.scan_statement()), &table)
                .await
        } else {
            picked(db, backend.build(&self.statement()), &table)
                .await
                .map(|deltas| (deltas, None))
        }
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
        let read = deltas.len();
        let mut out = Vec::with_capacity(read);
        let mut last = None;
        for (delta, model) in snapshots_of::<E, _, _>(db, deltas, &rules).await? {
            last = Some(delta.content_id);
            out.extend(model);
        }
        let next = if read as u64 == self.size {
            last
        } else {
            // a scan that read all the keys it asked for ends short of the
            // table's last key: the next page starts past its last
            scanned
        };
        if read == 0
            && let Moment::Tag(name) = &self.moment
        {
            crate::journal::tag::find_or_error(db, name).await?;
        }
        Ok(Page { rows: out, next })
    }
}

/// A delta a page picked: its id and its row's key, all a snapshot needs.
struct PickedDelta {
    id: i64,
    content_id: String,
    content_type: Arc<str>,
}

impl crate::history::snapshot::Picked for PickedDelta {
    fn id(&self) -> i64 {
        self.id
    }

    fn content_type(&self) -> &str {
        &self.content_type
    }

    fn content_id(&self) -> &str {
        &self.content_id
    }
}

/// The deltas a page's first statement picks, in key order. On SQLite as
/// one row, a `json_group_array` of `[id, key]`, sorted here by key as
/// SQLite's `ORDER BY` sorts text (by its bytes): sqlx hands SQLite's rows
/// over from its worker thread one at a time, about a quarter of a page's
/// time as 100 rows.
async fn picked<C: ConnectionTrait>(
    db: &C,
    statement: Statement,
    table: &str,
) -> Result<Vec<PickedDelta>, sea_orm::DbErr> {
    let content_type: Arc<str> = Arc::from(table);
    if statement.db_backend == DbBackend::Sqlite {
        let text = crate::db::one_row::json_rows(db, statement, &["id", "content_id"]).await?;
        let mut rows: Vec<(i64, String)> = serde_json::from_str(&text).map_err(|e| {
            sea_orm::DbErr::Type(format!(
                "revy_object_deltas: a time-travel page's deltas read as one JSON array: {e}"
            ))
        })?;
        rows.sort_by(|a, b| a.1.as_bytes().cmp(b.1.as_bytes()));
        return Ok(rows
            .into_iter()
            .map(|(id, content_id)| PickedDelta {
                id,
                content_id,
                content_type: content_type.clone(),
            })
            .collect());
    }
    db.query_all_raw(statement)
        .await?
        .iter()
        .map(|row| {
            Ok(PickedDelta {
                id: row.try_get("", "id")?,
                content_id: row.try_get("", "content_id")?,
                content_type: content_type.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use revy_core::Context;
    use sea_orm::{ActiveModelTrait, DbBackend, Set};

    crate::__doc_fixture!();

    /// A later page starts past its cursor, and so does each step of its
    /// walk (the bound MariaDB seeks by).
    #[tokio::test]
    async fn each_step_of_a_later_page_is_past_the_cursor() {
        let db = setup().await.unwrap();
        for name in ["Ann", "Bob", "Cid", "Dee"] {
            let am = user::ActiveModel {
                name: Set(name.into()),
                ..Default::default()
            };
            Context::new().scope(am.insert(&db)).await.unwrap();
        }
        let now = chrono::Utc::now();
        let page = super::table_as_of::<user::Entity>(now)
            .page_size(2)
            .after("2")
            .page(&db)
            .await
            .unwrap();
        let names: Vec<_> = page.rows.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(names, ["Cid", "Dee"]);
        let query = super::table_as_of::<user::Entity>(now).after("2");
        for backend in [DbBackend::Postgres, DbBackend::Sqlite] {
            let sql = backend.build(&query.statement()).to_string();
            // the walk's first key and its recursive step
            assert_eq!(sql.matches("> '2'").count(), 2, "{backend:?}: {sql}");
        }
        // MySQL's scan starts past the cursor
        let sql = DbBackend::MySql.build(&query.scan_statement()).to_string();
        assert_eq!(
            sql.matches("> (CONVERT('2' USING utf8mb4) COLLATE utf8mb4_bin)")
                .count(),
            1,
            "{sql}"
        );
        let first = super::table_as_of::<user::Entity>(now);
        let sql = DbBackend::MySql.build(&first.scan_statement()).to_string();
        assert!(
            !sql.contains("`content_id` >"),
            "no cursor, no bound: {sql}"
        );
    }
}
