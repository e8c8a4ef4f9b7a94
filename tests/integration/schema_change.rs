//! Issue 29, schema evolution: each of the five schema changes made by a
//! real migration (`ALTER TABLE`, or on SQLite, which cannot retype a
//! column, the table rebuild SQLite documents) between tracked writes; then
//! snapshots, restore, blame, diff, time travel and history entries across
//! the change. Each test declares the table's entity before and after the
//! migration as two modules.

use revy::entity::object_delta;
use revy::history::HistoryError;
use revy::lifecycle::LifecycleError;
use revy::{
    Action, Actor, Context, Error, history::FieldValue, history::Moment, history::SelectSnapshotExt,
};
use sea_orm::sea_query::{Alias, ColumnDef, Expr, Query, Table, TableAlterStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait,
    IntoActiveModel, PaginatorTrait, QueryFilter, QueryOrder, Schema, Set, TransactionTrait, Value,
};
use serde_json::json;

use crate::common::TestDb;

/// A tracked entity: `shape!(module, "table", { fields } [, policy])`.
macro_rules! shape {
    ($module:ident, $table:literal, { $($fields:tt)* } $(, $policy:expr)?) => {
        mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                $($fields)*
            }
            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}
            #[async_trait::async_trait]
            impl ActiveModelBehavior for ActiveModel {
                revy::track!();
            }
            impl revy::TrackingPolicy for Entity {
                $(fn policy() -> revy::Policy<Self> {
                    $policy
                })?
            }
            impl revy::deletion::DeletionPolicies for Entity {}
        }
    };
}

async fn ddl(db: &DatabaseConnection, statement: &TableAlterStatement) {
    db.execute(statement).await.expect("migration statement");
}

/// The object deltas of row `id` of `E`, oldest first.
async fn deltas<E: EntityTrait<PrimaryKey: sea_orm::PrimaryKeyTrait<ValueType = i32>>>(
    db: &DatabaseConnection,
    id: i32,
) -> Vec<object_delta::Model> {
    let mut all = revy::history::of::<E>(id).all(db).await.unwrap();
    all.reverse();
    all
}

async fn snapshot<E>(db: &DatabaseConnection, delta: i64) -> Result<E::Model, Error>
where
    E: revy::registry::TrackedEntity,
{
    revy::history::ObjectSnapshot::<E>::at(delta)
        .one(db)
        .await
        .map(|m| m.expect("a snapshot"))
}

/// Tags the newest revision as `name`.
async fn tag_newest(db: &DatabaseConnection, name: &str) {
    let newest = object_delta::Entity::find()
        .order_by_desc(object_delta::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    revy::tags::tag(name, newest.revision_id)
        .exec(db)
        .await
        .unwrap();
}

fn text(s: &str) -> FieldValue {
    FieldValue::Value(Value::String(Some(s.into())))
}

/// The columns a blame answers, in order.
fn columns(blame: &[revy::history::ColumnBlame]) -> Vec<&str> {
    blame.iter().map(|c| c.column.as_str()).collect()
}

fn blamed<'a>(
    blame: &'a [revy::history::ColumnBlame],
    column: &str,
) -> &'a revy::history::ColumnBlame {
    blame
        .iter()
        .find(|c| c.column == column)
        .unwrap_or_else(|| panic!("no blame of {column}"))
}

// --- A column added ---------------------------------------------------------

shape!(added_before, "sc_items", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub name: String,
});
shape!(added_after, "sc_items", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub name: String,
    pub note: Option<String>,
    #[sea_orm(default_value = 5)]
    pub rank: i32,
});
// The same table with the added column declared without its default.
shape!(added_without_default, "sc_items", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub name: String,
    pub note: Option<String>,
    pub rank: i32,
});

