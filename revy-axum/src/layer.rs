//! [`RevyLayer`]: the configuration, and the frame it builds for a request.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};

use http::HeaderName;
use http::header::AUTHORIZATION;
use http::request::Parts;
use revy_core::{Actor, Context, Frame, LazyRevision};
use serde_json::{Map, Value};
use tower_layer::Layer;

use crate::RevyService;
use crate::header;

/// The type of the default actor function, which names no actor: every
/// request acts as the system until [`RevyLayer::actor_fn`] says otherwise.
pub type NoActor = ActorFn;

/// An actor function as a plain function pointer: the type of
/// [`RevyLayer`]'s actor function when none is named (`RevyLayer` is
/// `RevyLayer<ActorFn>`), and of any `fn` item or closure that captures
/// nothing, cast with `as ActorFn`. A layer of this type can be returned
/// from a function, or kept in a struct, without naming generic bounds
/// (see [Returned from a function](RevyLayer#returned-from-a-function)).
///
/// ```
/// use axum::http::request::Parts;
/// use revy_axum::{ActorFn, RevyLayer};
/// use revy_core::Actor;
///
/// fn by_api_key(parts: &Parts) -> Option<Actor> {
///     parts.headers.get("x-service").and_then(|v| v.to_str().ok()).map(|s| Actor::new("services", s))
/// }
/// let layer: RevyLayer = RevyLayer::new().actor_fn(by_api_key as ActorFn);
/// ```
pub type ActorFn = fn(&Parts) -> Option<Actor>;

fn no_actor(_: &Parts) -> Option<Actor> {
    None
}

/// What the layer reads from a request, shared by every service it makes.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    description_header: Option<HeaderName>,
    request_id_header: HeaderName,
    max_header_len: usize,
    request_meta: bool,
    one_revision: bool,
    /// Whether an actor function was named: only then can a request that
    /// shows credentials and gets no actor mean a misplaced layer.
    actor_named: bool,
    placement: Arc<Placement>,
}

/// After how many requests that carried an `Authorization` header and got
/// no actor, while no request ever got one, the layer warns that it runs
/// outside authentication.
pub(crate) const SUSPECT_AFTER: u32 = 20;

/// Watches for a layer placed outside (before) authentication: its actor
/// function then never sees a user, though requests carry credentials.
///
/// Only requests with an `Authorization` header count, so anonymous traffic
/// (cookies included, which anonymous visitors carry too) never does. The
/// first request that gets an actor settles it for good: the layer sees
/// what authentication leaves, so later requests with a bad token that an
/// optional authentication lets through never warn either.
#[derive(Debug, Default)]
pub(crate) struct Placement {
    credentials_without_actor: AtomicU32,
    settled: AtomicBool,
}

impl Placement {
    /// Records one request; true exactly once, at the request that makes
    /// the layer's placement suspect.
    pub(crate) fn observe(&self, credentials: bool, found_actor: bool) -> bool {
        if self.settled.load(Ordering::Relaxed) {
            return false;
        }
        if found_actor {
            self.settled.store(true, Ordering::Relaxed);
            return false;
        }
        if !credentials {
            return false;
        }
        let seen = self
            .credentials_without_actor
            .fetch_add(1, Ordering::Relaxed)
            .saturating_add(1);
        seen == SUSPECT_AFTER && !self.settled.swap(true, Ordering::Relaxed)
    }
}

