//! Tracked bulk writes: the same journal as the per-row hooks, one
//! revision per call, a bounded number of statements per chunk, nothing
//! extra when tracking is off, and exact chains under concurrent writers.

use std::collections::BTreeMap;

use crate::common::entities::{account, membership};
use crate::common::{Backend, TestDb};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRng, TestRunner};
use revy::entity::{object_delta, revision};
use revy::{Action, Actor, Context, context::LazyRevision, history::ObjectSnapshot};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, ModelTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};

fn new_account(id: i32, code: &str, balance: Option<i64>) -> account::ActiveModel {
    account::ActiveModel {
        id: Set(id),
        code: Set(code.to_owned()),
        is_active: Set(true),
        balance: balance.map(Set).unwrap_or_default(),
        ..Default::default()
    }
}

/// One step of a random workload.
#[derive(Debug, Clone)]
enum Op {
    /// New rows with these ids, each with this balance, or the database's
    /// default when None (one choice per call: sea-orm's insert_many sends
    /// NULL for a column some rows leave unset and others set).
    Insert(Vec<i32>, Option<i64>),
    /// Set `name` (maybe to the value it has) on the rows with these ids.
    Rename(Vec<i32>, Option<String>),
    /// `balance = balance + n` on the rows with these ids.
    Add(Vec<i32>, i64),
    /// Delete the rows with these ids.
    Delete(Vec<i32>),
}

fn ids() -> impl Strategy<Value = Vec<i32>> {
    proptest::collection::vec(1..=12i32, 0..8)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (
            proptest::collection::vec(1..=12i32, 1..5),
            proptest::option::of(-3..3i64)
        )
            .prop_map(|(ids, balance)| Op::Insert(ids, balance)),
        (
            ids(),
            proptest::option::of(prop_oneof![Just("x"), Just("y")])
        )
            .prop_map(|(ids, n)| { Op::Rename(ids, n.map(str::to_owned)) }),
        (ids(), 0..2i64).prop_map(|(ids, n)| Op::Add(ids, n)),
        ids().prop_map(Op::Delete),
    ]
}

/// Applies `op` through the per-row hooks, one revision per op.
async fn per_row(db: &DatabaseConnection, op: &Op) {
    let txn = db.begin().await.unwrap();
    match op {
        Op::Insert(ids, balance) => {
            for id in dedup_new(&txn, ids).await {
                new_account(id, &format!("c{id}"), *balance)
                    .insert(&txn)
                    .await
                    .unwrap();
            }
        }
        Op::Rename(ids, name) => {
            for row in rows_with(&txn, ids).await {
                let mut am = row.into_active_model();
                am.name = Set(name.clone());
                am.update(&txn).await.unwrap();
            }
        }
        Op::Add(ids, n) => {
            for row in rows_with(&txn, ids).await {
                let balance = row.balance;
                let mut am = row.into_active_model();
                am.balance = Set(balance + n);
                am.update(&txn).await.unwrap();
            }
        }
        Op::Delete(ids) => {
            for row in rows_with(&txn, ids).await {
                row.delete(&txn).await.unwrap();
            }
        }
    }
    txn.commit().await.unwrap();
}

/// Applies `op` through the bulk calls, in chunks of 3 rows.
async fn bulk(db: &DatabaseConnection, op: &Op) {
    let txn = db.begin().await.unwrap();
    match op {
        Op::Insert(ids, balance) => {
            let models = dedup_new(&txn, ids)
                .await
                .into_iter()
                .map(|id| new_account(id, &format!("c{id}"), *balance));
            revy::bulk::insert_many::<account::Entity>(models)
                .chunk_size(3)
                .exec(&txn)
                .await
                .unwrap();
        }
        Op::Rename(ids, name) => {
            revy::bulk::update_many::<account::Entity>()
                .col_expr(account::Column::Name, Expr::value(name.clone()))
                .filter(account::Column::Id.is_in(ids.clone()))
                .chunk_size(3)
                .exec(&txn)
                .await
                .unwrap();
        }
        Op::Add(ids, n) => {
            revy::bulk::update_many::<account::Entity>()
                .col_expr(
                    account::Column::Balance,
                    Expr::col(account::Column::Balance).add(*n),
                )
                .filter(account::Column::Id.is_in(ids.clone()))
                .chunk_size(3)
                .exec(&txn)
                .await
                .unwrap();
        }
        Op::Delete(ids) => {
            revy::bulk::delete_many::<account::Entity>()
                .filter(account::Column::Id.is_in(ids.clone()))
                .chunk_size(3)
                .exec(&txn)
                .await
                .unwrap();
        }
    }
    txn.commit().await.unwrap();
}

