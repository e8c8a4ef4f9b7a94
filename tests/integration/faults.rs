//! Reliability under faults: a failure is injected at every journal row a
//! tracked operation writes (a trigger that lets N rows through, then
//! rejects the next), inside a transaction. Afterwards either the whole
//! operation with its journal rows is there, or none of it is.

use crate::common::TestDb;
use crate::common::entities::{account, line, transaction};
use revy::entity::{object_delta, revision};
use revy::{Actor, Context, Tracked, context::LazyRevision};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection,
    DbBackend, EntityTrait, IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, Set,
    TransactionTrait,
};

/// The journal's tables a tracked write inserts into (an object delta
/// carries its attribute deltas inline, so a fault at its row covers them).
pub(crate) const JOURNAL: [&str; 2] = ["revy_revisions", "revy_object_deltas"];

/// Everything an operation could change: the data and the journal.
#[derive(Debug, PartialEq)]
struct State {
    accounts: Vec<account::Model>,
    transactions: Vec<transaction::Model>,
    /// Revisions, object deltas, inline entries, checkpoints.
    journal: (u64, u64, u64, u64),
}

async fn state(db: &DatabaseConnection) -> State {
    State {
        accounts: account::Entity::find()
            .order_by_asc(account::Column::Id)
            .all(db)
            .await
            .unwrap(),
        transactions: transaction::Entity::find()
            .order_by_asc(transaction::Column::Id)
            .all(db)
            .await
            .unwrap(),
        journal: (
            revision::Entity::find().count(db).await.unwrap(),
            object_delta::Entity::find().count(db).await.unwrap(),
            crate::common::attribute_rows(db).await.len() as u64,
            object_delta::Entity::find()
                .filter(object_delta::Column::State.is_not_null())
                .count(db)
                .await
                .unwrap(),
        ),
    }
}

/// Lets `budget` rows into `table`, then rejects every further one.
pub(crate) async fn arm(db: &DatabaseConnection, table: &str, budget: i64) {
    arm_on(db, table, INSERT, budget).await
}

/// The statement kinds a fault can be armed on.
pub(crate) const INSERT: &str = "INSERT";
pub(crate) const UPDATE: &str = "UPDATE";

/// Lets `budget` rows of `event` (`INSERT` or `UPDATE`) into `table`, then
/// rejects every further one.
pub(crate) async fn arm_on(db: &DatabaseConnection, table: &str, event: &str, budget: i64) {
    db.execute_unprepared("DELETE FROM fault_budget")
        .await
        .unwrap();
    db.execute_unprepared(&format!("INSERT INTO fault_budget (n) VALUES ({budget})"))
        .await
        .unwrap();
    // DDL names a table, which cannot be a bound parameter; `table` is one
    // of JOURNAL, `event` INSERT or UPDATE.
    let ddl = match db.get_database_backend() {
        DbBackend::Sqlite => format!(
            "CREATE TRIGGER fault_{table} BEFORE {event} ON {table} BEGIN \
             SELECT RAISE(ABORT, 'injected fault') WHERE (SELECT n FROM fault_budget) <= 0; \
             UPDATE fault_budget SET n = n - 1; END"
        ),
        DbBackend::Postgres => format!(
            "CREATE TRIGGER fault_{table} BEFORE {event} ON {table} FOR EACH ROW EXECUTE FUNCTION fault()"
        ),
        _ => format!(
            "CREATE TRIGGER fault_{table} BEFORE {event} ON {table} FOR EACH ROW BEGIN \
             IF (SELECT n FROM fault_budget) <= 0 THEN \
             SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'injected fault'; END IF; \
             UPDATE fault_budget SET n = n - 1; END"
        ),
    };
    // SQLite: under a loaded machine the DDL can meet the write lock of a
    // transaction the pool is still rolling back; wait for it as an
    // application would (the state checks around each fault are unaffected)
    let mut tries = 0;
    loop {
        match db.execute_unprepared(&ddl).await {
            Ok(_) => break,
            Err(e) if e.to_string().contains("locked") && tries < 10 => {
                tries += 1;
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => panic!("arm {table} at {budget}: {e}"),
        }
    }
}

pub(crate) async fn disarm(db: &DatabaseConnection, table: &str) {
    let ddl = match db.get_database_backend() {
        DbBackend::Postgres => format!("DROP TRIGGER fault_{table} ON {table}"),
        _ => format!("DROP TRIGGER fault_{table}"),
    };
    db.execute_unprepared(&ddl).await.unwrap();
}

async fn setup(t: &TestDb) {
    t.create_table(account::Entity).await;
    t.create_table(transaction::Entity).await;
    t.create_table(line::Entity).await;
    install_fault_budget(&t.db).await;
}

/// The table (and on PostgreSQL the function) that `arm`'s triggers use.
pub(crate) async fn install_fault_budget(db: &DatabaseConnection) {
    db.execute_unprepared("CREATE TABLE fault_budget (n BIGINT NOT NULL)")
        .await
        .unwrap();
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared(
            "CREATE FUNCTION fault() RETURNS trigger LANGUAGE plpgsql AS $$ \
             DECLARE left_over BIGINT; BEGIN \
             UPDATE fault_budget SET n = n - 1 RETURNING n INTO left_over; \
             IF left_over < 0 THEN RAISE EXCEPTION 'injected fault'; END IF; \
             RETURN NEW; END $$",
        )
        .await
        .unwrap();
    }
}