/// A tower [`Layer`] that runs each request's handler in a revy context
/// frame, so every tracked save the handler makes records who made it and
/// why.
///
/// For each request the frame holds:
///
/// - the **actor** your [actor function](RevyLayer::actor_fn) finds in the
///   request, usually in an extension your authentication middleware put
///   there; without one, `None` (the system). The layer never takes an actor
///   from a header on its own: headers are whatever the client says.
/// - the **revision description** from the
///   [`X-Commit-Message`](RevyLayer::DEFAULT_DESCRIPTION_HEADER) header,
///   cleaned of control and format characters (bidi overrides) and cut to
///   [1024 bytes](RevyLayer::DEFAULT_MAX_HEADER_LEN);
/// - optionally the request's method, path and id as the revision's
///   [meta](RevyLayer::with_request_meta);
/// - optionally [one revision](RevyLayer::one_revision_per_request) for the
///   whole request.
///
/// # As an axum layer
///
/// Layers added later run first, so add `RevyLayer` *before* (inside) the
/// middleware that authenticates the request:
///
/// ```
/// use axum::{Extension, Router, body::Body, http::Request, routing::post};
/// use revy_axum::RevyLayer;
/// use revy_core::{Actor, Context};
/// use tower::ServiceExt;
///
/// /// What the app's authentication middleware leaves in the request.
/// #[derive(Clone)]
/// struct CurrentUser(i64);
///
/// async fn save_note() -> String {
///     // a real handler saves tracked models here; they record this context
///     format!("{:?}: {}", Context::actor().map(|a| a.to_string()), Context::revision_description())
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let app = Router::new()
///     .route("/notes", post(save_note))
///     .layer(
///         RevyLayer::new()
///             .actor_fn(|parts| parts.extensions.get::<CurrentUser>().map(|u| Actor::new("users", u.0))),
///     )
///     // stands in for authentication: it runs first and inserts the user
///     .layer(Extension(CurrentUser(7)));
///
/// let request = Request::post("/notes").header("x-commit-message", "Fix a typo").body(Body::empty())?;
/// let response = app.oneshot(request).await?;
/// let body = axum::body::to_bytes(response.into_body(), 1024).await?;
/// assert_eq!(body, r#"Some("users:7"): Fix a typo"#);
/// # Ok(()) }
/// ```
///
/// # Returned from a function
///
/// With a plain `fn` (or a closure that captures nothing, cast `as
/// ActorFn`) as the actor function, the layer's type is plain `RevyLayer`
/// ([`ActorFn`]); with a closure that captures, return `RevyLayer<impl ..>`
/// with the bounds [`RevyLayer::actor_fn`] asks for:
///
/// ```
/// use axum::{Router, http::request::Parts, routing::get};
/// use revy_axum::{ActorFn, RevyLayer};
/// use revy_core::Actor;
///
/// #[derive(Clone)]
/// struct CurrentUser(i64);
///
/// fn by_user(parts: &Parts) -> Option<Actor> {
///     parts.extensions.get::<CurrentUser>().map(|u| Actor::new("users", u.0))
/// }
///
/// fn revy_layer() -> RevyLayer {
///     RevyLayer::new().actor_fn(by_user as ActorFn).with_request_meta()
/// }
///
/// fn revy_layer_for(kind: &'static str)
///     -> RevyLayer<impl Fn(&Parts) -> Option<Actor> + Clone + Send + Sync + 'static>
/// {
///     RevyLayer::new().actor_fn(move |parts| parts.extensions.get::<CurrentUser>().map(|u| Actor::new(kind, u.0)))
/// }
///
/// let app: Router = Router::new().route("/", get(|| async { "ok" })).layer(revy_layer());
/// let admin: Router = Router::new().route("/", get(|| async { "ok" })).layer(revy_layer_for("admins"));
/// ```
///
/// # As a frame builder
///
/// [`RevyLayer::frame`] builds the frame for a request without serving it,
/// for middleware of your own or to check a configuration:
///
/// ```
/// use axum::http::Request;
/// use revy_axum::RevyLayer;
/// use revy_core::Context;
///
/// let (parts, ()) = Request::put("/notes/1").header("x-commit-message", "Retitle").body(()).unwrap().into_parts();
/// RevyLayer::new().frame(&parts).sync_scope(|| {
///     assert_eq!(Context::actor(), None);
///     assert_eq!(Context::revision_description(), "Retitle");
/// });
/// ```
#[must_use = "a layer does nothing until it wraps a service, e.g. with Router::layer"]
pub struct RevyLayer<F = ActorFn> {
    actor: F,
    config: Arc<Config>,
}

