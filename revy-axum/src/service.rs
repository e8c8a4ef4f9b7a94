//! [`RevyService`]: the service [`RevyLayer`](crate::RevyLayer) wraps around
//! the inner one.

use std::fmt;
use std::sync::Arc;
use std::task::{Context as TaskContext, Poll};

use http::Request;
use http::request::Parts;
use revy_core::{Actor, Scoped};
use tower_service::Service;

use crate::layer::{Config, frame_for};

/// The service made by [`RevyLayer`](crate::RevyLayer): it calls the inner
/// service with the request unchanged and runs the response future inside
/// the request's context frame.
///
/// The frame is pushed around each poll of that future and taken off in
/// between, so requests served concurrently on the same threads never see
/// each other's actor or description. Work the handler spawns with
/// `tokio::spawn` starts without a context; carry it there with
/// [`Context::capture`](revy_core::Context::capture).
///
/// # As a tower service
///
/// Usually axum's `Router::layer` makes it; any tower service over
/// [`http::Request`] can be wrapped by hand:
///
/// ```
/// use std::convert::Infallible;
///
/// use axum::http::Request;
/// use revy_axum::RevyLayer;
/// use revy_core::Context;
/// use tower::{Layer, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Infallible> {
/// let inner = service_fn(|_request: Request<()>| async {
///     tokio::task::yield_now().await;
///     Ok::<_, Infallible>(Context::revision_description())
/// });
/// let service = RevyLayer::new().layer(inner);
///
/// let request = Request::post("/").header("x-commit-message", "Nightly import").body(()).unwrap();
/// assert_eq!(service.oneshot(request).await?, "Nightly import");
/// # Ok(()) }
/// ```
pub struct RevyService<S, F> {
    inner: S,
    actor: F,
    config: Arc<Config>,
}

impl<S, F> RevyService<S, F> {
    pub(crate) fn new(inner: S, actor: F, config: Arc<Config>) -> Self {
        RevyService {
            inner,
            actor,
            config,
        }
    }

    /// The wrapped service.
    ///
    /// ```
    /// use revy_axum::RevyLayer;
    /// use tower::Layer;
    ///
    /// let service = RevyLayer::new().layer(42);
    /// assert_eq!(*service.get_ref(), 42);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// Unwraps the inner service.
    ///
    /// ```
    /// use revy_axum::RevyLayer;
    /// use tower::Layer;
    ///
    /// assert_eq!(RevyLayer::new().layer("inner").into_inner(), "inner");
    /// ```
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, F, B> Service<Request<B>> for RevyService<S, F>
where
    S: Service<Request<B>>,
    F: Fn(&Parts) -> Option<Actor>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Scoped<S::Future>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let (parts, body) = request.into_parts();
        let frame = frame_for(&self.config, &self.actor, &parts);
        frame.scope(self.inner.call(Request::from_parts(parts, body)))
    }
}

impl<S: Clone, F: Clone> Clone for RevyService<S, F> {
    fn clone(&self) -> Self {
        RevyService {
            inner: self.inner.clone(),
            actor: self.actor.clone(),
            config: self.config.clone(),
        }
    }
}

