//! Tracking policies: ignored, only-listed and redacted columns, and
//! conditions, on every path that writes the journal.

use crate::common::{self, TestDb};
use revy::entity::{object_delta, revision};
use revy::history::HistoryError;
use revy::{Action, Actor, Context, Tracked, history::ObjectSnapshot};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};

/// Every secret below contains this; no journal byte may.
const MARK: &str = "HUNTER2";

fn secret(n: u32) -> String {
    format!("pw-{MARK}-{n}")
}

mod club {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "policy_clubs")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
    impl revy::deletion::DeletionPolicies for Entity {
        fn on_delete() -> Vec<revy::deletion::ChildPolicy> {
            vec![
                revy::deletion::ChildPolicy::new(
                    super::member::Column::ClubId,
                    revy::deletion::OnDelete::SetNull,
                ),
                revy::deletion::ChildPolicy::new(
                    super::card::Column::ClubId,
                    revy::deletion::OnDelete::Cascade,
                ),
            ]
        }
    }
}

/// A users table: the password hash is redacted, the last-seen time
/// ignored, drafts are not tracked.
mod member {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "policy_members")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub email: String,
        #[sea_orm(default_value = "")]
        pub password_hash: String,
        pub last_seen: Option<i64>,
        pub draft: bool,
        pub club_id: Option<i32>,
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
                .redact(Column::PasswordHash)
                .ignore(Column::LastSeen)
                .when(|m: &Model| !m.draft)
        }
    }
    impl revy::deletion::DeletionPolicies for Entity {}
}

/// A card's pin is redacted, NOT NULL and has no default.
mod card {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "policy_cards")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub club_id: i32,
        pub pin: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {
        fn policy() -> revy::Policy<Self> {
            revy::Policy::new().redact(Column::Pin)
        }
    }
    impl revy::deletion::DeletionPolicies for Entity {}
}

/// Only the name is recorded.
mod gadget {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "policy_gadgets")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
        pub color: Option<String>,
        #[sea_orm(default_value = 7)]
        pub weight: i32,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {
        fn policy() -> revy::Policy<Self> {
            revy::Policy::new().only([Column::Name])
        }
    }
}

/// A policy that cannot be: it ignores the primary key.
mod bad {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "policy_bad")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub name: String,
    }
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}
    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {
        fn policy() -> revy::Policy<Self> {
            revy::Policy::new().ignore(Column::Id)
        }
    }
}

async fn tables(t: &TestDb) {
    t.create_table(club::Entity).await;
    t.create_table(member::Entity).await;
    t.create_table(card::Entity).await;
    t.create_table(gadget::Entity).await;
    t.create_table(bad::Entity).await;
}

fn new_member(id: i32, password: &str, draft: bool) -> member::ActiveModel {
    member::ActiveModel {
        id: Set(id),
        email: Set(format!("m{id}@example.com")),
        password_hash: Set(password.to_owned()),
        last_seen: Set(Some(1)),
        draft: Set(draft),
        club_id: Set(None),
    }
}

fn alice() -> Option<Actor> {
    Some(Actor::new("users", 1))
}

/// Every row of every journal table, each column as text.
async fn journal_text(db: &impl ConnectionTrait) -> Vec<String> {
    let mut out = Vec::new();
    for r in revision::Entity::find().all(db).await.unwrap() {
        out.push(format!("{r:?}"));
    }
    for o in object_delta::Entity::find().all(db).await.unwrap() {
        out.push(format!("{o:?}"));
    }
    // the inline entries (held in the object deltas' `changes`), decoded
    for a in common::attribute_rows(db).await {
        out.push(format!("{a:?} {} {}", a.old_value, a.new_value));
    }
    out
}

async fn journal_counts(db: &impl ConnectionTrait) -> (u64, u64) {
    (
        object_delta::Entity::find().count(db).await.unwrap(),
        common::attribute_rows(db).await.len() as u64,
    )
}

