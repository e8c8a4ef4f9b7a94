//! One connection type standing for any: deletion policies are stored as
//! closures, which cannot be generic over the caller's connection, so they
//! take a `&dyn RawConn` and query through [`Conn`].
//!
//! sea-orm's `ConnectionTrait` has generic methods and so cannot be a trait
//! object; [`RawConn`] keeps only its statement-level methods, which every
//! other method is built on.

use sea_orm::{ConnectionTrait, DbBackend, DbErr, ExecResult, QueryResult, Statement};

/// The object-safe part of a sea-orm connection.
#[async_trait::async_trait]
pub(crate) trait RawConn: Sync {
    fn backend(&self) -> DbBackend;
    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr>;
    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr>;
    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr>;
    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr>;
    fn returning(&self) -> bool;
}

#[async_trait::async_trait]
impl<C: ConnectionTrait> RawConn for C {
    fn backend(&self) -> DbBackend {
        self.get_database_backend()
    }

    async fn execute(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        ConnectionTrait::execute_unprepared(self, sql).await
    }

    async fn query_one(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.query_one_raw(stmt).await
    }

    async fn query_all(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.query_all_raw(stmt).await
    }

    fn returning(&self) -> bool {
        self.support_returning()
    }
}

/// A sea-orm connection over any [`RawConn`]: statements go to the
/// connection underneath unchanged (a guarded one still looks at them).
pub(crate) struct Conn<'a>(pub(crate) &'a dyn RawConn);

#[async_trait::async_trait]
impl ConnectionTrait for Conn<'_> {
    fn get_database_backend(&self) -> DbBackend {
        self.0.backend()
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.0.execute(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.0.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.0.query_one(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.0.query_all(stmt).await
    }

    fn support_returning(&self) -> bool {
        self.0.returning()
    }
}
