//! A notes service on axum whose every change is tracked by revy: the user
//! the (stand-in) authentication found is the actor, the `X-Commit-Message`
//! header the revision description, and each request one revision, so a
//! request can be undone as a whole.
//!
//! ```sh
//! cargo run -p revy-examples --features web --example web              # serves on 127.0.0.1:3000
//! cargo run -p revy-examples --features web --example web -- --smoke   # calls itself over HTTP, checks, exits
//! DATABASE_URL=postgres://postgres@127.0.0.1:5432/test cargo run -p revy-examples --features web,postgres --example web
//! ```
//!
//! Endpoints: `POST /notes`, `GET|PUT|DELETE /notes/{id}`,
//! `GET /notes/{id}/history` (newest first), `POST /revisions/{id}/undo`,
//! `GET /notes/{id}/entries` (revy's own `HistoryEntry` JSON),
//! `GET /trash/notes` (deleted notes, newest first), and the history
//! browser at `/history` (open it in a web browser).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::process::ExitCode;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{self, HeaderValue, Method, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use revy::axum::{HistoryUi, RevyLayer};
use revy::entity::revision;
use revy::rollback::RollbackError;
use revy::{Actor, Context, error::JournalError};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    DbErr, EntityTrait, IntoActiveModel, ModelTrait, QueryFilter, Schema, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

mod note {
    use sea_orm::entity::prelude::*;
    use serde::Serialize;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel, Serialize)]
    #[sea_orm(table_name = "notes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub title: String,
        #[sea_orm(column_type = "Text")]
        pub body: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
}

type AnyError = Box<dyn std::error::Error + Send + Sync>;

// ---------------------------------------------------------------- the app

/// Who the authentication says is calling.
#[derive(Clone, Copy, Debug)]
struct CurrentUser(i64);

/// Authentication stand-in: `Authorization: Bearer user-<n>` is user n, no
/// header is an anonymous caller, anything else is refused.
async fn authenticate(mut request: Request, next: Next) -> Response {
    if let Some(value) = request.headers().get(header::AUTHORIZATION) {
        let user = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer user-"))
            .and_then(|n| n.parse().ok());
        match user {
            Some(n) => {
                request.extensions_mut().insert(CurrentUser(n));
            }
            None => {
                return AppError::new(StatusCode::UNAUTHORIZED, "unknown token").into_response();
            }
        }
    }
    next.run(request).await
}

/// The layer's actor function: the authenticated user, or the system.
fn current_user(parts: &http::request::Parts) -> Option<Actor> {
    parts
        .extensions
        .get::<CurrentUser>()
        .map(|u| Actor::new("users", u.0))
}

fn app(db: DatabaseConnection) -> Router {
    Router::new()
        .route("/notes", post(create_note))
        .route(
            "/notes/{id}",
            get(get_note).put(update_note).delete(delete_note),
        )
        .route("/notes/{id}/history", get(note_history))
        .route("/notes/{id}/entries", get(note_entries))
        .route("/trash/notes", get(note_trash))
        .route("/revisions/{id}/undo", post(undo_revision))
        .nest("/history", history_browser(db.clone()))
        .layer(
            RevyLayer::new()
                .actor_fn(current_user)
                .with_request_meta()
                .one_revision_per_request(),
        )
        // added after the revy layer, so it runs before it
        .layer(middleware::from_fn(authenticate))
        .with_state(db)
}

/// The history browser: the authenticated user looks and acts; a caller
/// without a token is this local demo's `users:demo` (a real app answers
/// `None` there, which refuses the page).
fn history_browser(db: DatabaseConnection) -> Router<DatabaseConnection> {
    HistoryUi::new(db)
        .entity::<note::Entity>()
        .authorize(|parts| async move {
            let user = parts.extensions.get::<CurrentUser>();
            Some(user.map_or_else(|| Actor::new("users", "demo"), |u| Actor::new("users", u.0)))
        })
        .router()
}

/// An error answered as `{"error": ...}`.
struct AppError(StatusCode, String);

