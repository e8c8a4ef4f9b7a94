//! Journal rows written in bulk, straight to the tables: how the benches
//! build long histories and families of children in seconds.

use chrono::Utc;
use revy_core::Action;
use revy_seaorm::entity::{object_delta, revision};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, NotSet, QueryFilter,
    QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde_json::{Value as Json, json};

use crate::entities::{child, item, plain_child, plain_item};
use crate::insert_rows;

/// Journal rows of one object delta, written straight to the tables.
pub struct SeedDelta {
    pub content_id: String,
    pub action: Action,
    /// Per column: name, old value, new value.
    pub columns: Vec<(&'static str, Json, Json)>,
}

/// Writes object deltas of `content_type` with their attribute deltas
/// (inline) in bulk (1,000 object deltas a revision), bypassing the hooks: how the
/// large histories are built in seconds.
pub async fn seed<C: ConnectionTrait>(db: &C, content_type: &str, deltas: Vec<SeedDelta>) {
    const CHUNK: usize = 1_000;
    let now = Utc::now();
    let objects: Vec<String> = deltas
        .iter()
        .map(|d| d.content_id.clone())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut deltas = deltas.into_iter().peekable();
    // each object's versions go on from its newest in the journal
    let mut versions: std::collections::HashMap<String, i64> = object_delta::Entity::find()
        .select_only()
        .column(object_delta::Column::ContentId)
        .column_as(object_delta::Column::Version.max(), "newest")
        .filter(object_delta::Column::ContentType.eq(content_type))
        .group_by(object_delta::Column::ContentId)
        .into_tuple::<(String, i64)>()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .collect();
    while deltas.peek().is_some() {
        let chunk: Vec<SeedDelta> = deltas.by_ref().take(CHUNK).collect();
        let revision_id = revision::Entity::insert(revision::ActiveModel {
            id: NotSet,
            description: Set("bench seed".into()),
            meta: Set(None),
            created_at: Set(now),
        })
        .exec(db)
        .await
        .unwrap()
        .last_insert_id;
        let numbered: Vec<i64> = chunk
            .iter()
            .map(|d| {
                let v = versions.entry(d.content_id.clone()).or_insert(0);
                *v += 1;
                *v
            })
            .collect();
        let objects = chunk
            .iter()
            .zip(numbered)
            .map(|(d, version)| object_delta::ActiveModel {
                id: NotSet,
                revision_id: Set(revision_id),
                actor_type: Set(None),
                actor_id: Set(None),
                action: Set(d.action),
                description: Set(String::new()),
                content_type: Set(content_type.into()),
                content_id: Set(d.content_id.clone()),
                created_at: Set(now),
                version: Set(version),
                hash: Set(None),
                seal: Set(None),
                salt: Set(None),
                changes: Set(revy_seaorm::entity::attribute_delta::encode(
                    &d.columns
                        .iter()
                        .map(|(field, old, new)| {
                            revy_seaorm::history::AttributeDelta::new(
                                field.to_string(),
                                old.clone(),
                                new.clone(),
                                None,
                                "",
                            )
                        })
                        .collect::<Vec<_>>(),
                    &None,
                    "",
                )),
                state: sea_orm::ActiveValue::NotSet,
            });
        object_delta::Entity::insert_many(objects)
            .exec_without_returning(db)
            .await
            .unwrap();
    }
    // the checkpoints the writer would have written
    revy_seaorm::__private::rebuild_checkpoints(db, content_type, &objects)
        .await
        .unwrap();
}

/// Refreshes the planner's statistics after a bulk load, as autovacuum or
/// InnoDB's automatic statistics would in a database that grew over time:
/// without it PostgreSQL plans lookups in the just-filled journal as scans
/// of an empty table. On PostgreSQL it also vacuums and checkpoints, so
/// that neither autovacuum nor the checkpointer wakes up for the new rows in
/// the middle of a measurement. SQLite keeps no statistics unless asked to.
pub async fn analyze(db: &DatabaseConnection) {
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => {
            "VACUUM ANALYZE revy_revisions, revy_object_deltas, bench_items, bench_children"
        }
        DbBackend::MySql => {
            "ANALYZE TABLE revy_revisions, revy_object_deltas, bench_items, bench_children"
        }
        _ => return,
    };
    db.execute_unprepared(sql).await.unwrap();
    if db.get_database_backend() == DbBackend::Postgres {
        // needs a superuser or pg_checkpoint; without, the bench is noisier
        let _ = db.execute_unprepared("CHECKPOINT").await;
    }
}

