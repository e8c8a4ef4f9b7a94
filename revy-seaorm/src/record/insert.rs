//! The one place that builds `INSERT`s into the object deltas.
//!
//! Every writer (the hooks' [`write::record`](super::write::record),
//! [`batch`](super::batch), the queued [`flush`](super::flush), the
//! [`sealed`](super::sealed) writes) describes its rows as [`Row`]s and
//! hands them here; the statement's shape depends only on the backend and
//! on whether the write is sealed ([`Seal`]):
//!
//! - [`values`]: a multi-row `INSERT .. VALUES`, each row's version named
//!   by the writer (SQLite and MySQL; PostgreSQL when sealed);
//! - [`read_in_statement`]: one row, `INSERT .. SELECT` from the object's
//!   newest delta, so that its version (and, sealed, the link it chains
//!   to) is read as the row is written, and nothing is written unless the
//!   object is where the writer expects it (SQLite and PostgreSQL);
//! - [`opening_statement`]: the same one row into a revision the
//!   statement creates first (PostgreSQL and SQLite), for a write that
//!   opens its revision;
//! - [`recordset`](super::recordset): PostgreSQL's many rows in one
//!   statement of one JSON parameter.
//!
//! The revisions a flush creates are built here too ([`revisions`]).
//!
//! The columns are bound in the order of [`OBJECT_DELTA_COLUMNS`], then the
//! link when sealed, then the inline entries.

use chrono::{DateTime, Utc};
use revy_core::{Action, Actor};
use sea_orm::sea_query::{
    Alias, CommonTableExpression, Expr, ExprTrait, Func, InsertStatement, Query, WithClause,
};
use sea_orm::{DbBackend, DbErr, Statement, Value};

use super::Seal;
use super::rows::{
    AttributeChange, Head, OBJECT_DELTA_COLUMNS, actor_columns, newest_link, next_version,
};
use super::sealed::Link;
use crate::error::Error;
use crate::journal::attribute_delta::encode_entries;
use crate::journal::{object_delta, revision};

/// One object delta about to be written, as every writer describes it.
#[derive(Clone, Copy)]
pub(crate) struct Row<'a> {
    pub revision_id: i64,
    pub actor: &'a Option<Actor>,
    pub action: Action,
    pub description: &'a str,
    pub content_type: &'a str,
    pub content_id: &'a str,
    pub created_at: DateTime<Utc>,
    /// Its attribute deltas, in order; stored inline, encoded against the
    /// row's own actor and description.
    pub changes: &'a [AttributeChange],
}

impl Row<'_> {
    /// The inline entries' text.
    pub(crate) fn entries(&self) -> String {
        encode_entries(self.changes, self.actor, self.description)
    }

    /// The row's values but its version, link and entries, in the order of
    /// [`OBJECT_DELTA_COLUMNS`], with `revision_id` as its revision's.
    fn own_values(&self, revision_id: Expr) -> [Expr; 8] {
        let (actor_type, actor_id) = actor_columns(self.actor);
        [
            revision_id,
            Expr::val(actor_type),
            Expr::val(actor_id),
            Expr::val(self.action.as_str()),
            Expr::val(self.description),
            Expr::val(self.content_type),
            Expr::val(self.content_id),
            Expr::val(self.created_at),
        ]
    }
}

/// The columns a writer fills, with the link when sealed.
fn columns(seal: Seal) -> Vec<object_delta::Column> {
    let mut columns = OBJECT_DELTA_COLUMNS.to_vec();
    if seal.is_on() {
        columns.push(object_delta::Column::Hash);
        columns.push(object_delta::Column::Salt);
    }
    columns.push(object_delta::Column::Changes);
    columns
}

/// sea-query refused a statement revy built (its values do not fit its
/// columns): a bug in revy, with no fix a caller could make, so a database
/// error rather than a typed one.
pub(crate) fn invalid(e: impl std::fmt::Display) -> Error {
    Error::Db(DbErr::Custom(format!("revy_object_deltas: {e}")))
}

