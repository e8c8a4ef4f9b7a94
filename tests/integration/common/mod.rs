//! The integration-test harness: one test body, run on every configured
//! backend, each run in a database (or schema) of its own so tests run in
//! parallel.
//!
//! SQLite always runs (a file in the temp directory). PostgreSQL runs when
//! `REVY_TEST_POSTGRES_URL` is set, MariaDB/MySQL when `REVY_TEST_MYSQL_URL`
//! is. A set URL that cannot be reached fails the test; an unset one skips
//! it, unless `CI=true`, where every backend must run.
#![allow(dead_code)]

pub mod entities;

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, EntityTrait, Schema, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};

/// The backends a test body runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    fn url_var(self) -> &'static str {
        match self {
            Backend::Sqlite => "",
            Backend::Postgres => "REVY_TEST_POSTGRES_URL",
            Backend::MySql => "REVY_TEST_MYSQL_URL",
        }
    }
}

/// A connection to a database of this test's own.
pub struct TestDb {
    pub db: DatabaseConnection,
    pub backend: Backend,
    /// Statements run on `db` so far (every statement, journal included).
    pub statements: Arc<AtomicUsize>,
    /// The SQL of each statement, while logging is on (`log_sql`).
    pub sql: Arc<Mutex<Option<Vec<String>>>>,
}

impl TestDb {
    /// Statements counted since the last call.
    pub fn take_statement_count(&self) -> usize {
        self.statements.swap(0, Ordering::SeqCst)
    }

    /// Starts recording the SQL of every statement.
    pub fn log_sql(&self) {
        *self.sql.lock().unwrap() = Some(Vec::new());
    }

    /// The SQL recorded since `log_sql`, and stops recording.
    pub fn take_sql(&self) -> Vec<String> {
        self.sql.lock().unwrap().take().unwrap_or_default()
    }

    /// Creates the table of an entity.
    pub async fn create_table<E: EntityTrait>(&self, entity: E) {
        let backend = self.db.get_database_backend();
        let stmt = Schema::new(backend).create_table_from_entity(entity);
        self.db.execute(&stmt).await.expect("create test table");
    }
}

