//! A statement's rows as one row on SQLite.
//!
//! sqlx hands SQLite's rows over from its worker thread one at a time, a
//! few microseconds each, and sea-orm finds each column by name at each
//! read. A read of tens or hundreds of small rows spends most of its time
//! there. [`json_rows`] wraps a statement so that SQLite returns its rows
//! as one `json_group_array` of `json_array`s of the named columns, which
//! the caller decodes with serde.

use sea_orm::{ConnectionTrait, DbErr, Statement};

/// The rows of `statement` (SQLite's), each as a JSON array of `columns`
/// (names of its result columns) in that order, all in one JSON array
/// text: `[]` when it has none. The order of the rows is not promised.
pub(crate) async fn json_rows<C: ConnectionTrait + ?Sized>(
    db: &C,
    statement: Statement,
    columns: &[&str],
) -> Result<String, DbErr> {
    let columns: Vec<String> = columns
        .iter()
        .map(|c| format!("\"revy_rows\".\"{c}\""))
        .collect();
    let sql = format!(
        "SELECT json_group_array(json_array({})) FROM ({}) AS \"revy_rows\"",
        columns.join(", "),
        statement.sql
    );
    match db.query_one_raw(Statement { sql, ..statement }).await? {
        Some(row) => row.try_get_by_index(0),
        None => Ok("[]".to_owned()),
    }
}