/// A known secret goes through every path that writes the journal; then
/// no text or JSON column of any journal table holds its bytes, while the
/// journal does say that the column changed, and who changed it.
async fn redacted_values_never_reach_the_journal(t: TestDb) {
    tables(&t).await;
    let db = &t.db;
    let ctx = || Context::via_actor(alice());
    // insert
    let m1 = ctx()
        .scope(new_member(1, &secret(1), false).insert(db))
        .await
        .unwrap();
    // update
    let mut am = m1.clone().into_active_model();
    am.password_hash = Set(secret(2));
    let m1 = ctx().scope(am.update(db)).await.unwrap();
    // a draft with two edits of the secret
    let mut draft: Tracked<member::ActiveModel> = Tracked::from_model(m1.clone());
    draft.set(member::Column::PasswordHash, secret(3));
    draft.set(member::Column::PasswordHash, secret(4));
    draft.set(member::Column::Email, "renamed@example.com");
    let m1 = ctx().scope(draft.save(db)).await.unwrap();
    assert_eq!(m1.password_hash, secret(4));
    // a row written untracked, then changed: its baseline
    Context::as_disabled()
        .scope(new_member(2, &secret(5), false).insert(db))
        .await
        .unwrap();
    let m2 = member::Entity::find_by_id(2)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let mut am = m2.into_active_model();
    am.email = Set("two@example.com".into());
    ctx().scope(am.update(db)).await.unwrap();
    // deletion policies: a set policy on untracked members, a cascade on
    // untracked cards, both with secrets
    let club = Context::as_disabled()
        .scope(
            club::ActiveModel {
                id: Set(1),
                name: Set("c".into()),
            }
            .insert(db),
        )
        .await
        .unwrap();
    Context::as_disabled()
        .scope(async {
            let mut m3 = new_member(3, &secret(6), false);
            m3.club_id = Set(Some(1));
            m3.insert(db).await.unwrap();
            card::ActiveModel {
                id: Set(1),
                club_id: Set(1),
                pin: Set(secret(7)),
            }
            .insert(db)
            .await
            .unwrap();
        })
        .await;
    ctx()
        .scope(revy::deletion::delete(club).exec(db))
        .await
        .unwrap();
    assert_eq!(
        member::Entity::find_by_id(3)
            .one(db)
            .await
            .unwrap()
            .unwrap()
            .club_id,
        None
    );
    // delete and restore
    let m2 = member::Entity::find_by_id(2)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    ctx()
        .scope(m2.into_active_model().delete(db))
        .await
        .unwrap();
    let gone = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("policy_members"))
        .filter(object_delta::Column::Action.eq(Action::Delete))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let back = revy::rollback::restore::<member::Entity>(gone.id)
        .exec(db)
        .await
        .unwrap();
    // the journal never had the hash: a restored row takes the default
    assert_eq!(back.password_hash, "");
    // undo an update of the secret
    let mut am = m1.clone().into_active_model();
    am.password_hash = Set(secret(8));
    ctx().scope(am.update(db)).await.unwrap();
    let last = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("policy_members"))
        .order_by_desc(object_delta::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    revy::rollback::undo_revision(last.revision_id)
        .exec(db)
        .await
        .unwrap();
    // the journal has no old hash to go back to: undo leaves it as it is
    let live = member::Entity::find_by_id(1)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(live.password_hash, secret(8));
    // bulk writes
    let rows = (10..13).map(|id| new_member(id, &secret(id as u32), false));
    ctx()
        .scope(revy::bulk::insert_many::<member::Entity>(rows).exec(db))
        .await
        .unwrap();
    ctx()
        .scope(
            revy::bulk::update_many::<member::Entity>()
                .col_expr(member::Column::PasswordHash, Expr::value(secret(20)))
                .col_expr(member::Column::Email, Expr::value("bulk@example.com"))
                .filter(member::Column::Id.gte(10))
                .exec(db),
        )
        .await
        .unwrap();
    ctx()
        .scope(
            revy::bulk::delete_many::<member::Entity>()
                .filter(member::Column::Id.gte(11))
                .exec(db),
        )
        .await
        .unwrap();

    let text = journal_text(db).await;
    let hits: Vec<&String> = text.iter().filter(|row| row.contains(MARK)).collect();
    assert!(hits.is_empty(), "the secret reached the journal: {hits:#?}");
    // ... while the journal does hold that the hash changed, and by whom
    let changes: Vec<common::AttributeRow> = common::attribute_rows(db)
        .await
        .into_iter()
        .filter(|c| c.field_name == "password_hash")
        .collect();
    assert!(
        changes
            .iter()
            .all(|c| revy::policy::is_redacted(&c.new_value))
    );
    assert!(changes.iter().all(|c| c.action == Action::Set));
    let by_alice = changes.iter().filter(|c| c.actor() == alice()).count();
    // insert, update, the update later undone, bulk insert of 3, bulk
    // update of 3 (the draft's two edits were made outside any context:
    // the system's)
    assert_eq!(by_alice, 1 + 1 + 1 + 3 + 3);
    assert!(changes.iter().filter(|c| c.actor().is_none()).count() >= 2);
    // nothing of the ignored column either
    assert_eq!(
        common::attribute_rows(db)
            .await
            .iter()
            .filter(|c| c.field_name == "last_seen")
            .count(),
        0
    );
    // the redacted card cannot be restored: the journal has no pin, and
    // there is no default to stand in for it
    let card_gone = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("policy_cards"))
        .filter(object_delta::Column::Action.eq(Action::Delete))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    match revy::rollback::restore::<card::Entity>(card_gone.id)
        .exec(db)
        .await
    {
        Err(revy::Error::History(e)) => match *e {
            HistoryError::NotRecorded {
                column, treatment, ..
            } => {
                assert_eq!((column.as_str(), treatment), ("pin", "redacted"));
            }
            other => panic!("expected NotRecorded, got {other:?}"),
        },
        other => panic!("expected NotRecorded, got {other:?}"),
    }
}

