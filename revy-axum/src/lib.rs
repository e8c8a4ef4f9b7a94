//! Web backends for [revy](https://docs.rs/revy): a tower layer that runs
//! each HTTP request in a revy context, so the tracked saves its handler
//! makes record who made them and why.
//!
//! revy reads the actor and the descriptions of a change from the context.
//! In a web backend that context belongs to the request: the user your
//! authentication found, the commit message the client sent. [`RevyLayer`]
//! builds that frame from the request's head and pushes it around the
//! handler:
//!
//! - **actor**: from a function of yours, usually reading an extension your
//!   authentication middleware inserted; by default none (the system). The
//!   layer never trusts a header for it.
//! - **revision description**: from the `X-Commit-Message` header, with
//!   control and format characters (bidi overrides, zero-width) dropped and
//!   the length bounded (1024 bytes).
//! - **meta** (opt-in): method, path and request id.
//! - **one revision per request** (opt-in).
//!
//! ```
//! use axum::{Router, body::Body, http::Request, middleware, routing::post};
//! use axum::{extract::Request as AxumRequest, middleware::Next, response::Response};
//! use revy_axum::RevyLayer;
//! use revy_core::{Actor, Context};
//! use tower::ServiceExt;
//!
//! /// Who the app's authentication says is calling.
//! #[derive(Clone)]
//! struct CurrentUser(i64);
//!
//! /// A stand-in for real authentication.
//! async fn authenticate(mut request: AxumRequest, next: Next) -> Response {
//!     request.extensions_mut().insert(CurrentUser(7));
//!     next.run(request).await
//! }
//!
//! /// A real handler saves tracked models; here it shows what they would record.
//! async fn create_note() -> String {
//!     let actor = Context::actor().map(|a| a.to_string()).unwrap_or_default();
//!     format!("{actor} / {} / {}", Context::revision_description(), Context::meta())
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let app = Router::new()
//!     .route("/notes", post(create_note))
//!     .layer(
//!         RevyLayer::new()
//!             .actor_fn(|parts| parts.extensions.get::<CurrentUser>().map(|u| Actor::new("users", u.0)))
//!             .with_request_meta()
//!             .one_revision_per_request(),
//!     )
//!     // added last, so it runs first: the user is in place when revy looks
//!     .layer(middleware::from_fn(authenticate));
//!
//! let request = Request::post("/notes")
//!     .header("x-commit-message", "First draft")
//!     .header("x-request-id", "r-1")
//!     .body(Body::empty())?;
//! let response = app.oneshot(request).await?;
//! let body = axum::body::to_bytes(response.into_body(), 1024).await?;
//! assert_eq!(
//!     body,
//!     r#"users:7 / First draft / {"method":"POST","path":"/notes","request_id":"r-1"}"#
//! );
//! # Ok(()) }
//! ```
//!
//! The layer is written against the tower traits and the `http` crate, so
//! it serves any tower-based stack, not only axum. The `revy` facade
//! re-exports this crate as `revy::axum` with its `axum` feature.
#![deny(missing_docs)]

mod header;
mod layer;
mod service;
#[cfg(feature = "history-ui")]
mod ui;

pub use layer::{ActorFn, NoActor, RevyLayer};
pub use service::RevyService;
#[cfg(feature = "history-ui")]
pub use ui::{HistoryUi, UI_PAGE_SIZE};