/// The ids of `ids` not taken yet, each once.
async fn dedup_new<C: ConnectionTrait>(db: &C, ids: &[i32]) -> Vec<i32> {
    let mut out: Vec<i32> = Vec::new();
    for id in ids {
        if !out.contains(id)
            && account::Entity::find_by_id(*id)
                .one(db)
                .await
                .unwrap()
                .is_none()
        {
            out.push(*id);
        }
    }
    out
}

async fn rows_with<C: ConnectionTrait>(db: &C, ids: &[i32]) -> Vec<account::Model> {
    account::Entity::find()
        .filter(account::Column::Id.is_in(ids.to_vec()))
        .order_by_asc(account::Column::Id)
        .all(db)
        .await
        .unwrap()
}

/// One object delta as the test compares it: everything but ids and times,
/// its revision by description and meta, its attribute deltas by field.
type Entry = (
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    Vec<(String, String, String, String, Option<String>, String)>,
);

/// The journal per object, each object's deltas in order, and the snapshot
/// at every delta.
async fn journal(
    db: &DatabaseConnection,
) -> BTreeMap<String, Vec<(Entry, Option<account::Model>)>> {
    let revisions: BTreeMap<i64, String> = revision::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id, format!("{} {:?}", r.description, r.meta)))
        .collect();
    let mut out: BTreeMap<String, Vec<(Entry, Option<account::Model>)>> = BTreeMap::new();
    for delta in object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap()
    {
        let mut attributes: Vec<_> = crate::common::entries_of(&delta)
            .into_iter()
            .map(|a| {
                assert_eq!(a.revision_id, delta.revision_id);
                (
                    a.field_name,
                    a.old_value.to_string(),
                    a.new_value.to_string(),
                    a.action.to_string(),
                    a.actor_id,
                    a.description,
                )
            })
            .collect();
        attributes.sort();
        let snapshot = ObjectSnapshot::<account::Entity>::at(delta.id)
            .one(db)
            .await
            .unwrap();
        out.entry(delta.content_id.clone()).or_default().push((
            (
                revisions[&delta.revision_id].clone(),
                delta.actor_id,
                delta.actor_type,
                delta.action.to_string(),
                delta.description,
                attributes,
            ),
            snapshot,
        ));
    }
    out
}

async fn reset(db: &DatabaseConnection) {
    for table in ["revy_object_deltas", "revy_revisions", "accounts"] {
        // fixed table names, no values
        db.execute_unprepared(&format!("DELETE FROM {table}"))
            .await
            .unwrap();
    }
    // rows written while tracking was off: their first tracked change
    // records a baseline
    for id in 1..=6 {
        new_account(id, &format!("seed{id}"), None)
            .insert(db)
            .await
            .unwrap();
    }
}

async fn run(db: &DatabaseConnection, ops: &[Op], bulk_calls: bool) {
    for (i, op) in ops.iter().enumerate() {
        Context::via_actor(Some(Actor::new("users", i as i64 % 3)))
            .revision(LazyRevision::new())
            .revision_description(format!("op {i}"))
            .object_delta_description(format!("object {i}"))
            .attribute_delta_description(format!("attribute {i}"))
            .scope(async {
                if bulk_calls {
                    bulk(db, op).await
                } else {
                    per_row(db, op).await
                }
            })
            .await;
    }
}