/// Old states take the added column's default, or NULL; the new column's
/// own history starts at the migration.
async fn a_column_added_later_takes_its_default_or_null(t: TestDb) {
    use added_after as after;
    let db = &t.db;
    t.create_table(added_before::Entity).await;
    let one = Context::new()
        .scope(
            added_before::ActiveModel {
                id: Set(1),
                name: Set("a".into()),
            }
            .insert(db),
        )
        .await
        .unwrap();
    let mut am = one.into_active_model();
    am.name = Set("b".into());
    Context::new().scope(am.update(db)).await.unwrap();
    let two = Context::new()
        .scope(
            added_before::ActiveModel {
                id: Set(2),
                name: Set("c".into()),
            }
            .insert(db),
        )
        .await
        .unwrap();
    tag_newest(db, "before-add").await;
    Context::new()
        .scope(two.into_active_model().delete(db))
        .await
        .unwrap();

    // the migration: a nullable column, and one NOT NULL with a default
    ddl(
        db,
        Table::alter()
            .table(Alias::new("sc_items"))
            .add_column(ColumnDef::new(Alias::new("note")).text().null()),
    )
    .await;
    ddl(
        db,
        Table::alter().table(Alias::new("sc_items")).add_column(
            ColumnDef::new(Alias::new("rank"))
                .integer()
                .not_null()
                .default(5),
        ),
    )
    .await;

    let live = after::Entity::find_by_id(1).one(db).await.unwrap().unwrap();
    let mut am = live.into_active_model();
    am.note = Set(Some("n".into()));
    am.rank = Set(9);
    Context::new().scope(am.update(db)).await.unwrap();

    let row = |name: &str, note: Option<&str>, rank: i32| after::Model {
        id: 1,
        name: name.into(),
        note: note.map(Into::into),
        rank,
    };
    let ids: Vec<i64> = deltas::<after::Entity>(db, 1)
        .await
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids.len(), 3);
    let mut states = Vec::new();
    for id in &ids {
        states.push(snapshot::<after::Entity>(db, *id).await.unwrap());
    }
    assert_eq!(
        states,
        [row("a", None, 5), row("b", None, 5), row("b", Some("n"), 9)]
    );

    // diff: the added columns differ from their defaults
    let diff = revy::history::diff(Some(&states[0]), Some(&states[2])).unwrap();
    assert_eq!(
        diff.into_iter().collect::<Vec<_>>(),
        [
            ("name".to_owned(), (json!("a"), json!("b"))),
            ("note".to_owned(), (json!(null), json!("n"))),
            ("rank".to_owned(), (json!(5), json!(9))),
        ]
    );

    // blame: the added columns have none before they were first set
    let then = revy::history::blame::<after::Entity>(1)
        .at(ids[1])
        .all(db)
        .await
        .unwrap();
    assert_eq!(columns(&then), ["id", "name"]);
    let now = revy::history::blame::<after::Entity>(1)
        .all(db)
        .await
        .unwrap();
    assert_eq!(columns(&now), ["id", "name", "note", "rank"]);
    assert_eq!(blamed(&now, "note").value, text("n"));
    assert_eq!(blamed(&now, "note").object_delta_id, ids[2]);
    assert_eq!(blamed(&now, "name").object_delta_id, ids[1]);

    // time travel to before the migration
    let page = revy::history::table_as_of::<after::Entity>(Moment::tag("before-add"))
        .page(db)
        .await
        .unwrap();
    assert_eq!(
        page.rows,
        [
            row("b", None, 5),
            after::Model {
                id: 2,
                name: "c".into(),
                note: None,
                rank: 5
            }
        ]
    );

    // restore of a row deleted before the migration
    let deleted = deltas::<after::Entity>(db, 2).await;
    assert_eq!(deleted.last().unwrap().action, Action::Delete);
    let back = revy::rollback::restore::<after::Entity>(deleted.last().unwrap().id)
        .exec(db)
        .await
        .unwrap();
    let expected = after::Model {
        id: 2,
        name: "c".into(),
        note: None,
        rank: 5,
    };
    assert_eq!(back, expected);
    assert_eq!(
        after::Entity::find_by_id(2).one(db).await.unwrap(),
        Some(expected)
    );

    // history entries show what each change recorded: no added column
    // before the migration
    let entries = revy::history::of::<after::Entity>(1)
        .entries(db)
        .await
        .unwrap();
    let recorded: Vec<Vec<&str>> = entries
        .iter()
        .map(|e| e.changes.iter().map(|c| c.column.as_str()).collect())
        .collect();
    assert_eq!(
        recorded,
        [vec!["note", "rank"], vec!["name"], vec!["id", "name"]]
    );

    // without a default a NOT NULL column cannot be made up: the error names it
    match snapshot::<added_without_default::Entity>(db, ids[0]).await {
        Err(Error::History(e)) => match *e {
            HistoryError::MissingColumn { table, column } => {
                assert_eq!((table.as_str(), column.as_str()), ("sc_items", "rank"));
            }
            other => panic!("expected MissingColumn, got {other:?}"),
        },
        other => panic!("expected MissingColumn, got {other:?}"),
    }
    assert_eq!(
        snapshot::<added_without_default::Entity>(db, ids[2])
            .await
            .unwrap()
            .rank,
        9
    );
}

// --- A column dropped -------------------------------------------------------

shape!(dropped_before, "sc_cards", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub name: String,
    pub legacy: String,
});
shape!(dropped_after, "sc_cards", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub name: String,
});