fn new_account(code: &str) -> account::ActiveModel {
    account::ActiveModel {
        code: Set(code.to_owned()),
        is_active: Set(true),
        ..Default::default()
    }
}

async fn with_children(db: &DatabaseConnection, code: &str, n: usize) -> account::Model {
    let a = Context::new()
        .scope(new_account(code).insert(db))
        .await
        .unwrap();
    for _ in 0..n {
        Context::new()
            .scope(
                transaction::ActiveModel {
                    account_id: Set(a.id),
                    kind: Set("credit".into()),
                    amount: Set(Decimal::new(1, 0)),
                    exchange_rate: Set(Decimal::new(1, 0)),
                    local_amount: Set(Decimal::new(1, 0)),
                    iso_code: Set("TZS".into()),
                    ..Default::default()
                }
                .insert(db),
            )
            .await
            .unwrap();
    }
    a
}

type Op = fn(
    DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>;

/// Runs `op` with a fault at the 1st, 2nd, ... journal row of each journal
/// table until it gets through; checks all-or-nothing every time. Returns the
/// number of fault points tried.
async fn every_fault_point(t: &TestDb, name: &str, prepare: Op, op: Op) -> usize {
    let inserts = JOURNAL.map(|table| (table, INSERT));
    fault_points_at(t, name, prepare, op, &inserts).await
}

/// [`every_fault_point`] at the rows of each `(table, event)` of `targets`.
async fn fault_points_at(
    t: &TestDb,
    name: &str,
    prepare: Op,
    op: Op,
    targets: &[(&str, &str)],
) -> usize {
    let db = &t.db;
    let mut tried = 0;
    for &(table, event) in targets {
        prepare(db.clone()).await.unwrap();
        let before = state(db).await;
        let mut budget = 0;
        loop {
            arm_on(db, table, event, budget).await;
            let result = op(db.clone()).await;
            if let Err(e) = &result {
                eprintln!("{name}: {event} {table} at {budget}: {e}");
            }
            disarm(db, table).await;
            match result {
                Err(e) => {
                    assert!(e.contains("injected fault"), "{name}: unexpected error {e}");
                    assert_eq!(
                        state(db).await,
                        before,
                        "{name}: fault at {event} {budget} of {table} left a trace"
                    );
                    tried += 1;
                    budget += 1;
                }
                Ok(()) => {
                    assert_ne!(
                        state(db).await,
                        before,
                        "{name}: succeeded but changed nothing"
                    );
                    break;
                }
            }
            assert!(budget < 10_000, "{name}: never got through");
        }
    }
    tried
}

/// Commits on success; on failure rolls back before returning, as an
/// application should, so no half-finished transaction outlives the call.
async fn end(txn: sea_orm::DatabaseTransaction, r: Result<(), String>) -> Result<(), String> {
    match r {
        Ok(()) => txn.commit().await.map_err(|e| e.to_string()),
        Err(e) => {
            txn.rollback().await.map_err(|e| e.to_string())?;
            Err(e)
        }
    }
}

fn boxed<F>(f: F) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>
where
    F: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    Box::pin(f)
}