impl RevyLayer {
    /// The header read for the revision description: `X-Commit-Message`.
    pub const DEFAULT_DESCRIPTION_HEADER: HeaderName = HeaderName::from_static("x-commit-message");

    /// The header read for the request id in the meta: `X-Request-Id`.
    pub const DEFAULT_REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

    /// The most bytes kept of each header value: 1024.
    pub const DEFAULT_MAX_HEADER_LEN: usize = 1024;

    /// A layer with the defaults: no actor (the system), the description from
    /// `X-Commit-Message`, no meta, a revision per tracked operation.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use revy_axum::RevyLayer;
    ///
    /// let app: Router = Router::new().route("/", get(|| async { "ok" })).layer(RevyLayer::new());
    /// ```
    pub fn new() -> Self {
        RevyLayer {
            actor: no_actor,
            config: Arc::new(Config {
                description_header: Some(Self::DEFAULT_DESCRIPTION_HEADER),
                request_id_header: Self::DEFAULT_REQUEST_ID_HEADER,
                max_header_len: Self::DEFAULT_MAX_HEADER_LEN,
                request_meta: false,
                one_revision: false,
                actor_named: false,
                placement: Arc::default(),
            }),
        }
    }
}

impl Default for RevyLayer {
    fn default() -> Self {
        RevyLayer::new()
    }
}

impl<F> RevyLayer<F> {
    /// Names the actor of each request with `f`, which reads the request's
    /// head: typically an extension your authentication middleware inserted
    /// (so that middleware must run first: add it *after* this layer). `None`
    /// is the system.
    ///
    /// ```
    /// use axum::http::Request;
    /// use revy_axum::RevyLayer;
    /// use revy_core::{Actor, Context};
    ///
    /// #[derive(Clone)]
    /// struct CurrentUser(i64);
    ///
    /// let layer = RevyLayer::new()
    ///     .actor_fn(|parts| parts.extensions.get::<CurrentUser>().map(|u| Actor::new("users", u.0)));
    ///
    /// let mut request = Request::post("/notes").body(()).unwrap();
    /// request.extensions_mut().insert(CurrentUser(7));
    /// let (parts, ()) = request.into_parts();
    /// layer.frame(&parts).sync_scope(|| assert_eq!(Context::actor(), Some(Actor::new("users", 7))));
    ///
    /// // no user in the request: the system acts
    /// let (parts, ()) = Request::post("/notes").body(()).unwrap().into_parts();
    /// layer.frame(&parts).sync_scope(|| assert_eq!(Context::actor(), None));
    /// ```
    ///
    /// # Placed outside authentication
    ///
    /// A layer that runs before authentication (added *after* it with
    /// axum's `Router::layer`) never finds a user, and every save records
    /// the system. The layer warns about it once, with `tracing`, when its
    /// actor function found no actor in 20 requests that carried an
    /// `Authorization` header and has never found one. Requests without
    /// that header (anonymous traffic, cookie sessions) never count, and
    /// once the function has found an actor the layer stays silent for
    /// good, so requests with a bad token that an optional authentication
    /// lets through do not warn. A layer with no actor function never
    /// warns.
    pub fn actor_fn<G>(self, f: G) -> RevyLayer<G>
    where
        G: Fn(&Parts) -> Option<Actor> + Clone + Send + Sync + 'static,
    {
        let mut config = self.config;
        let named = Arc::make_mut(&mut config);
        named.actor_named = true;
        // a new actor function is watched afresh
        named.placement = Arc::default();
        RevyLayer { actor: f, config }
    }

    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// Reads the revision description from header `name` instead of
    /// `X-Commit-Message`.
    ///
    /// ```
    /// use axum::http::{HeaderName, Request};
    /// use revy_axum::RevyLayer;
    /// use revy_core::Context;
    ///
    /// let layer = RevyLayer::new().description_header(HeaderName::from_static("x-reason"));
    /// let (parts, ()) = Request::post("/").header("x-reason", "Quarterly import").body(()).unwrap().into_parts();
    /// layer.frame(&parts).sync_scope(|| assert_eq!(Context::revision_description(), "Quarterly import"));
    /// ```
    pub fn description_header(mut self, name: HeaderName) -> Self {
        self.config_mut().description_header = Some(name);
        self
    }

