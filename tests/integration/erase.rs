//! Issue 29: erasure. `revy::lifecycle::erase` removes a person's values from every
//! delta of their row (entries, checkpoints, pruned checkpoints), records
//! the erasure, keeps tamper evidence verifiable, and loses nothing a
//! concurrent writer writes.

use revy::entity::{erasure, object_delta, revision};
use revy::history::HistoryError;
use revy::rollback::RollbackError;
use revy::tamper::TamperError;
use revy::{
    Actor, Context, Error, error::JournalError, history::FieldValue, history::ObjectSnapshot,
};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, ModelTrait, QueryFilter, QueryOrder, Set,
};

use crate::common::TestDb;

pub mod person {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "people")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub email: String,
        pub name: Option<String>,
        pub visits: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }

    impl revy::TrackingPolicy for Entity {
        fn policy() -> revy::Policy<Self> {
            revy::Policy::new()
                .personal(Column::Email)
                .personal(Column::Name)
        }
    }
}

/// The values a person asked to be forgotten.
const SECRETS: [&str; 4] = [
    "ann.private@example.org",
    "Ann Secretname",
    "ann.second@example.org",
    "Annie Secretname",
];

async fn sealed<F: std::future::Future>(work: F) -> F::Output {
    revy::tamper::scope(true, work).await
}

async fn add(db: &DatabaseConnection, id: i32) -> person::Model {
    Context::new()
        .scope(
            person::ActiveModel {
                id: Set(id),
                email: Set(SECRETS[0].into()),
                name: Set(Some(SECRETS[1].into())),
                visits: Set(0),
            }
            .insert(db),
        )
        .await
        .unwrap()
}

async fn change<C: ConnectionTrait>(
    db: &C,
    id: i32,
    f: impl FnOnce(&mut person::ActiveModel),
) -> Result<(), sea_orm::DbErr> {
    let mut am = person::Entity::find_by_id(id)
        .one(db)
        .await?
        .unwrap()
        .into_active_model();
    f(&mut am);
    am.update(db).await.map(|_| ())
}

/// Ann's life: her email and name change once, she visits 20 times (a
/// checkpoint every 16 versions holds her whole row), and her live row is
/// cleared before she is erased.
async fn ann(db: &DatabaseConnection, id: i32) {
    add(db, id).await;
    let by_ann = || Context::via_actor(Some(Actor::new("people", id)));
    by_ann()
        .scope(change(db, id, |am| {
            am.email = Set(SECRETS[2].into());
            am.name = Set(Some(SECRETS[3].into()));
        }))
        .await
        .unwrap();
    // in transactions, where the writer also keeps checkpoints
    for n in 1..=20 {
        let txn = crate::common::begin(db).await.unwrap();
        Context::new()
            .scope(change(&txn, id, |am| am.visits = Set(n)))
            .await
            .unwrap();
        txn.commit().await.unwrap();
    }
}

async fn clear(db: &DatabaseConnection, id: i32) {
    Context::new()
        .scope(change(db, id, |am| {
            am.email = Set("forgotten@invalid".into());
            am.name = Set(None);
        }))
        .await
        .unwrap();
}

/// Every column of every journal row, as text.
async fn journal_text(db: &DatabaseConnection) -> String {
    let deltas = object_delta::Entity::find().all(db).await.unwrap();
    let revisions = revision::Entity::find().all(db).await.unwrap();
    let erasures = erasure::Entity::find().all(db).await.unwrap();
    let tags = revy::entity::tag::Entity::find().all(db).await.unwrap();
    format!("{deltas:?}{revisions:?}{erasures:?}{tags:?}")
}

fn assert_none_of_the_secrets(text: &str, what: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} still holds {secret:?}");
    }
}

/// The values of email and name the deltas hold: entries' old and new
/// values and checkpoint states' values that are neither NULL nor a marker.
fn personal_values(deltas: &[object_delta::Model]) -> u64 {
    let counts = |v: &serde_json::Value| !v.is_null() && !revy::lifecycle::is_erased(v);
    let mut n = 0;
    for d in deltas {
        for e in d.attribute_deltas().unwrap() {
            if e.field_name == "email" || e.field_name == "name" {
                n += u64::from(counts(&e.old_value)) + u64::from(counts(&e.new_value));
            }
        }
        if let Some(state) = &d.state {
            let state: serde_json::Value = serde_json::from_str(state).unwrap();
            for column in ["email", "name"] {
                n += u64::from(counts(&state[column][0]));
            }
        }
    }
    n
}

