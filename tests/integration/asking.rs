//! Asking the history: blame, history entries a UI can show, restore by
//! key, tags (and undo back to one), whole-table time travel.

use crate::common::TestDb;
use crate::common::entities::{account, membership, transaction};
use revy::entity::attribute_delta;
use revy::{Action, Actor, Context, Error, FieldValue, LazyRevision, Moment, Tracked};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait,
    IntoActiveModel, QueryFilter, QueryOrder, Set, TransactionTrait, Value,
};

fn user(id: i64) -> Option<Actor> {
    Some(Actor::new("users", id))
}

fn string(s: &str) -> FieldValue {
    FieldValue::Value(Value::String(Some(s.into())))
}

async fn open(db: &DatabaseConnection, code: &str, who: Option<Actor>) -> account::Model {
    Context::via_actor(who)
        .revision_description(format!("Open {code}"))
        .scope(
            account::ActiveModel {
                code: Set(code.into()),
                is_active: Set(true),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap()
}

async fn edit(
    db: &DatabaseConnection,
    id: i32,
    who: Option<Actor>,
    why: &str,
    change: impl FnOnce(&mut account::ActiveModel),
) -> account::Model {
    let row = account::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut am = row.into_active_model();
    change(&mut am);
    Context::via_actor(who)
        .revision_description(why)
        .attribute_delta_description(format!("{why} (column)"))
        .scope(am.update(db))
        .await
        .unwrap()
}

async fn remove(db: &DatabaseConnection, id: i32) {
    let row = account::Entity::find_by_id(id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    Context::new()
        .scope(row.into_active_model().delete(db))
        .await
        .unwrap();
}

async fn blame_names_who_set_each_column(t: TestDb) {
    t.create_table(account::Entity).await;
    t.create_table(transaction::Entity).await;
    let db = &t.db;
    let acc = open(db, "B-1", user(1)).await;
    for i in 0..5 {
        edit(db, acc.id, user(2), "Rename", |am| {
            am.name = Set(Some(format!("Name {i}")))
        })
        .await;
    }
    edit(db, acc.id, None, "Interest", |am| am.balance = Set(42)).await;
    // another row's history stays out
    open(db, "B-2", user(3)).await;

    t.take_statement_count();
    let blame = revy::blame::<account::Entity>(acc.id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(t.take_statement_count(), 1, "blame is one statement");
    let columns: Vec<&str> = blame.iter().map(|c| c.column.as_str()).collect();
    assert_eq!(columns, ["id", "code", "name", "is_active", "balance"]);
    let col = |name: &str| blame.iter().find(|c| c.column == name).unwrap();
    assert_eq!(col("id").actor, None, "the database filled the key");
    assert_eq!(col("code").actor, user(1));
    assert_eq!(col("code").value, string("B-1"));
    assert_eq!(col("code").revision_description, "Open B-1");
    assert_eq!(col("name").actor, user(2));
    assert_eq!(col("name").value, string("Name 4"));
    assert_eq!(col("name").revision_description, "Rename");
    assert_eq!(col("name").description, "Rename (column)");
    assert_eq!(col("name").action, Action::Set);
    assert_eq!(col("balance").actor, None);
    assert_eq!(
        col("balance").value,
        FieldValue::Value(Value::BigInt(Some(42)))
    );
    assert_eq!(col("balance").revision_description, "Interest");
    assert!(col("balance").at >= col("name").at);
    assert!(col("balance").revision_id > col("name").revision_id);

    // as of the creation: user 1 set the code; the key and the name (left
    // NotSet, filled by the database) are the system's
    let history = revy::history::<account::Entity>(acc.id)
        .all(db)
        .await
        .unwrap();
    let created = history.last().unwrap();
    let then = revy::blame::<account::Entity>(acc.id)
        .at(created.id)
        .all(db)
        .await
        .unwrap();
    assert_eq!(then.len(), 5);
    let code = then.iter().find(|c| c.column == "code").unwrap();
    assert_eq!(code.actor, user(1));
    let name = then.iter().find(|c| c.column == "name").unwrap();
    assert_eq!(name.actor, None);
    assert_eq!(name.value, FieldValue::Value(Value::String(None)));
    assert_eq!(name.action, Action::Unset);
    assert_eq!(name.object_delta_id, created.id);

    // a draft with per-attribute actors: the system's correction wins its column
    let saved = Context::via_actor(user(5))
        .scope(async {
            let txn = db.begin().await.unwrap();
            let mut tx = Tracked::new(transaction::ActiveModel::new());
            tx.set(transaction::Column::AccountId, acc.id);
            tx.set(transaction::Column::Kind, "credit");
            tx.set(transaction::Column::IsoCode, "TZS");
            tx.set(transaction::Column::Amount, Decimal::new(1000, 2));
            tx.set(transaction::Column::ExchangeRate, Decimal::new(250, 2));
            tx.set(transaction::Column::LocalAmount, Decimal::new(2400, 2));
            Context::via_actor(None)
                .attribute_delta_description("Corrected by system.")
                .sync_scope(|| tx.set(transaction::Column::LocalAmount, Decimal::new(2500, 2)));
            let saved = tx.save(&txn).await.unwrap();
            txn.commit().await.unwrap();
            saved
        })
        .await;
    let blame = revy::blame::<transaction::Entity>(saved.id)
        .all(db)
        .await
        .unwrap();
    let col = |name: &str| blame.iter().find(|c| c.column == name).unwrap();
    assert_eq!(col("amount").actor, user(5));
    assert_eq!(col("local_amount").actor, None);
    assert_eq!(col("local_amount").description, "Corrected by system.");
    assert!(
        matches!(col("local_amount").value.value(), Some(Value::Decimal(Some(d))) if *d == saved.local_amount)
    );

    // no history: nothing to blame
    assert!(
        revy::blame::<account::Entity>(999)
            .all(db)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn history_entries_carry_actors_revisions_and_decoded_changes(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let acc = open(db, "H-1", user(1)).await;
    Context::via_actor(user(2))
        .revision_description("Rename")
        .meta(serde_json::json!({"request": "r-7"}))
        .scope(async {
            let mut am = acc.clone().into_active_model();
            am.name = Set(Some("Main".into()));
            am.balance = Set(10);
            am.update(db).await
        })
        .await
        .unwrap();
    remove(db, acc.id).await;

    t.take_statement_count();
    let entries = revy::history::<account::Entity>(acc.id)
        .entries(db)
        .await
        .unwrap();
    assert_eq!(
        t.take_statement_count(),
        2,
        "deltas with revisions, then changes"
    );
    let actions: Vec<Action> = entries.iter().map(|e| e.action).collect();
    assert_eq!(actions, [Action::Delete, Action::Update, Action::Create]);
    assert!(entries[0].changes.is_empty());
    let update = &entries[1];
    assert_eq!(update.actor, user(2));
    assert_eq!(update.revision_description, "Rename");
    assert_eq!(update.meta, Some(serde_json::json!({"request": "r-7"})));
    let changed: Vec<&str> = update.changes.iter().map(|c| c.column.as_str()).collect();
    assert_eq!(changed, ["name", "balance"]);
    assert_eq!(
        update.changes[0].old,
        FieldValue::Value(Value::String(None))
    );
    assert_eq!(update.changes[0].new, string("Main"));
    assert_eq!(
        update.changes[1].old,
        FieldValue::Value(Value::BigInt(Some(0)))
    );
    assert_eq!(
        update.changes[1].new,
        FieldValue::Value(Value::BigInt(Some(10)))
    );
    let create = &entries[2];
    assert_eq!(create.actor, user(1));
    assert_eq!(create.revision_description, "Open H-1");
    assert_eq!(create.changes.len(), 5);
    let code = create.changes.iter().find(|c| c.column == "code").unwrap();
    assert_eq!(code.old, FieldValue::Value(Value::String(None)));
    assert_eq!(code.new, string("H-1"));
    assert_eq!(code.actor, user(1));

    // the builder's filters and pages hold for entries too
    let page = revy::history::<account::Entity>(acc.id)
        .before(entries[0].object_delta_id)
        .limit(1)
        .entries(db)
        .await
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0], entries[1]);
    let by_one = revy::history::<account::Entity>(acc.id)
        .actor(user(1))
        .entries(db)
        .await
        .unwrap();
    assert_eq!(by_one, vec![entries[2].clone()]);

    // a value the journal withholds (a redacted column) shows as withheld
    attribute_delta::Entity::update_many()
        .col_expr(
            attribute_delta::Column::NewValue,
            sea_orm::sea_query::Expr::value(serde_json::json!({"revy": "redacted"})),
        )
        .filter(attribute_delta::Column::FieldName.eq("name"))
        .exec(db)
        .await
        .unwrap();
    let entries = revy::history::<account::Entity>(acc.id)
        .entries(db)
        .await
        .unwrap();
    assert_eq!(entries[1].changes[0].new, FieldValue::Withheld);
    let blame = revy::blame::<account::Entity>(acc.id)
        .all(db)
        .await
        .unwrap();
    let name = blame.iter().find(|c| c.column == "name").unwrap();
    assert_eq!(name.value, FieldValue::Withheld);
    assert_eq!(name.actor, user(2));
}

async fn restore_latest_brings_back_the_newest_deleted_state(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let acc = open(db, "R-1", user(1)).await;
    let err = revy::restore_latest::<account::Entity>(db, acc.id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NeverDeleted { .. }), "{err}");
    assert!(err.to_string().contains("accounts"), "{err}");
    assert!(
        revy::restore_latest::<account::Entity>(db, 12345)
            .await
            .is_err()
    );

    remove(db, acc.id).await;
    let back = revy::restore_latest::<account::Entity>(db, acc.id)
        .await
        .unwrap();
    assert_eq!(back, acc);
    let err = revy::restore_latest::<account::Entity>(db, acc.id)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::KeyTaken { .. }), "{err}");

    let renamed = edit(db, acc.id, user(2), "Rename", |am| {
        am.name = Set(Some("Second life".into()))
    })
    .await;
    remove(db, acc.id).await;
    let back = revy::restore_latest::<account::Entity>(db, acc.id)
        .await
        .unwrap();
    assert_eq!(back, renamed, "the newest Delete, not the first");
    let newest = revy::history::<account::Entity>(acc.id)
        .limit(1)
        .all(db)
        .await
        .unwrap();
    assert_eq!(newest[0].action, Action::Create, "a restore is tracked");
}

async fn newest_revision(db: &DatabaseConnection) -> i64 {
    revy::entity::revision::Entity::find()
        .order_by_desc(revy::entity::revision::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn all_accounts(db: &DatabaseConnection) -> Vec<account::Model> {
    account::Entity::find()
        .order_by_asc(account::Column::Id)
        .all(db)
        .await
        .unwrap()
}

async fn tags_round_trip(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let a = open(db, "T-1", user(1)).await;
    let first = newest_revision(db).await;
    let v1 = Context::via_actor(user(7))
        .revision_description("First release")
        .scope(revy::tag(db, "v1", first))
        .await
        .unwrap();
    assert_eq!(v1.name, "v1");
    assert_eq!(v1.revision_id, first);
    assert_eq!(v1.actor(), user(7));
    assert_eq!(v1.description, "First release");

    let err = revy::tag(db, "v1", first).await.unwrap_err();
    assert!(matches!(err, Error::TagExists { revision_id, .. } if revision_id == first));
    let text = err.to_string();
    assert!(text.contains("v1") && text.contains("revy_tags"), "{text}");
    let long = "x".repeat(revy::TAG_NAME_LEN as usize + 1);
    let err = revy::tag(db, long, first).await.unwrap_err();
    assert!(matches!(err, Error::TagNameTooLong { .. }), "{err}");
    let err = revy::tag(db, "nowhere", 999_999).await.unwrap_err();
    assert!(matches!(err, Error::NoRevision { .. }), "{err}");

    let renamed = edit(db, a.id, user(2), "Rename", |am| {
        am.name = Set(Some("Renamed".into()))
    })
    .await;
    let second = newest_revision(db).await;
    let v2 = revy::tag(db, "v2", second).await.unwrap();
    let also = revy::tag(db, "also-v1", first).await.unwrap();
    remove(db, a.id).await;

    assert_eq!(
        revy::tags(db).await.unwrap(),
        vec![v1.clone(), also, v2.clone()]
    );
    assert_eq!(revy::find_tag(db, "v2").await.unwrap(), Some(v2));
    assert_eq!(revy::find_tag(db, "v3").await.unwrap(), None);

    let at = |name: &'static str| revy::as_of_tag::<account::Entity>(db, a.id, name);
    assert_eq!(at("v1").await.unwrap(), Some(a.clone()));
    assert_eq!(at("v2").await.unwrap(), Some(renamed));
    let err = at("v3").await.unwrap_err();
    assert!(matches!(err, Error::NoTag { .. }), "{err}");
    // a row created after the tag did not exist at it
    let b = open(db, "T-2", None).await;
    assert_eq!(
        revy::as_of_tag::<account::Entity>(db, b.id, "v2")
            .await
            .unwrap(),
        None
    );
    // the whole table at a tag; an unknown tag is an error there too
    let rows = revy::table_as_of::<account::Entity>(Moment::tag("v1"))
        .page(db)
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![a]);
    let err = revy::table_as_of::<account::Entity>(Moment::tag("v3"))
        .page(db)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoTag { .. }), "{err}");
}

