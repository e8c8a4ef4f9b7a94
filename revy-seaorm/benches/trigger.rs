//! What a trigger-based capture would cost on PostgreSQL (issue 18): the
//! journal written inside the database by a row trigger, as
//! django-pghistory does, next to revy's hooks and plain sea-orm, in paired
//! rounds of the same run. A measurement, not a capture mechanism revy
//! ships: the trigger here writes revy's journal tables (a revision per
//! transaction, an object delta with its version, one attribute delta per
//! changed column), but its values are PostgreSQL's `to_jsonb` of each
//! column, not revy's codec (decimals as numbers, times in PostgreSQL's
//! format).
//!
//! ```sh
//! REVY_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//!     cargo bench -p revy-seaorm --bench trigger
//! ```
//!
//! Two ways to hand the context (actor) to the trigger are timed:
//! `set_config(.., true)` as a statement of its own at the start of each
//! transaction (one round trip more), and the context already in the
//! session (set at connect here): the cost of handing it over in the same
//! round trip as the transaction's first statement, as pghistory does,
//! lies between the two. Without `REVY_BENCH_POSTGRES_URL` it does
//! nothing; `--test` or `REVY_BENCH_QUICK=1` runs each case once, small.

use std::time::{Duration, Instant};

use revy_core::{Actor, Context, LazyRevision};
use sea_orm::{
    ActiveModelTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbBackend,
    EntityTrait, Schema, Statement, TransactionTrait,
};

#[allow(dead_code)]
#[macro_use]
#[path = "tracking/entities.rs"]
mod entities;

use entities::{Item, item, plain_item};

// The table the trigger journals: the plain item's columns, untracked.
item_entity!(
    trigger_item,
    "bench_trigger_items",
    impl ActiveModelBehavior for ActiveModel {}
    impl revy_seaorm::TrackingPolicy for Entity {}
);

const SCHEMA: &str = "revy_bench_trigger";

/// The capture trigger: revy's journal rows, written by the database.
const TRIGGER: &str = r#"
CREATE FUNCTION revy_capture() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    rev bigint := nullif(current_setting('revy.revision', true), '')::bigint;
    actor_type text := nullif(current_setting('revy.actor_type', true), '');
    actor_id text := nullif(current_setting('revy.actor_id', true), '');
    key text;
    -- TG_TABLE_NAME is a `name`: compared as it is, the journal's index
    -- on (content_type, content_id) would not serve the version lookup
    tbl text := TG_TABLE_NAME::text;
    delta bigint;
    version bigint;
    after jsonb;
    before jsonb;
    action text;
    changes text := '[]';
BEGIN
    IF rev IS NULL THEN
        INSERT INTO revy_revisions (description, meta, created_at)
            VALUES ('', NULL, now()) RETURNING id INTO rev;
        PERFORM set_config('revy.revision', rev::text, true);
    END IF;
    IF TG_OP = 'DELETE' THEN key := OLD.id::text; ELSE key := NEW.id::text; END IF;
    action := CASE TG_OP WHEN 'INSERT' THEN 'Create' WHEN 'UPDATE' THEN 'Update' ELSE 'Delete' END;
    SELECT COALESCE((SELECT d.version FROM revy_object_deltas d
                     WHERE d.content_type = tbl AND d.content_id = key
                     ORDER BY d.id DESC LIMIT 1), 0) + 1 INTO version;
    IF TG_OP <> 'DELETE' THEN
        -- the change's entries inline, in revy's compact encoding
        after := to_jsonb(NEW);
        before := CASE WHEN TG_OP = 'UPDATE' THEN to_jsonb(OLD) ELSE '{}'::jsonb END;
        SELECT COALESCE(json_agg(CASE WHEN TG_OP = 'INSERT'
                                      THEN json_build_array(k, after -> k)
                                      ELSE json_build_array(k, before -> k, after -> k) END)::text, '[]')
            INTO changes
            FROM jsonb_object_keys(after) AS k
            WHERE TG_OP = 'INSERT' OR (after -> k) IS DISTINCT FROM (before -> k);
    END IF;
    INSERT INTO revy_object_deltas (revision_id, actor_type, actor_id, action, description,
                                    content_type, content_id, created_at, version, changes)
        VALUES (rev, actor_type, actor_id, action, '', tbl, key, now(), version, changes);
    RETURN NULL;