/// A dropped column's values stay in history entries; snapshots, blame,
/// diff, restore and time travel ignore them.
async fn a_dropped_column_stays_in_history_entries_only(t: TestDb) {
    use dropped_after as after;
    let db = &t.db;
    t.create_table(dropped_before::Entity).await;
    let card = |id: i32, name: &str, legacy: &str| dropped_before::ActiveModel {
        id: Set(id),
        name: Set(name.into()),
        legacy: Set(legacy.into()),
    };
    let one = Context::new()
        .scope(card(1, "a", "L1").insert(db))
        .await
        .unwrap();
    let mut am = one.into_active_model();
    am.legacy = Set("L2".into());
    let one = Context::new().scope(am.update(db)).await.unwrap();
    let mut am = one.into_active_model();
    am.name = Set("b".into());
    Context::new().scope(am.update(db)).await.unwrap();
    let two = Context::new()
        .scope(card(2, "x", "Lx").insert(db))
        .await
        .unwrap();
    tag_newest(db, "before-drop").await;
    Context::new()
        .scope(two.into_active_model().delete(db))
        .await
        .unwrap();

    // the migration
    ddl(
        db,
        Table::alter()
            .table(Alias::new("sc_cards"))
            .drop_column(Alias::new("legacy")),
    )
    .await;

    let live = after::Entity::find_by_id(1).one(db).await.unwrap().unwrap();
    let mut am = live.into_active_model();
    am.name = Set("c".into());
    Context::new().scope(am.update(db)).await.unwrap();

    let row = |id: i32, name: &str| after::Model {
        id,
        name: name.into(),
    };
    let history = deltas::<after::Entity>(db, 1).await;
    let ids: Vec<i64> = history.iter().map(|d| d.id).collect();
    assert_eq!(ids.len(), 4);
    let mut states = Vec::new();
    for id in &ids {
        states.push(snapshot::<after::Entity>(db, *id).await.unwrap());
    }
    assert_eq!(states, [row(1, "a"), row(1, "a"), row(1, "b"), row(1, "c")]);

    // the raw entries and the history entries keep the dropped values
    let raw = history[1].attribute_deltas().unwrap();
    assert_eq!(raw.len(), 1);
    assert_eq!(
        (
            raw[0].field_name.as_str(),
            &raw[0].old_value,
            &raw[0].new_value
        ),
        ("legacy", &json!("L1"), &json!("L2"))
    );
    let entries = revy::history::of::<after::Entity>(1)
        .entries(db)
        .await
        .unwrap();
    let legacy = &entries[2].changes[0];
    assert_eq!(entries[2].object_delta_id, ids[1]);
    assert_eq!(legacy.column, "legacy");
    assert_eq!(
        (&legacy.old, &legacy.new),
        (&FieldValue::Raw(json!("L1")), &FieldValue::Raw(json!("L2")))
    );
    let created: Vec<(&str, &FieldValue)> = entries[3]
        .changes
        .iter()
        .map(|c| (c.column.as_str(), &c.new))
        .collect();
    assert_eq!(
        created,
        [
            ("id", &FieldValue::Value(Value::Int(Some(1)))),
            ("name", &text("a")),
            ("legacy", &FieldValue::Raw(json!("L1"))),
        ]
    );

    // blame and diff know only the entity's columns
    let then = revy::history::blame::<after::Entity>(1)
        .at(ids[1])
        .all(db)
        .await
        .unwrap();
    assert_eq!(columns(&then), ["id", "name"]);
    assert_eq!(blamed(&then, "name").value, text("a"));
    let now = revy::history::blame::<after::Entity>(1)
        .all(db)
        .await
        .unwrap();
    assert_eq!(columns(&now), ["id", "name"]);
    assert_eq!(blamed(&now, "name").object_delta_id, ids[3]);
    assert!(
        revy::history::diff(Some(&states[0]), Some(&states[1]))
            .unwrap()
            .is_empty(),
        "the change of the dropped column is no difference now"
    );
    assert_eq!(
        revy::history::diff(Some(&states[0]), Some(&states[3]))
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        [("name".to_owned(), (json!("a"), json!("c")))]
    );

    // time travel and restore
    let page = revy::history::table_as_of::<after::Entity>(Moment::tag("before-drop"))
        .page(db)
        .await
        .unwrap();
    assert_eq!(page.rows, [row(1, "b"), row(2, "x")]);
    let deleted = deltas::<after::Entity>(db, 2).await;
    let back = revy::rollback::restore::<after::Entity>(deleted.last().unwrap().id)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(back, row(2, "x"));
    assert_eq!(
        after::Entity::find_by_id(2).one(db).await.unwrap(),
        Some(row(2, "x"))
    );
}

// --- A column renamed -------------------------------------------------------

shape!(renamed_before, "sc_people", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub name: String,
    pub score: i32,
});
shape!(renamed_after, "sc_people", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub full_name: String,
    pub score: i32,
}, revy::Policy::new().renamed("name", Column::FullName));
// The same table without the rename declared.
shape!(renamed_undeclared, "sc_people", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub full_name: String,
    pub score: i32,
});