async fn bulk_calls_journal_like_per_row_saves(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha),
    );
    let sequences = proptest::collection::vec(op(), 1..10);
    let mut deltas = 0;
    for case in 0..12 {
        let ops = sequences.new_tree(&mut runner).unwrap().current();
        reset(db).await;
        run(db, &ops, false).await;
        let per_row_journal = journal(db).await;
        let per_row_rows = rows_with(db, &(0..=12).collect::<Vec<_>>()).await;
        reset(db).await;
        run(db, &ops, true).await;
        let bulk_journal = journal(db).await;
        let bulk_rows = rows_with(db, &(0..=12).collect::<Vec<_>>()).await;
        assert_eq!(
            per_row_rows, bulk_rows,
            "case {case}: rows differ for {ops:?}"
        );
        assert_eq!(
            per_row_journal, bulk_journal,
            "case {case}: journals differ for {ops:?}"
        );
        deltas += per_row_journal.values().map(Vec::len).sum::<usize>();
    }
    assert!(deltas > 50, "the workloads journaled only {deltas} deltas");
    eprintln!(
        "{:?}: 12 sequences, {deltas} object deltas equal",
        t.backend
    );
}

async fn a_call_is_one_revision_with_database_filled_columns_by_the_system(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let models = (0..5).map(|i| account::ActiveModel {
        code: Set(format!("a{i}")),
        is_active: Set(true),
        ..Default::default()
    });
    let result = Context::via_actor(Some(Actor::new("users", 9)))
        .scope(
            revy::bulk::insert_many::<account::Entity>(models)
                .chunk_size(2)
                .exec(db),
        )
        .await
        .unwrap();
    let last = account::Entity::find()
        .order_by_desc(account::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(result.last_insert_id, Some(last.id));
    assert_eq!(revision::Entity::find().count(db).await.unwrap(), 1);
    let creates = object_delta::Entity::find().all(db).await.unwrap();
    assert_eq!(creates.len(), 5);
    assert!(
        creates
            .iter()
            .all(|d| d.action == Action::Create && d.actor_id.as_deref() == Some("9"))
    );
    for a in crate::common::attribute_rows(db).await {
        let by_system = a.field_name == "id" || a.field_name == "balance" || a.field_name == "name";
        assert_eq!(a.actor_id.is_none(), by_system, "{a:?}");
    }
    // an update that changes nothing writes nothing
    let unchanged = Context::new()
        .scope(
            revy::bulk::update_many::<account::Entity>()
                .col_expr(account::Column::IsActive, Expr::value(true))
                .exec(db),
        )
        .await
        .unwrap();
    assert_eq!(object_delta::Entity::find().count(db).await.unwrap(), 5);
    assert!(unchanged.rows_affected <= 5);
    // delete_by_id: one Delete, restorable
    let gone = Context::new()
        .scope(revy::bulk::delete_by_id::<account::Entity>(last.id).exec(db))
        .await
        .unwrap();
    assert_eq!(gone.rows_affected, 1);
    let delete = object_delta::Entity::find()
        .filter(object_delta::Column::Action.eq(Action::Delete))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        revy::rollback::restore::<account::Entity>(delete.id)
            .exec(db)
            .await
            .unwrap(),
        last
    );
    // a key column cannot be set
    let err = Context::new()
        .scope(
            revy::bulk::update_many::<account::Entity>()
                .col_expr(account::Column::Id, Expr::value(99))
                .exec(db),
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("key column id"), "{err}");
}

async fn statements(t: &TestDb, work: impl std::future::Future<Output = ()>) -> usize {
    t.take_statement_count();
    work.await;
    t.take_statement_count()
}