/// A multi-row `INSERT .. VALUES` of `rows`, each with the version the
/// writer names for it and, when `seal` is on, its link. (A version read
/// in each row of a multi-row INSERT would have the statement read the
/// table it writes, once a row: MySQL then locks what it reads, and SQLite
/// slows down with the square of the rows.)
pub(crate) fn values<'a>(
    rows: impl IntoIterator<Item = (Row<'a>, i64, Option<Link>)>,
    seal: Seal,
) -> Result<InsertStatement, Error> {
    let mut insert = Query::insert();
    insert
        .into_table(object_delta::Entity)
        .columns(columns(seal));
    for (row, version, link) in rows {
        let mut values = row.own_values(Expr::val(row.revision_id)).to_vec();
        values.push(Expr::val(version));
        if seal.is_on() {
            let (hash, salt) = link.map(|l| (l.hash, l.salt)).unzip();
            values.push(Expr::val(hash));
            values.push(Expr::val(salt));
        }
        values.push(Expr::val(row.entries()));
        insert.values(values).map_err(invalid)?;
    }
    Ok(insert)
}

/// What [`read_in_statement`] requires of the object's newest delta for
/// the row to be written.
#[derive(Clone, Copy)]
pub(crate) enum Expect<'a> {
    /// Anything: the row takes the next version.
    Any,
    /// This version (optimistic concurrency).
    Version(i64),
    /// A sealed write's head: this version with this link; the row carries
    /// `link`, which chains to it.
    Head { head: &'a Head, link: &'a Link },
}

/// One row, `INSERT .. SELECT` from the object's newest delta read in the
/// statement (its version, and its link when the write is sealed), where
/// that delta is as `expect` says; `RETURNING` the new id, so no row back
/// means nothing was written. SQLite and PostgreSQL.
pub(crate) fn read_in_statement(
    row: &Row<'_>,
    expect: Expect<'_>,
) -> Result<InsertStatement, Error> {
    read_in(row, expect, Expr::val(row.revision_id), None)
}

/// The revision a statement of [`opening_statement`] creates.
const NEW_REVISION: &str = "revy_rv";
/// The delta a statement of [`opening_statement`] writes.
const NEW_DELTA: &str = "revy_od";

/// [`read_in_statement`] into `revision`, which the same statement creates
/// first; the row's own `revision_id` is not used. A write that opens its
/// revision then sends one statement, not two.
///
/// - PostgreSQL: both `INSERT`s in a `WITH`, and a `SELECT` of one row:
///   the new revision's `revision_id` and the new delta's `id`.
/// - SQLite, which has no `INSERT` in a `WITH`: the revision's `INSERT`,
///   a `SELECT` of one row (its `revision_id` by `last_insert_rowid()`,
///   `id` NULL) and the delta's `INSERT` reading the same id, `RETURNING`
///   its `id`, in one statement text, which SQLite runs in turn (sqlx
///   binds each part's parameters in their order).
///
/// So the first row back names the revision, and a non-NULL `id` in any
/// row says the delta was written: `expect` may refuse it, and the
/// revision is created either way, as when it is a statement of its own.
/// Not on MySQL (no `WITH` on an `INSERT`, and one statement a prepared
/// call), and not for a sealed write: its link hashes the revision's id,
/// which must be known before the statement.
pub(crate) fn opening_statement(
    backend: DbBackend,
    row: &Row<'_>,
    expect: Expect<'_>,
    revision: Revision<'_>,
) -> Result<Statement, Error> {
    if matches!(expect, Expect::Head { .. }) {
        return Err(invalid("a sealed write names its revision's id"));
    }
    let mut create = revisions([revision])?;
    match backend {
        DbBackend::Postgres => {
            let new = Alias::new(NEW_REVISION);
            create.returning_col(revision::Column::Id);
            let delta = read_in(
                row,
                expect,
                Expr::col((new.clone(), revision::Column::Id)),
                Some(new.clone()),
            )?;
            let cte = |query: InsertStatement, name: &str| {
                CommonTableExpression::new()
                    .query(query)
                    .table_name(Alias::new(name))
                    .to_owned()
            };
            let written = Query::select()
                .column(object_delta::Column::Id)
                .from(Alias::new(NEW_DELTA))
                .to_owned();
            let select = Query::select()
                .expr_as(
                    Expr::col((new.clone(), revision::Column::Id)),
                    object_delta::Column::RevisionId,
                )
                .expr_as(
                    Expr::SubQuery(None, Box::new(written.into())),
                    object_delta::Column::Id,
                )
                .from(new)
                .to_owned();
            let with = WithClause::new()
                .cte(cte(create, NEW_REVISION))
                .cte(cte(delta, NEW_DELTA))
                .to_owned()
                .query(select);
            Ok(backend.build(&with))
        }
        DbBackend::Sqlite => {
            let new_id = || Expr::expr(Func::cust(Alias::new("last_insert_rowid")));
            let named = Query::select()
                .expr_as(new_id(), object_delta::Column::RevisionId)
                .expr_as(Expr::val(None::<i64>), object_delta::Column::Id)
                .to_owned();
            let delta = read_in(row, expect, new_id(), None)?;
            let parts = [
                backend.build(&create),
                backend.build(&named),
                backend.build(&delta),
            ];
            let sql = parts
                .iter()
                .map(|p| p.sql.as_str())
                .collect::<Vec<_>>()
                .join("; ");
            let values: Vec<Value> = parts
                .into_iter()
                .flat_map(|p| p.values.map(|v| v.0).unwrap_or_default())
                .collect();
            Ok(Statement::from_sql_and_values(backend, sql, values))
        }
        _ => Err(invalid(
            "MySQL creates a revision in a statement of its own",
        )),
    }
}