    /// Reads no revision description from the request, for APIs whose
    /// clients should not write into the journal at all. An outer frame's
    /// description, if any, still applies.
    ///
    /// ```
    /// use axum::http::Request;
    /// use revy_axum::RevyLayer;
    /// use revy_core::Context;
    ///
    /// let layer = RevyLayer::new().no_description_header();
    /// let (parts, ()) = Request::post("/").header("x-commit-message", "ignored").body(()).unwrap().into_parts();
    /// layer.frame(&parts).sync_scope(|| assert_eq!(Context::revision_description(), ""));
    /// ```
    pub fn no_description_header(mut self) -> Self {
        self.config_mut().description_header = None;
        self
    }

    /// Keeps at most `bytes` bytes of each header value the layer reads (the
    /// description and the request id) and of the path it puts in the meta,
    /// cut at a character boundary. The default is
    /// [`RevyLayer::DEFAULT_MAX_HEADER_LEN`].
    ///
    /// ```
    /// use axum::http::Request;
    /// use revy_axum::RevyLayer;
    /// use revy_core::Context;
    ///
    /// let layer = RevyLayer::new().max_header_len(5);
    /// let (parts, ()) = Request::post("/").header("x-commit-message", "Déjà vu").body(()).unwrap().into_parts();
    /// // "Déj" is 4 bytes; the two bytes of "à" would end past 5, so it goes whole
    /// layer.frame(&parts).sync_scope(|| assert_eq!(Context::revision_description(), "Déj"));
    /// ```
    pub fn max_header_len(mut self, bytes: usize) -> Self {
        self.config_mut().max_header_len = bytes;
        self
    }

    /// Stores the request's method, path (without the query string, which
    /// may hold secrets) and id in the meta of the revisions it creates:
    /// `{"method": "PUT", "path": "/notes/1", "request_id": "r-1"}`. The id
    /// comes from `X-Request-Id` (see [`RevyLayer::request_id_header`]),
    /// cleaned like the description, and is left out when the header is
    /// absent.
    ///
    /// ```
    /// use axum::http::Request;
    /// use revy_axum::RevyLayer;
    /// use revy_core::Context;
    /// use serde_json::json;
    ///
    /// let layer = RevyLayer::new().with_request_meta();
    /// let (parts, ()) = Request::put("/notes/1?token=secret").header("x-request-id", "r-1").body(()).unwrap().into_parts();
    /// layer.frame(&parts).sync_scope(|| {
    ///     assert_eq!(Context::meta(), json!({"method": "PUT", "path": "/notes/1", "request_id": "r-1"}));
    /// });
    ///
    /// let (parts, ()) = Request::delete("/notes/1").body(()).unwrap().into_parts();
    /// layer.frame(&parts).sync_scope(|| {
    ///     assert_eq!(Context::meta(), json!({"method": "DELETE", "path": "/notes/1"}));
    /// });
    /// ```
    pub fn with_request_meta(mut self) -> Self {
        self.config_mut().request_meta = true;
        self
    }

    /// Reads the request id for the meta from header `name` instead of
    /// `X-Request-Id`.
    ///
    /// ```
    /// use axum::http::{HeaderName, Request};
    /// use revy_axum::RevyLayer;
    /// use revy_core::Context;
    ///
    /// let layer = RevyLayer::new()
    ///     .with_request_meta()
    ///     .request_id_header(HeaderName::from_static("x-amzn-trace-id"));
    /// let (parts, ()) = Request::get("/").header("x-amzn-trace-id", "Root=1-abc").body(()).unwrap().into_parts();
    /// layer.frame(&parts).sync_scope(|| assert_eq!(Context::meta()["request_id"], "Root=1-abc"));
    /// ```
    pub fn request_id_header(mut self, name: HeaderName) -> Self {
        self.config_mut().request_id_header = name;
        self
    }

