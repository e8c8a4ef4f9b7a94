//! Issue: axum integration. A real axum server with `revy::axum::RevyLayer`,
//! called over HTTP on 127.0.0.1, on every backend: each request's tracked
//! saves carry its own user and commit message, hostile headers are cleaned
//! and bounded, and without an actor function nobody is trusted.
#![cfg(feature = "axum")]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::common::{self, TestDb};
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::post;
use axum::{Router, http};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use revy::Actor;
use revy::axum::RevyLayer;
use revy::entity::{object_delta, revision};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, PaginatorTrait, QueryFilter,
    Set, TransactionTrait,
};
use serde_json::json;
use tokio::sync::Barrier;

/// A tracked entity of this test file only.
mod note {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "axum_notes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub title: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
}

/// What the authentication stand-in leaves in a request.
#[derive(Clone, Copy)]
struct CurrentUser(i64);

/// Authentication stand-in: `Authorization: Bearer user-<n>` is user n.
async fn authenticate(mut request: Request, next: Next) -> Response {
    let user = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer user-"))
        .and_then(|n| n.parse().ok())
        .map(CurrentUser);
    if let Some(user) = user {
        request.extensions_mut().insert(user);
    }
    next.run(request).await
}

fn current_user(parts: &http::request::Parts) -> Option<Actor> {
    parts
        .extensions
        .get::<CurrentUser>()
        .map(|u| Actor::new("users", u.0))
}

#[derive(Clone)]
struct AppState {
    db: DatabaseConnection,
    /// When set, every request waits here until the others arrive, so they
    /// are all in flight at once.
    rendezvous: Option<Arc<Barrier>>,
}

/// `POST /notes` with the title as the body; answers the new id.
async fn create_note(
    State(state): State<AppState>,
    title: String,
) -> Result<(StatusCode, String), (StatusCode, String)> {
    if let Some(barrier) = &state.rendezvous {
        barrier.wait().await;
    }
    let failed = |e: sea_orm::DbErr| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string());
    let txn = state.db.begin().await.map_err(failed)?;
    let saved = note::ActiveModel {
        title: Set(title),
        ..Default::default()
    }
    .insert(&txn)
    .await
    .map_err(failed)?;
    txn.commit().await.map_err(failed)?;
    Ok((StatusCode::CREATED, saved.id.to_string()))
}