/// The `INSERT .. SELECT` of [`read_in_statement`] with `revision_id` as
/// the row's revision, read also from the table `from` when given.
fn read_in(
    row: &Row<'_>,
    expect: Expect<'_>,
    revision_id: Expr,
    from: Option<Alias>,
) -> Result<InsertStatement, Error> {
    use object_delta::Column as D;
    const CURRENT: &str = "revy_current";
    let sealed = matches!(expect, Expect::Head { .. });
    let mut current = Query::select();
    current.expr_as(
        next_version(Expr::val(row.content_type), Expr::val(row.content_id), 0),
        D::Version,
    );
    if sealed {
        current.expr_as(
            newest_link(Expr::val(row.content_type), Expr::val(row.content_id)),
            D::Hash,
        );
    }
    let at = |c: D| Expr::col((Alias::new(CURRENT), c));
    let mut values = row.own_values(revision_id).to_vec();
    values.push(at(D::Version).add(1));
    let mut select = Query::select();
    if let Some(from) = from {
        select.from(from);
    }
    match expect {
        Expect::Any => {}
        Expect::Version(v) => {
            select.and_where(at(D::Version).eq(v));
        }
        Expect::Head { head, link } => {
            values.push(Expr::val(link.hash.as_str()));
            values.push(Expr::val(link.salt.as_str()));
            select
                .and_where(at(D::Version).eq(head.version))
                .and_where(at(D::Hash).eq(head.hash.clone().unwrap_or_default()));
        }
    }
    values.push(Expr::val(row.entries()));
    select
        .exprs(values)
        .from_subquery(current.to_owned(), Alias::new(CURRENT));
    let mut insert = Query::insert();
    insert
        .into_table(object_delta::Entity)
        .columns(columns(if sealed { Seal::On } else { Seal::Off }))
        .select_from(select)
        .map_err(invalid)?;
    insert.returning_col(D::Id);
    Ok(insert)
}

/// A revision a writer creates with others.
#[derive(Clone, Copy)]
pub(crate) struct Revision<'a> {
    pub description: &'a str,
    pub meta: &'a serde_json::Value,
    pub created_at: DateTime<Utc>,
}

/// A multi-row `INSERT .. VALUES` of `revisions` (a JSON `null` meta is
/// stored as NULL).
pub(crate) fn revisions<'a>(
    revisions: impl IntoIterator<Item = Revision<'a>>,
) -> Result<InsertStatement, Error> {
    let mut insert = Query::insert();
    insert.into_table(revision::Entity).columns([
        revision::Column::Description,
        revision::Column::Meta,
        revision::Column::CreatedAt,
    ]);
    for r in revisions {
        let meta = (!r.meta.is_null()).then(|| r.meta.clone());
        insert
            .values([
                Expr::val(r.description),
                Expr::val(meta),
                Expr::val(r.created_at),
            ])
            // as `invalid`: a bug in revy, no typed error
            .map_err(|e| Error::Db(DbErr::Custom(format!("revy_revisions: {e}"))))?;
    }
    Ok(insert)
}
