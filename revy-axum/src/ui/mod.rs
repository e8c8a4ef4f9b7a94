//! The history browser: server-rendered pages over revy's read API, and
//! the restore, revert and undo actions, mounted into an axum app.
//!
//! See [`HistoryUi`].

mod actions;
mod csrf;
mod registry;
mod render;
mod revision;
mod revisions;
mod row;
mod table;

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{FromRequestParts, OriginalUri};
use axum::http::{StatusCode, header, request::Parts};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use revy_core::Actor;
use revy_seaorm::registry::TrackedEntity;
use sea_orm::DatabaseConnection;

use registry::{BoxFut, Browse, Typed};

type Authorize = Arc<dyn Fn(Parts) -> BoxFut<'static, Option<Actor>> + Send + Sync>;

/// An embeddable history browser: pages that show who changed what and
/// when, compare versions of a row, travel a table back in time, and (unless
/// [read-only](Self::read_only)) restore, revert and undo. Enabled by the
/// `history-ui` feature.
///
/// The browser is generic over your tables: register each tracked entity
/// with [`entity`](Self::entity), so its values are decoded to their column
/// types. Revisions that touched other tables are listed, their values are
/// not shown. Every page asks [`authorize`](Self::authorize) who is looking;
/// without an actor it answers 403. Actions run in a revy context whose actor
/// is the one `authorize` returned, so they are in the journal too.
///
/// ```
/// # mod post {
/// #     use sea_orm::entity::prelude::*;
/// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
/// #     #[sea_orm(table_name = "posts")]
/// #     pub struct Model { #[sea_orm(primary_key)] pub id: i32, pub title: String }
/// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)] pub enum Relation {}
/// #     #[async_trait::async_trait]
/// #     impl ActiveModelBehavior for ActiveModel { revy_seaorm::track!(); }
/// #     impl revy_seaorm::TrackingPolicy for Entity {}
/// # }
/// use axum::{Router, body::Body, http::Request};
/// use revy_axum::HistoryUi;
/// use revy_core::Actor;
/// use tower::ServiceExt;
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// revy_seaorm::install(&db).await?;
///
/// let app: Router = Router::new().nest(
///     "/admin/history",
///     HistoryUi::new(db.clone())
///         .entity::<post::Entity>()
///         // your authentication decides; here every caller is user 1
///         .authorize(|_parts| async move { Some(Actor::new("users", 1)) })
///         .router(),
/// );
///
/// let response = app
///     // the revisions page is at the mount point itself (no trailing slash)
///     .oneshot(Request::get("/admin/history").body(Body::empty())?)
///     .await?;
/// assert_eq!(response.status(), 200);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct HistoryUi {
    db: DatabaseConnection,
    entities: BTreeMap<String, Arc<dyn Browse>>,
    authorize: Option<Authorize>,
    read_only: bool,
    secret: Option<[u8; 32]>,
    page_size: u64,
}

impl std::fmt::Debug for HistoryUi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HistoryUi")
            .field("entities", &self.entities.keys().collect::<Vec<_>>())
            .field("authorize", &self.authorize.is_some())
            .field("read_only", &self.read_only)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

/// Rows and revisions a page shows unless [`HistoryUi::page_size`] says otherwise.
pub const UI_PAGE_SIZE: u64 = 50;

impl HistoryUi {
    /// A browser of the journal in `db`, with no entity registered, no
    /// authorization (every page refused) and actions on.
    pub fn new(db: DatabaseConnection) -> Self {
        HistoryUi {
            db,
            entities: BTreeMap::new(),
            authorize: None,
            read_only: false,
            secret: None,
            page_size: UI_PAGE_SIZE,
        }
    }

    /// Registers a tracked entity: its rows get pages, typed values and
    /// actions. Also registers it for [`undo_revision`](revy_seaorm::rollback::undo_revision).
    pub fn entity<E: TrackedEntity>(mut self) -> Self {
        revy_seaorm::registry::register::<E>();
        let browse: Arc<dyn Browse> = Arc::new(Typed::<E>::new());
        self.entities.insert(browse.table(), browse);
        self
    }