/// One update in a transaction of its own (so that checkpoints are written).
async fn update_in_txn<E, F>(db: &DatabaseConnection, id: i32, who: Option<Actor>, change: F)
where
    E: revy::registry::TrackedEntity<PrimaryKey: sea_orm::PrimaryKeyTrait<ValueType = i32>>,
    F: FnOnce(&mut E::ActiveModel),
{
    let txn = crate::common::begin(db).await.unwrap();
    let row = E::find_by_id(id).one(&txn).await.unwrap().unwrap();
    let mut am = row.into_active_model();
    change(&mut am);
    Context::via_actor(who)
        .scope(am.update(&txn))
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

/// Entries under the old name count as the renamed column in snapshots,
/// blame, diff, `.changed`, restore and time travel; history entries show
/// the name as it was. Checkpoints before the migration hold the old name,
/// one after it both: the newest setter wins.
async fn a_renamed_column_reads_its_old_entries(t: TestDb) {
    use renamed_after as after;
    let db = &t.db;
    let alice = Some(Actor::new("users", 7));
    let bob = Some(Actor::new("users", 8));
    t.create_table(renamed_before::Entity).await;
    Context::via_actor(alice.clone())
        .scope(
            renamed_before::ActiveModel {
                id: Set(1),
                name: Set("v0".into()),
                score: Set(0),
            }
            .insert(db),
        )
        .await
        .unwrap();
    // versions 2..=21: a checkpoint at version 17 holds `name`
    for i in 1..=20 {
        update_in_txn::<renamed_before::Entity, _>(db, 1, alice.clone(), |am| {
            am.name = Set(format!("v{i}"));
        })
        .await;
    }
    let two = Context::new()
        .scope(
            renamed_before::ActiveModel {
                id: Set(2),
                name: Set("two".into()),
                score: Set(2),
            }
            .insert(db),
        )
        .await
        .unwrap();
    tag_newest(db, "before-rename").await;
    Context::new()
        .scope(two.into_active_model().delete(db))
        .await
        .unwrap();

    // the migration
    ddl(
        db,
        Table::alter()
            .table(Alias::new("sc_people"))
            .rename_column(Alias::new("name"), Alias::new("full_name")),
    )
    .await;

    // version 22 changes the score only; 23 the name, under its new name;
    // 24..=33 the score again: the checkpoint at 33 holds both names
    update_in_txn::<after::Entity, _>(db, 1, bob.clone(), |am| am.score = Set(1)).await;
    update_in_txn::<after::Entity, _>(db, 1, bob.clone(), |am| {
        am.full_name = Set("new1".into());
    })
    .await;
    for score in 2..=11 {
        update_in_txn::<after::Entity, _>(db, 1, bob.clone(), |am| am.score = Set(score)).await;
    }

    let history = deltas::<after::Entity>(db, 1).await;
    assert_eq!(history.len(), 33);
    let at = |version: i64| history[usize::try_from(version - 1).unwrap()].id;
    let checkpoint = history[32].state.as_deref().expect("a checkpoint at 33");
    let state: serde_json::Value = serde_json::from_str(checkpoint).unwrap();
    assert_eq!(state["name"][0], json!("v20"));
    assert_eq!(state["full_name"][0], json!("new1"));
    assert!(history[16].state.is_some(), "a checkpoint at 17");

    let row = |full_name: &str, score: i32| after::Model {
        id: 1,
        full_name: full_name.into(),
        score,
    };
    let mut states = Vec::new();
    for version in [1, 17, 20, 21, 22, 23, 33] {
        states.push(snapshot::<after::Entity>(db, at(version)).await.unwrap());
    }
    assert_eq!(
        states,
        [
            row("v0", 0),
            row("v16", 0),
            row("v19", 0),
            row("v20", 0),
            row("v20", 1),
            row("new1", 1),
            row("new1", 11),
        ]
    );
    // a whole page of them: the fold of one range
    let page: Vec<Option<after::Model>> = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("sc_people"))
        .filter(object_delta::Column::ContentId.eq("1"))
        .filter(object_delta::Column::Version.gte(20))
        .filter(object_delta::Column::Version.lte(23))
        .order_by_asc(object_delta::Column::Id)
        .with_snapshot::<after::Entity>()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, m)| m)
        .collect();
    assert_eq!(
        page,
        [
            Some(row("v19", 0)),
            Some(row("v20", 0)),
            Some(row("v20", 1)),
            Some(row("new1", 1))
        ]
    );

    // blame names the column as it is now, set by the old entry
    let then = revy::history::blame::<after::Entity>(1)
        .at(at(22))
        .all(db)
        .await
        .unwrap();
    assert_eq!(columns(&then), ["id", "full_name", "score"]);
    let name = blamed(&then, "full_name");
    assert_eq!(name.value, text("v20"));
    assert_eq!((name.object_delta_id, &name.actor), (at(21), &alice));
    let now = revy::history::blame::<after::Entity>(1)
        .all(db)
        .await
        .unwrap();
    let name = blamed(&now, "full_name");
    assert_eq!(name.value, text("new1"));
    assert_eq!((name.object_delta_id, &name.actor), (at(23), &bob));

    // diff names the renamed column
    assert_eq!(
        revy::history::diff(Some(&states[0]), Some(&states[6]))
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        [
            ("full_name".to_owned(), (json!("v0"), json!("new1"))),
            ("score".to_owned(), (json!(0), json!(11))),
        ]
    );

    // every change of the column, under either name
    let changed = revy::history::of::<after::Entity>(1)
        .changed(after::Column::FullName)
        .all(db)
        .await
        .unwrap();
    assert_eq!(changed.len(), 22);
    assert_eq!(changed[0].id, at(23));
    assert_eq!(changed[21].id, at(1));

    // history entries show the name as it was, the values decoded
    let entries = revy::history::of::<after::Entity>(1)
        .entries(db)
        .await
        .unwrap();
    let change_of = |version: i64| {
        let e = entries.iter().find(|e| e.version == version).unwrap();
        let c = &e.changes[0];
        (c.column.as_str(), c.old.clone(), c.new.clone())
    };
    assert_eq!(change_of(21), ("name", text("v19"), text("v20")));
    assert_eq!(change_of(23), ("full_name", text("v20"), text("new1")));

    // time travel and restore across the rename
    let page = revy::history::table_as_of::<after::Entity>(Moment::tag("before-rename"))
        .page(db)
        .await
        .unwrap();
    let two = after::Model {
        id: 2,
        full_name: "two".into(),
        score: 2,
    };
    assert_eq!(page.rows, [row("v20", 0), two.clone()]);
    let deleted = deltas::<after::Entity>(db, 2).await;
    let back = revy::rollback::restore::<after::Entity>(deleted.last().unwrap().id)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(back, two);
    assert_eq!(
        after::Entity::find_by_id(2).one(db).await.unwrap(),
        Some(two)
    );

    // undeclared, the old entries are another column's, and the renamed
    // one has no value before the migration
    match snapshot::<renamed_undeclared::Entity>(db, at(22)).await {
        Err(Error::History(e)) => match *e {
            HistoryError::MissingColumn { column, .. } => assert_eq!(column, "full_name"),
            other => panic!("expected MissingColumn, got {other:?}"),
        },
        other => panic!("expected MissingColumn, got {other:?}"),
    }

    // an erasure of the column takes its entries under the old name too
    let done = revy::lifecycle::erase::<after::Entity>(1)
        .columns([after::Column::FullName])
        .exec(db)
        .await
        .unwrap();
    assert_eq!(done.columns, ["full_name", "name"]);
    let text = format!("{:?}", deltas::<after::Entity>(db, 1).await);
    for gone in ["\\\"v0\\\"", "\\\"v20\\\"", "\\\"new1\\\""] {
        assert!(!text.contains(gone), "{gone} left in {text}");
    }
    assert!(text.contains("erased"));
}

