//! The PostgreSQL trigger that wakes the change feed's subscribers: part of
//! the journal's schema, installed and dropped with its tables (the
//! listener that receives its notifications is the feed's).

use sea_orm::{DbBackend, Statement};

/// The PostgreSQL channel the journal notifies on when a transaction
/// writes object deltas; the payload is the journal's schema.
pub const NOTIFY_CHANNEL: &str = "revy_feed";

/// A statement-level trigger: one `pg_notify` per statement that inserts
/// object deltas, and PostgreSQL folds the identical ones of a transaction
/// into one notification, sent at commit, dropped at rollback. The payload
/// names the schema so that journals in other schemas of the database do
/// not wake each other's subscribers.
const CREATE_FUNCTION: &str = "CREATE OR REPLACE FUNCTION revy_feed_notify() RETURNS trigger \
     LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('revy_feed', TG_TABLE_SCHEMA); RETURN NULL; END $$";

/// Creates the trigger only when it is missing: `CREATE OR REPLACE TRIGGER`
/// would lock the table against writers at every start-up.
const CREATE_TRIGGER: &str = "DO $$ BEGIN \
     IF NOT EXISTS (SELECT 1 FROM pg_trigger \
         WHERE tgname = 'revy_feed_notify' AND tgrelid = to_regclass('revy_object_deltas')) THEN \
     CREATE TRIGGER revy_feed_notify AFTER INSERT ON revy_object_deltas \
         FOR EACH STATEMENT EXECUTE FUNCTION revy_feed_notify(); \
     END IF; END $$";

/// Dropping the journal's tables drops the trigger; the function stays.
const DROP_FUNCTION: &str = "DROP FUNCTION IF EXISTS revy_feed_notify()";

/// The statements that install the wake-up trigger after the journal's
/// tables (none but on PostgreSQL).
pub(crate) fn install_statements(backend: DbBackend) -> Vec<Statement> {
    if backend != DbBackend::Postgres {
        return Vec::new();
    }
    [CREATE_FUNCTION, CREATE_TRIGGER]
        .into_iter()
        .map(|sql| Statement::from_string(backend, sql))
        .collect()
}

/// The statements that remove what [`install_statements`] left once the
/// journal's tables are gone.
#[cfg_attr(not(feature = "migration"), allow(dead_code))]
pub(crate) fn drop_statements(backend: DbBackend) -> Vec<Statement> {
    if backend != DbBackend::Postgres {
        return Vec::new();
    }
    vec![Statement::from_string(backend, DROP_FUNCTION)]
}
