//! `LIMIT` as a literal on SQLite.
//!
//! SQLite 3.51 (bundled by sqlx) reads a bound `LIMIT ?` while it plans,
//! and a statement whose plan read a bound value is prepared again at its
//! next run after any new binding: every run, since sqlx binds every run.
//! sea-query binds every `LIMIT`, so each of revy's statements with one in
//! its top level, in a derived table or in an `IN (SELECT ..)` was parsed
//! and planned anew at each run (a scalar subquery's `LIMIT` is not read):
//! for blame's statement, about 40% of its time. [`Literal`] writes such
//! limits into the statement's text on SQLite, where they are revy's own
//! constants (a page size, `1`), so the driver's cache of prepared
//! statements holds one text per limit value.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, Statement, Value};

/// A connection that sends its statements on `C` with each bound `LIMIT`
/// written as a literal on SQLite (see the module), and unchanged
/// elsewhere.
pub(crate) struct Literal<'a, C: ?Sized>(pub(crate) &'a C);

#[async_trait::async_trait]
impl<C: ConnectionTrait + ?Sized> ConnectionTrait for Literal<'_, C> {
    fn get_database_backend(&self) -> DbBackend {
        self.0.get_database_backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.0.execute_raw(literal_limits(stmt)).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.0.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.0.query_one_raw(literal_limits(stmt)).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.0.query_all_raw(literal_limits(stmt)).await
    }

    fn support_returning(&self) -> bool {
        self.0.support_returning()
    }

    fn is_mock_connection(&self) -> bool {
        self.0.is_mock_connection()
    }
}

/// `stmt` with each `LIMIT ?` whose bound value is an integer written as
/// that integer, and the value taken out of its bindings; on SQLite only,
/// and only in a text whose parameters are all plain `?` (anything else
/// is returned as it was).
pub(crate) fn literal_limits(mut stmt: Statement) -> Statement {
    if stmt.db_backend != DbBackend::Sqlite {
        return stmt;
    }
    let Some(values) = stmt.values.as_mut() else {
        return stmt;
    };
    let Some(limits) = limit_parameters(&stmt.sql) else {
        return stmt;
    };
    if limits.is_empty() || limits.iter().any(|(_, i)| *i >= values.0.len()) {
        return stmt;
    }
    let literals: Vec<Option<u64>> = limits.iter().map(|(_, i)| integer(&values.0[*i])).collect();
    let mut sql = String::with_capacity(stmt.sql.len());
    let mut from = 0;
    let mut dropped = Vec::new();
    for ((at, index), literal) in limits.iter().zip(&literals) {
        let Some(literal) = literal else {
            continue;
        };
        sql.push_str(&stmt.sql[from..*at]);
        sql.push_str(&literal.to_string());
        from = at + 1;
        dropped.push(*index);
    }
    sql.push_str(&stmt.sql[from..]);
    let mut index = 0;
    values.0.retain(|_| {
        let keep = !dropped.contains(&index);
        index += 1;
        keep
    });
    stmt.sql = sql;
    stmt
}

fn integer(value: &Value) -> Option<u64> {
    match value {
        Value::BigUnsigned(Some(n)) => Some(*n),
        Value::Unsigned(Some(n)) => Some(u64::from(*n)),
        Value::BigInt(Some(n)) => u64::try_from(*n).ok(),
        Value::Int(Some(n)) => u64::try_from(*n).ok(),
        _ => None,
    }
}