fn nothing(
    _: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    boxed(async { Ok(()) })
}

fn tracked_insert(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    boxed(
        Context::via_actor(Some(Actor::new("users", 1))).scope(async move {
            let txn = db.begin().await.map_err(|e| e.to_string())?;
            let r = async {
                new_account("ins")
                    .insert(&txn)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok(())
            }
            .await;
            end(txn, r).await
        }),
    )
}

async fn last_account(db: &DatabaseConnection) -> account::Model {
    account::Entity::find()
        .order_by_desc(account::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
}

fn prepare_untracked(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    // untracked rows: the first tracked update or delete also writes a baseline
    boxed(async move {
        new_account("plain")
            .insert(&db)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

fn tracked_update(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    boxed(Context::new().scope(async move {
        let txn = db.begin().await.map_err(|e| e.to_string())?;
        let r = async {
            let last = last_account(&db).await;
            let next = if last.name.as_deref() == Some("a") {
                "b"
            } else {
                "a"
            };
            let mut am = last.into_active_model();
            am.name = Set(Some(next.into()));
            am.update(&txn).await.map_err(|e| e.to_string())?;
            Ok(())
        }
        .await;
        end(txn, r).await
    }))
}

fn tracked_delete(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    boxed(Context::new().scope(async move {
        let txn = db.begin().await.map_err(|e| e.to_string())?;
        let r = async {
            last_account(&db)
                .await
                .into_active_model()
                .delete(&txn)
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        }
        .await;
        end(txn, r).await
    }))
}

/// A queued transaction (`revy::begin`): an insert, an update of a row
/// tracking never saw (a baseline) and a delete, journaled at commit.
fn queued_mix(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    boxed(
        Context::via_actor(Some(Actor::new("users", 1))).scope(async move {
            let txn = revy::begin(&db).await.map_err(|e| e.to_string())?;
            let r = async {
                let gone = new_account("q1")
                    .insert(&txn)
                    .await
                    .map_err(|e| e.to_string())?;
                let last = last_account(&db).await;
                let mut am = last.into_active_model();
                am.name = Set(Some("queued".into()));
                am.update(&txn).await.map_err(|e| e.to_string())?;
                new_account("q2")
                    .insert(&txn)
                    .await
                    .map_err(|e| e.to_string())?;
                gone.into_active_model()
                    .delete(&txn)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok::<_, String>(())
            }
            .await;
            match r {
                Ok(()) => txn.commit().await.map_err(|e| e.to_string()),
                Err(e) => {
                    txn.rollback().await.map_err(|e| e.to_string())?;
                    Err(e)
                }
            }
        }),
    )
}

fn prepare_children(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    boxed(async move {
        with_children(&db, "parent", 3).await;
        Ok(())
    })
}

fn cascade(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    boxed(
        Context::via_deletion_description("closed").scope(async move {
            let parent = last_account(&db).await;
            revy::deletion::delete_in_chunks(parent, 2)
                .exec(&db)
                .await
                .map_err(|e| e.to_string())?;
            Ok(())
        }),
    )
}

fn prepare_revision(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    boxed(async move {
        let keep = Context::new()
            .scope(new_account("keep").insert(&db))
            .await
            .map_err(|e| e.to_string())?;
        let gone = Context::new()
            .scope(new_account("gone").insert(&db))
            .await
            .map_err(|e| e.to_string())?;
        let lazy = LazyRevision::new();
        Context::via_revision(lazy.clone())
            .scope(async {
                new_account("new").insert(&db).await?;
                let mut am = keep.into_active_model();
                am.code = Set("kept".into());
                am.update(&db).await?;
                gone.into_active_model().delete(&db).await?;
                Ok::<_, sea_orm::DbErr>(())
            })
            .await
            .map_err(|e| e.to_string())?;
        let id = lazy.id().ok_or("no revision")?;
        db.execute_unprepared("DELETE FROM undo_target")
            .await
            .map_err(|e| e.to_string())?;
        db.execute_unprepared(&format!("INSERT INTO undo_target (id) VALUES ({id})"))
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

fn undo(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    boxed(async move {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                db.get_database_backend(),
                "SELECT id FROM undo_target",
            ))
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no target")?;
        let id: i64 = row.try_get("", "id").map_err(|e| e.to_string())?;
        revy::rollback::undo_revision(id)
            .exec(&db)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    })
}

fn draft_save(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    boxed(
        Context::via_actor(Some(Actor::new("users", 1))).scope(async move {
            let txn = db.begin().await.map_err(|e| e.to_string())?;
            let r = async {
                let mut draft = Tracked::new(account::ActiveModel::new());
                draft.set(account::Column::Code, "draft");
                draft.set(account::Column::IsActive, true);
                Context::via_actor(None).sync_scope(|| draft.set(account::Column::Code, "fixed"));
                draft.save(&txn).await.map_err(|e| e.to_string())?;
                Ok(())
            }
            .await;
            end(txn, r).await
        }),
    )
}

/// An update that requires the version it read, in a transaction of its
/// own (`update_at_version`): journaled at once, baseline included.
fn update_at_version(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    boxed(Context::new().scope(async move {
        let last = last_account(&db).await;
        let read = revy::versions::version_of::<account::Entity>(last.id)
            .one(&db)
            .await
            .map_err(|e| e.to_string())?
            .unwrap_or(0);
        let next = if last.name.as_deref() == Some("a") {
            "b"
        } else {
            "a"
        };
        let mut am = last.into_active_model();
        am.name = Set(Some(next.into()));
        revy::versions::update_at_version(am, read)
            .exec(&db)
            .await
            .map_err(|e| e.to_string())?;
        Ok(())
    }))
}

fn prepare_five_untracked(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    boxed(async move {
        for _ in 0..5 {
            new_account("plain")
                .insert(&db)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

fn bulk_insert(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    boxed(
        Context::via_actor(Some(Actor::new("users", 1))).scope(async move {
            revy::bulk::insert_many::<account::Entity>(
                (0..5).map(|i| new_account(&format!("b{i}"))),
            )
            .chunk_size(2)
            .exec(&db)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
        }),
    )
}

/// Balances the upserts set, a new one each run, so each run changes rows.
static UPSERT_BALANCE: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(100);

fn upsert_account(id: i32, balance: i64) -> account::ActiveModel {
    account::ActiveModel {
        id: Set(id),
        code: Set(format!("up{id}")),
        is_active: Set(true),
        balance: Set(balance),
        ..Default::default()
    }
}

fn prepare_two_untracked_keys(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    // outside any context: the plain statement, idempotent
    boxed(async move {
        revy::bulk::insert_many::<account::Entity>([1001, 1002].map(|id| upsert_account(id, 0)))
            .on_conflict_do_nothing([account::Column::Id])
            .exec(&db)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    })
}

fn bulk_upsert(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    boxed(
        Context::via_actor(Some(Actor::new("users", 1))).scope(async move {
            let balance = UPSERT_BALANCE.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            revy::bulk::insert_many::<account::Entity>(
                (1001..=1005).map(|id| upsert_account(id, balance)),
            )
            .on_conflict_update([account::Column::Id], [account::Column::Balance])
            .chunk_size(2)
            .exec(&db)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
        }),
    )
}

fn bulk_update(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    use sea_orm::sea_query::{Expr, ExprTrait};
    boxed(Context::new().scope(async move {
        revy::bulk::update_many::<account::Entity>()
            .col_expr(
                account::Column::Balance,
                Expr::col(account::Column::Balance).add(1),
            )
            .chunk_size(2)
            .exec(&db)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }))
}

fn bulk_delete_in_a_transaction(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    use sea_orm::{ColumnTrait, QueryFilter};
    boxed(Context::new().scope(async move {
        let txn = db.begin().await.map_err(|e| e.to_string())?;
        let r = revy::bulk::delete_many::<account::Entity>()
            .filter(account::Column::Code.eq("plain"))
            .chunk_size(2)
            .exec(&txn)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string());
        end(txn, r).await
    }))
}

/// Every bulk path, with a fault at each journal row it writes: on its own
/// connection (the call's own transaction) and inside the caller's.
async fn a_fault_in_a_bulk_write_leaves_all_or_nothing(t: TestDb) {
    setup(&t).await;
    bulk_faults(&t).await;
}

async fn bulk_faults(t: &TestDb) {
    let cases: [(&str, Op, Op); 5] = [
        ("insert_many of 5 in chunks of 2", nothing, bulk_insert),
        (
            "insert_many on_conflict_update of 5 (2 untracked there) in chunks of 2",
            prepare_two_untracked_keys,
            bulk_upsert,
        ),
        (
            "update_many of 5 untracked rows in chunks of 2",
            prepare_five_untracked,
            bulk_update,
        ),
        ("update_many of tracked rows", nothing, bulk_update),
        (
            "delete_many of 5 in chunks of 2, in a transaction",
            prepare_five_untracked,
            bulk_delete_in_a_transaction,
        ),
    ];
    let mut report = Vec::new();
    let mut total = 0;
    for (name, prepare, op) in cases {
        let n = every_fault_point(t, name, prepare, op).await;
        assert!(n >= 3, "{name}: only {n} fault points");
        total += n;
        report.push(format!("{name}: {n}"));
    }
    eprintln!(
        "bulk fault points tried on {:?}: {total} ({})",
        t.backend,
        report.join(", ")
    );
}

async fn a_fault_at_any_journal_row_leaves_all_or_nothing(t: TestDb) {
    setup(&t).await;
    row_faults(&t).await;
}

/// Both fault runs with tamper evidence on: every write path that seals
/// leaves all or nothing, and what it left verifies.
async fn a_fault_in_a_sealed_write_leaves_all_or_nothing(t: TestDb) {
    setup(&t).await;
    revy::tamper::scope(true, async {
        row_faults(&t).await;
        bulk_faults(&t).await;
    })
    .await;
    let verified = revy::tamper::verify(&t.db).await.unwrap();
    assert!(verified.sealed > 0, "{verified:?}");
    assert_eq!(verified.unsealed, 0, "{verified:?}");
}

async fn row_faults(t: &TestDb) {
    t.db.execute_unprepared("CREATE TABLE undo_target (id BIGINT NOT NULL)")
        .await
        .unwrap();
    let mut report = Vec::new();
    let cases: [(&str, Op, Op); 9] = [
        ("insert", nothing, tracked_insert),
        (
            "update at a version, with baseline",
            prepare_untracked,
            update_at_version,
        ),
        ("queued transaction", prepare_untracked, queued_mix),
        ("update with baseline", prepare_untracked, tracked_update),
        ("update", nothing, tracked_update),
        ("delete", prepare_untracked, tracked_delete),
        ("cascade of 3 in chunks of 2", prepare_children, cascade),
        ("undo of a revision", prepare_revision, undo),
        ("draft save", nothing, draft_save),
    ];
    let mut total = 0;
    for (name, prepare, op) in cases {
        let n = every_fault_point(t, name, prepare, op).await;
        assert!(n >= 2, "{name}: only {n} fault points");
        total += n;
        report.push(format!("{name}: {n}"));
    }
    eprintln!(
        "fault points tried on {:?}: {total} ({})",
        t.backend,
        report.join(", ")
    );
}

backend_tests!(
    a_fault_at_any_journal_row_leaves_all_or_nothing,
    a_fault_in_a_sealed_write_leaves_all_or_nothing,
    a_fault_in_a_bulk_write_leaves_all_or_nothing,
);

/// The single-row shortcuts (`revy::bulk::insert_one/update_one/delete_one`),
/// with a fault at each journal row they write, in a transaction.
async fn a_fault_in_a_single_row_shortcut_leaves_all_or_nothing(t: TestDb) {
    setup(&t).await;
    fn insert_one(
        db: DatabaseConnection,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
        boxed(Context::new().scope(async move {
            let txn = db.begin().await.map_err(|e| e.to_string())?;
            let r = revy::bulk::insert_one(new_account("one"))
                .exec(&txn)
                .await
                .map(drop)
                .map_err(|e| e.to_string());
            end(txn, r).await
        }))
    }
    fn update_one(
        db: DatabaseConnection,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
        boxed(Context::new().scope(async move {
            let txn = db.begin().await.map_err(|e| e.to_string())?;
            let mut am = last_account(&db).await.into_active_model();
            am.name = Set(Some("shortcut".into()));
            let r = revy::bulk::update_one(am)
                .exec(&txn)
                .await
                .map(drop)
                .map_err(|e| e.to_string());
            end(txn, r).await
        }))
    }
    fn delete_one(
        db: DatabaseConnection,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
        boxed(Context::new().scope(async move {
            let txn = db.begin().await.map_err(|e| e.to_string())?;
            let am = last_account(&db).await.into_active_model();
            let r = revy::bulk::delete_one(am)
                .exec(&txn)
                .await
                .map(drop)
                .map_err(|e| e.to_string());
            end(txn, r).await
        }))
    }
    let cases: [(&str, Op, Op); 3] = [
        ("insert_one", nothing, insert_one),
        ("update_one with baseline", prepare_untracked, update_one),
        ("delete_one with baseline", prepare_untracked, delete_one),
    ];
    let mut report = Vec::new();
    for (name, prepare, op) in cases {
        let n = every_fault_point(&t, name, prepare, op).await;
        assert!(n >= 2, "{name}: only {n} fault points");
        report.push(format!("{name}: {n}"));
    }
    eprintln!(
        "shortcut fault points tried on {:?}: {}",
        t.backend,
        report.join(", ")
    );
}

backend_tests!(a_fault_in_a_single_row_shortcut_leaves_all_or_nothing);

/// An account taken to version 16 by tracked updates, one transaction
/// each: its next tracked change is version 17, a checkpoint, which the
/// writer completes with an UPDATE of the delta it inserted.
fn prepare_sixteen_versions(
    db: DatabaseConnection,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>> {
    boxed(Context::new().scope(async move {
        let mut row = new_account("cp")
            .insert(&db)
            .await
            .map_err(|e| e.to_string())?;
        for version in 2..=16 {
            let txn = db.begin().await.map_err(|e| e.to_string())?;
            let mut am = row.into_active_model();
            am.name = Set(Some(format!("v{version}")));
            row = am.update(&txn).await.map_err(|e| e.to_string())?;
            txn.commit().await.map_err(|e| e.to_string())?;
        }
        Ok(())
    }))
}

/// A fault at each checkpoint row a writer updates (the hooks in a
/// transaction, a queued transaction's flush, an `update_many` chunk)
/// leaves all or nothing: no delta without its checkpoint, no checkpoint
/// without its delta. With tamper evidence off and on.
async fn a_fault_at_a_checkpoint_leaves_all_or_nothing(t: TestDb) {
    setup(&t).await;
    let cases: [(&str, Op); 3] = [
        ("update to a checkpoint", tracked_update),
        ("queued transaction to a checkpoint", queued_mix),
        ("update_many to a checkpoint", bulk_update),
    ];
    for sealed in [false, true] {
        let mut report = Vec::new();
        for (name, op) in cases {
            let n = revy::tamper::scope(
                sealed,
                fault_points_at(
                    &t,
                    name,
                    prepare_sixteen_versions,
                    op,
                    &[("revy_object_deltas", UPDATE)],
                ),
            )
            .await;
            // at least the checkpoint's own row was refused once
            assert!(n >= 1, "{name}: no checkpoint row was updated");
            report.push(format!("{name}: {n}"));
        }
        eprintln!(
            "checkpoint fault points on {:?}, tamper evidence {}: {}",
            t.backend,
            if sealed { "on" } else { "off" },
            report.join(", ")
        );
    }
    let checkpoints = object_delta::Entity::find()
        .filter(object_delta::Column::State.is_not_null())
        .count(&t.db)
        .await
        .unwrap();
    assert!(checkpoints >= 6, "{checkpoints} checkpoints written");
    let verified = revy::tamper::verify(&t.db).await.unwrap();
    assert!(verified.sealed > 0, "{verified:?}");
}

backend_tests!(a_fault_at_a_checkpoint_leaves_all_or_nothing);
