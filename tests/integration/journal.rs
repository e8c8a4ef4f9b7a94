//! Issue: the journal and the hooks. Revy's ledger scenarios and the
//! tracking rules of DESIGN.md, on every backend.

use crate::common::entities::{account, membership, note, transaction};
use crate::common::{self, TestDb};
use revy::entity::{object_delta, revision};
use revy::prelude::*;
use revy::{Action, Actor, Context, context::LazyRevision};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, Set, TransactionTrait,
};
use serde_json::json;

fn user(id: i64) -> Option<Actor> {
    Some(Actor::new("users", id))
}

async fn counts(db: &DatabaseConnection) -> (u64, u64, u64) {
    (
        revision::Entity::find().count(db).await.unwrap(),
        object_delta::Entity::find().count(db).await.unwrap(),
        common::attribute_rows(db).await.len() as u64,
    )
}

async fn setup(t: &TestDb) {
    t.create_table(account::Entity).await;
    t.create_table(transaction::Entity).await;
    t.create_table(membership::Entity).await;
    t.create_table(note::Entity).await;
}

fn new_account(code: &str) -> account::ActiveModel {
    account::ActiveModel {
        code: Set(code.to_owned()),
        is_active: Set(true),
        ..Default::default()
    }
}

fn new_transaction(account_id: i32) -> transaction::ActiveModel {
    transaction::ActiveModel {
        account_id: Set(account_id),
        kind: Set("credit".into()),
        amount: Set(Decimal::new(100, 2)),
        exchange_rate: Set(Decimal::new(200, 2)),
        local_amount: Set(Decimal::new(200, 2)),
        iso_code: Set("TZS".into()),
        ..Default::default()
    }
}

async fn attributes_of(db: &DatabaseConnection, object_delta_id: i64) -> Vec<common::AttributeRow> {
    common::attribute_rows(db)
        .await
        .into_iter()
        .filter(|a| a.object_delta_id == object_delta_id)
        .collect()
}

const ACCOUNT_COLUMNS: usize = 5;

async fn create_account_in_a_context(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let saved = Context::via_actor(user(1))
        .revision_description("open")
        .object_delta_description("new account")
        .attribute_delta_description("typed in")
        .meta(json!({"request_id": "r-1"}))
        .scope(async {
            let txn = db.begin().await.unwrap();
            let saved = new_account("E.0001").insert(&txn).await.unwrap();
            txn.commit().await.unwrap();
            saved
        })
        .await;
    assert_eq!(counts(db).await, (1, 1, ACCOUNT_COLUMNS as u64));

    let rev = revision::Entity::find().one(db).await.unwrap().unwrap();
    assert_eq!(rev.description, "open");
    assert_eq!(rev.meta, Some(json!({"request_id": "r-1"})));

    let delta = object_delta::Entity::find().one(db).await.unwrap().unwrap();
    assert_eq!(delta.action, Action::Create);
    assert_eq!(delta.revision_id, rev.id);
    assert_eq!(delta.description, "new account");
    assert_eq!(delta.content_type, "accounts");
    assert_eq!(delta.content_id, saved.id.to_string());
    assert_eq!(
        (delta.actor_type.as_deref(), delta.actor_id.as_deref()),
        (Some("users"), Some("1"))
    );

    let attrs = attributes_of(db, delta.id).await;
    let by_name = |n: &str| attrs.iter().find(|a| a.field_name == n).unwrap().clone();
    // the key was filled by the database: the system's
    let id = by_name("id");
    assert_eq!((id.actor_type, id.actor_id), (None, None));
    assert_eq!(id.new_value, json!(saved.id));
    // the caller's columns: the context's actor
    let code = by_name("code");
    assert_eq!(code.actor_id.as_deref(), Some("1"));
    assert_eq!(
        (code.old_value.clone(), code.new_value.clone()),
        (json!(null), json!("E.0001"))
    );
    assert_eq!(code.action, Action::Set);
    assert_eq!(code.description, "typed in");
    // a NULL column is an Unset
    let name = by_name("name");
    assert_eq!(name.action, Action::Unset);
    assert_eq!(name.new_value, json!(null));
    // a column the caller left out and the database defaulted
    let balance = by_name("balance");
    assert_eq!(balance.new_value, json!(0));
    assert_eq!(balance.actor_id, None);
    assert!(
        attrs
            .iter()
            .all(|a| a.revision_id == rev.id && a.content_id == delta.content_id)
    );
}