/// The byte offset and the parameter index of each `?` that follows the
/// keyword `LIMIT`, outside quotes; `None` when the text has a parameter
/// other than a plain `?` (numbered or named), which this does not count.
fn limit_parameters(sql: &str) -> Option<Vec<(usize, usize)>> {
    let bytes = sql.as_bytes();
    let mut found = Vec::new();
    let mut parameter = 0;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            quote @ (b'\'' | b'"' | b'`') => {
                // to the closing quote; a doubled quote stays inside
                i += 1;
                while i < bytes.len() {
                    if bytes[i] == quote {
                        if bytes.get(i + 1) == Some(&quote) {
                            i += 1;
                        } else {
                            break;
                        }
                    }
                    i += 1;
                }
            }
            b'[' => {
                while i < bytes.len() && bytes[i] != b']' {
                    i += 1;
                }
            }
            b'-' if bytes.get(i + 1) == Some(&b'-') => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if bytes.get(i + 1) == Some(&b'*') => {
                i += 2;
                while i + 1 < bytes.len() && !(bytes[i] == b'*' && bytes[i + 1] == b'/') {
                    i += 1;
                }
                i += 1;
            }
            b'?' => {
                if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    return None;
                }
                if after_limit(&bytes[..i]) {
                    found.push((i, parameter));
                }
                parameter += 1;
            }
            b':' | b'@' | b'$'
                if bytes
                    .get(i + 1)
                    .is_some_and(|b| b.is_ascii_alphabetic() || *b == b'_') =>
            {
                return None;
            }
            _ => {}
        }
        i += 1;
    }
    Some(found)
}

/// Whether `before` ends with the keyword `LIMIT` and blanks.
fn after_limit(before: &[u8]) -> bool {
    let text = before.trim_ascii_end();
    if text.len() == before.len() || text.len() < 5 {
        return false;
    }
    let (head, word) = text.split_at(text.len() - 5);
    word.eq_ignore_ascii_case(b"LIMIT")
        && head
            .last()
            .is_none_or(|b| !(b.is_ascii_alphanumeric() || *b == b'_'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lite(sql: &str, values: Vec<Value>) -> Statement {
        Statement::from_sql_and_values(DbBackend::Sqlite, sql, values)
    }

    #[test]
    fn bound_limits_become_literals_and_leave_the_bindings() {
        let stmt = literal_limits(lite(
            r#"SELECT "a" FROM "t" WHERE "b" = ? AND "c" IN (SELECT "d" FROM "u" WHERE "e" = ? LIMIT ?) ORDER BY "a" LIMIT ? OFFSET ?"#,
            vec![
                "x".into(),
                2i32.into(),
                Value::BigUnsigned(Some(10)),
                Value::BigUnsigned(Some(1)),
                Value::BigUnsigned(Some(5)),
            ],
        ));
        assert_eq!(
            stmt.sql,
            r#"SELECT "a" FROM "t" WHERE "b" = ? AND "c" IN (SELECT "d" FROM "u" WHERE "e" = ? LIMIT 10) ORDER BY "a" LIMIT 1 OFFSET ?"#
        );
        assert_eq!(
            stmt.values.unwrap().0,
            vec![
                Value::from("x"),
                Value::from(2i32),
                Value::BigUnsigned(Some(5))
            ]
        );
    }

    #[test]
    fn quotes_and_other_backends_are_left_alone() {
        // a `?` in a string or a quoted name is no parameter
        let sql = r#"SELECT 'LIMIT ?' AS "LIMIT ?", ? FROM "t" LIMIT ?"#;
        let stmt = literal_limits(lite(sql, vec![1i32.into(), Value::BigUnsigned(Some(3))]));
        assert_eq!(
            stmt.sql,
            r#"SELECT 'LIMIT ?' AS "LIMIT ?", ? FROM "t" LIMIT 3"#
        );
        assert_eq!(stmt.values.unwrap().0, vec![Value::from(1i32)]);
        // a column that ends in "limit" is not the keyword
        let sql = r#"SELECT * FROM t WHERE my_limit ?"#;
        assert_eq!(literal_limits(lite(sql, vec![1i32.into()])).sql, sql);
        // numbered parameters are not counted: unchanged
        let sql = "SELECT * FROM t WHERE a = ?1 LIMIT ?2";
        let stmt = literal_limits(lite(sql, vec![1i32.into(), Value::BigUnsigned(Some(3))]));
        assert_eq!(stmt.sql, sql);
        // PostgreSQL plans a bound limit once: unchanged
        let pg = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 LIMIT $1",
            [Value::BigUnsigned(Some(1))],
        );
        assert_eq!(literal_limits(pg).sql, "SELECT 1 LIMIT $1");
        // a limit that is not an integer stays bound
        let stmt = literal_limits(lite("SELECT 1 LIMIT ?", vec![Value::String(None)]));
        assert_eq!(stmt.sql, "SELECT 1 LIMIT ?");
        assert_eq!(stmt.values.unwrap().0.len(), 1);
    }
}