async fn statements_grow_with_chunks_not_rows(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let mut counts = Vec::new();
    // (rows, chunk): the count must be the same for 10/10 and 40/40, and
    // grow by the same step per extra chunk
    for (rows, chunk) in [(10, 10), (40, 40), (20, 10), (40, 10)] {
        let base = rows * 100;
        let models = (0..rows).map(|i| new_account(base + i, "n", None));
        let insert = statements(&t, async {
            Context::new()
                .scope(
                    revy::bulk::insert_many::<account::Entity>(models)
                        .chunk_size(chunk as u64)
                        .exec(db),
                )
                .await
                .unwrap();
        })
        .await;
        let in_range = account::Column::Id.between(base, base + rows - 1);
        let update = statements(&t, async {
            Context::new()
                .scope(
                    revy::bulk::update_many::<account::Entity>()
                        .col_expr(
                            account::Column::Balance,
                            Expr::col(account::Column::Balance).add(1),
                        )
                        .col_expr(account::Column::Name, Expr::value("renamed"))
                        .filter(in_range.clone())
                        .chunk_size(chunk as u64)
                        .exec(db),
                )
                .await
                .unwrap();
        })
        .await;
        let delete = statements(&t, async {
            Context::new()
                .scope(
                    revy::bulk::delete_many::<account::Entity>()
                        .filter(in_range.clone())
                        .chunk_size(chunk as u64)
                        .exec(db),
                )
                .await
                .unwrap();
        })
        .await;
        counts.push([insert, update, delete]);
    }
    eprintln!(
        "{:?}: statements [insert, update, delete] for 10/10, 40/40, 20/10, 40/10: {counts:?}",
        t.backend
    );
    assert_eq!(
        counts[0], counts[1],
        "statements grew with rows at one chunk"
    );
    // the pinned counts per chunk. insert: the insert (returning its
    // rows), the object deltas with their entries inline; update: the
    // locked read, the update (returning), the journal's known-rows check,
    // the object deltas; delete: the locked read, the known-rows check,
    // the object deltas, the delete. An insert on SQLite and MySQL reads
    // the rows' newest versions before it writes their object deltas
    // (PostgreSQL reads them in that statement); an update or delete
    // takes them from the known-rows check, which on MySQL is a locking
    // read (current). MySQL has no RETURNING: it reads the rows back too.
    let per_chunk = match t.backend {
        Backend::MySql => [4, 5, 4],
        Backend::Sqlite => [3, 4, 4],
        _ => [2, 4, 4],
    };
    let ops = ["insert", "update", "delete"];
    for (op, per_chunk) in ops.iter().zip(per_chunk).enumerate() {
        let (name, per_chunk) = per_chunk;
        let [one_chunk, ten_rows_more, thirty_rows_more] =
            [counts[0][op], counts[2][op], counts[3][op]];
        assert_eq!(
            ten_rows_more - one_chunk,
            per_chunk,
            "{name}: one more chunk"
        );
        assert_eq!(
            thirty_rows_more - ten_rows_more,
            2 * per_chunk,
            "{name}: two more chunks"
        );
    }
}