async fn two_saves_without_a_shared_revision_make_two_revisions(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    Context::via_actor(user(1))
        .scope(async {
            let a = new_account("A").insert(db).await.unwrap();
            new_transaction(a.id).insert(db).await.unwrap();
        })
        .await;
    assert_eq!(counts(db).await, (2, 2, ACCOUNT_COLUMNS as u64 + 7));
}

async fn saves_under_a_lazy_revision_share_it(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let lazy = LazyRevision::new();
    Context::via_revision(lazy.clone())
        .revision_description("import")
        .scope(async {
            let txn = db.begin().await.unwrap();
            let a = new_account("A").insert(&txn).await.unwrap();
            for _ in 0..10 {
                new_transaction(a.id).insert(&txn).await.unwrap();
            }
            txn.commit().await.unwrap();
        })
        .await;
    let (revisions, deltas, _) = counts(db).await;
    assert_eq!((revisions, deltas), (1, 11));
    let id = lazy.id().expect("created on first use");
    let in_revision = object_delta::Entity::find()
        .filter(object_delta::Column::RevisionId.eq(id))
        .count(db)
        .await
        .unwrap();
    assert_eq!(in_revision, 11);
    let rev = revision::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rev.description, "import");
}

async fn updating_one_field_records_exactly_that_field(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let a = Context::new()
        .scope(new_account("A").insert(db))
        .await
        .unwrap();
    let tx = Context::new()
        .scope(new_transaction(a.id).insert(db))
        .await
        .unwrap();
    let before = counts(db).await;

    let updated = Context::via_actor(user(2))
        .object_delta_description("fix amount")
        .scope(async {
            let txn = db.begin().await.unwrap();
            let mut am = tx.clone().into_active_model();
            am.amount = Set(Decimal::new(250, 2));
            am.kind = Set("credit".into()); // same value: not a change
            let m = am.update(&txn).await.unwrap();
            txn.commit().await.unwrap();
            m
        })
        .await;
    assert_eq!(updated.amount, Decimal::new(250, 2));
    let after = counts(db).await;
    assert_eq!(
        (after.0 - before.0, after.1 - before.1, after.2 - before.2),
        (1, 1, 1)
    );

    let delta = object_delta::Entity::find()
        .order_by_desc(object_delta::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delta.action, Action::Update);
    assert_eq!(delta.description, "fix amount");
    assert_eq!(delta.actor_id.as_deref(), Some("2"));
    let attrs = attributes_of(db, delta.id).await;
    assert_eq!(attrs.len(), 1);
    assert_eq!(attrs[0].field_name, "amount");
    // decimals as the database stores them, compared as numbers: backends
    // differ in the scale they return
    let num = |v: &serde_json::Value| v.as_str().unwrap().parse::<Decimal>().unwrap();
    assert_eq!(num(&attrs[0].old_value), Decimal::new(100, 2));
    assert_eq!(num(&attrs[0].new_value), Decimal::new(250, 2));
    assert_eq!(attrs[0].actor_id.as_deref(), Some("2"));
}

async fn an_update_that_changes_nothing_writes_nothing(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let a = Context::new()
        .scope(new_account("A").insert(db))
        .await
        .unwrap();
    let before = counts(db).await;
    Context::new()
        .scope(async {
            let mut am = a.clone().into_active_model();
            am.code = Set("A".into());
            am.update(db).await.unwrap();
        })
        .await;
    assert_eq!(counts(db).await, before);
}