// --- A type changed ---------------------------------------------------------

// The columns in another order than after the migration, so that no
// statement text is the same before and after: PostgreSQL refuses to run a
// statement its connection prepared before a column's type changed ("cached
// plan must not change result type"), which an application meets unless it
// restarts its pool after such a migration, whatever it tracks.
shape!(retyped_before, "sc_stock", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub code: i32,
    pub qty: i32,
});
// `qty` widened (old values decode), `code` made text (they do not).
shape!(retyped_after, "sc_stock", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub qty: i64,
    pub code: String,
});
shape!(retyped_converted, "sc_stock", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub qty: i64,
    pub code: String,
}, revy::Policy::new().convert(Column::Code, |old: &serde_json::Value| match old {
    serde_json::Value::Number(n) => Ok(serde_json::Value::String(n.to_string())),
    serde_json::Value::String(_) => Ok(old.clone()),
    other => Err(format!("a code cannot be {other}")),
}));
shape!(retyped_refused, "sc_stock", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub qty: i64,
    pub code: String,
}, revy::Policy::new().convert(Column::Code, |_: &serde_json::Value| Err("not yet".to_owned())));

/// Changes the types of `qty` and `code`: `ALTER TABLE` on PostgreSQL and
/// MariaDB; SQLite cannot, so the table is rebuilt as its documentation
/// says (create the new shape, copy, drop, rename).
async fn retype(db: &DatabaseConnection) {
    let table = Alias::new("sc_stock");
    let backend = db.get_database_backend();
    if backend != DbBackend::Sqlite {
        ddl(
            db,
            Table::alter()
                .table(table)
                .modify_column(ColumnDef::new(Alias::new("qty")).big_integer().not_null())
                .modify_column(ColumnDef::new(Alias::new("code")).string().not_null()),
        )
        .await;
        return;
    }
    let fresh = Alias::new("sc_stock_new");
    let mut create = Schema::new(backend).create_table_from_entity(retyped_after::Entity);
    create.table(fresh.clone());
    let txn = db.begin().await.unwrap();
    txn.execute(&create).await.unwrap();
    let columns = ["id", "qty", "code"].map(Alias::new);
    let copy = Query::insert()
        .into_table(fresh.clone())
        .columns(columns.clone())
        .select_from(
            Query::select()
                .columns(columns)
                .from(table.clone())
                .to_owned(),
        )
        .unwrap()
        .to_owned();
    txn.execute(&copy).await.unwrap();
    txn.execute(&Table::drop().table(table.clone()).to_owned())
        .await
        .unwrap();
    txn.execute(&Table::rename().table(fresh, table).to_owned())
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

/// Old values that decode as the new type give it; one that does not is
/// an error naming the table, column, delta and JSON type, until the
/// policy declares a conversion.
async fn a_type_change_decodes_or_names_the_value(t: TestDb) {
    use retyped_converted as converted;
    let db = &t.db;
    t.create_table(retyped_before::Entity).await;
    let stock = |id: i32, qty: i32, code: i32| retyped_before::ActiveModel {
        id: Set(id),
        qty: Set(qty),
        code: Set(code),
    };
    let one = Context::new()
        .scope(stock(1, 3, 42).insert(db))
        .await
        .unwrap();
    let mut am = one.into_active_model();
    am.qty = Set(4);
    am.code = Set(43);
    Context::new().scope(am.update(db)).await.unwrap();
    let two = Context::new()
        .scope(stock(2, 7, 70).insert(db))
        .await
        .unwrap();
    tag_newest(db, "before-retype").await;
    Context::new()
        .scope(two.into_active_model().delete(db))
        .await
        .unwrap();

    retype(db).await;

    // written after the change, through the converting entity
    let live = converted::Entity::find_by_id(1)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((live.qty, live.code.as_str()), (4, "43"));
    let mut am = live.into_active_model();
    am.code = Set("A-1".into());
    Context::new().scope(am.update(db)).await.unwrap();

    let ids: Vec<i64> = deltas::<converted::Entity>(db, 1)
        .await
        .iter()
        .map(|d| d.id)
        .collect();
    assert_eq!(ids.len(), 3);

    // no conversion: the old integer codes do not decode as text
    let undecodable = |e: Error, delta: i64| match e {
        Error::History(ref h) => match **h {
            HistoryError::Undecodable {
                ref table,
                ref column,
                object_delta_id,
                json_type,
                ..
            } => {
                assert_eq!(
                    (table.as_str(), column.as_str(), object_delta_id, json_type),
                    ("sc_stock", "code", delta, "number")
                );
                let message = e.to_string();
                for part in [
                    "sc_stock.code",
                    &format!("object delta {delta}"),
                    "number",
                    "convert",
                ] {
                    assert!(message.contains(part), "{message}");
                }
                assert!(
                    !message.contains("42"),
                    "the value is not quoted: {message}"
                );
            }
            ref other => panic!("expected Undecodable, got {other:?}"),
        },
        other => panic!("expected Undecodable, got {other:?}"),
    };
    undecodable(
        snapshot::<retyped_after::Entity>(db, ids[0])
            .await
            .unwrap_err(),
        ids[0],
    );
    undecodable(
        revy::history::blame::<retyped_after::Entity>(1)
            .at(ids[1])
            .all(db)
            .await
            .unwrap_err(),
        ids[1],
    );
    undecodable(
        revy::history::of::<retyped_after::Entity>(1)
            .entries(db)
            .await
            .unwrap_err(),
        ids[1],
    );
    let deleted = deltas::<retyped_after::Entity>(db, 2).await;
    let delete = deleted.last().unwrap().id;
    undecodable(
        revy::rollback::restore::<retyped_after::Entity>(delete)
            .exec(db)
            .await
            .unwrap_err(),
        deleted[0].id,
    );
    assert_eq!(
        retyped_after::Entity::find_by_id(2)
            .count(db)
            .await
            .unwrap(),
        0,
        "a failed restore writes nothing"
    );
    // values written since the change decode
    let now = revy::history::blame::<retyped_after::Entity>(1)
        .all(db)
        .await
        .unwrap();
    assert_eq!(blamed(&now, "code").value, text("A-1"));
    assert_eq!(
        blamed(&now, "qty").value,
        FieldValue::Value(Value::BigInt(Some(4)))
    );

    // a conversion that refuses: its message, and the delta, named
    match snapshot::<retyped_refused::Entity>(db, ids[0]).await {
        Err(Error::History(e)) => match *e {
            HistoryError::ConversionFailed {
                table,
                column,
                object_delta_id,
                json_type,
                reason,
            } => assert_eq!(
                (
                    table.as_str(),
                    column.as_str(),
                    object_delta_id,
                    json_type,
                    reason.as_str()
                ),
                ("sc_stock", "code", ids[0], "number", "not yet")
            ),
            other => panic!("expected ConversionFailed, got {other:?}"),
        },
        other => panic!("expected ConversionFailed, got {other:?}"),
    }

    // with the conversion: snapshots, blame, diff, entries, time travel, restore
    let row = |id: i32, qty: i64, code: &str| converted::Model {
        id,
        qty,
        code: code.into(),
    };
    let mut states = Vec::new();
    for id in &ids {
        states.push(snapshot::<converted::Entity>(db, *id).await.unwrap());
    }
    assert_eq!(states, [row(1, 3, "42"), row(1, 4, "43"), row(1, 4, "A-1")]);
    let then = revy::history::blame::<converted::Entity>(1)
        .at(ids[1])
        .all(db)
        .await
        .unwrap();
    assert_eq!(blamed(&then, "code").value, text("43"));
    assert_eq!(blamed(&then, "code").object_delta_id, ids[1]);
    assert_eq!(
        blamed(&then, "qty").value,
        FieldValue::Value(Value::BigInt(Some(4)))
    );
    assert_eq!(
        revy::history::diff(Some(&states[0]), Some(&states[2]))
            .unwrap()
            .into_iter()
            .collect::<Vec<_>>(),
        [
            ("code".to_owned(), (json!("42"), json!("A-1"))),
            ("qty".to_owned(), (json!(3), json!(4))),
        ]
    );
    let entries = revy::history::of::<converted::Entity>(1)
        .entries(db)
        .await
        .unwrap();
    let code_changes: Vec<(FieldValue, FieldValue)> = entries
        .iter()
        .flat_map(|e| e.changes.iter())
        .filter(|c| c.column == "code")
        .map(|c| (c.old.clone(), c.new.clone()))
        .collect();
    assert_eq!(
        code_changes,
        [
            (text("43"), text("A-1")),
            (text("42"), text("43")),
            (FieldValue::Value(Value::String(None)), text("42")),
        ]
    );
    let page = revy::history::table_as_of::<converted::Entity>(Moment::tag("before-retype"))
        .page(db)
        .await
        .unwrap();
    assert_eq!(page.rows, [row(1, 4, "43"), row(2, 7, "70")]);
    let back = revy::rollback::restore::<converted::Entity>(delete)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(back, row(2, 7, "70"));
    assert_eq!(
        converted::Entity::find_by_id(2).one(db).await.unwrap(),
        Some(row(2, 7, "70"))
    );
}

// --- A table renamed --------------------------------------------------------

shape!(shelf_before, "sc_shelves", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub label: String,
});
shape!(shelf_after, "sc_racks", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub label: String,
});
shape!(bystander, "sc_bystanders", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub label: String,
});