impl AppError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        AppError(status, message.into())
    }

    fn not_found(what: &str, id: impl std::fmt::Display) -> Self {
        AppError::new(StatusCode::NOT_FOUND, format!("{what} {id} not found"))
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if self.0.is_server_error() {
            eprintln!("error: {}", self.1);
        }
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

impl From<DbErr> for AppError {
    fn from(e: DbErr) -> Self {
        AppError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

impl From<revy::Error> for AppError {
    fn from(e: revy::Error) -> Self {
        let status = match &e {
            revy::Error::Journal(j) if matches!(**j, JournalError::NoRevision { .. }) => {
                StatusCode::NOT_FOUND
            }
            revy::Error::Rollback(r) if matches!(**r, RollbackError::Conflict { .. }) => {
                StatusCode::CONFLICT
            }
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        AppError::new(status, e.to_string())
    }
}

#[derive(Deserialize)]
struct NewNote {
    title: String,
    #[serde(default)]
    body: String,
}

#[derive(Deserialize)]
struct NoteChanges {
    title: Option<String>,
    body: Option<String>,
}

async fn create_note(
    State(db): State<DatabaseConnection>,
    Json(new): Json<NewNote>,
) -> Result<(StatusCode, Json<note::Model>), AppError> {
    let txn = db.begin().await?;
    let saved = note::ActiveModel {
        title: Set(new.title),
        body: Set(new.body),
        ..Default::default()
    }
    .insert(&txn)
    .await?;
    txn.commit().await?;
    Ok((StatusCode::CREATED, Json(saved)))
}

async fn get_note(
    State(db): State<DatabaseConnection>,
    Path(id): Path<i32>,
) -> Result<Json<note::Model>, AppError> {
    let found = note::Entity::find_by_id(id).one(&db).await?;
    found
        .map(Json)
        .ok_or_else(|| AppError::not_found("note", id))
}

async fn update_note(
    State(db): State<DatabaseConnection>,
    Path(id): Path<i32>,
    Json(changes): Json<NoteChanges>,
) -> Result<Json<note::Model>, AppError> {
    let txn = db.begin().await?;
    let current = note::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("note", id))?;
    let mut am = current.into_active_model();
    if let Some(title) = changes.title {
        am.title = Set(title);
    }
    if let Some(body) = changes.body {
        am.body = Set(body);
    }
    let saved = am.update(&txn).await?;
    txn.commit().await?;
    Ok(Json(saved))
}

async fn delete_note(
    State(db): State<DatabaseConnection>,
    Path(id): Path<i32>,
) -> Result<StatusCode, AppError> {
    let txn = db.begin().await?;
    let current = note::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| AppError::not_found("note", id))?;
    current.delete(&txn).await?;
    txn.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

/// One entry of a note's history: an object delta, its revision and the
/// columns it changed.
#[derive(Serialize)]
struct HistoryEntry {
    id: i64,
    action: revy::Action,
    /// `kind:id`, or null for the system.
    actor: Option<String>,
    created_at: chrono::DateTime<chrono::Utc>,
    revision: RevisionJson,
    /// column -> {"old": .., "new": ..}
    changes: serde_json::Map<String, Value>,
}

#[derive(Serialize)]
struct RevisionJson {
    id: i64,
    description: String,
    meta: Option<Value>,
}

async fn note_history(
    State(db): State<DatabaseConnection>,
    Path(id): Path<i32>,
) -> Result<Json<Vec<HistoryEntry>>, AppError> {
    let deltas = revy::history::of::<note::Entity>(id).all(&db).await?;
    let revision_ids: Vec<i64> = deltas.iter().map(|d| d.revision_id).collect();
    let revisions: HashMap<i64, revision::Model> = revision::Entity::find()
        .filter(revision::Column::Id.is_in(revision_ids))
        .all(&db)
        .await?
        .into_iter()
        .map(|r| (r.id, r))
        .collect();
    let mut changes: HashMap<i64, serde_json::Map<String, Value>> = HashMap::new();
    for d in &deltas {
        for a in d.attribute_deltas()? {
            changes.entry(d.id).or_default().insert(
                a.field_name,
                json!({"old": a.old_value, "new": a.new_value}),
            );
        }
    }
    let entries = deltas
        .into_iter()
        .map(|d| {
            let revision = revisions.get(&d.revision_id);
            HistoryEntry {
                id: d.id,
                actor: d.actor().map(|a| a.to_string()),
                created_at: d.created_at,
                revision: RevisionJson {
                    id: d.revision_id,
                    description: revision.map(|r| r.description.clone()).unwrap_or_default(),
                    meta: revision.and_then(|r| r.meta.clone()),
                },
                changes: changes.remove(&d.id).unwrap_or_default(),
                action: d.action,
            }
        })
        .collect();
    Ok(Json(entries))
}

/// The history as revy's own JSON: a `HistoryEntry` serializes as it is.
async fn note_entries(
    State(db): State<DatabaseConnection>,
    Path(id): Path<i32>,
) -> Result<Json<Vec<revy::history::HistoryEntry>>, AppError> {
    Ok(Json(
        revy::history::of::<note::Entity>(id)
            .limit(50)
            .entries(&db)
            .await?,
    ))
}

/// The trash: deleted notes with who deleted them, when and in which revision.
async fn note_trash(
    State(db): State<DatabaseConnection>,
) -> Result<Json<Vec<revy::history::DeletedRow>>, AppError> {
    Ok(Json(
        revy::history::deleted::<note::Entity>()
            .limit(50)
            .all(&db)
            .await?,
    ))
}

async fn undo_revision(
    State(db): State<DatabaseConnection>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, AppError> {
    let txn = db.begin().await?;
    let undo = revy::rollback::undo_revision(id).exec(&txn).await?;
    txn.commit().await?;
    Ok(Json(json!({"undone": id, "revision_id": undo})))
}

// ---------------------------------------------------------------- set-up

async fn connect() -> Result<DatabaseConnection, AnyError> {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "sqlite::memory:".into());
    let mut options = ConnectOptions::new(url.clone());
    if url.contains(":memory:") {
        // Every connection to `sqlite::memory:` is a database of its own, and
        // the database ends with its connection: keep exactly one, forever.
        options
            .max_connections(1)
            .min_connections(1)
            .idle_timeout(None)
            .max_lifetime(None);
    }
    options.sqlx_logging(false);
    let db = Database::connect(options).await?;
    revy::install(&db).await?;
    let mut table = Schema::new(db.get_database_backend()).create_table_from_entity(note::Entity);
    db.execute(table.if_not_exists()).await?;
    // so undo works even for revisions written before this process saved a note
    revy::registry::register::<note::Entity>();
    Ok(db)
}

#[tokio::main]
async fn main() -> ExitCode {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let result = if smoke {
        smoke_test().await
    } else {
        serve().await
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("web: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn serve() -> Result<(), AnyError> {
    let db = connect().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
    println!("notes service on http://127.0.0.1:3000; try:");
    for line in CURL_EXAMPLES {
        println!("  {line}");
    }
    axum::serve(listener, app(db)).await?;
    Ok(())
}

const CURL_EXAMPLES: [&str; 6] = [
    r#"curl -s -X POST localhost:3000/notes -H 'Authorization: Bearer user-1' -H 'X-Commit-Message: First draft' -H 'Content-Type: application/json' -d '{"title":"Groceries","body":"milk"}'"#,
    r#"curl -s -X PUT localhost:3000/notes/1 -H 'Authorization: Bearer user-2' -H 'X-Commit-Message: Fix the title' -H 'Content-Type: application/json' -d '{"title":"Grocery list"}'"#,
    "curl -s localhost:3000/notes/1/history",
    "curl -s -X POST localhost:3000/revisions/2/undo -H 'Authorization: Bearer user-1' -H 'X-Commit-Message: Put the title back'",
    "curl -s localhost:3000/notes/1",
    "curl -s -X DELETE localhost:3000/notes/1 -H 'Authorization: Bearer user-1'",
];

// ---------------------------------------------------------------- --smoke

/// A client for the service under test, on 127.0.0.1.
struct Caller {
    client: Client<HttpConnector, Full<Bytes>>,
    addr: SocketAddr,
}

impl Caller {
    /// Sends one request; answers the status and the body as JSON (null when empty).
    async fn call(
        &self,
        method: Method,
        path: &str,
        user: Option<i64>,
        message: Option<&str>,
        body: Option<Value>,
    ) -> Result<(StatusCode, Value), AnyError> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .header("x-request-id", format!("smoke {path}"));
        if let Some(user) = user {
            request = request.header(header::AUTHORIZATION, format!("Bearer user-{user}"));
        }
        if let Some(message) = message {
            request = request.header("x-commit-message", HeaderValue::from_str(message)?);
        }
        let payload = match body {
            Some(body) => {
                request = request.header(header::CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(&body)?)
            }
            None => Bytes::new(),
        };
        let response = self
            .client
            .request(request.body(Full::new(payload))?)
            .await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)?
        };
        Ok((status, json))
    }
}

/// Prints one line of the summary.
fn step(request: &str, outcome: impl std::fmt::Display) {
    println!("  {request:<28} -> {outcome}");
}

fn check(ok: bool, what: impl std::fmt::Display) -> Result<(), AnyError> {
    if ok {
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}

fn expect_status(got: StatusCode, want: StatusCode, body: &Value) -> Result<(), AnyError> {
    check(
        got == want,
        format_args!("expected {want}, got {got}: {body}"),
    )
}

/// Serves the app on a free port, calls it over HTTP and checks each answer.
async fn smoke_test() -> Result<(), AnyError> {
    let db = connect().await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let server = tokio::spawn(async move { axum::serve(listener, app(db)).await });
    let api = Caller {
        client: Client::builder(TokioExecutor::new()).build_http(),
        addr,
    };
    println!("smoke test of the notes service on http://{addr}");

    // user 1 creates a note
    let (status, created) = api
        .call(
            Method::POST,
            "/notes",
            Some(1),
            Some("First draft"),
            Some(json!({"title": "Groceries", "body": "milk"})),
        )
        .await?;
    expect_status(status, StatusCode::CREATED, &created)?;
    let id = created["id"].as_i64().ok_or("no id in the created note")?;
    step("POST /notes", format_args!("{status}, note {id}"));

    // user 2 fixes its title, saying why
    let (status, updated) = api
        .call(
            Method::PUT,
            &format!("/notes/{id}"),
            Some(2),
            Some("Fix the title"),
            Some(json!({"title": "Grocery list"})),
        )
        .await?;
    expect_status(status, StatusCode::OK, &updated)?;
    check(updated["title"] == "Grocery list", &updated)?;
    step(
        &format!("PUT /notes/{id}"),
        format_args!("{status}, title \"Grocery list\""),
    );

    // the history tells who did what and why, newest first
    let history_path = format!("/notes/{id}/history");
    let (status, history) = api
        .call(Method::GET, &history_path, None, None, None)
        .await?;
    expect_status(status, StatusCode::OK, &history)?;
    let entries = history.as_array().ok_or("history is not a list")?;
    check(entries.len() == 2, format_args!("two entries: {history}"))?;
    let (update, create) = (&entries[0], &entries[1]);
    check(update["action"] == "Update", update)?;
    check(update["actor"] == "users:2", update)?;
    check(update["revision"]["description"] == "Fix the title", update)?;
    check(
        update["revision"]["meta"]
            == json!({"method": "PUT", "path": format!("/notes/{id}"), "request_id": format!("smoke /notes/{id}")}),
        update,
    )?;
    check(
        update["changes"] == json!({"title": {"old": "Groceries", "new": "Grocery list"}}),
        update,
    )?;
    check(create["action"] == "Create", create)?;
    check(create["actor"] == "users:1", create)?;
    check(create["revision"]["description"] == "First draft", create)?;
    step(
        &format!("GET {history_path}"),
        format_args!(
            "{status}, Update by users:2 \"Fix the title\", Create by users:1 \"First draft\""
        ),
    );

    // the same history as revy's own JSON
    let entries_path = format!("/notes/{id}/entries");
    let (status, entries) = api
        .call(Method::GET, &entries_path, None, None, None)
        .await?;
    expect_status(status, StatusCode::OK, &entries)?;
    let newest = &entries[0];
    check(
        newest["actor"] == json!({"kind": "users", "id": "2"})
            && newest["revision_description"] == "Fix the title"
            && newest["changes"][0]["column"] == "title"
            && newest["changes"][0]["new"] == "Grocery list",
        &entries,
    )?;
    step(
        &format!("GET {entries_path}"),
        format_args!("{status}, 2 entries"),
    );

    // user 1 undoes user 2's revision
    let update_revision = update["revision"]["id"]
        .as_i64()
        .ok_or("no revision id in the history")?;
    let undo_path = format!("/revisions/{update_revision}/undo");
    let (status, undone) = api
        .call(
            Method::POST,
            &undo_path,
            Some(1),
            Some("Put the title back"),
            None,
        )
        .await?;
    expect_status(status, StatusCode::OK, &undone)?;
    check(undone["revision_id"].is_i64(), &undone)?;
    let (status, note) = api
        .call(Method::GET, &format!("/notes/{id}"), None, None, None)
        .await?;
    expect_status(status, StatusCode::OK, &note)?;
    check(note["title"] == "Groceries", &note)?;
    step(
        &format!("POST {undo_path}"),
        format_args!("{status}, title \"Groceries\" again"),
    );

    let (_, history) = api
        .call(Method::GET, &history_path, None, None, None)
        .await?;
    let newest = &history[0];
    check(
        history.as_array().map(Vec::len) == Some(3)
            && newest["action"] == "Update"
            && newest["actor"] == "users:1"
            && newest["revision"]["description"] == "Put the title back",
        &history,
    )?;
    step(
        &format!("GET {history_path}"),
        "3 entries, the undo by users:1 first",
    );

    // the history browser shows the note's row and its history
    let request = http::Request::get(format!("http://{addr}/history/rows/notes?key={id}"))
        .header(header::AUTHORIZATION, "Bearer user-1");
    let response = api.client.request(request.body(Full::default())?).await?;
    expect_status(response.status(), StatusCode::OK, &Value::Null)?;
    let page = response.into_body().collect().await?.to_bytes();
    check(
        String::from_utf8_lossy(&page).contains("Grocery list"),
        "the browser's row page shows the note's history",
    )?;
    step(
        &format!("GET /history/rows/notes?key={id}"),
        "200, the timeline",
    );

    // a revision that does not exist, and a token nobody issued
    let (status, body) = api
        .call(Method::POST, "/revisions/999999/undo", Some(1), None, None)
        .await?;
    expect_status(status, StatusCode::NOT_FOUND, &body)?;
    step("POST /revisions/999999/undo", status);
    let mut request = http::Request::post(format!("http://{addr}/notes"));
    request = request.header(header::AUTHORIZATION, "Bearer admin");
    let response = api.client.request(request.body(Full::default())?).await?;
    expect_status(response.status(), StatusCode::UNAUTHORIZED, &Value::Null)?;
    step("POST /notes (unknown token)", StatusCode::UNAUTHORIZED);

    // user 1 deletes the note
    let (status, body) = api
        .call(Method::DELETE, &format!("/notes/{id}"), Some(1), None, None)
        .await?;
    expect_status(status, StatusCode::NO_CONTENT, &body)?;
    let (status, body) = api
        .call(Method::GET, &format!("/notes/{id}"), None, None, None)
        .await?;
    expect_status(status, StatusCode::NOT_FOUND, &body)?;
    step(&format!("DELETE /notes/{id}"), StatusCode::NO_CONTENT);
    step(&format!("GET /notes/{id}"), status);

    // the trash names the note, who deleted it and in which revision
    let (status, trash) = api
        .call(Method::GET, "/trash/notes", None, None, None)
        .await?;
    expect_status(status, StatusCode::OK, &trash)?;
    check(
        trash.as_array().map(Vec::len) == Some(1)
            && trash[0]["key"].as_str() == Some(id.to_string().as_str())
            && trash[0]["actor"] == json!({"kind": "users", "id": "1"})
            && trash[0]["revision_id"].is_i64(),
        &trash,
    )?;
    step("GET /trash/notes", format_args!("{status}, note {id}"));

    // outside any request nothing is tracked: the layer's frames are gone
    check(Context::is_disabled(), "no context outside a request")?;
    server.abort();
    println!("smoke test passed: 13 requests, every answer as expected");
    Ok(())
}