    /// Groups every tracked save of a request into one revision: each request
    /// gets a fresh [`LazyRevision`], created by its first tracked save.
    /// Without this, each save gets a revision of its own (unless an outer
    /// frame or the handler sets one).
    ///
    /// If the handler's transaction rolls back after the revision was
    /// created, later saves in the same request fail on the journal's
    /// foreign key (see [`LazyRevision`]); the next request starts afresh.
    ///
    /// ```
    /// use axum::http::Request;
    /// use revy_axum::RevyLayer;
    /// use revy_core::Context;
    ///
    /// let layer = RevyLayer::new().one_revision_per_request();
    /// let (parts, ()) = Request::post("/").body(()).unwrap().into_parts();
    /// let first = layer.frame(&parts).sync_scope(Context::revision).unwrap();
    /// let second = layer.frame(&parts).sync_scope(Context::revision).unwrap();
    /// assert!(!first.same_as(&second)); // one revision per request, never shared
    /// ```
    pub fn one_revision_per_request(mut self) -> Self {
        self.config_mut().one_revision = true;
        self
    }

    /// The frame the layer pushes around a request with head `parts`.
    ///
    /// ```
    /// use axum::http::Request;
    /// use revy_axum::RevyLayer;
    /// use revy_core::Context;
    ///
    /// // CR, LF and NUL cannot be in a header value; a C1 control such as
    /// // CSI (U+009B, a terminal escape) can, and is dropped
    /// let (parts, ()) = Request::post("/").header("x-commit-message", "\u{9b}2J Add a note\t").body(()).unwrap().into_parts();
    /// RevyLayer::new().frame(&parts).sync_scope(|| assert_eq!(Context::revision_description(), "2J Add a note"));
    /// ```
    pub fn frame(&self, parts: &Parts) -> Frame
    where
        F: Fn(&Parts) -> Option<Actor>,
    {
        frame_for(&self.config, &self.actor, parts)
    }
}

/// Builds the frame for one request; shared by the layer and its services.
pub(crate) fn frame_for<F>(config: &Config, actor: &F, parts: &Parts) -> Frame
where
    F: Fn(&Parts) -> Option<Actor>,
{
    let max = config.max_header_len;
    let actor = actor(parts);
    if config.actor_named
        && config
            .placement
            .observe(parts.headers.contains_key(AUTHORIZATION), actor.is_some())
    {
        tracing::warn!(
            requests = SUSPECT_AFTER,
            "revy: RevyLayer's actor function found no actor in {SUSPECT_AFTER} requests that \
             carried an Authorization header, and none before: the layer probably runs before \
             your authentication, so every save records the system as its actor. With axum's \
             Router::layer, add RevyLayer before (inside) the authentication layer, so that \
             authentication runs first (warned once)"
        );
    }
    let mut frame = Context::new().actor(actor);
    if let Some(name) = &config.description_header
        && let Some(description) = header::text(&parts.headers, name, max)
    {
        frame = frame.revision_description(description);
    }
    if config.request_meta {
        let mut meta = Map::new();
        meta.insert("method".into(), Value::from(parts.method.as_str()));
        meta.insert(
            "path".into(),
            Value::from(header::clean(parts.uri.path(), max)),
        );
        if let Some(id) = header::text(&parts.headers, &config.request_id_header, max) {
            meta.insert("request_id".into(), Value::from(id));
        }
        frame = frame.meta(Value::Object(meta));
    }
    if config.one_revision {
        frame = frame.revision(LazyRevision::new());
    }
    frame
}

impl<S, F: Clone> Layer<S> for RevyLayer<F> {
    type Service = RevyService<S, F>;