/// A transaction that, on SQLite (no row locks), takes the write lock at
/// BEGIN (IMMEDIATE), so concurrent read-then-write transactions queue
/// instead of failing.
pub async fn begin(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let options = TransactionOptions {
        sqlite_transaction_mode: (db.get_database_backend() == DbBackend::Sqlite)
            .then_some(SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    db.begin_with_options(options).await
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// A name for this test's database or schema: a Rust identifier (so safe
/// to write into DDL), short enough for every backend (63 bytes), and this
/// process's own, so that two test runs at once (two checkouts, say) never
/// drop each other's databases: the test's name, cut to 40 characters,
/// with a hash of the whole name and the process id.
fn db_name(test: &str) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    test.hash(&mut hasher);
    let short: String = test.chars().take(40).collect();
    format!(
        "revy_t_{short}_{:06x}_{}",
        hasher.finish() & 0xff_ffff,
        std::process::id() % 1_000_000
    )
}

/// The SQLite file of a test, in the temp directory.
fn sqlite_path(test: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{}.db", db_name(test)))
}

async fn connect(backend: Backend, test: &str) -> Option<TestDb> {
    let name = db_name(test);
    let (url, schema) = match backend {
        Backend::Sqlite => {
            let path = sqlite_path(test);
            let _ = std::fs::remove_file(&path);
            (format!("sqlite://{}?mode=rwc", path.display()), None)
        }
        Backend::Postgres | Backend::MySql => {
            let Ok(url) = std::env::var(backend.url_var()) else {
                assert!(
                    !in_ci(),
                    "CI=true but {} is not set: every backend must run in CI",
                    backend.url_var()
                );
                eprintln!("skipped on {backend:?}: {} is not set", backend.url_var());
                return None;
            };
            let admin = Database::connect(&url).await.unwrap_or_else(|e| {
                panic!("{} = {url} is set but unreachable: {e}", backend.url_var())
            });
            // DDL takes identifiers, which cannot be bound parameters; the
            // name is built from the test's Rust identifier only.
            if backend == Backend::Postgres {
                admin
                    .execute_unprepared(&format!(
                        "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
                    ))
                    .await
                    .expect("create test schema");
                (url, Some(name))
            } else {
                admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
                    .await
                    .expect("drop test database");
                admin
                    .execute_unprepared(&format!(
                        "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                    ))
                    .await
                    .expect("create test database");
                let base = url.rsplit_once('/').map(|(b, _)| b).unwrap_or(&url);
                (format!("{base}/{name}"), None)
            }
        }
    };
    let mut options = ConnectOptions::new(url);
    // Tests share two cores with each other: a task may wait long for one
    // of the pool's connections while 2,000 others queue (the concurrency
    // test), longer than the default 30 s when the machine is loaded.
    options
        .max_connections(5)
        .acquire_timeout(std::time::Duration::from_secs(180))
        .sqlx_logging(false);
    if let Some(schema) = schema {
        options.set_schema_search_path(schema);
    }
    let mut db = Database::connect(options)
        .await
        .unwrap_or_else(|e| panic!("connect to the test database on {backend:?}: {e}"));
    let statements = Arc::new(AtomicUsize::new(0));
    let counter = statements.clone();
    let sql: Arc<Mutex<Option<Vec<String>>>> = Arc::new(Mutex::new(None));
    let log = sql.clone();
    db.set_metric_callback(move |info| {
        counter.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut log) = log.lock()
            && let Some(log) = log.as_mut()
        {
            log.push(info.statement.sql.clone());
        }
    });
    revy::install(&db).await.expect("install the journal");
    statements.store(0, Ordering::SeqCst);
    Some(TestDb {
        db,
        backend,
        statements,
        sql,
    })
}

/// Runs `body` on a fresh database of `backend`; skips when the backend is
/// not configured (outside CI).
pub async fn run<F, Fut>(backend: Backend, test: &str, body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()>,
{
    let Some(db) = connect(backend, test).await else {
        return;
    };
    assert_eq!(
        db.db.get_database_backend(),
        match backend {
            Backend::Sqlite => DbBackend::Sqlite,
            Backend::Postgres => DbBackend::Postgres,
            Backend::MySql => DbBackend::MySql,
        }
    );
    let journal = db.db.clone();
    body(db).await;
    if !HAND_EDITED.contains(&test) {
        checkpoints_hold_the_folded_state(&journal, test).await;
    }
    // passed: the database goes (a failed test leaves it behind to look at)
    let name = db_name(test);
    match backend {
        Backend::Postgres => {
            let _ = journal
                .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .await;
        }
        Backend::MySql => {
            let _ = journal
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name}"))
                .await;
        }
        Backend::Sqlite => {}
    }
    if backend == Backend::Sqlite {
        let path = sqlite_path(test);
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut file = path.clone().into_os_string();
            file.push(suffix);
            let _ = std::fs::remove_file(file);
        }
    }
}

/// One inline entry of an object delta, flattened with its delta's
/// columns: what a row of the former `revy_attribute_deltas` held. Tests
/// read a change's entries this way to ask about them column by column.
#[derive(Clone, Debug, PartialEq)]
pub struct AttributeRow {
    pub object_delta_id: i64,
    pub revision_id: i64,
    pub actor_type: Option<String>,
    pub actor_id: Option<String>,
    pub action: revy::Action,
    pub description: String,
    pub content_type: String,
    pub content_id: String,
    pub field_name: String,
    pub old_value: serde_json::Value,
    pub new_value: serde_json::Value,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

impl AttributeRow {
    /// Who set the column: `None` is the system.
    pub fn actor(&self) -> Option<revy::Actor> {
        match (&self.actor_type, &self.actor_id) {
            (Some(kind), Some(id)) => Some(revy::Actor::new(kind.clone(), id.clone())),
            _ => None,
        }
    }
}

/// Every inline entry of the journal, in the order written (object delta
/// id, then position in the delta).
pub async fn attribute_rows<C: ConnectionTrait>(db: &C) -> Vec<AttributeRow> {
    use revy::entity::object_delta;
    use sea_orm::QueryOrder;
    let deltas = object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap();
    deltas.iter().flat_map(entries_of).collect()
}

/// The inline entries of one object delta as [`AttributeRow`]s.
pub fn entries_of(delta: &revy::entity::object_delta::Model) -> Vec<AttributeRow> {
    delta
        .attribute_deltas()
        .unwrap()
        .into_iter()
        .map(|e| {
            let (actor_type, actor_id) = match e.actor() {
                Some(a) => (Some(a.kind.to_string()), Some(a.id.to_string())),
                None => (None, None),
            };
            AttributeRow {
                object_delta_id: delta.id,
                revision_id: delta.revision_id,
                actor_type,
                actor_id,
                action: e.action,
                description: e.description.clone(),
                content_type: delta.content_type.clone(),
                content_id: delta.content_id.clone(),
                field_name: e.field_name.clone(),
                old_value: e.old_value.clone(),
                new_value: e.new_value.clone(),
                created_at: delta.created_at,
            }
        })
        .collect()
}

/// Tests whose journal is not one revy wrote as it stands: edited by hand
/// (tamper evidence, a redaction marker written into an entry).
const HAND_EDITED: &[&str] = &[
    "history_entries_carry_actors_revisions_and_decoded_changes",
    "an_edited_checkpoint_is_named",
];

/// Issue 26: every checkpoint's `state` must be what the object's inline
/// entries up to it fold to (per column, its newest entry's new value and
/// the delta that wrote it), folded here from the object's first delta.
async fn checkpoints_hold_the_folded_state(db: &DatabaseConnection, test: &str) {
    use revy::entity::object_delta;
    use sea_orm::QueryOrder;
    let Ok(deltas) = object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
    else {
        return;
    };
    let mut folded: std::collections::HashMap<
        (String, String),
        serde_json::Map<String, serde_json::Value>,
    > = std::collections::HashMap::new();
    for delta in deltas {
        let state = folded
            .entry((delta.content_type.clone(), delta.content_id.clone()))
            .or_default();
        for entry in delta.attribute_deltas().unwrap() {
            state.insert(
                entry.field_name,
                serde_json::json!([entry.new_value, delta.id]),
            );
        }
        if let Some(text) = &delta.state {
            let written: serde_json::Value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("{test}: checkpoint {}: {e}", delta.id));
            assert_eq!(
                written,
                serde_json::Value::Object(state.clone()),
                "{test}: checkpoint {} ({} {} v{}) differs from the fold of its object's entries",
                delta.id,
                delta.content_type,
                delta.content_id,
                delta.version
            );
        }
    }
}

/// Declares, for each named `async fn(TestDb)`, a module of three tests:
/// `name::sqlite`, `name::postgres`, `name::mysql`.
#[macro_export]
macro_rules! backend_tests {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::common::run($crate::common::Backend::Sqlite, stringify!($name), super::$name).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::common::run($crate::common::Backend::Postgres, stringify!($name), super::$name).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn mysql() {
                $crate::common::run($crate::common::Backend::MySql, stringify!($name), super::$name).await
            }
        }
    )*};
}