async fn deltas_of(db: &DatabaseConnection, id: i32) -> Vec<object_delta::Model> {
    object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("people"))
        .filter(object_delta::Column::ContentId.eq(id.to_string()))
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap()
}

/// After the erasure no byte of the journal, nor of an export written
/// after it, holds an erased value; `verify` passes; history entries,
/// snapshots and blame show the values as erased; the erasure is recorded.
async fn an_erased_person_leaves_no_value_behind(t: TestDb) {
    t.create_table(person::Entity).await;
    let db = &t.db;
    sealed(async {
        ann(db, 1).await;
        ann(db, 2).await;
        clear(db, 1).await;
    })
    .await;
    assert!(journal_text(db).await.contains(SECRETS[0]));
    let checkpoints = deltas_of(db, 1)
        .await
        .iter()
        .filter(|d| d.state.is_some())
        .count();
    assert!(checkpoints >= 1, "the history crosses a checkpoint");

    let expected = personal_values(&deltas_of(db, 1).await);
    let done = sealed(
        Context::via_actor(Some(Actor::new("staff", 7))).scope(
            revy::lifecycle::erase::<person::Entity>(1)
                .reason("GDPR request 4711")
                .exec(db),
        ),
    )
    .await
    .unwrap();
    assert_eq!(done.columns, ["email", "name"]);
    // create: email, name; the change: old and new of both; the clear: old
    // of both and the new email; each checkpoint's two values
    assert_eq!(expected, 2 + 4 + 3 + 2 * checkpoints as u64);
    assert_eq!(done.values, expected);
    assert_eq!(personal_values(&deltas_of(db, 1).await), 0);

    // the other person keeps her values: only row 1 was erased
    let text = journal_text(db).await;
    assert!(text.contains(SECRETS[0]), "row 2 keeps its history");
    let history = deltas_of(db, 1).await;
    let one: String = format!("{history:?}");
    assert_none_of_the_secrets(&one, "row 1's deltas");
    // every value of the columns is erased, the placeholder too; the
    // other columns keep theirs
    assert!(!one.contains("forgotten@invalid"));
    assert!(history.iter().any(|d| d.changes == r#"[["visits",19,20]]"#));

    // the erasure is recorded, without values
    let record = erasure::Entity::find().one(db).await.unwrap().unwrap();
    assert_eq!(record.actor(), Some(Actor::new("staff", 7)));
    assert_eq!(
        (record.content_type.as_str(), record.content_id.as_str()),
        ("people", "1")
    );
    assert_eq!(record.column_names(), ["email", "name"]);
    assert_eq!(record.deltas, done.deltas as i64);
    let rev = record
        .find_related(revision::Entity)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rev.description, "GDPR request 4711");

    // tamper evidence still verifies the whole journal, the erasure's own
    // delta sealed too
    let v = revy::tamper::verify(db).await.unwrap();
    assert_eq!(v.unsealed, 0);

    // history entries show the values as erased, the facts as they were
    let entries = revy::history::of::<person::Entity>(1)
        .entries(db)
        .await
        .unwrap();
    let renamed = entries
        .iter()
        .find(|e| e.actor == Some(Actor::new("people", 1)))
        .unwrap();
    let email = renamed
        .changes
        .iter()
        .find(|c| c.column == "email")
        .unwrap();
    assert_eq!(
        (&email.old, &email.new),
        (&FieldValue::Erased, &FieldValue::Erased)
    );
    // blame still names who set the column, and shows no value
    let blame = revy::history::blame::<person::Entity>(1)
        .all(db)
        .await
        .unwrap();
    let visits = blame.iter().find(|b| b.column == "visits").unwrap();
    assert_eq!(
        visits.value,
        FieldValue::Value(sea_orm::Value::Int(Some(20)))
    );
    let history = deltas_of(db, 1).await;
    let at_rename = history.iter().find(|d| d.version == 2).unwrap();
    let blame = revy::history::blame::<person::Entity>(1)
        .at(at_rename.id)
        .all(db)
        .await
        .unwrap();
    let email = blame.iter().find(|b| b.column == "email").unwrap();
    assert_eq!(email.value, FieldValue::Erased);
    assert_eq!(email.actor, Some(Actor::new("people", 1)));
    // a snapshot of the live row takes its current value for an erased column
    let snap = ObjectSnapshot::<person::Entity>::at(at_rename.id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snap.email, "forgotten@invalid");
    assert_eq!(snap.name, None);
    assert_eq!(snap.visits, 0);

    // an export written after the erasure holds none of the values
    let mut export = Vec::new();
    revy::lifecycle::prune()
        .keep_last(1)
        .content_type("people")
        .export(&mut export)
        .exec(db)
        .await
        .unwrap();
    let exported = String::from_utf8(export).unwrap();
    assert!(exported.contains("\"erased\""), "{exported:.300}");
    let ones: String = exported
        .lines()
        .filter(|l| l.contains(r#""content_id":"1""#))
        .collect();
    assert!(!ones.is_empty());
    assert_none_of_the_secrets(&ones, "the export of row 1");
    revy::tamper::verify(db).await.unwrap();

    // an erasure cannot be undone
    match revy::rollback::undo_revision(done.revision_ids[0])
        .exec(db)
        .await
    {
        Err(Error::Rollback(e)) => match *e {
            RollbackError::ErasureIsFinal { revision_id } => {
                assert_eq!(revision_id, done.revision_ids[0])
            }
            other => panic!("expected ErasureIsFinal, got {other:?}"),
        },
        other => panic!("expected ErasureIsFinal, got {other:?}"),
    }

    // a second erasure of the same row finds nothing left to erase
    let again = revy::lifecycle::erase::<person::Entity>(1)
        .exec(db)
        .await
        .unwrap();
    assert_eq!((again.deltas, again.values), (0, 0));

    // many rows at once, in transactions of two: one revision each
    for id in 3..=5 {
        sealed(ann(db, id)).await;
    }
    let mut expected = 0;
    for id in 2..=5 {
        expected += personal_values(&deltas_of(db, id).await);
    }
    let many = sealed(
        revy::lifecycle::erase_all::<person::Entity>([2, 3, 4, 5])
            .chunk_size(2)
            .exec(db),
    )
    .await
    .unwrap();
    assert_eq!(
        (
            many.objects,
            many.revision_ids.len(),
            many.erasure_ids.len()
        ),
        (4, 2, 4)
    );
    assert_eq!(many.values, expected);
    assert_none_of_the_secrets(&journal_text(db).await, "the journal");
    revy::tamper::verify(db).await.unwrap();
}

/// `verify` still names a raw-SQL edit made after an erasure: of a value
/// kept, of an erased value's marker, and a value replaced by a marker
/// without an erasure's digest.
async fn verify_names_edits_after_an_erasure(t: TestDb) {
    t.create_table(person::Entity).await;
    let db = &t.db;
    sealed(async {
        ann(db, 1).await;
        clear(db, 1).await;
    })
    .await;
    revy::lifecycle::erase::<person::Entity>(1)
        .columns([person::Column::Email])
        .exec(db)
        .await
        .unwrap();
    revy::tamper::verify(db).await.unwrap();
    let history = deltas_of(db, 1).await;
    let set = |id: i64, changes: String| {
        object_delta::Entity::update_many()
            .col_expr(object_delta::Column::Changes, Expr::val(changes))
            .filter(object_delta::Column::Id.eq(id))
            .exec(db)
    };
    let named = |r: Result<revy::tamper::Verified, Error>| match r {
        Err(Error::Tamper(e)) => match *e {
            TamperError::Tampered {
                object_delta_id, ..
            } => object_delta_id,
            other => panic!("expected a finding, got {other:?}"),
        },
        other => panic!("expected a finding, got {other:?}"),
    };
    // the rename: its name values were kept, its email values erased
    let rename = &history[1];
    let kept = rename.changes.clone();
    assert!(
        kept.contains(SECRETS[3]) && kept.contains("erased"),
        "{kept}"
    );
    set(rename.id, kept.replace(SECRETS[3], "Mallory"))
        .await
        .unwrap();
    assert_eq!(named(revy::tamper::verify(db).await), rename.id);
    set(rename.id, kept.clone()).await.unwrap();
    revy::tamper::verify(db).await.unwrap();
    // a name value replaced by a marker by hand: no digest stands for it
    set(
        rename.id,
        kept.replace(&format!("\"{}\"", SECRETS[3]), r#"{"revy":"erased"}"#),
    )
    .await
    .unwrap();
    assert_eq!(named(revy::tamper::verify(db).await), rename.id);
    set(rename.id, kept.clone()).await.unwrap();
    // an erased email put back as a value
    let create = &history[0];
    let created = create.changes.clone();
    let forged = created.replacen(r#"{"revy":"erased"}"#, "\"ann@elsewhere\"", 1);
    assert_ne!(forged, created);
    set(create.id, forged).await.unwrap();
    assert_eq!(named(revy::tamper::verify(db).await), create.id);
    set(create.id, created).await.unwrap();
    revy::tamper::verify(db).await.unwrap();
}

/// A deleted row, and one whose history was pruned into a checkpoint, are
/// erased too; a snapshot of a deleted row without the value gives NULL
/// for a nullable column and names the column for one that is not.
async fn erasing_deleted_and_pruned_rows(t: TestDb) {
    t.create_table(person::Entity).await;
    let db = &t.db;
    sealed(async {
        ann(db, 1).await;
        ann(db, 2).await;
        clear(db, 2).await;
    })
    .await;
    // row 1 deleted as it is
    let one = person::Entity::find_by_id(1)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    sealed(Context::new().scope(one.delete(db))).await.unwrap();
    // row 2's history folded into a checkpoint
    revy::lifecycle::prune()
        .keep_last(2)
        .content_type("people")
        .exec(db)
        .await
        .unwrap();
    assert!(
        deltas_of(db, 2).await[0].seal.is_some(),
        "a sealed checkpoint"
    );

    for id in [1, 2] {
        let done = revy::lifecycle::erase::<person::Entity>(id)
            .exec(db)
            .await
            .unwrap();
        assert!(done.values > 0, "row {id}");
    }
    assert_none_of_the_secrets(&journal_text(db).await, "the journal");
    revy::tamper::verify(db).await.unwrap();

    // the deleted row: email has no default and is not nullable
    let first = deltas_of(db, 1).await[0].id;
    match ObjectSnapshot::<person::Entity>::at(first).one(db).await {
        Err(Error::History(e)) => match *e {
            HistoryError::ErasedValue { table, column, key } => {
                assert_eq!(
                    (table.as_str(), column.as_str(), key.as_str()),
                    ("people", "email", "1")
                );
            }
            other => panic!("expected ErasedValue, got {other:?}"),
        },
        other => panic!("expected ErasedValue, got {other:?}"),
    }
    // only the name erased from a deleted row: the snapshot has NULL for it
    sealed(async {
        add(db, 3).await;
        let three = person::Entity::find_by_id(3)
            .one(db)
            .await
            .unwrap()
            .unwrap();
        Context::new().scope(three.delete(db)).await.unwrap();
    })
    .await;
    revy::lifecycle::erase::<person::Entity>(3)
        .columns([person::Column::Name])
        .exec(db)
        .await
        .unwrap();
    let first = deltas_of(db, 3).await[0].id;
    let snap = ObjectSnapshot::<person::Entity>::at(first)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((snap.email.as_str(), snap.name), (SECRETS[0], None));
    // the key cannot be erased
    assert!(matches!(
        revy::lifecycle::erase::<person::Entity>(3)
            .columns([person::Column::Id])
            .exec(db)
            .await,
        Err(Error::Journal(e)) if matches!(*e, JournalError::Policy { .. })
    ));
}

/// One more visit: a locked read, then the update.
async fn visit<C: ConnectionTrait>(db: &C, id: i32) -> Result<(), sea_orm::DbErr> {
    use sea_orm::QuerySelect;
    let row = person::Entity::find_by_id(id)
        .lock_exclusive()
        .one(db)
        .await?
        .unwrap();
    let visits = row.visits;
    let mut am = row.into_active_model();
    am.visits = Set(visits + 1);
    am.update(db).await.map(|_| ())
}

/// Writers of the same row while it is erased: every write is recorded
/// and no erased value is left behind.
async fn concurrent_writes_during_an_erasure(t: TestDb) {
    t.create_table(person::Entity).await;
    let db = &t.db;
    sealed(async {
        ann(db, 1).await;
        clear(db, 1).await;
    })
    .await;
    let before = deltas_of(db, 1).await.len();
    const WRITERS: i32 = 3;
    const EACH: i32 = 10;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let db = db.clone();
        tasks.push(tokio::spawn(sealed(async move {
            for _ in 0..EACH {
                loop {
                    let txn = crate::common::begin(&db).await.unwrap();
                    let done = Context::new().scope(visit(&txn, 1)).await;
                    match done {
                        Ok(()) => match txn.commit().await {
                            Ok(()) => break,
                            Err(e) if crate::tamper::retryable(&e) => continue,
                            Err(e) => panic!("writer {w}: {e}"),
                        },
                        Err(e) if crate::tamper::retryable(&e) => {
                            let _ = txn.rollback().await;
                        }
                        Err(e) => panic!("writer {w}: {e}"),
                    }
                }
            }
        })));
    }
    let eraser = {
        let db = db.clone();
        tokio::spawn(async move {
            for _ in 0..3 {
                loop {
                    match revy::lifecycle::erase::<person::Entity>(1).exec(&db).await {
                        Ok(_) => break,
                        Err(Error::Db(e)) if crate::tamper::retryable(&e) => continue,
                        Err(e) => panic!("erase: {e}"),
                    }
                }
                tokio::task::yield_now().await;
            }
        })
    };
    for task in tasks {
        task.await.unwrap();
    }
    eraser.await.unwrap();
    let live = person::Entity::find_by_id(1)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.visits, 20 + WRITERS * EACH, "no write was lost");
    let history = deltas_of(db, 1).await;
    assert_eq!(
        history.len(),
        before + (WRITERS * EACH) as usize,
        "each write recorded"
    );
    assert_none_of_the_secrets(&format!("{history:?}"), "row 1's deltas");
    revy::tamper::verify(db).await.unwrap();
}

/// A fault at any statement of an erasure leaves the journal as it was.
async fn an_erasure_is_all_or_nothing(t: TestDb) {
    t.create_table(person::Entity).await;
    let db = &t.db;
    crate::faults::install_fault_budget(db).await;
    let mut tried = 0;
    let targets = [
        ("revy_revisions", "INSERT"),
        ("revy_object_deltas", "UPDATE"),
        ("revy_erasures", "INSERT"),
        ("revy_object_deltas", "INSERT"),
    ];
    for (id, (table, event)) in (1..).zip(targets) {
        sealed(async {
            ann(db, id).await;
            clear(db, id).await;
        })
        .await;
        let before = journal_text(db).await;
        let mut budget = 0;
        loop {
            crate::faults::arm_on(db, table, event, budget).await;
            let result = revy::lifecycle::erase::<person::Entity>(id).exec(db).await;
            crate::faults::disarm(db, table).await;
            match result {
                Err(e) => {
                    assert!(e.to_string().contains("injected fault"), "{e}");
                    assert_eq!(
                        journal_text(db).await,
                        before,
                        "{event} {table} at {budget}"
                    );
                    tried += 1;
                    budget += 1;
                }
                Ok(done) => {
                    assert!(done.values > 0);
                    break;
                }
            }
        }
    }
    // one revision, every rewritten delta (the create, the change, the
    // clear, a checkpoint), one erasure row, the erasure's own delta
    assert!(tried >= 7, "fault points tried: {tried}");
    assert_none_of_the_secrets(&journal_text(db).await, "the journal");
    revy::tamper::verify(db).await.unwrap();
}

/// Copies what the feed delivers into `replica`'s journal, applying the
/// erasures it carries; the feed's cursor after.
async fn copy_feed(
    db: &DatabaseConnection,
    replica: &DatabaseConnection,
    feed: &mut revy::feed::Feed,
) -> u64 {
    use sea_orm::TransactionTrait;
    let mut erased = 0;
    loop {
        let batch = feed.next_batch(db).await.unwrap();
        if batch.is_empty() {
            return erased;
        }
        for delivered in batch {
            let txn = replica.begin().await.unwrap();
            revision::Entity::insert(revision::ActiveModel::from(delivered.revision.clone()))
                .on_conflict_do_nothing_on([revision::Column::Id])
                .exec_without_returning(&txn)
                .await
                .unwrap();
            for delta in &delivered.deltas {
                object_delta::Entity::insert(object_delta::ActiveModel::from(delta.object.clone()))
                    .on_conflict_do_nothing_on([object_delta::Column::Id])
                    .exec_without_returning(&txn)
                    .await
                    .unwrap();
                if let Some(erasure) = revy::lifecycle::Erasure::of(&delta.object).unwrap() {
                    erased += erasure.apply(&txn).await.unwrap();
                }
            }
            txn.commit().await.unwrap();
        }
    }
}

/// The change feed carries the erasure in order with everything else: a
/// replica that copied the journal before erases its copy too, and the
/// erasure's own delta is sealed like any other.
async fn a_replica_fed_by_the_feed_erases_too(t: TestDb) {
    t.create_table(person::Entity).await;
    let db = &t.db;
    let replica = sea_orm::Database::connect("sqlite::memory:").await.unwrap();
    revy::install(&replica).await.unwrap();
    sealed(async {
        ann(db, 1).await;
        clear(db, 1).await;
    })
    .await;
    let mut feed = revy::feed::Feed::from_cursor(0).gap_grace(std::time::Duration::ZERO);
    assert_eq!(copy_feed(db, &replica, &mut feed).await, 0);
    assert!(journal_text(&replica).await.contains(SECRETS[0]));

    let done = sealed(
        Context::via_actor(Some(Actor::new("staff", 7)))
            .scope(revy::lifecycle::erase::<person::Entity>(1).exec(db)),
    )
    .await
    .unwrap();
    assert_eq!(copy_feed(db, &replica, &mut feed).await, done.values);
    assert_none_of_the_secrets(&journal_text(&replica).await, "the replica's journal");
    // the erasure's own delta: what was erased, by whom, no value
    let record = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq(revy::lifecycle::ERASURES))
        .one(&replica)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.content_id, done.erasure_ids[0].to_string());
    assert_eq!(record.actor(), Some(Actor::new("staff", 7)));
    let erasure = revy::lifecycle::Erasure::of(&record).unwrap().unwrap();
    assert_eq!(
        (erasure.content_type.as_str(), erasure.content_id.as_str()),
        ("people", "1")
    );
    assert_eq!(erasure.columns, ["email", "name"]);
    // both journals verify, the replica's erased by itself
    revy::tamper::verify(db).await.unwrap();
    let v = revy::tamper::verify(&replica).await.unwrap();
    assert_eq!(v.unsealed, 0);
}

/// A draft's entries by several actors, intermediate values included, are
/// erased with their actors and order kept; the erased row still restores
/// from a snapshot, with the live row's values for the erased columns.
async fn drafts_keep_their_actors_and_restore_follows(t: TestDb) {
    t.create_table(person::Entity).await;
    let db = &t.db;
    let saved = sealed(add(db, 1)).await;
    let mut draft = revy::Tracked::<person::ActiveModel>::from_model(saved);
    Context::via_actor(Some(Actor::new("people", 1)))
        .sync_scope(|| draft.set(person::Column::Name, Some(SECRETS[3].to_owned())));
    Context::via_actor(Some(Actor::new("staff", 2)))
        .sync_scope(|| draft.set(person::Column::Name, Some("Annie S.".to_owned())));
    Context::via_actor(Some(Actor::new("staff", 2)))
        .sync_scope(|| draft.set(person::Column::Visits, 5));
    sealed(Context::new().scope(draft.save(db))).await.unwrap();
    let before = deltas_of(db, 1).await;
    let entries = |d: &object_delta::Model| {
        d.attribute_deltas()
            .unwrap()
            .into_iter()
            .map(|e| (e.field_name, e.actor))
            .collect::<Vec<_>>()
    };
    let shape = entries(&before[1]);
    assert_eq!(
        shape.iter().filter(|(f, _)| f == "name").count(),
        2,
        "{shape:?}"
    );
    sealed(clear(db, 1)).await;

    revy::lifecycle::erase::<person::Entity>(1)
        .exec(db)
        .await
        .unwrap();
    let after = deltas_of(db, 1).await;
    assert_eq!(entries(&after[1]), shape, "actors and order kept");
    let text = format!("{after:?}");
    assert_none_of_the_secrets(&text, "the draft's deltas");
    assert!(!text.contains("Annie S."), "the intermediate value too");
    revy::tamper::verify(db).await.unwrap();

    // restore of the deleted row: the erased email has no default and is
    // not nullable, so the restore says which column it cannot fill
    let live = person::Entity::find_by_id(1)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    Context::new().scope(live.delete(db)).await.unwrap();
    let err = revy::rollback::restore_latest::<person::Entity>(1)
        .exec(db)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::History(e)
            if matches!(&**e, HistoryError::ErasedValue { column, .. } if column == "email")),
        "{err}"
    );
}

backend_tests!(
    drafts_keep_their_actors_and_restore_follows,
    a_replica_fed_by_the_feed_erases_too,
    an_erased_person_leaves_no_value_behind,
    verify_names_edits_after_an_erasure,
    erasing_deleted_and_pruned_rows,
    concurrent_writes_during_an_erasure,
    an_erasure_is_all_or_nothing,
);
