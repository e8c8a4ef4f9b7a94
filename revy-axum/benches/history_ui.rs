//! The history browser's pages on a journal of 100,000 changes (issue 27:
//! each page within 50 ms of server time). Each case is one request served
//! by the router through `tower::ServiceExt::oneshot`, no network: routing,
//! authorization, the page's statements, rendering and collecting the body.
//!
//! ```sh
//! cargo bench -p revy-axum --features history-ui --bench history_ui
//! REVY_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test \
//! REVY_BENCH_MYSQL_URL=mysql://root@127.0.0.1:3306/test \
//!     cargo bench -p revy-axum --features history-ui --bench history_ui
//! # short mode, what CI runs (a journal of about a thousand changes)
//! REVY_BENCH_QUICK=1 cargo test -p revy-axum --features history-ui --bench history_ui
//! ```
//!
//! The journal is written through revy's public writers, as an app writes
//! it: 9,900 rows created by `insert_many` in revisions of 100, one of
//! them (row 1) then edited 990 times one revision each, the tag
//! `bench-mid`, nine rounds of `update_many` over every row in revisions of
//! 100 rows (two columns each), and a `delete_many` of the last 10 rows:
//! 100,000 object deltas in 1,981 revisions, by five actors. Then
//! PostgreSQL gets `ANALYZE` (what autovacuum would do on its own);
//! MariaDB's InnoDB keeps its statistics itself, and SQLite has none unless
//! the app runs `ANALYZE`, which an app rarely does.
//!
//! Next to the pages, `plain/find_50_rows` reads one page of live rows with
//! sea-orm, as a scale for what one round trip of the same size costs.

use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::SecondsFormat;
use criterion::{Criterion, SamplingMode};
use revy_core::{Action, Actor, Context};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DbBackend, EntityTrait, IntoActiveModel, QueryFilter, QueryOrder, QuerySelect, Schema, Set,
};
use tokio::runtime::Runtime;
use tower::ServiceExt;

/// The bench's tracked table: text, long text, a counter, a flag, JSON.
mod item {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "bench_ui_items")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub title: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub body: Option<String>,
        pub count: i32,
        pub active: bool,
        pub data: Option<Json>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy_seaorm::track!();
    }
    impl revy_seaorm::TrackingPolicy for Entity {}
}

const TABLE: &str = "bench_ui_items";
const PREFIX: &str = "/history";
/// The database (MariaDB) or schema (PostgreSQL) of this bench alone.
const BENCH_SCHEMA: &str = "revy_bench_history_ui";

/// The journal's shape: full, or shrunk for a short run.
#[derive(Clone, Copy)]
struct Sizes {
    short: bool,
    /// Rows created.
    rows: i64,
    /// Rows per revision of the bulk writes.
    per_revision: i64,
    /// Single-row edits of row 1, a revision each.
    hot_edits: i64,
    /// Rounds of `update_many` over every row.
    rounds: i64,
    /// Rows deleted at the end.
    deletes: i64,
}

impl Sizes {
    fn from_env() -> Self {
        let short = std::env::var("REVY_BENCH_QUICK").is_ok_and(|v| v == "1" || v == "true")
            || std::env::args().any(|a| a == "--quick" || a == "--test");
        if short {
            Sizes {
                short,
                rows: 100,
                per_revision: 10,
                hot_edits: 20,
                rounds: 2,
                deletes: 2,
            }
        } else {
            // 9,900 creates + 990 edits + 9 × 9,900 updates + 10 deletes
            Sizes {
                short,
                rows: 9_900,
                per_revision: 100,
                hot_edits: 990,
                rounds: 9,
                deletes: 10,
            }
        }
    }

    fn changes(&self) -> i64 {
        self.rows * (1 + self.rounds) + self.hot_edits + self.deletes
    }
}

/// The actor of the `n`th revision: five users take turns.
fn actor(n: i64) -> Option<Actor> {
    Some(Actor::new("users", n % 5 + 1))
}