/// Serves `layer` (inside the authentication stand-in) on 127.0.0.1.
async fn serve<F>(t: &TestDb, layer: RevyLayer<F>, rendezvous: Option<Arc<Barrier>>) -> SocketAddr
where
    F: Fn(&http::request::Parts) -> Option<Actor> + Clone + Send + Sync + 'static,
{
    t.create_table(note::Entity).await;
    let app = Router::new()
        .route("/notes", post(create_note))
        .layer(layer)
        .layer(middleware::from_fn(authenticate))
        .with_state(AppState {
            db: t.db.clone(),
            rendezvous,
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

fn client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Creates a note over HTTP; `headers` values are raw bytes.
async fn post_note(
    client: &HttpClient,
    addr: SocketAddr,
    title: &str,
    headers: &[(&str, &[u8])],
) -> (StatusCode, String) {
    let mut request = http::Request::post(format!("http://{addr}/notes"));
    for (name, value) in headers {
        request = request.header(*name, HeaderValue::from_bytes(value).unwrap());
    }
    let request = request
        .body(Full::new(Bytes::from(title.to_owned())))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// The object delta of the note with id `id`, and its revision.
async fn journal_of(db: &DatabaseConnection, id: &str) -> (object_delta::Model, revision::Model) {
    let mut deltas = object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq("axum_notes"))
        .filter(object_delta::Column::ContentId.eq(id))
        .all(db)
        .await
        .unwrap();
    assert_eq!(deltas.len(), 1, "one create of note {id}");
    let delta = deltas.remove(0);
    let rev = revision::Entity::find_by_id(delta.revision_id)
        .one(db)
        .await
        .unwrap()
        .unwrap();
    (delta, rev)
}

fn actor_of(delta: &object_delta::Model) -> (Option<&str>, Option<&str>) {
    (delta.actor_type.as_deref(), delta.actor_id.as_deref())
}

async fn axum_two_users_concurrently(t: TestDb) {
    let layer = RevyLayer::new()
        .actor_fn(current_user)
        .with_request_meta()
        .one_revision_per_request();
    let addr = serve(&t, layer, Some(Arc::new(Barrier::new(2)))).await;
    let client = client();
    let request = |n: i64| {
        let client = client.clone();
        async move {
            let auth = format!("Bearer user-{n}");
            let message = format!("Note of user {n}");
            let request_id = format!("req-{n}");
            post_note(
                &client,
                addr,
                &format!("title {n}"),
                &[
                    ("authorization", auth.as_bytes()),
                    ("x-commit-message", message.as_bytes()),
                    ("x-request-id", request_id.as_bytes()),
                ],
            )
            .await
        }
    };
    // Both handlers wait for each other before saving: a leak of one
    // request's frame into the other would show in the journal.
    let (one, two) = tokio::time::timeout(Duration::from_secs(30), async {
        tokio::join!(request(1), request(2))
    })
    .await
    .expect("both requests must be in flight together");
    assert_eq!(one.0, StatusCode::CREATED, "{}", one.1);
    assert_eq!(two.0, StatusCode::CREATED, "{}", two.1);

    assert_eq!(revision::Entity::find().count(&t.db).await.unwrap(), 2);
    for (n, id) in [(1, one.1), (2, two.1)] {
        let user = n.to_string();
        let (delta, rev) = journal_of(&t.db, &id).await;
        assert_eq!(actor_of(&delta), (Some("users"), Some(user.as_str())));
        assert_eq!(rev.description, format!("Note of user {n}"));
        assert_eq!(
            rev.meta,
            Some(json!({"method": "POST", "path": "/notes", "request_id": format!("req-{n}")}))
        );
        let title = common::entries_of(&delta)
            .into_iter()
            .find(|a| a.field_name == "title")
            .unwrap();
        assert_eq!(title.new_value, json!(format!("title {n}")));
        assert_eq!(title.actor_id.as_deref(), Some(user.as_str()));
    }
}

async fn axum_hostile_header(t: TestDb) {
    let addr = serve(&t, RevyLayer::new().actor_fn(current_user), None).await;
    let client = client();

    // 10 kB: C1 controls (CSI, a terminal escape, and NEL, a line break),
    // tabs, then a long run of two-byte characters. CR, LF and NUL cannot be
    // sent: the HTTP stack refuses them in a header value on both ends.
    let hostile = format!("\u{9b}2J\tOwned\u{85}by\tme {}", "é".repeat(5_000));
    assert!(hostile.len() > 10_000);
    let (status, id) = post_note(
        &client,
        addr,
        "hostile",
        &[
            ("authorization", b"Bearer user-3"),
            ("x-commit-message", hostile.as_bytes()),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{id}");
    let (delta, rev) = journal_of(&t.db, &id).await;
    assert_eq!(actor_of(&delta), (Some("users"), Some("3")));
    let start: String = rev.description.chars().take(20).collect();
    assert!(rev.description.starts_with("2JOwnedbyme éé"), "{start:?}");
    assert!(!rev.description.chars().any(char::is_control));
    assert!(rev.description.len() <= RevyLayer::DEFAULT_MAX_HEADER_LEN);
    // cut at a character boundary close to the budget, not far before it
    assert!(rev.description.len() >= RevyLayer::DEFAULT_MAX_HEADER_LEN - 1);

    // bytes that are not UTF-8: no description, and the request still works
    let (status, id) = post_note(
        &client,
        addr,
        "latin-1",
        &[("x-commit-message", b"Mis \xe0 jour")],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{id}");
    let (delta, rev) = journal_of(&t.db, &id).await;
    assert_eq!(rev.description, "");
    assert_eq!(actor_of(&delta), (None, None));
}

async fn axum_no_actor_fn(t: TestDb) {
    // The authentication stand-in still runs, and the client claims to be
    // someone in every way it can; without an actor function nobody is.
    let addr = serve(&t, RevyLayer::new(), None).await;
    let (status, id) = post_note(
        &client(),
        addr,
        "anonymous",
        &[
            ("authorization", b"Bearer user-9"),
            ("x-actor", b"users:9"),
            ("x-user-id", b"9"),
            ("x-commit-message", b"Who am I?"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{id}");
    let (delta, rev) = journal_of(&t.db, &id).await;
    assert_eq!(rev.description, "Who am I?");
    assert_eq!(actor_of(&delta), (None, None));
    let attributes = common::entries_of(&delta);
    assert_eq!(attributes.len(), 2, "id and title");
    assert!(
        attributes
            .iter()
            .all(|a| a.actor_type.is_none() && a.actor_id.is_none())
    );
}

backend_tests!(
    axum_two_users_concurrently,
    axum_hostile_header,
    axum_no_actor_fn
);