/// `work` with tamper evidence on.
async fn sealed<F: std::future::Future>(work: F) -> F::Output {
    revy::tamper::scope(true, work).await
}

async fn content_types(db: &DatabaseConnection, table: &str) -> u64 {
    object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq(table))
        .count(db)
        .await
        .unwrap()
}

/// `rename_table` moves the journal in one UPDATE per chunk of ids,
/// finishes a rename that stopped half-way, leaves other tables alone,
/// and the tamper chains still verify, before and after new writes.
async fn a_renamed_table_keeps_its_history_and_verifies(t: TestDb) {
    use shelf_after as after;
    let db = &t.db;
    t.create_table(shelf_before::Entity).await;
    t.create_table(bystander::Entity).await;
    let shelf = |id: i32, label: &str| shelf_before::ActiveModel {
        id: Set(id),
        label: Set(label.into()),
    };
    for id in 1..=3 {
        sealed(Context::new().scope(shelf(id, &format!("s{id}")).insert(db)))
            .await
            .unwrap();
        sealed(
            Context::new().scope(
                bystander::ActiveModel {
                    id: Set(id),
                    label: Set("b".into()),
                }
                .insert(db),
            ),
        )
        .await
        .unwrap();
    }
    // versions 2..=19 of shelf 1: a checkpoint at 17
    for i in 1..=18 {
        sealed(update_in_txn::<shelf_before::Entity, _>(
            db,
            1,
            None,
            |am| {
                am.label = Set(format!("v{i}"));
            },
        ))
        .await;
    }
    tag_newest(db, "before-move").await;
    let three = shelf_before::Entity::find_by_id(3)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    sealed(Context::new().scope(three.into_active_model().delete(db)))
        .await
        .unwrap();
    let journal = content_types(db, "sc_shelves").await;
    assert_eq!(journal, 19 + 1 + 2);

    // the migration: the table, then its journal. A first run stopped
    // half-way (it moved the oldest ids) is emulated by hand.
    db.execute(
        &Table::rename()
            .table(Alias::new("sc_shelves"), Alias::new("sc_racks"))
            .to_owned(),
    )
    .await
    .unwrap();
    let ids: Vec<i64> = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("sc_shelves"))
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|d| d.id)
        .collect();
    let half = ids[ids.len() / 2];
    let stopped = object_delta::Entity::update_many()
        .col_expr(object_delta::Column::ContentType, Expr::value("sc_racks"))
        .filter(object_delta::Column::ContentType.eq("sc_shelves"))
        .filter(object_delta::Column::Id.lt(half))
        .exec(db)
        .await
        .unwrap()
        .rows_affected;
    let left: Vec<i64> = ids.iter().copied().filter(|id| *id >= half).collect();
    t.log_sql();
    let moved = revy::lifecycle::rename_table_in_chunks("sc_shelves", "sc_racks", 4)
        .exec(db)
        .await
        .unwrap();
    let sql = t.take_sql();
    assert_eq!(stopped + moved, journal);
    // the object deltas' chunks, and one more for the table's erasures
    let updates = sql
        .iter()
        .filter(|s| s.starts_with("UPDATE") && s.contains("revy_object_deltas"))
        .count();
    assert_eq!(
        sql.iter()
            .filter(|s| s.starts_with("UPDATE") && s.contains("revy_erasures"))
            .count(),
        1
    );
    let span = left.last().unwrap() - left.first().unwrap();
    assert_eq!(updates, usize::try_from(span / 4 + 1).unwrap(), "{sql:#?}");
    assert_eq!(content_types(db, "sc_shelves").await, 0);
    assert_eq!(content_types(db, "sc_racks").await, journal);
    assert_eq!(content_types(db, "sc_bystanders").await, 3);
    assert_eq!(
        revy::lifecycle::rename_table("sc_shelves", "sc_racks")
            .exec(db)
            .await
            .unwrap(),
        0,
        "run again, nothing is left to move"
    );

    let verified = revy::tamper::verify(db).await.unwrap();
    assert_eq!(verified.sealed, journal + 3);

    // the history is found under the new name, and no longer under the old
    assert!(
        revy::history::of::<shelf_before::Entity>(1)
            .all(db)
            .await
            .unwrap()
            .is_empty()
    );
    let history = deltas::<after::Entity>(db, 1).await;
    assert_eq!(history.len(), 19);
    let row = |id: i32, label: &str| after::Model {
        id,
        label: label.into(),
    };
    assert_eq!(
        snapshot::<after::Entity>(db, history[18].id).await.unwrap(),
        row(1, "v18")
    );
    assert_eq!(
        snapshot::<after::Entity>(db, history[0].id).await.unwrap(),
        row(1, "s1")
    );
    let blame = revy::history::blame::<after::Entity>(1)
        .all(db)
        .await
        .unwrap();
    assert_eq!(blamed(&blame, "label").value, text("v18"));
    assert_eq!(blamed(&blame, "label").object_delta_id, history[18].id);
    let page = revy::history::table_as_of::<after::Entity>(Moment::tag("before-move"))
        .page(db)
        .await
        .unwrap();
    assert_eq!(page.rows, [row(1, "v18"), row(2, "s2"), row(3, "s3")]);
    assert_eq!(
        revy::history::diff(
            page.rows.first(),
            Some(&snapshot::<after::Entity>(db, history[0].id).await.unwrap())
        )
        .unwrap()
        .into_iter()
        .collect::<Vec<_>>(),
        [("label".to_owned(), (json!("v18"), json!("s1")))]
    );

    // new writes continue the rows' versions and chains
    let deleted = deltas::<after::Entity>(db, 3).await;
    let back =
        sealed(revy::rollback::restore::<after::Entity>(deleted.last().unwrap().id).exec(db))
            .await
            .unwrap();
    assert_eq!(back, row(3, "s3"));
    sealed(update_in_txn::<after::Entity, _>(db, 1, None, |am| {
        am.label = Set("moved".into());
    }))
    .await;
    let history = deltas::<after::Entity>(db, 1).await;
    assert_eq!(history.last().unwrap().version, 20);
    assert_eq!(
        deltas::<after::Entity>(db, 3).await.last().unwrap().version,
        3
    );
    let verified = revy::tamper::verify(db).await.unwrap();
    assert_eq!(verified.sealed, journal + 3 + 2);
}