/// A connection to a fresh bench database with the journal and the table.
async fn connect(
    name: &str,
    url: Option<String>,
) -> (DatabaseConnection, Option<std::path::PathBuf>) {
    let (url, schema, file) = match (name, url) {
        ("postgres", Some(url)) => {
            let admin = Database::connect(&url)
                .await
                .expect("connect to PostgreSQL");
            admin
                .execute_unprepared(&format!(
                    "DROP SCHEMA IF EXISTS {BENCH_SCHEMA} CASCADE; CREATE SCHEMA {BENCH_SCHEMA}"
                ))
                .await
                .expect("create the bench schema");
            (url, Some(BENCH_SCHEMA), None)
        }
        ("mysql", Some(url)) => {
            let admin = Database::connect(&url).await.expect("connect to MySQL");
            admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {BENCH_SCHEMA}"))
                .await
                .expect("drop the bench database");
            admin
                .execute_unprepared(&format!(
                    "CREATE DATABASE {BENCH_SCHEMA} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
                ))
                .await
                .expect("create the bench database");
            let base = url.rsplit_once('/').map_or(url.as_str(), |(b, _)| b);
            (format!("{base}/{BENCH_SCHEMA}"), None, None)
        }
        _ => {
            let path = std::env::temp_dir()
                .join(format!("revy_bench_history_ui_{}.db", std::process::id()));
            let _ = std::fs::remove_file(&path);
            (
                format!("sqlite://{}?mode=rwc", path.display()),
                None,
                Some(path),
            )
        }
    };
    let mut options = ConnectOptions::new(url);
    options.max_connections(2).sqlx_logging(false);
    if let Some(schema) = schema {
        options.set_schema_search_path(schema);
    }
    options.map_sqlx_sqlite_opts(|o| {
        o.journal_mode(sea_orm::sqlx::sqlite::SqliteJournalMode::Wal)
            .synchronous(sea_orm::sqlx::sqlite::SqliteSynchronous::Normal)
    });
    let db = Database::connect(options).await.expect("connect");
    revy_seaorm::install(&db)
        .await
        .expect("install the journal");
    let schema = Schema::new(db.get_database_backend());
    db.execute(&schema.create_table_from_entity(item::Entity))
        .await
        .expect("create the bench table");
    (db, file)
}

/// What the pages are asked about, found while the journal is written.
struct Landmarks {
    /// A revision of a bulk round (100 rows), halfway through the rounds.
    bulk_revision: i64,
    /// Its time: the table and row 1 are shown as of it.
    mid_time: String,
    /// Object delta ids of row 1's versions 2 and `hot_edits - 10`.
    hot_versions: (i64, i64),
    /// Revisions written.
    revisions: i64,
    /// A deleted row and its delete's object delta.
    deleted: (i64, i64),
}

