//! Random histories of accounts, and the answers and journal rows the
//! prune tests compare before and after.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use revy::entity::{object_delta, revision};
use revy::{Actor, Context};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};

use crate::common::entities::account;

/// A small deterministic random source (xorshift), so failures replay.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n.max(1)
    }
}

fn who(rng: &mut Rng) -> Option<Actor> {
    match rng.below(3) {
        0 => None,
        n => Some(Actor::new("users", n as i64)),
    }
}

/// Live and deleted rows of a random history.
#[derive(Default)]
struct Rows {
    live: Vec<account::Model>,
    /// deleted rows: their key and the id of their Delete
    deleted: Vec<(i32, i64)>,
}

/// One random step: create, update, delete or restore an account, each
/// tracked under a random actor; some rows start untracked (a baseline).
async fn step(db: &DatabaseConnection, rng: &mut Rng, rows: &mut Rows, n: usize) {
    let actor = who(rng);
    let choice = if rows.live.is_empty() {
        0
    } else {
        rng.below(10)
    };
    match choice {
        0 | 1 => {
            let am = account::ActiveModel {
                code: Set(format!("A{n}")),
                name: Set((rng.below(2) == 0).then(|| format!("name {n}"))),
                is_active: Set(rng.below(2) == 0),
                balance: Set(rng.below(100) as i64),
                ..Default::default()
            };
            let row = if rng.below(4) == 0 {
                am.insert(db).await.unwrap() // untracked: a baseline comes later
            } else {
                Context::via_actor(actor)
                    .scope(am.insert(db))
                    .await
                    .unwrap()
            };
            rows.live.push(row);
        }
        2 => {
            let i = rng.below(rows.live.len() as u64) as usize;
            let row = rows.live.swap_remove(i);
            let id = row.id;
            Context::via_actor(actor)
                .scope(row.into_active_model().delete(db))
                .await
                .unwrap();
            let delete = object_delta::Entity::find()
                .filter(object_delta::Column::ContentType.eq("accounts"))
                .filter(object_delta::Column::ContentId.eq(id.to_string()))
                .order_by_desc(object_delta::Column::Id)
                .one(db)
                .await
                .unwrap()
                .unwrap();
            rows.deleted.push((id, delete.id));
        }
        3 if !rows.deleted.is_empty() => {
            let i = rng.below(rows.deleted.len() as u64) as usize;
            let (_, delete) = rows.deleted.swap_remove(i);
            let row = Context::via_actor(actor)
                .scope(revy::rollback::restore::<account::Entity>(delete).exec(db))
                .await
                .unwrap();
            rows.live.push(row);
        }
        4 if !rows.deleted.is_empty() => {
            // back in untracked: the journal's last word on it stays a
            // Delete, and its next tracked update records only what changed
            let i = rng.below(rows.deleted.len() as u64) as usize;
            let (id, _) = rows.deleted.swap_remove(i);
            let row = account::ActiveModel {
                id: Set(id),
                code: Set(format!("back {n}")),
                name: Set(None),
                is_active: Set(true),
                balance: Set(1),
            }
            .insert(db)
            .await
            .unwrap();
            rows.live.push(row);
        }
        _ => {
            let i = rng.below(rows.live.len() as u64) as usize;
            let mut am = rows.live[i].clone().into_active_model();
            match rng.below(4) {
                0 => am.code = Set(format!("A{n}")),
                1 => am.name = Set((rng.below(2) == 0).then(|| format!("renamed {n}"))),
                2 => am.is_active = Set(rng.below(2) == 0),
                _ => am.balance = Set(rng.below(1000) as i64),
            }
            rows.live[i] = Context::via_actor(actor)
                .scope(am.update(db))
                .await
                .unwrap();
        }
    }
}

/// A moment strictly between the journal rows written before and after it.
pub(crate) async fn moment() -> DateTime<Utc> {
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    let at = Utc::now();
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    at
}

/// `steps` random steps, then the cut, then `steps` more.
pub(crate) async fn random_history(
    db: &DatabaseConnection,
    seed: u64,
    steps: usize,
) -> DateTime<Utc> {
    let mut rng = Rng(seed);
    let mut rows = Rows::default();
    for n in 0..steps {
        step(db, &mut rng, &mut rows, n).await;
    }
    let cut = moment().await;
    for n in steps..2 * steps {
        step(db, &mut rng, &mut rows, n).await;
    }
    cut
}

/// Every object delta of accounts with its snapshot, by id.
pub(crate) async fn snapshots(db: &DatabaseConnection) -> BTreeMap<i64, Option<account::Model>> {
    use revy::prelude::*;
    object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("accounts"))
        .with_snapshot::<account::Entity>()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|(d, s)| (d.id, s))
        .collect()
}

/// What anyone can ask about times at or after `cut`: `as_of` every key at
/// `cut`, at each delta's time and later, and each key's history since `cut`.
pub(crate) async fn answers_since(
    db: &DatabaseConnection,
    cut: DateTime<Utc>,
    keys: &[i32],
) -> String {
    let end = cut + Duration::days(1);
    let mut times = vec![cut, end];
    let deltas = object_delta::Entity::find()
        .filter(object_delta::Column::CreatedAt.gte(cut))
        .all(db)
        .await
        .unwrap();
    times.extend(deltas.iter().map(|d| d.created_at));
    let mut out = String::new();
    for &key in keys {
        for &at in &times {
            let row = revy::history::as_of::<account::Entity>(key, at)
                .one(db)
                .await
                .unwrap();
            out += &format!("{key}@{at}: {row:?}\n");
        }
        let page = revy::history::of::<account::Entity>(key)
            .between(cut, end)
            .all(db)
            .await
            .unwrap();
        out += &format!("{key} since cut: {page:?}\n");
    }
    out
}

pub(crate) async fn keys(db: &DatabaseConnection) -> Vec<i32> {
    let mut keys: Vec<i32> = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("accounts"))
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|d| d.content_id.parse().unwrap())
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

/// The journal as rows, without the ids that differ between two equal
/// prunes (attribute deltas' and revisions' own ids): object deltas with
/// their revision's description and meta, attribute deltas in id order.
pub(crate) async fn journal(db: &DatabaseConnection) -> Vec<String> {
    let revisions: BTreeMap<i64, revision::Model> = revision::Entity::find()
        .all(db)
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let mut out = Vec::new();
    for d in object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap()
    {
        let r = &revisions[&d.revision_id];
        out.push(format!(
            "{} {:?} {:?} {:?} {} {} {} | {} {:?}",
            d.id,
            d.action,
            d.actor(),
            d.description,
            d.content_type,
            d.content_id,
            d.created_at,
            r.description,
            r.meta
        ));
        for a in crate::common::entries_of(&d) {
            assert_eq!(a.revision_id, d.revision_id);
            out.push(format!(
                "  {:?} {:?} {} {} -> {} {}",
                a.action,
                a.actor(),
                a.field_name,
                a.old_value,
                a.new_value,
                a.created_at
            ));
        }
    }
    let used: std::collections::BTreeSet<i64> = object_delta::Entity::find()
        .all(db)
        .await
        .unwrap()
        .iter()
        .map(|d| d.revision_id)
        .collect();
    assert_eq!(
        used,
        revisions.keys().copied().collect(),
        "no revision is left empty"
    );
    out
}