async fn delete_records_a_delete_without_attribute_deltas(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let a = Context::new()
        .scope(new_account("A").insert(db))
        .await
        .unwrap();
    let before = counts(db).await;
    Context::via_actor(user(3))
        .object_delta_description("closed")
        .scope(async {
            let txn = db.begin().await.unwrap();
            a.clone().into_active_model().delete(&txn).await.unwrap();
            txn.commit().await.unwrap();
        })
        .await;
    let after = counts(db).await;
    assert_eq!(
        (after.0 - before.0, after.1 - before.1, after.2 - before.2),
        (1, 1, 0)
    );
    let delta = object_delta::Entity::find()
        .order_by_desc(object_delta::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(delta.action, Action::Delete);
    assert_eq!(delta.content_id, a.id.to_string());
    assert_eq!(delta.description, "closed");
    assert_eq!(delta.actor_id.as_deref(), Some("3"));
}

async fn nothing_is_written_outside_a_context_or_when_disabled(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    // no context
    let a = new_account("A").insert(db).await.unwrap();
    // a disabled frame
    Context::as_disabled()
        .scope(async {
            let mut am = a.clone().into_active_model();
            am.code = Set("B".into());
            am.update(db).await.unwrap();
        })
        .await;
    // disabled by Context::disable() inside a scope
    Context::new()
        .scope(async {
            Context::disable().unwrap();
            new_account("C").insert(db).await.unwrap();
            a.clone().into_active_model().delete(db).await.unwrap();
        })
        .await;
    // an untracked entity inside an enabled context
    Context::new()
        .scope(async {
            note::ActiveModel {
                body: Set("hi".into()),
                ..Default::default()
            }
            .insert(db)
            .await
            .unwrap();
        })
        .await;
    assert_eq!(counts(db).await, (0, 0, 0));
    // and the disabled hooks asked the database nothing: one INSERT each
    t.take_statement_count();
    Context::as_disabled()
        .scope(new_account("D").insert(db))
        .await
        .unwrap();
    let expected = if t.db.get_database_backend() == sea_orm::DbBackend::MySql {
        2
    } else {
        1
    };
    assert_eq!(
        t.take_statement_count(),
        expected,
        "insert (and MySQL's read-back) only"
    );
}

async fn the_system_actor_is_stored_as_null(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    Context::via_actor(user(1))
        .scope(async {
            Context::via_actor(None)
                .object_delta_description("by the system")
                .scope(new_account("S").insert(db))
                .await
                .unwrap();
            new_account("U").insert(db).await.unwrap();
        })
        .await;
    let deltas = object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(deltas.len(), 2);
    assert_eq!(
        (deltas[0].actor_type.clone(), deltas[0].actor_id.clone()),
        (None, None)
    );
    assert_eq!(deltas[0].description, "by the system");
    assert_eq!(deltas[1].actor_id.as_deref(), Some("1"));
    assert_eq!(deltas[1].description, "");
    let system_attrs = attributes_of(db, deltas[0].id).await;
    assert!(system_attrs.iter().all(|a| a.actor_id.is_none()));
    assert_eq!(
        revy::history::revision_actors(deltas[0].revision_id)
            .all(db)
            .await
            .unwrap(),
        vec![None]
    );
}

async fn a_journal_failure_rolls_the_whole_operation_back(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    // Make the journal reject object deltas (written after the revision,
    // with their attribute deltas inline): the change must not commit
    // either, nor the revision.
    let backend = db.get_database_backend();
    let sabotage = match backend {
        sea_orm::DbBackend::Sqlite => {
            "CREATE TRIGGER revy_reject BEFORE INSERT ON revy_object_deltas BEGIN SELECT RAISE(ABORT, 'rejected by test'); END"
        }
        sea_orm::DbBackend::Postgres => {
            "ALTER TABLE revy_object_deltas ADD CONSTRAINT revy_reject CHECK (content_type = 'never')"
        }
        _ => {
            "ALTER TABLE revy_object_deltas ADD CONSTRAINT revy_reject CHECK (content_type = 'never')"
        }
    };
    db.execute_unprepared(sabotage).await.unwrap();
    let result = Context::via_actor(user(1))
        .scope(async {
            let txn = db.begin().await?;
            new_account("A").insert(&txn).await?;
            txn.commit().await
        })
        .await;
    assert!(result.is_err(), "the journal failure must fail the insert");
    assert_eq!(account::Entity::find().count(db).await.unwrap(), 0);
    assert_eq!(counts(db).await, (0, 0, 0));
}

async fn a_missing_journal_says_to_install_it(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    // renamed rather than dropped: other journal tables' foreign keys
    // point at it
    db.execute_unprepared("ALTER TABLE revy_object_deltas RENAME TO revy_gone")
        .await
        .unwrap();
    let err = Context::new()
        .scope(new_account("A").insert(db))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("revy_object_deltas"), "{err}");
    assert!(err.contains("revy::install"), "{err}");
}

/// The database's code for a missing table says the journal is missing
/// only when the table it names is the journal's: a tracked update of a
/// table that is gone fails with the database's own error.
async fn a_missing_table_of_the_app_is_not_a_missing_journal(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let a = Context::new()
        .scope(new_account("A").insert(db))
        .await
        .unwrap();
    db.execute_unprepared("ALTER TABLE accounts RENAME TO accounts_gone")
        .await
        .unwrap();
    let mut am = a.into_active_model();
    am.code = Set("B".into());
    let err = Context::new()
        .scope(am.update(db))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("accounts"), "{err}");
    assert!(!err.contains("revy::install"), "{err}");
}