/// `n` updates of two columns, as a tracked update of `Item::edit` records them.
pub fn updates(content_id: &str, n: u64) -> impl Iterator<Item = SeedDelta> + '_ {
    (1..=n as i64).map(move |round| SeedDelta {
        content_id: content_id.to_owned(),
        action: Action::Update,
        columns: vec![
            ("quantity", json!(round - 1), json!(round)),
            (
                "label",
                json!(format!("round {}", round - 1)),
                json!(format!("round {round}")),
            ),
        ],
    })
}

/// A tracked item with `history` object deltas (its Create, then updates);
/// returns the live row and its newest object delta.
pub async fn item_with_history(db: &DatabaseConnection, history: u64) -> (item::Model, i64) {
    let row = insert_rows::<item::Entity>(db, 1).await.remove(0);
    let txn = db.begin().await.unwrap();
    let content_id = row.id.to_string();
    seed(
        &txn,
        "bench_items",
        updates(&content_id, history - 1).collect(),
    )
    .await;
    txn.commit().await.unwrap();
    analyze(db).await;
    let newest = object_delta::Entity::find()
        .select_only()
        .column(object_delta::Column::Id)
        .filter(object_delta::Column::ContentType.eq("bench_items"))
        .filter(object_delta::Column::ContentId.eq(content_id))
        .order_by_desc(object_delta::Column::Id)
        .into_tuple::<i64>()
        .one(db)
        .await
        .unwrap()
        .unwrap();
    (row, newest)
}

/// A tracked parent whose `n` children have their Create in the journal.
pub async fn family(db: &DatabaseConnection, n: u64) -> item::Model {
    let parent = insert_rows::<item::Entity>(db, 1).await.remove(0);
    let txn = db.begin().await.unwrap();
    for start in (0..n).step_by(1_000) {
        let rows = (start..n.min(start + 1_000)).map(|i| child::ActiveModel {
            id: NotSet,
            parent_id: Set(parent.id),
            label: Set(format!("child {i}")),
        });
        child::Entity::insert_many(rows)
            .exec_without_returning(&txn)
            .await
            .unwrap();
    }
    let children = child::Entity::find()
        .filter(child::Column::ParentId.eq(parent.id))
        .all(&txn)
        .await
        .unwrap();
    let creates = children
        .iter()
        .map(|c| SeedDelta {
            content_id: c.id.to_string(),
            action: Action::Create,
            columns: vec![
                ("id", Json::Null, json!(c.id)),
                ("parent_id", Json::Null, json!(c.parent_id)),
                ("label", Json::Null, json!(c.label)),
            ],
        })
        .collect();
    seed(&txn, "bench_children", creates).await;
    txn.commit().await.unwrap();
    analyze(db).await;
    parent
}

pub async fn plain_family(db: &DatabaseConnection, n: u64) -> i64 {
    let parent = insert_rows::<plain_item::Entity>(db, 1).await.remove(0);
    for start in (0..n).step_by(1_000) {
        let rows = (start..n.min(start + 1_000)).map(|i| plain_child::ActiveModel {
            id: NotSet,
            parent_id: Set(parent.id),
            label: Set(format!("child {i}")),
        });
        plain_child::Entity::insert_many(rows)
            .exec_without_returning(db)
            .await
            .unwrap();
    }
    parent.id
}