END $$;
CREATE TRIGGER revy_capture AFTER INSERT OR UPDATE OR DELETE ON bench_trigger_items
    FOR EACH ROW EXECUTE FUNCTION revy_capture();
"#;

async fn connect(url: &str, context_in_session: bool) -> DatabaseConnection {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(2)
        .sqlx_logging(false)
        .set_schema_search_path(SCHEMA);
    if context_in_session {
        options.map_sqlx_postgres_opts(|o| {
            o.options([("revy.actor_type", "users"), ("revy.actor_id", "1")])
        });
    }
    Database::connect(options).await.expect("connect")
}

async fn setup(url: &str) -> (DatabaseConnection, DatabaseConnection) {
    let admin = Database::connect(url).await.expect("connect to PostgreSQL");
    admin
        .execute_unprepared(&format!(
            "DROP SCHEMA IF EXISTS {SCHEMA} CASCADE; CREATE SCHEMA {SCHEMA}"
        ))
        .await
        .unwrap();
    let db = connect(url, false).await;
    revy_seaorm::install(&db).await.unwrap();
    let schema = Schema::new(DbBackend::Postgres);
    for create in [
        schema.create_table_from_entity(item::Entity),
        schema.create_table_from_entity(plain_item::Entity),
        schema.create_table_from_entity(trigger_item::Entity),
    ] {
        db.execute(&create).await.unwrap();
    }
    db.execute_unprepared(TRIGGER).await.unwrap();
    let in_session = connect(url, true).await;
    (db, in_session)
}

/// Which side of a comparison a round times.
#[derive(Clone, Copy, PartialEq)]
enum Side {
    Plain,
    Hooks,
    /// The trigger, the context set by a statement of its own.
    Trigger,
    /// The trigger, the context already in the session.
    TriggerInSession,
}

fn new_row(i: i64) -> trigger_item::ActiveModel {
    let p = plain_item::Entity::new_row(i);
    trigger_item::ActiveModel {
        id: p.id,
        quantity: p.quantity,
        count: p.count,
        label: p.label,
        price: p.price,
        created_at: p.created_at,
        active: p.active,
        note: p.note,
    }
}

/// The trigger's context for this transaction, by a statement of its own.
async fn hand_over_context(txn: &sea_orm::DatabaseTransaction) {
    txn.execute_raw(Statement::from_string(
        DbBackend::Postgres,
        "SELECT set_config('revy.actor_type', 'users', true), set_config('revy.actor_id', '1', true)",
    ))
    .await
    .unwrap();
}

/// `n` inserts in `transactions` transactions, on one side; their time.
async fn inserts(
    db: &DatabaseConnection,
    in_session: &DatabaseConnection,
    side: Side,
    transactions: u64,
    per_transaction: u64,
) -> Duration {
    let db = if side == Side::TriggerInSession {
        in_session
    } else {
        db
    };
    let start = Instant::now();
    for t in 0..transactions {
        let work = async {
            let txn = db.begin().await.unwrap();
            if side == Side::Trigger {
                hand_over_context(&txn).await;
            }
            for i in 0..per_transaction {
                let n = (t * per_transaction + i) as i64;
                match side {
                    Side::Plain => {
                        plain_item::Entity::new_row(n).insert(&txn).await.unwrap();
                    }
                    Side::Hooks => {
                        item::Entity::new_row(n).insert(&txn).await.unwrap();
                    }
                    Side::Trigger | Side::TriggerInSession => {
                        new_row(n).insert(&txn).await.unwrap();
                    }
                }
            }
            txn.commit().await.unwrap();
        };
        Context::via_actor(Some(Actor::new("users", 1)))
            .revision(LazyRevision::new())
            .scope(work)
            .await;
    }
    start.elapsed()
}