/// An update of ignored columns only sends the update and nothing else;
/// a bulk update of them is the plain statement.
async fn ignored_only_updates_write_nothing(t: TestDb) {
    tables(&t).await;
    let db = &t.db;
    let mysql = db.get_database_backend() == sea_orm::DbBackend::MySql;
    let read_back = usize::from(mysql);
    let ctx = || Context::via_actor(alice());
    let m = ctx()
        .scope(new_member(1, "x", false).insert(db))
        .await
        .unwrap();
    let before = journal_counts(db).await;
    t.take_statement_count();
    t.log_sql();
    let mut am = m.clone().into_active_model();
    am.last_seen = Set(Some(99));
    let m = ctx().scope(am.update(db)).await.unwrap();
    assert_eq!(m.last_seen, Some(99));
    assert_eq!(
        t.take_statement_count(),
        1 + read_back,
        "the UPDATE alone: {:?}",
        t.take_sql()
    );
    ctx()
        .scope(
            revy::bulk::update_many::<member::Entity>()
                .col_expr(
                    member::Column::LastSeen,
                    Expr::col(member::Column::LastSeen).add(1),
                )
                .exec(db),
        )
        .await
        .unwrap();
    assert_eq!(t.take_statement_count(), 1, "the UPDATE alone");
    assert_eq!(journal_counts(db).await, before);
    // an update of an ignored and a recorded column records the latter only
    let mut am = m.into_active_model();
    am.last_seen = Set(Some(5));
    am.email = Set("new@example.com".into());
    ctx().scope(am.update(db)).await.unwrap();
    let last = object_delta::Entity::find()
        .order_by_desc(object_delta::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let fields: Vec<String> = common::entries_of(&last)
        .into_iter()
        .map(|a| a.field_name)
        .collect();
    assert_eq!(fields, ["email"]);
    // a snapshot shows the ignored column as the live row has it
    let snap = ObjectSnapshot::<member::Entity>::at(last.id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let live = member::Entity::find_by_id(1)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(snap, live);
}

/// `only` records the listed columns and the key; snapshots take the
/// others from the live row, or, once it is gone, the default or NULL.
async fn only_listed_columns_are_recorded(t: TestDb) {
    tables(&t).await;
    let db = &t.db;
    let ctx = || Context::via_actor(alice());
    let g = ctx()
        .scope(
            gadget::ActiveModel {
                id: Set(1),
                name: Set("spanner".into()),
                color: Set(Some("red".into())),
                weight: Set(3),
            }
            .insert(db),
        )
        .await
        .unwrap();
    let fields: Vec<String> = common::attribute_rows(db)
        .await
        .into_iter()
        .map(|a| a.field_name)
        .collect();
    assert_eq!(fields, ["id", "name"]);
    let mut am = g.clone().into_active_model();
    am.color = Set(Some("blue".into()));
    let g = ctx().scope(am.update(db)).await.unwrap();
    assert_eq!(
        journal_counts(db).await,
        (1, 2),
        "a color change is not recorded"
    );
    let mut am = g.clone().into_active_model();
    am.name = Set("wrench".into());
    am.weight = Set(4);
    let g = ctx().scope(am.update(db)).await.unwrap();
    assert_eq!(journal_counts(db).await, (2, 3));
    let first = object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let then = ObjectSnapshot::<gadget::Entity>::at(first.id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(then.name, "spanner");
    assert_eq!(
        (then.color.as_deref(), then.weight),
        (Some("blue"), 4),
        "from the live row"
    );
    // revert leaves unrecorded columns alone
    let back = revy::rollback::revert::<gadget::Entity>(first.id)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(
        (back.name.as_str(), back.color.as_deref(), back.weight),
        ("spanner", Some("blue"), 4)
    );
    ctx().scope(g.into_active_model().delete(db)).await.unwrap();
    let gone = object_delta::Entity::find()
        .filter(object_delta::Column::Action.eq(Action::Delete))
        .one(db)
        .await
        .unwrap()
        .unwrap();
    let restored = revy::rollback::restore::<gadget::Entity>(gone.id)
        .exec(db)
        .await
        .unwrap();
    assert_eq!(
        (restored.name.as_str(), restored.color, restored.weight),
        ("spanner", None, 7),
        "NULL and the declared default stand in"
    );
}

/// Drafts are not tracked; publishing one records the draft as a baseline
/// and then the update; a later draft's changes are not; deleting a row
/// the journal knows is recorded even while it is a draft.
async fn conditions_choose_the_rows(t: TestDb) {
    tables(&t).await;
    let db = &t.db;
    let ctx = || Context::via_actor(alice());
    let m = ctx()
        .scope(new_member(1, "x", true).insert(db))
        .await
        .unwrap();
    assert_eq!(
        journal_counts(db).await.0,
        0,
        "a draft insert is not tracked"
    );
    let mut am = m.clone().into_active_model();
    am.email = Set("draft-edit@example.com".into());
    let m = ctx().scope(am.update(db)).await.unwrap();
    assert_eq!(
        journal_counts(db).await.0,
        0,
        "a draft update is not tracked"
    );
    // publish
    let mut am = m.clone().into_active_model();
    am.draft = Set(false);
    let published = ctx().scope(am.update(db)).await.unwrap();
    let deltas = object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap();
    let actions: Vec<Action> = deltas.iter().map(|d| d.action).collect();
    assert_eq!(
        actions,
        [Action::Create, Action::Update],
        "baseline, then the publish"
    );
    let baseline = ObjectSnapshot::<member::Entity>::at(deltas[0].id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert!(baseline.draft);
    assert_eq!(baseline.email, "draft-edit@example.com");
    let now = ObjectSnapshot::<member::Entity>::at(deltas[1].id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now, published);
    // undoing the publish brings the draft back
    revy::rollback::undo_revision(deltas[1].revision_id)
        .exec(db)
        .await
        .unwrap();
    let live = member::Entity::find_by_id(1)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert!(live.draft);
    // a draft's deletion is recorded, since the journal knows the row
    ctx()
        .scope(live.into_active_model().delete(db))
        .await
        .unwrap();
    let last = object_delta::Entity::find()
        .order_by_desc(object_delta::Column::Id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(last.action, Action::Delete);
    // bulk: drafts inserted in bulk are not tracked, the others are
    let before = journal_counts(db).await.0;
    let rows = (10..14).map(|id| new_member(id, "x", id % 2 == 0));
    ctx()
        .scope(revy::bulk::insert_many::<member::Entity>(rows).exec(db))
        .await
        .unwrap();
    let created: Vec<String> = object_delta::Entity::find()
        .filter(object_delta::Column::Id.gt(last.id))
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.content_id)
        .collect();
    assert_eq!(journal_counts(db).await.0, before + 2);
    assert_eq!(created, ["11", "13"]);
}

/// A bad policy fails the first tracked write, naming the column.
async fn bad_policies_are_clear_errors(t: TestDb) {
    tables(&t).await;
    let db = &t.db;
    let err = Context::new()
        .scope(
            bad::ActiveModel {
                id: Set(1),
                name: Set("n".into()),
            }
            .insert(db),
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("tracking policy of policy_bad: column id is part of the primary key"),
        "{text}"
    );
    assert_eq!(
        bad::Entity::find().count(db).await.unwrap(),
        0,
        "nothing written"
    );
}

crate::backend_tests!(
    redacted_values_never_reach_the_journal,
    ignored_only_updates_write_nothing,
    only_listed_columns_are_recorded,
    conditions_choose_the_rows,
    bad_policies_are_clear_errors,
);