    fn layer(&self, inner: S) -> Self::Service {
        RevyService::new(inner, self.actor.clone(), self.config.clone())
    }
}

impl<F: Clone> Clone for RevyLayer<F> {
    fn clone(&self) -> Self {
        RevyLayer {
            actor: self.actor.clone(),
            config: self.config.clone(),
        }
    }
}

impl<F> fmt::Debug for RevyLayer<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevyLayer")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// A `tracing` subscriber for tests that counts warnings.
#[cfg(test)]
pub(crate) mod tests_support {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts the warnings sent to it.
    pub(crate) struct Warnings(pub(crate) Arc<AtomicUsize>);

    impl tracing::Subscriber for Warnings {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            if *event.metadata().level() == tracing::Level::WARN {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use http::Request;

    use super::tests_support::Warnings;
    use super::*;

    #[derive(Clone)]
    struct CurrentUser(i64);

    fn by_user(parts: &Parts) -> Option<Actor> {
        parts
            .extensions
            .get::<CurrentUser>()
            .map(|u| Actor::new("users", u.0))
    }

    fn request(token: bool, user: bool) -> Parts {
        let mut builder = Request::post("/notes");
        if token {
            builder = builder.header("authorization", "Bearer t");
        }
        let (mut parts, ()) = builder.body(()).unwrap().into_parts();
        if user {
            parts.extensions.insert(CurrentUser(7));
        }
        parts
    }

    /// The warnings `layer` gives for `requests` (token?, user?), after
    /// each request.
    fn warnings_after<F>(layer: &RevyLayer<F>, requests: &[(bool, bool)]) -> Vec<usize>
    where
        F: Fn(&Parts) -> Option<Actor>,
    {
        let count = Arc::new(AtomicUsize::new(0));
        tracing::subscriber::with_default(Warnings(count.clone()), || {
            requests
                .iter()
                .map(|&(token, user)| {
                    let _ = layer.frame(&request(token, user));
                    count.load(Ordering::SeqCst)
                })
                .collect()
        })
    }

    #[test]
    fn a_layer_outside_authentication_warns_once() {
        let layer = RevyLayer::new().actor_fn(by_user);
        let seen = warnings_after(&layer, &[(true, false); 50]);
        let first = seen.iter().position(|&n| n == 1);
        assert_eq!(first, Some(SUSPECT_AFTER as usize - 1), "{seen:?}");
        assert_eq!(seen.last(), Some(&1), "once: {seen:?}");
        // anonymous requests in between do not count, nor hide it
        let layer = RevyLayer::new().actor_fn(by_user);
        let mixed: Vec<(bool, bool)> = (0..80).map(|i| (i % 3 == 0, false)).collect();
        assert_eq!(warnings_after(&layer, &mixed).last(), Some(&1));
    }

    #[test]
    fn anonymous_traffic_never_warns() {
        let layer = RevyLayer::new().actor_fn(by_user);
        assert_eq!(
            warnings_after(&layer, &[(false, false); 200]).last(),
            Some(&0)
        );
    }

    #[test]
    fn an_actor_once_found_settles_it() {
        // a layer inside an optional authentication: some tokens are bad
        let layer = RevyLayer::new().actor_fn(by_user);
        let mut requests = vec![(true, true)];
        requests.extend([(true, false); 100]);
        assert_eq!(warnings_after(&layer, &requests).last(), Some(&0));
    }

    #[test]
    fn a_layer_without_an_actor_function_never_warns() {
        let layer = RevyLayer::new();
        assert_eq!(
            warnings_after(&layer, &[(true, false); 100]).last(),
            Some(&0)
        );
    }

    #[test]
    fn the_warning_is_given_once_under_concurrent_requests() {
        let placement = Arc::new(Placement::default());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let placement = placement.clone();
                std::thread::spawn(move || {
                    (0..50).filter(|_| placement.observe(true, false)).count()
                })
            })
            .collect();
        let warned: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(warned, 1);
    }
}