/// Updates of 2 columns of the first `rows` rows of each table, `per_transaction` a
/// transaction; their time.
async fn updates(
    db: &DatabaseConnection,
    in_session: &DatabaseConnection,
    side: Side,
    rows: u64,
    per_transaction: u64,
    round: i64,
) -> Duration {
    use sea_orm::{ColumnTrait, QueryFilter, QueryOrder, QuerySelect};
    let conn = if side == Side::TriggerInSession {
        in_session
    } else {
        db
    };
    // the rows are read outside the timing
    macro_rules! models {
        ($m:ident) => {
            $m::Entity::find()
                .filter($m::Column::Id.gt(0))
                .order_by_asc($m::Column::Id)
                .limit(rows)
                .all(db)
                .await
                .unwrap()
        };
    }
    let (plain, hooked, triggered) = match side {
        Side::Plain => (models!(plain_item), vec![], vec![]),
        Side::Hooks => (vec![], models!(item), vec![]),
        _ => (vec![], vec![], models!(trigger_item)),
    };
    let start = Instant::now();
    let mut done = 0;
    while done < rows {
        let work = async {
            let txn = conn.begin().await.unwrap();
            if side == Side::Trigger {
                hand_over_context(&txn).await;
            }
            for i in done..(done + per_transaction).min(rows) {
                let i = i as usize;
                match side {
                    Side::Plain => {
                        plain_item::Entity::edit(plain[i].clone(), round)
                            .update(&txn)
                            .await
                            .unwrap();
                    }
                    Side::Hooks => {
                        item::Entity::edit(hooked[i].clone(), round)
                            .update(&txn)
                            .await
                            .unwrap();
                    }
                    _ => {
                        let mut am: trigger_item::ActiveModel = triggered[i].clone().into();
                        am.quantity = sea_orm::Set(round as i32);
                        am.label = sea_orm::Set(format!("round {round}"));
                        am.update(&txn).await.unwrap();
                    }
                }
            }
            txn.commit().await.unwrap();
        };
        Context::via_actor(Some(Actor::new("users", 1)))
            .revision(LazyRevision::new())
            .scope(work)
            .await;
        done += per_transaction;
    }
    start.elapsed()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let Ok(url) = std::env::var("REVY_BENCH_POSTGRES_URL") else {
        println!("trigger bench: REVY_BENCH_POSTGRES_URL is not set, nothing to measure");
        return;
    };
    let short = std::env::var("REVY_BENCH_QUICK").is_ok_and(|v| v == "1" || v == "true")
        || std::env::args().any(|a| a == "--quick" || a == "--test");
    let (batch, singles, rounds) = if short { (20, 4, 1) } else { (1_000, 20, 9) };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let (db, in_session) = rt.block_on(setup(&url));
    let sides = [
        Side::Plain,
        Side::Hooks,
        Side::Trigger,
        Side::TriggerInSession,
    ];
    let names = [
        "plain",
        "hooks",
        "trigger, set_config",
        "trigger, in session",
    ];
    println!("| case | {} |", names.join(" µs/row | ") + " µs/row");
    println!("|---|---:|---:|---:|---:|");
    let mut round = 0i64;
    for (case, transactions, per_transaction) in [
        (format!("insert, {batch} rows in one transaction"), 1, batch),
        ("insert, one row per transaction".to_owned(), singles, 1),
        (
            format!("update of 2 columns, {batch} rows in one transaction"),
            1,
            batch,
        ),
        (
            "update of 2 columns, one row per transaction".to_owned(),
            singles,
            1,
        ),
    ] {
        let update = case.starts_with("update");
        let rows = transactions * per_transaction;
        let mut times: Vec<Vec<f64>> = vec![Vec::new(); sides.len()];
        // a warm-up round, then `rounds` rounds, the sides in a rotating order
        for r in 0..=rounds {
            round += 1;
            for k in 0..sides.len() {
                let s = (k + r) % sides.len();
                let took = rt.block_on(async {
                    if update {
                        updates(&db, &in_session, sides[s], rows, per_transaction, round).await
                    } else {
                        inserts(&db, &in_session, sides[s], transactions, per_transaction).await
                    }
                });
                if r > 0 {
                    times[s].push(took.as_secs_f64() * 1e6 / rows as f64);
                }
            }
        }
        let medians: Vec<String> = times
            .into_iter()
            .map(|t| format!("{:.1}", median(t)))
            .collect();
        println!("| {case} | {} |", medians.join(" | "));
    }
}