/// Writes the journal (see the module docs) and returns its landmarks.
async fn write_journal(db: &DatabaseConnection, s: Sizes) -> Landmarks {
    let mut revision = 0;
    for start in (1..=s.rows).step_by(s.per_revision as usize) {
        let end = std::cmp::min(start + s.per_revision - 1, s.rows);
        let models = (start..=end).map(|id| item::ActiveModel {
            id: Set(id),
            title: Set(format!("Item {id}")),
            body: Set(Some(format!("The body of item {id}. ").repeat(4))),
            count: Set(0),
            active: Set(true),
            data: Set(Some(serde_json::json!({ "batch": revision }))),
        });
        Context::via_actor(actor(revision))
            .revision_description(format!("Import batch {revision}"))
            .scope(revy_seaorm::bulk::insert_many::<item::Entity>(models).exec(db))
            .await
            .expect("insert a batch");
        revision += 1;
    }
    let mut hot = item::Entity::find_by_id(1)
        .one(db)
        .await
        .unwrap()
        .expect("row 1");
    for edit in 1..=s.hot_edits {
        let mut am = hot.into_active_model();
        am.title = Set(format!("Item 1, edit {edit}"));
        am.count = Set(edit as i32);
        hot = Context::via_actor(actor(revision))
            .revision_description(format!("Edit row 1 ({edit})"))
            .scope(am.update(db))
            .await
            .expect("edit row 1");
        revision += 1;
    }
    revy_seaorm::tags::tag("bench-mid", newest_revision(db).await.id)
        .exec(db)
        .await
        .expect("tag");
    let mut bulk = None;
    for round in 1..=s.rounds {
        for start in (1..=s.rows).step_by(s.per_revision as usize) {
            let end = start + s.per_revision - 1;
            Context::via_actor(actor(revision))
                .revision_description(format!("Round {round}, rows {start} to {end}"))
                .meta(serde_json::json!({ "round": round }))
                .scope(
                    revy_seaorm::bulk::update_many::<item::Entity>()
                        .set(item::ActiveModel {
                            title: Set(format!("Round {round}")),
                            ..Default::default()
                        })
                        .col_expr(item::Column::Count, Expr::col(item::Column::Count).add(1))
                        .filter(item::Column::Id.between(start, end))
                        .exec(db),
                )
                .await
                .expect("update a batch");
            revision += 1;
        }
        if round == (s.rounds + 1) / 2 {
            bulk = Some(newest_revision(db).await);
        }
    }
    let first_deleted = s.rows - s.deletes + 1;
    Context::via_actor(actor(revision))
        .revision_description("Remove the last rows")
        .scope(
            revy_seaorm::bulk::delete_many::<item::Entity>()
                .filter(item::Column::Id.gte(first_deleted))
                .exec(db),
        )
        .await
        .expect("delete");
    let bulk = bulk.expect("a middle round");
    let history = revy_seaorm::history::of::<item::Entity>(1)
        .all(db)
        .await
        .unwrap();
    assert_eq!(
        history.len() as i64,
        1 + s.hot_edits + s.rounds,
        "row 1's versions"
    );
    let id_of = |v: i64| {
        history
            .iter()
            .find(|d| d.version == v)
            .map(|d| d.id)
            .expect("a version of row 1")
    };
    let delete = revy_seaorm::history::of::<item::Entity>(first_deleted)
        .action(Action::Delete)
        .all(db)
        .await
        .unwrap();
    Landmarks {
        bulk_revision: bulk.id,
        mid_time: bulk
            .created_at
            .to_rfc3339_opts(SecondsFormat::Micros, true)
            .replace(':', "%3A"),
        hot_versions: (id_of(2), id_of(s.hot_edits - 10)),
        revisions: revision + 1,
        deleted: (first_deleted, delete.first().expect("the delete").id),
    }
}

async fn newest_revision(db: &DatabaseConnection) -> revy_seaorm::entity::revision::Model {
    revy_seaorm::history::revisions()
        .limit(1)
        .all(db)
        .await
        .unwrap()
        .pop()
        .expect("a revision")
}

/// Planner statistics, as the server would gather them by itself.
async fn settle(db: &DatabaseConnection) {
    if db.get_database_backend() == DbBackend::Postgres {
        db.execute_unprepared("ANALYZE").await.expect("ANALYZE");
    }
}

/// The browser as an app mounts it; everyone is user 1.
fn app(db: &DatabaseConnection) -> Router {
    Router::new().nest(
        PREFIX,
        revy_axum::HistoryUi::new(db.clone())
            .entity::<item::Entity>()
            .authorize(|_| async { Some(Actor::new("users", 1)) })
            .router(),
    )
}