    /// Who is looking: called with the request's head on every page and
    /// action; `None` refuses the request with 403. Read your
    /// authentication's extension or session here.
    pub fn authorize<F, Fut>(mut self, f: F) -> Self
    where
        F: Fn(Parts) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Option<Actor>> + Send + 'static,
    {
        self.authorize = Some(Arc::new(move |parts| Box::pin(f(parts))));
        self
    }

    /// Offers no actions: no restore, revert or undo buttons, and their
    /// routes answer 403.
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// The key the CSRF tokens are derived from. By default a random key per
    /// process; set one shared by every instance behind a load balancer.
    pub fn csrf_secret(mut self, secret: [u8; 32]) -> Self {
        self.secret = Some(secret);
        self
    }

    /// Revisions, history entries and table rows per page (at least one).
    pub fn page_size(mut self, n: u64) -> Self {
        self.page_size = n.max(1);
        self
    }

    /// The router to [`nest`](axum::Router::nest) where the browser lives,
    /// in an app of any state.
    pub fn router<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        let secret = match self.secret {
            Some(s) => s,
            None => csrf::random_secret(),
        };
        let shared = Arc::new(Shared {
            db: self.db,
            entities: self.entities,
            authorize: self.authorize,
            read_only: self.read_only,
            secret,
            page_size: self.page_size,
        });
        Router::new()
            .route("/", get(revisions::page))
            .route("/revisions/{id}", get(revision::page))
            .route("/rows/{table}", get(row::page))
            .route("/tables/{table}", get(table::page))
            .route(
                "/actions/restore",
                get(actions::confirm_restore).post(actions::restore),
            )
            .route(
                "/actions/revert",
                get(actions::confirm_revert).post(actions::revert),
            )
            .route(
                "/actions/undo",
                get(actions::confirm_undo).post(actions::undo),
            )
            .route("/style.css", get(style))
            .with_state(shared)
    }
}

/// The browser's state, shared by its handlers.
pub(crate) struct Shared {
    db: DatabaseConnection,
    entities: BTreeMap<String, Arc<dyn Browse>>,
    authorize: Option<Authorize>,
    read_only: bool,
    secret: [u8; 32],
    page_size: u64,
}

impl Shared {
    fn entity(&self, table: &str) -> Result<&Arc<dyn Browse>, UiError> {
        self.entities.get(table).ok_or_else(|| {
            UiError::NotFound(format!(
                "table {table} is not registered with the history browser: add .entity::<…>() for it"
            ))
        })
    }
}

/// The person looking, as `authorize` returned them, and where the browser
/// is mounted (for links).
pub(crate) struct Viewer {
    actor: Actor,
    base: String,
}

impl FromRequestParts<Arc<Shared>> for Viewer {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<Shared>,
    ) -> Result<Self, Self::Rejection> {
        let Some(authorize) = &state.authorize else {
            return Err(UiError::Forbidden(
                "the history browser has no authorize function: call HistoryUi::authorize".into(),
            )
            .into_response());
        };
        let Some(actor) = authorize(parts.clone()).await else {
            return Err(UiError::Forbidden("you may not see the history".into()).into_response());
        };
        Ok(Viewer {
            actor,
            base: base_path(parts),
        })
    }
}

/// The path the browser is nested at: the original path less the part the
/// nested router saw.
fn base_path(parts: &Parts) -> String {
    let inner = parts.uri.path();
    let Some(OriginalUri(original)) = parts.extensions.get::<OriginalUri>() else {
        return String::new();
    };
    let full = original.path();
    if inner == "/" {
        return full.trim_end_matches('/').to_owned();
    }
    full.strip_suffix(inner).unwrap_or_default().to_owned()
}

/// Why a page could not be shown.
#[derive(Debug)]
pub(crate) enum UiError {
    NotFound(String),
    BadRequest(String),
    Forbidden(String),
    Revy(revy_seaorm::Error),
    Other(String),
}

impl From<revy_seaorm::Error> for UiError {
    fn from(e: revy_seaorm::Error) -> Self {
        UiError::Revy(e)
    }
}

impl IntoResponse for UiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            UiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            UiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            UiError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            UiError::Revy(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()),
            UiError::Other(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
        };
        let page = render::error_page(status, &message);
        (status, page).into_response()
    }
}

async fn style() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        include_str!("style.css"),
    )
        .into_response()
}