async fn tracking_off_is_the_plain_statement(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    for id in 1..=3 {
        new_account(id, "x", None).insert(db).await.unwrap();
    }
    let n = statements(&t, async {
        Context::as_disabled()
            .scope(
                revy::bulk::update_many::<account::Entity>()
                    .col_expr(account::Column::Name, Expr::value("off"))
                    .exec(db),
            )
            .await
            .unwrap();
    })
    .await;
    assert_eq!(n, 1);
    let n = statements(&t, async {
        // outside any context too
        revy::bulk::delete_many::<account::Entity>()
            .filter(account::Column::Id.eq(1))
            .exec(db)
            .await
            .unwrap();
        revy::bulk::insert_many::<account::Entity>([new_account(7, "y", None)])
            .exec(db)
            .await
            .unwrap();
    })
    .await;
    assert!(
        n <= 2 + usize::from(t.backend == Backend::MySql),
        "{n} statements"
    );
    assert_eq!(object_delta::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(
        account::Entity::find()
            .filter(account::Column::Name.eq("off"))
            .count(db)
            .await
            .unwrap(),
        2
    );
}

/// Runs `attempt` until it is not a deadlock: MySQL and PostgreSQL end one
/// of two transactions that wait on each other, which rolls back whole; an
/// application retries it.
async fn retried<F, Fut>(attempt: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<(), sea_orm::DbErr>>,
{
    for _ in 0..50 {
        match attempt().await {
            Ok(()) => return,
            Err(e) if e.to_string().to_lowercase().contains("deadlock") => {
                tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            }
            Err(e) => panic!("{e}"),
        }
    }
    panic!("still deadlocked after 50 tries");
}

/// A tracked `update_many` racing per-row updates of the same rows: every
/// row's snapshot at its newest delta equals the row, and each column's
/// chain of attribute deltas has no gap.
async fn update_many_races_per_row_updates(t: TestDb) {
    if t.backend == Backend::Sqlite {
        return; // one writer at a time: nothing races
    }
    t.create_table(account::Entity).await;
    let db = t.db.clone();
    let rows = 40;
    revy::bulk::insert_many::<account::Entity>((1..=rows).map(|id| new_account(id, "r", Some(0))))
        .exec(&db)
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for round in 0..4 {
        let bulk_db = db.clone();
        tasks.push(tokio::spawn(async move {
            let db = bulk_db;
            Context::via_actor(Some(Actor::new("bulk", round)))
                .scope(retried(|| async {
                    revy::bulk::update_many::<account::Entity>()
                        .col_expr(
                            account::Column::Balance,
                            Expr::col(account::Column::Balance).add(1),
                        )
                        .chunk_size(7)
                        .exec(&db)
                        .await
                        .map(|_| ())
                        .map_err(sea_orm::DbErr::from)
                }))
                .await
        }));
        for id in (1..=rows).filter(|id| id % 4 == round) {
            let db = db.clone();
            tasks.push(tokio::spawn(async move {
                Context::via_actor(Some(Actor::new("row", id as i64)))
                    .scope(retried(|| async {
                        let txn = db.begin().await?;
                        let row = account::Entity::find_by_id(id).one(&txn).await?.unwrap();
                        let mut am = row.into_active_model();
                        am.name = Set(Some(format!("n{round}")));
                        am.balance = Set(1000 + i64::from(round));
                        am.update(&txn).await?;
                        txn.commit().await
                    }))
                    .await
            }));
        }
    }
    for task in tasks {
        task.await.unwrap();
    }
    let attributes = crate::common::attribute_rows(&db).await;
    for row in rows_with(&db, &(1..=rows).collect::<Vec<_>>()).await {
        let content_id = row.id.to_string();
        let deltas = account_deltas(&db, &content_id).await;
        let newest = deltas.last().expect("the row has deltas");
        let snapshot = ObjectSnapshot::<account::Entity>::at(newest.id)
            .one(&db)
            .await
            .unwrap();
        assert_eq!(snapshot.as_ref(), Some(&row), "row {content_id}");
        // whichever writer won each lock, the row's versions count up
        // from 1 in written order, none taken twice or skipped
        let versions: Vec<i64> = deltas.iter().map(|d| d.version).collect();
        let expected: Vec<i64> = (1..=versions.len() as i64).collect();
        assert_eq!(versions, expected, "row {content_id}");
        assert_whole_chain(
            &attributes,
            &content_id,
            "balance",
            serde_json::json!(row.balance),
        );
    }
}

/// The object deltas of the account `content_id`, in written order.
async fn account_deltas(db: &DatabaseConnection, content_id: &str) -> Vec<object_delta::Model> {
    object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("accounts"))
        .filter(object_delta::Column::ContentId.eq(content_id))
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap()
}

/// The attribute deltas of one column of the account `content_id`, in
/// written order (object delta id, then position in the delta): each
/// starts from the value the one before it left, and the last leaves
/// `newest`.
fn assert_whole_chain(
    attributes: &[crate::common::AttributeRow],
    content_id: &str,
    column: &str,
    newest: serde_json::Value,
) {
    let chain: Vec<_> = attributes
        .iter()
        .filter(|a| a.content_id == content_id && a.field_name == column)
        .collect();
    for pair in chain.windows(2) {
        assert_eq!(
            pair[0].new_value, pair[1].old_value,
            "row {content_id}: a gap in its {column} chain"
        );
    }
    assert_eq!(
        chain.last().map(|a| a.new_value.clone()),
        Some(newest),
        "row {content_id}: {column}"
    );
}

/// A `delete_many` (chunks of 7) racing per-row updates of the same 40
/// rows, half of them first written untracked: every row ends deleted
/// with exactly one `Delete`, and the journal before it holds each row as
/// it was deleted (its restore equals the newest values of its chains, and
/// the chains have no gap), whichever writer won each row's lock.
async fn delete_many_races_per_row_updates(t: TestDb) {
    if t.backend == Backend::Sqlite {
        return; // one writer at a time: nothing races
    }
    t.create_table(account::Entity).await;
    let db = t.db.clone();
    let rows = 40;
    for id in 1..=rows {
        let row = new_account(id, "r", Some(0));
        if id % 2 == 0 {
            row.insert(&db).await.unwrap(); // untracked: a baseline at its first change
        } else {
            Context::new().scope(row.insert(&db)).await.unwrap();
        }
    }
    let mut tasks = Vec::new();
    let bulk_db = db.clone();
    tasks.push(tokio::spawn(async move {
        let db = bulk_db;
        Context::via_actor(Some(Actor::new("bulk", 1)))
            .scope(retried(|| async {
                revy::bulk::delete_many::<account::Entity>()
                    .filter(account::Column::Balance.gte(0))
                    .chunk_size(7)
                    .exec(&db)
                    .await
                    .map(|_| ())
                    .map_err(sea_orm::DbErr::from)
            }))
            .await
    }));
    for id in 1..=rows {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            Context::via_actor(Some(Actor::new("row", id as i64)))
                .scope(retried(|| async {
                    let txn = db.begin().await?;
                    let found = account::Entity::find_by_id(id)
                        .lock_exclusive()
                        .one(&txn)
                        .await?;
                    if let Some(row) = found {
                        let mut am = row.into_active_model();
                        am.name = Set(Some(format!("n{id}")));
                        am.balance = Set(1000 + i64::from(id));
                        am.update(&txn).await?;
                    }
                    txn.commit().await
                }))
                .await
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert!(
        rows_with(&db, &(1..=rows).collect::<Vec<_>>())
            .await
            .is_empty()
    );
    let attributes = crate::common::attribute_rows(&db).await;
    for id in 1..=rows {
        let content_id = id.to_string();
        let deltas = account_deltas(&db, &content_id).await;
        let deletes: Vec<_> = deltas
            .iter()
            .filter(|d| d.action == Action::Delete)
            .collect();
        assert_eq!(deletes.len(), 1, "row {content_id}: {deltas:?}");
        assert_eq!(deltas.last().map(|d| d.id), Some(deletes[0].id));
        let back = revy::rollback::restore::<account::Entity>(deletes[0].id)
            .exec(&db)
            .await
            .unwrap();
        for (column, value) in [
            ("balance", serde_json::json!(back.balance)),
            ("name", serde_json::json!(back.name)),
        ] {
            assert_whole_chain(&attributes, &content_id, column, value);
        }
    }
}

/// A composite key: pages walk `(user_id, group_id)` in order across
/// chunks, rows are named by key tuples, content ids are JSON arrays; the
/// rows `exec_with_returning` gives back are the rows stored.
async fn composite_keys_page_and_journal(t: TestDb) {
    t.create_table(membership::Entity).await;
    let db = &t.db;
    let members = (1..=4).flat_map(|user| {
        ["admins", "devs", "ops"].map(move |group| membership::ActiveModel {
            user_id: Set(user),
            group_id: Set(group.to_owned()),
            role: Set("member".to_owned()),
        })
    });
    let inserted = Context::new()
        .scope(
            revy::bulk::insert_many::<membership::Entity>(members)
                .chunk_size(5)
                .exec_with_returning(db),
        )
        .await
        .unwrap();
    let mut stored = membership::Entity::find().all(db).await.unwrap();
    let mut returned = inserted.clone();
    let key = |m: &membership::Model| (m.user_id, m.group_id.clone());
    stored.sort_by_key(key);
    returned.sort_by_key(key);
    assert_eq!(returned, stored);
    let promoted = Context::new()
        .scope(
            revy::bulk::update_many::<membership::Entity>()
                .set(membership::ActiveModel {
                    role: Set("lead".to_owned()),
                    ..Default::default()
                })
                .filter(membership::Column::GroupId.ne("ops"))
                .chunk_size(3)
                .exec(db),
        )
        .await
        .unwrap();
    assert_eq!(promoted.rows_affected, 8);
    let updates = object_delta::Entity::find()
        .filter(object_delta::Column::Action.eq(Action::Update))
        .all(db)
        .await
        .unwrap();
    let mut ids: Vec<String> = updates.into_iter().map(|d| d.content_id).collect();
    ids.sort();
    assert_eq!(ids.len(), 8);
    assert_eq!(ids[0], r#"[1,"admins"]"#);
    let gone = Context::new()
        .scope(revy::bulk::delete_by_id::<membership::Entity>((2, "devs".to_owned())).exec(db))
        .await
        .unwrap();
    assert_eq!(gone.rows_affected, 1);
    let deleted = Context::new()
        .scope(
            revy::bulk::delete_many::<membership::Entity>()
                .chunk_size(2)
                .exec(db),
        )
        .await
        .unwrap();
    assert_eq!(deleted.rows_affected, 11);
    assert_eq!(
        object_delta::Entity::find()
            .filter(object_delta::Column::Action.eq(Action::Delete))
            .count(db)
            .await
            .unwrap(),
        12
    );
}

/// Bulk updates write checkpoints as the hooks do: the delta that takes a
/// row to version 17 holds its whole state (checked against the fold after
/// every test, see `common`), a row that got a baseline first counts it.
async fn bulk_updates_write_checkpoints(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    Context::new()
        .scope(
            revy::bulk::insert_many::<account::Entity>((1..=3).map(|i| new_account(i, "n", None)))
                .exec(db),
        )
        .await
        .unwrap();
    // row 4 written untracked: its first tracked update writes a baseline
    new_account(4, "n", None).insert(db).await.unwrap();
    for round in 2..=17 {
        Context::new()
            .scope(
                revy::bulk::update_many::<account::Entity>()
                    .col_expr(account::Column::Balance, Expr::value(round))
                    .filter(account::Column::Id.between(1, 4))
                    .chunk_size(2)
                    .exec(db),
            )
            .await
            .unwrap();
    }
    let mut checkpoints: Vec<(String, i64)> = object_delta::Entity::find()
        .filter(object_delta::Column::State.is_not_null())
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.content_id, d.version))
        .collect();
    checkpoints.sort();
    assert_eq!(
        checkpoints,
        [
            ("1".into(), 17),
            ("2".into(), 17),
            ("3".into(), 17),
            ("4".into(), 17)
        ]
    );
}

backend_tests!(
    bulk_updates_write_checkpoints,
    composite_keys_page_and_journal,
    bulk_calls_journal_like_per_row_saves,
    a_call_is_one_revision_with_database_filled_columns_by_the_system,
    statements_grow_with_chunks_not_rows,
    tracking_off_is_the_plain_statement,
    update_many_races_per_row_updates,
    delete_many_races_per_row_updates,
);