shape!(bin_before, "sc_bins", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub label: String,
});
shape!(bin_after, "sc_boxes", {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub label: String,
});

/// A row written through the renamed entity before its journal moved has
/// a second history under the new name: the rename refuses, and moves
/// nothing. So does a name the journal cannot hold.
async fn a_rename_onto_a_restarted_history_is_refused(t: TestDb) {
    let db = &t.db;
    t.create_table(bin_before::Entity).await;
    Context::new()
        .scope(
            bin_before::ActiveModel {
                id: Set(1),
                label: Set("a".into()),
            }
            .insert(db),
        )
        .await
        .unwrap();
    db.execute(
        &Table::rename()
            .table(Alias::new("sc_bins"), Alias::new("sc_boxes"))
            .to_owned(),
    )
    .await
    .unwrap();
    // the application wrote before the journal moved: a baseline and an
    // update under the new name
    let live = bin_after::Entity::find_by_id(1)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut am = live.into_active_model();
    am.label = Set("b".into());
    Context::new().scope(am.update(db)).await.unwrap();
    let restarted = deltas::<bin_after::Entity>(db, 1).await;
    assert_eq!(restarted.len(), 2);

    match revy::lifecycle::rename_table("sc_bins", "sc_boxes")
        .exec(db)
        .await
    {
        Err(Error::Lifecycle(e)) if matches!(*e, LifecycleError::RenameTable { .. }) => {
            let message = e.to_string();
            for part in [
                "sc_bins",
                "sc_boxes",
                "row 1",
                &format!("object delta {}", restarted[0].id),
            ] {
                assert!(message.contains(part), "{message}");
            }
        }
        other => panic!("expected RenameTable, got {other:?}"),
    }
    assert_eq!(content_types(db, "sc_bins").await, 1, "nothing moved");
    assert_eq!(content_types(db, "sc_boxes").await, 2);

    let long = "x".repeat(usize::try_from(revy::registry::CONTENT_TYPE_LEN).unwrap() + 1);
    assert!(matches!(
        revy::lifecycle::rename_table("sc_bins", &long).exec(db).await,
        Err(Error::Lifecycle(e)) if matches!(*e, LifecycleError::RenameTable { .. })
    ));
    assert!(matches!(
        revy::lifecycle::rename_table("sc_bins", "").exec(db).await,
        Err(Error::Lifecycle(e)) if matches!(*e, LifecycleError::RenameTable { .. })
    ));
    assert_eq!(content_types(db, "sc_bins").await, 1);
}

backend_tests!(
    a_column_added_later_takes_its_default_or_null,
    a_dropped_column_stays_in_history_entries_only,
    a_renamed_column_reads_its_old_entries,
    a_type_change_decodes_or_names_the_value,
    a_renamed_table_keeps_its_history_and_verifies,
    a_rename_onto_a_restarted_history_is_refused,
);