/// One request through the router: the page's status and body.
async fn serve(app: &Router, path: &str) -> (StatusCode, String) {
    let request = Request::get(format!("{PREFIX}{path}"))
        .body(Body::empty())
        .expect("a request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .expect("the body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The pages timed: a name, the path, and a text the page must show.
fn pages(s: Sizes, l: &Landmarks) -> Vec<(&'static str, String, String)> {
    let typical = s.rows / 2;
    let (v2, vn) = l.hot_versions;
    let (gone, delete) = l.deleted;
    let row = |query: String| format!("/rows/{TABLE}?key={query}");
    vec![
        ("revisions", String::new(), "Remove the last rows".into()),
        (
            "revisions_by_actor",
            "?actor=users%3A3".into(),
            "class=\"revision\"".into(),
        ),
        (
            "revisions_of_row",
            format!("?table={TABLE}&key=1"),
            "Edit row 1".into(),
        ),
        (
            "revisions_up_to_tag",
            "?tag=bench-mid".into(),
            format!("Edit row 1 ({})", s.hot_edits),
        ),
        (
            "revisions_older_page",
            format!("?before={}", l.bulk_revision),
            "Round".into(),
        ),
        (
            "revision_of_100_rows",
            format!("/revisions/{}", l.bulk_revision),
            format!("<dt>Rows</dt><dd>{}</dd>", s.per_revision),
        ),
        ("row_1000_versions", row("1".into()), "Blame".into()),
        ("row_10_versions", row(typical.to_string()), "Blame".into()),
        ("row_deleted", row(gone.to_string()), "deleted now".into()),
        (
            "row_diff_far_versions",
            row(format!("1&a={v2}&b={vn}")),
            "class=\"diff\"".into(),
        ),
        (
            "row_at_time",
            row(format!("1&at={}", l.mid_time)),
            "Round".into(),
        ),
        ("table_now", format!("/tables/{TABLE}"), "Round".into()),
        (
            "table_at_tag",
            format!("/tables/{TABLE}?tag=bench-mid"),
            format!("Item 1, edit {}", s.hot_edits),
        ),
        (
            "table_at_time",
            format!("/tables/{TABLE}?at={}", l.mid_time),
            "Round".into(),
        ),
        (
            "table_later_page",
            format!("/tables/{TABLE}?after={typical}"),
            "Round".into(),
        ),
        (
            "confirm_restore",
            format!("/actions/restore?table={TABLE}&key={gone}&delta={delete}"),
            "Restore this row".into(),
        ),
        (
            "confirm_revert",
            format!("/actions/revert?table={TABLE}&key=1&delta={v2}"),
            "Revert this row".into(),
        ),
        (
            "confirm_undo",
            format!("/actions/undo?revision={}", l.bulk_revision),
            "Undo this revision".into(),
        ),
    ]
}

fn bench_backend(c: &mut Criterion, rt: &Runtime, name: &str, db: &DatabaseConnection, s: Sizes) {
    let started = std::time::Instant::now();
    let landmarks = rt.block_on(write_journal(db, s));
    rt.block_on(settle(db));
    println!(
        "{name}: journal of {} changes in {} revisions written in {:.1} s",
        s.changes(),
        landmarks.revisions,
        started.elapsed().as_secs_f64()
    );
    let app = app(db);
    let mut group = c.benchmark_group(format!("{name}/history_ui"));
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    if s.short {
        group
            .measurement_time(Duration::from_millis(500))
            .warm_up_time(Duration::from_millis(100));
    } else {
        group
            .measurement_time(Duration::from_secs(3))
            .warm_up_time(Duration::from_secs(1));
    }
    for (case, path, shows) in pages(s, &landmarks) {
        let (status, page) = rt.block_on(serve(&app, &path));
        assert_eq!(status, StatusCode::OK, "{case} {path}: {page}");
        assert!(page.contains(&shows), "{case} {path} lacks {shows:?}");
        group.bench_function(case, |b| b.iter(|| rt.block_on(serve(&app, &path))));
    }
    group.bench_function("plain/find_50_rows", |b| {
        b.iter(|| {
            rt.block_on(
                item::Entity::find()
                    .order_by_asc(item::Column::Id)
                    .limit(50)
                    .all(db),
            )
            .expect("rows")
        })
    });
    group.finish();
}

fn main() {
    let sizes = Sizes::from_env();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let mut c = Criterion::default().configure_from_args();
    let mut backends = vec![("sqlite", None)];
    for (name, var) in [
        ("postgres", "REVY_BENCH_POSTGRES_URL"),
        ("mysql", "REVY_BENCH_MYSQL_URL"),
    ] {
        if let Ok(url) = std::env::var(var) {
            backends.push((name, Some(url)));
        }
    }
    for (name, url) in backends {
        let (db, file) = rt.block_on(connect(name, url));
        bench_backend(&mut c, &rt, name, &db, sizes);
        drop(db);
        if let Some(file) = file {
            let _ = std::fs::remove_file(file);
        }
    }
    c.final_summary();
}