async fn first_tracked_update_records_a_baseline(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    // written while tracking was off
    let a = new_account("A").insert(db).await.unwrap();
    Context::via_actor(user(1))
        .scope(async {
            let mut am = a.clone().into_active_model();
            am.name = Set(Some("Alice".into()));
            am.update(db).await.unwrap();
        })
        .await;
    let deltas = object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(
        deltas.iter().map(|d| d.action).collect::<Vec<_>>(),
        [Action::Create, Action::Update]
    );
    assert_eq!(deltas[0].actor_id, None, "the baseline is the system's");
    assert_ne!(
        deltas[0].revision_id, deltas[1].revision_id,
        "in a revision of its own"
    );
    let baseline = attributes_of(db, deltas[0].id).await;
    assert_eq!(baseline.len(), ACCOUNT_COLUMNS);
    let code = baseline.iter().find(|a| a.field_name == "code").unwrap();
    assert_eq!(code.new_value, json!("A"));
    let update = attributes_of(db, deltas[1].id).await;
    assert_eq!(update.len(), 1);
    assert_eq!(
        (update[0].old_value.clone(), update[0].new_value.clone()),
        (json!(null), json!("Alice"))
    );
    let baseline_rev = revision::Entity::find_by_id(deltas[0].revision_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(baseline_rev.meta, Some(json!({"revy": "baseline"})));

    // a second update needs no baseline
    Context::new()
        .scope(async {
            let mut am = account::Entity::find_by_id(a.id)
                .one(db)
                .await
                .unwrap()
                .unwrap()
                .into_active_model();
            am.name = Set(None);
            am.update(db).await.unwrap();
        })
        .await;
    assert_eq!(object_delta::Entity::find().count(db).await.unwrap(), 3);
}

async fn first_tracked_delete_records_a_baseline(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let a = new_account("A").insert(db).await.unwrap();
    Context::new()
        .scope(a.clone().into_active_model().delete(db))
        .await
        .unwrap();
    let deltas = object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(
        deltas.iter().map(|d| d.action).collect::<Vec<_>>(),
        [Action::Create, Action::Delete]
    );
    assert_eq!(attributes_of(db, deltas[0].id).await.len(), ACCOUNT_COLUMNS);
}

async fn composite_keys_are_json_arrays(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let m = Context::via_actor(user(1))
        .scope(
            membership::ActiveModel {
                user_id: Set(7),
                group_id: Set("admins".into()),
                role: Set("owner".into()),
            }
            .insert(db),
        )
        .await
        .unwrap();
    let delta = object_delta::Entity::find().one(db).await.unwrap().unwrap();
    assert_eq!(delta.content_id, r#"[7,"admins"]"#);
    // every column was given by the caller, the key too
    let attrs = attributes_of(db, delta.id).await;
    assert_eq!(attrs.len(), 3);
    assert!(attrs.iter().all(|a| a.actor_id.as_deref() == Some("1")));
    // an actor can be a composite-key row, and loads back
    let actor = Actor::of(&m).unwrap();
    assert_eq!(actor, Actor::new("memberships", r#"[7,"admins"]"#));
    assert_eq!(actor.load::<membership::Entity>(db).await.unwrap(), Some(m));
}

async fn actors_of_models_load_back(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let a = new_account("A").insert(db).await.unwrap();
    let actor = Actor::of(&a).unwrap();
    assert_eq!(actor, Actor::new("accounts", a.id));
    assert_eq!(
        actor.load::<account::Entity>(db).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        Actor::new("accounts", 999)
            .load::<account::Entity>(db)
            .await
            .unwrap(),
        None
    );
    let wrong_kind = actor
        .load::<transaction::Entity>(db)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        wrong_kind.contains("accounts") && wrong_kind.contains("transactions"),
        "{wrong_kind}"
    );
    let bad_key = Actor::new("accounts", "abc")
        .load::<account::Entity>(db)
        .await
        .unwrap_err()
        .to_string();
    assert!(bad_key.contains("abc"), "{bad_key}");
}

async fn statements_per_tracked_operation(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let mysql = db.get_database_backend() == sea_orm::DbBackend::MySql;
    // MySQL has no RETURNING: sea-orm reads an inserted or updated row back
    let read_back = usize::from(mysql);
    // Counted are queries sent, i.e. round trips: the object delta with
    // its attribute deltas inline is one INSERT on every backend
    let journal = 1;
    Context::via_revision(LazyRevision::new())
        .scope(async {
            let txn = db.begin().await.unwrap();
            let warm = new_account("W").insert(&txn).await.unwrap(); // creates the revision
            t.take_statement_count();

            let a = new_account("A").insert(&txn).await.unwrap();
            let insert = t.take_statement_count();
            // the INSERT (+ read-back), the object delta
            assert_eq!(insert, 1 + read_back + journal, "tracked insert");

            let mut am = a.clone().into_active_model();
            am.code = Set("B".into());
            am.update(&txn).await.unwrap();
            let update = t.take_statement_count();
            // read the old row, the UPDATE (+ read-back), the journal
            assert_eq!(update, 1 + 1 + read_back + journal, "tracked update");

            warm.into_active_model().delete(&txn).await.unwrap();
            let delete = t.take_statement_count();
            // read the old row, the DELETE, the object delta
            assert_eq!(delete, 1 + 1 + 1, "tracked delete");
            txn.commit().await.unwrap();
        })
        .await;
    // every attribute delta hangs off the object delta written with it
    let objects = object_delta::Entity::find().all(db).await.unwrap();
    let attributes = common::attribute_rows(db).await;
    assert_eq!(
        attributes.len(),
        5 + 5 + 1,
        "two creates and a one-column update"
    );
    for a in &attributes {
        let o = objects.iter().find(|o| o.id == a.object_delta_id).unwrap();
        assert_eq!(
            (&o.content_id, o.revision_id, &o.action),
            (
                &a.content_id,
                a.revision_id,
                &if a.old_value.is_null() {
                    Action::Create
                } else {
                    Action::Update
                }
            ),
            "{a:?} belongs to {o:?}"
        );
    }
}

/// A request's first tracked save opens its revision. On PostgreSQL and
/// SQLite the statement that writes the delta also creates the revision
/// (one journal statement per save, as for every later save of the
/// request); MySQL has no WITH on an INSERT and runs one statement a
/// prepared call, so there the revision is one statement of its own.
/// Either way the revision holds the context's description and meta, the
/// lazy revision learns its id, and the request's next save goes into it.
async fn a_save_that_opens_its_revision(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let backend = db.get_database_backend();
    let read_back = usize::from(backend == sea_orm::DbBackend::MySql);
    let opening = if backend == sea_orm::DbBackend::MySql {
        2
    } else {
        1
    };
    let lazy = LazyRevision::new();
    let (a, counts) = Context::via_revision(lazy.clone())
        .revision_description("sign-up")
        .meta(json!({"request": 7}))
        .scope(async {
            let txn = db.begin().await.unwrap();
            t.take_statement_count();
            let a = new_account("A").insert(&txn).await.unwrap();
            let first = t.take_statement_count();
            let mut am = a.clone().into_active_model();
            am.code = Set("B".into());
            let a = am.update(&txn).await.unwrap();
            let second = t.take_statement_count();
            txn.commit().await.unwrap();
            (a, (first, second))
        })
        .await;
    // the INSERT (+ read-back), then the revision and the delta
    // the locked read, the UPDATE (+ read-back), the delta
    assert_eq!(
        counts,
        (1 + read_back + opening, 2 + read_back + 1),
        "statements of the save that opens the revision, then of the next"
    );
    let revisions = revision::Entity::find().all(db).await.unwrap();
    assert_eq!(revisions.len(), 1, "{revisions:?}");
    assert_eq!(lazy.id(), Some(revisions[0].id));
    assert_eq!(
        (revisions[0].description.as_str(), revisions[0].meta.clone()),
        ("sign-up", Some(json!({"request": 7})))
    );
    let deltas = object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(
        deltas
            .iter()
            .map(|d| (d.revision_id, d.action, d.version, d.content_id.clone()))
            .collect::<Vec<_>>(),
        [
            (revisions[0].id, Action::Create, 1, a.id.to_string()),
            (revisions[0].id, Action::Update, 2, a.id.to_string()),
        ]
    );
    // without a lazy revision, each save opens one of its own
    t.take_statement_count();
    let mut am = a.into_active_model();
    am.code = Set("C".into());
    Context::new().scope(am.update(db)).await.unwrap();
    assert_eq!(
        t.take_statement_count(),
        2 + read_back + opening,
        "an update on a bare connection"
    );
    let newest = revision::Entity::find()
        .order_by_desc(revision::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let last = object_delta::Entity::find()
        .order_by_desc(object_delta::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_ne!(newest.id, revisions[0].id);
    assert_eq!((last.revision_id, last.version), (newest.id, 3));
}

/// Issue 26: every 16 versions of an object, its delta also holds the
/// object's whole state (a checkpoint), written in the same transaction by
/// two more statements (the fold's read and the state); what it holds is
/// checked against the fold of the entries after every test (see
/// `common`). A write outside a transaction writes none.
async fn every_sixteenth_version_is_a_checkpoint(t: TestDb) {
    setup(&t).await;
    let db = &t.db;
    let mut a = Context::new()
        .scope(new_account("v1").insert(db))
        .await
        .unwrap();
    let mut costs = Vec::new();
    for v in 2..=34 {
        let mut am = a.clone().into_active_model();
        am.code = Set(format!("v{v}"));
        if v == 34 {
            // on a bare connection: no checkpoint, even where one is due
            a = Context::new().scope(am.update(db)).await.unwrap();
            continue;
        }
        t.take_statement_count();
        let txn = db.begin().await.unwrap();
        a = Context::new().scope(am.update(&txn)).await.unwrap();
        txn.commit().await.unwrap();
        costs.push((v, t.take_statement_count()));
    }
    let deltas = object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap();
    let checkpoints: Vec<i64> = deltas
        .iter()
        .filter(|d| d.state.is_some())
        .map(|d| d.version)
        .collect();
    assert_eq!(checkpoints, [17, 33]);
    let state: serde_json::Value =
        serde_json::from_str(deltas[16].state.as_deref().unwrap()).unwrap();
    // the code set by this delta, the key by the create
    assert_eq!(state["code"], json!(["v17", deltas[16].id]));
    assert_eq!(state["id"], json!([a.id, deltas[0].id]));
    let plain = costs[0].1;
    for (v, cost) in costs {
        let extra = if v == 17 || v == 33 { 2 } else { 0 };
        assert_eq!(
            cost,
            plain + extra,
            "statements of the update to version {v}"
        );
    }
}

backend_tests!(
    every_sixteenth_version_is_a_checkpoint,
    create_account_in_a_context,
    two_saves_without_a_shared_revision_make_two_revisions,
    saves_under_a_lazy_revision_share_it,
    updating_one_field_records_exactly_that_field,
    an_update_that_changes_nothing_writes_nothing,
    delete_records_a_delete_without_attribute_deltas,
    nothing_is_written_outside_a_context_or_when_disabled,
    the_system_actor_is_stored_as_null,
    a_journal_failure_rolls_the_whole_operation_back,
    a_missing_journal_says_to_install_it,
    a_missing_table_of_the_app_is_not_a_missing_journal,
    first_tracked_update_records_a_baseline,
    first_tracked_delete_records_a_baseline,
    composite_keys_are_json_arrays,
    actors_of_models_load_back,
    statements_per_tracked_operation,
    a_save_that_opens_its_revision,
);

mod in_a_schema {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(schema_name = "revy_side", table_name = "things")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub label: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
}

/// A table in a schema is named `schema.table` in the journal. Only
/// PostgreSQL has schemas apart from databases; elsewhere only the name is checked.
async fn tables_in_a_schema_are_qualified(t: TestDb) {
    assert_eq!(
        revy::registry::content_type::<in_a_schema::Entity>(),
        "revy_side.things"
    );
    if t.backend != common::Backend::Postgres {
        return;
    }
    let db = &t.db;
    // a schema of the server's, so its name is fixed: make it fresh
    db.execute_unprepared("DROP SCHEMA IF EXISTS revy_side CASCADE; CREATE SCHEMA revy_side")
        .await
        .unwrap();
    t.create_table(in_a_schema::Entity).await;
    let thing = Context::new()
        .scope(
            in_a_schema::ActiveModel {
                label: Set("x".into()),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap();
    let delta = object_delta::Entity::find().one(db).await.unwrap().unwrap();
    assert_eq!(delta.content_type, "revy_side.things");
    let snapshot = revy::history::ObjectSnapshot::<in_a_schema::Entity>::at(delta.id)
        .one(db)
        .await
        .unwrap();
    assert_eq!(snapshot, Some(thing));
    db.execute_unprepared("DROP SCHEMA revy_side CASCADE")
        .await
        .unwrap();
}

backend_tests!(tables_in_a_schema_are_qualified);