impl<S: fmt::Debug, F> fmt::Debug for RevyService<S, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevyService")
            .field("inner", &self.inner)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::HeaderValue;
    use revy_core::{Context, LazyRevision};
    use serde_json::json;
    use tower::{Layer, ServiceExt, service_fn};

    use super::*;
    use crate::RevyLayer;

    #[derive(Clone)]
    struct CurrentUser(i64);

    /// What a handler would record: the context while the inner future runs.
    #[derive(Debug)]
    struct Seen {
        actor: Option<Actor>,
        description: String,
        meta: serde_json::Value,
        revision: Option<LazyRevision>,
    }

    async fn seen<F>(layer: RevyLayer<F>, request: Request<()>) -> Seen
    where
        F: Fn(&Parts) -> Option<Actor> + Clone,
    {
        let inner = service_fn(|_: Request<()>| async {
            // a suspension point: the frame must be back on the next poll
            tokio::task::yield_now().await;
            Ok::<_, Infallible>(Seen {
                actor: Context::actor(),
                description: Context::revision_description(),
                meta: Context::meta(),
                revision: Context::revision(),
            })
        });
        layer.layer(inner).oneshot(request).await.unwrap()
    }

    fn by_user(parts: &Parts) -> Option<Actor> {
        parts
            .extensions
            .get::<CurrentUser>()
            .map(|u| Actor::new("users", u.0))
    }

    #[tokio::test]
    async fn defaults_give_the_system_and_the_commit_message() {
        let request = Request::post("/notes")
            .header("x-commit-message", "Add a note")
            .header("x-actor", "users:1") // never trusted by default
            .body(())
            .unwrap();
        let seen = seen(RevyLayer::new(), request).await;
        assert_eq!(seen.actor, None);
        assert_eq!(seen.description, "Add a note");
        assert_eq!(seen.meta, serde_json::Value::Null);
        assert!(seen.revision.is_none());
        assert!(
            Context::is_disabled(),
            "the frame must not outlive the request"
        );
    }

    #[tokio::test]
    async fn actor_comes_from_the_actor_function() {
        let mut request = Request::post("/notes").body(()).unwrap();
        request.extensions_mut().insert(CurrentUser(7));
        let seen = seen(RevyLayer::new().actor_fn(by_user), request).await;
        assert_eq!(seen.actor, Some(Actor::new("users", 7)));
    }

    #[tokio::test]
    async fn the_request_frame_shadows_an_outer_actor() {
        let request = Request::post("/notes").body(()).unwrap();
        let seen = Context::via_actor(Some(Actor::new("jobs", "outer")))
            .scope(seen(RevyLayer::new(), request))
            .await;
        assert_eq!(seen.actor, None);
    }

    #[tokio::test]
    async fn hostile_headers_are_cleaned_and_bounded() {
        // `http` refuses CR, LF, NUL and the other C0 bytes in a header value
        // (hyper does too, on the wire); what can still arrive is the tab and
        // the C1 controls, e.g. CSI (U+009B), a terminal escape.
        let long = format!("start\t\u{9b}31m\u{85}{}", "é".repeat(5000));
        let mut request = Request::post("/notes").body(()).unwrap();
        request.headers_mut().insert(
            "x-commit-message",
            HeaderValue::from_bytes(long.as_bytes()).unwrap(),
        );
        request.headers_mut().insert(
            "x-request-id",
            HeaderValue::from_bytes("\tid\u{9b}-1".as_bytes()).unwrap(),
        );
        let layer = RevyLayer::new().with_request_meta().max_header_len(14);
        let seen = seen(layer, request).await;
        // "start31m" is 8 bytes and three "é" make 14: exactly the budget
        assert_eq!(seen.description, "start31mééé");
        assert_eq!(seen.meta["request_id"], "id-1");
    }

    #[tokio::test]
    async fn non_utf8_and_empty_headers_set_no_description() {
        let mut request = Request::post("/").body(()).unwrap();
        request.headers_mut().insert(
            "x-commit-message",
            HeaderValue::from_bytes(b"caf\xe9").unwrap(),
        );
        let seen = Context::via_revision_description("outer")
            .scope(seen(RevyLayer::new(), request))
            .await;
        assert_eq!(seen.description, "outer", "an outer description shows");
    }

    #[tokio::test]
    async fn request_meta_and_one_revision() {
        let request = Request::patch("/notes/3?secret=1")
            .header("x-request-id", "r-9")
            .body(())
            .unwrap();
        let layer = RevyLayer::new()
            .with_request_meta()
            .one_revision_per_request();
        let seen = seen(layer, request).await;
        assert_eq!(
            seen.meta,
            json!({"method": "PATCH", "path": "/notes/3", "request_id": "r-9"})
        );
        let revision = seen.revision.unwrap();
        assert_eq!(revision.id(), None, "created lazily, by the first save");
    }

    /// The order of axum layers decides whether revy sees the user: added
    /// after authentication (outside it), every request acts as the system
    /// and the layer warns once; added before, it finds the user.
    #[tokio::test]
    async fn layer_order_against_authentication() {
        use axum::{Router, middleware, routing::post};

        async fn authenticate(
            mut request: axum::extract::Request,
            next: middleware::Next,
        ) -> axum::response::Response {
            if request.headers().contains_key("authorization") {
                request.extensions_mut().insert(CurrentUser(7));
            }
            next.run(request).await
        }
        async fn who() -> String {
            format!("{:?}", Context::actor())
        }

        let warnings = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let _guard = tracing::subscriber::set_default(crate::layer::tests_support::Warnings(
            warnings.clone(),
        ));
        let inside = Router::new()
            .route("/", post(who))
            .layer(RevyLayer::new().actor_fn(by_user))
            .layer(middleware::from_fn(authenticate));
        let outside = Router::new()
            .route("/", post(who))
            .layer(middleware::from_fn(authenticate))
            .layer(RevyLayer::new().actor_fn(by_user));
        let call = |app: Router| async move {
            let request = Request::post("/")
                .header("authorization", "Bearer t")
                .body(axum::body::Body::empty())
                .unwrap();
            let response = app.oneshot(request).await.unwrap();
            axum::body::to_bytes(response.into_body(), 1024)
                .await
                .unwrap()
        };
        for _ in 0..30 {
            assert_eq!(
                call(inside.clone()).await,
                "Some(Actor { kind: \"users\", id: \"7\" })"
            );
        }
        assert_eq!(warnings.load(std::sync::atomic::Ordering::SeqCst), 0);
        for _ in 0..30 {
            assert_eq!(call(outside.clone()).await, "None");
        }
        assert_eq!(warnings.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn configuration_is_shared_by_clones_but_not_changed_through_them() {
        let base = RevyLayer::new();
        let quiet = base.clone().no_description_header();
        let request = || {
            Request::post("/")
                .header("x-commit-message", "m")
                .body(())
                .unwrap()
        };
        assert_eq!(seen(base, request()).await.description, "m");
        assert_eq!(seen(quiet, request()).await.description, "");
    }
}