async fn undo_to_tag_restores_the_tagged_state(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    revy::register::<account::Entity>();
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(open(db, &format!("U-{i}"), user(1)).await.id);
    }
    remove(db, ids[3]).await;
    let tagged = all_accounts(db).await;
    revy::tag(db, "stable", newest_revision(db).await)
        .await
        .unwrap();

    // several revisions after the tag, some on the same row
    for i in 0..3 {
        edit(db, ids[0], user(2), "Edit", |am| am.balance = Set(100 + i)).await;
    }
    remove(db, ids[1]).await;
    revy::restore_latest::<account::Entity>(db, ids[3])
        .await
        .unwrap();
    edit(db, ids[3], user(2), "Edit", |am| am.is_active = Set(false)).await;
    open(db, "U-new", user(2)).await;
    assert_ne!(all_accounts(db).await, tagged);

    let undo = revy::undo_to_tag(db, "stable").await.unwrap();
    assert!(undo.is_some());
    assert_eq!(all_accounts(db).await, tagged);
    // again: the undo's own changes are after the tag, but every row is
    // as tagged already, so nothing is written
    assert_eq!(revy::undo_to_tag(db, "stable").await.unwrap(), None);
    assert_eq!(all_accounts(db).await, tagged);
}

async fn undo_to_tag_stops_at_a_late_write_of_an_earlier_revision(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    revy::register::<account::Entity>();
    let early = LazyRevision::new();
    let x = Context::via_revision(early.clone())
        .scope(
            account::ActiveModel {
                code: Set("X".into()),
                is_active: Set(true),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap();
    open(db, "Y", None).await;
    let tag_revision = newest_revision(db).await;
    revy::tag(db, "t", tag_revision).await.unwrap();
    edit(db, x.id, None, "Later", |am| am.balance = Set(1)).await;
    // the early revision writes again, after the later one
    Context::via_revision(early)
        .scope(async {
            let mut am = account::Entity::find_by_id(x.id)
                .one(db)
                .await?
                .unwrap()
                .into_active_model();
            am.code = Set("X2".into());
            am.update(db).await
        })
        .await
        .unwrap();
    let before = all_accounts(db).await;
    let err = revy::undo_to_tag(db, "t").await.unwrap_err();
    assert!(matches!(err, Error::TagConflict { .. }), "{err}");
    assert!(err.to_string().contains("accounts"), "{err}");
    assert_eq!(all_accounts(db).await, before, "nothing changed");
}

async fn pause() {
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
}

/// Every page of `table_as_of`, one statement each.
async fn walk_accounts(t: &TestDb, moment: Moment, size: u64) -> Vec<account::Model> {
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut q = revy::table_as_of::<account::Entity>(moment.clone()).page_size(size);
        if let Some(c) = cursor.take() {
            q = q.after(c);
        }
        t.take_statement_count();
        let page = q.page(&t.db).await.unwrap();
        assert_eq!(t.take_statement_count(), 1, "one statement a page");
        assert!(page.rows.len() as u64 <= size);
        pages += 1;
        out.extend(page.rows);
        match page.next {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert!(pages >= out.len() / size as usize, "pages of {size}");
    out.sort_by_key(|a| a.id);
    out
}

async fn time_travel_equals_a_copy_of_the_table(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    revy::register::<account::Entity>();
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(open(db, &format!("A-{i}"), user(1)).await.id);
    }
    for i in [0, 2, 4] {
        edit(db, ids[i], user(2), "Edit", |am| {
            am.balance = Set(i as i64 * 10)
        })
        .await;
    }
    for i in [1, 5, 9] {
        remove(db, ids[i]).await;
    }
    revy::restore_latest::<account::Entity>(db, ids[5])
        .await
        .unwrap();
    edit(db, ids[5], user(3), "After restore", |am| {
        am.name = Set(Some("back".into()))
    })
    .await;
    pause().await;
    let moment = chrono::Utc::now();
    let copy = all_accounts(db).await;
    revy::tag(db, "copy", newest_revision(db).await)
        .await
        .unwrap();
    pause().await;

    // later: deletes (one of them of a row edited before), creates,
    // updates, a restore of a row deleted before the moment
    for i in [0, 3, 7] {
        remove(db, ids[i]).await;
    }
    for i in 0..4 {
        open(db, &format!("Late-{i}"), None).await;
    }
    edit(db, ids[2], user(4), "Late edit", |am| {
        am.code = Set("late".into())
    })
    .await;
    revy::restore_latest::<account::Entity>(db, ids[9])
        .await
        .unwrap();
    assert_ne!(all_accounts(db).await, copy);

    for size in [1, 3, 100] {
        assert_eq!(
            walk_accounts(&t, moment.into(), size).await,
            copy,
            "at a time, pages of {size}"
        );
    }
    assert_eq!(
        walk_accounts(&t, Moment::tag("copy"), 4).await,
        copy,
        "at a tag"
    );
    // before anything was written: an empty table
    let before = chrono::DateTime::<chrono::Utc>::from_timestamp(0, 0).unwrap();
    assert!(walk_accounts(&t, before.into(), 5).await.is_empty());
    // now: the live table
    assert_eq!(
        walk_accounts(&t, chrono::Utc::now().into(), 5).await,
        all_accounts(db).await
    );
}

async fn time_travel_pages_composite_keys(t: TestDb) {
    t.create_table(membership::Entity).await;
    let db = &t.db;
    let mut rows = Vec::new();
    for (u, g) in [(1, "a"), (1, "b"), (2, "a"), (10, "a"), (3, "c")] {
        let row = Context::new()
            .scope(
                membership::ActiveModel {
                    user_id: Set(u),
                    group_id: Set(g.into()),
                    role: Set("member".into()),
                }
                .insert(db),
            )
            .await
            .unwrap();
        rows.push(row);
    }
    pause().await;
    let moment = chrono::Utc::now();
    pause().await;
    Context::new()
        .scope(rows[0].clone().into_active_model().delete(db))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut q = revy::table_as_of::<membership::Entity>(moment).page_size(2);
    loop {
        let page = q.page(db).await.unwrap();
        seen.extend(page.rows);
        match page.next {
            Some(c) => {
                q = revy::table_as_of::<membership::Entity>(moment)
                    .page_size(2)
                    .after(c)
            }
            None => break,
        }
    }
    seen.sort_by(|a, b| (a.user_id, &a.group_id).cmp(&(b.user_id, &b.group_id)));
    rows.sort_by(|a, b| (a.user_id, &a.group_id).cmp(&(b.user_id, &b.group_id)));
    assert_eq!(seen, rows);
}

backend_tests!(
    blame_names_who_set_each_column,
    history_entries_carry_actors_revisions_and_decoded_changes,
    restore_latest_brings_back_the_newest_deleted_state,
    tags_round_trip,
    undo_to_tag_restores_the_tagged_state,
    undo_to_tag_stops_at_a_late_write_of_an_earlier_revision,
    time_travel_equals_a_copy_of_the_table,
    time_travel_pages_composite_keys,
);
