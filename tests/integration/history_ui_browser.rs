//! Issue 27: the history browser in a real browser. Headless Chromium,
//! driven through chromedriver's WebDriver HTTP API by the small client
//! below, opens the revisions page, filters by actor, opens a row, diffs two
//! versions and restores a deleted row, checking the page and the database
//! after each step, and saves screenshots of the pages.
//!
//! Needs `/usr/bin/chromedriver` and `/usr/bin/chromium` (Debian's
//! `chromium-driver` and `chromium`; `.ci/run` installs them). Without
//! them it prints a note and passes, except under `CI=true`, where it fails.
//! The screenshots go to `target/history-ui-screenshots/`; with
//! `REVY_UPDATE_SCREENSHOTS=1` they replace the README's, in `docs/history-ui/`.
#![cfg(feature = "history-ui")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{self, Method};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use revy::axum::HistoryUi;
use revy::{Actor, Context};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::{Value, json};

use crate::common::{Backend, TestDb};
use crate::history_ui::post;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
/// The key WebDriver names an element by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// A chromedriver process of this test's own, ended when dropped.
struct Driver {
    child: Child,
    url: String,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// A WebDriver session: the few commands the test needs, as JSON over HTTP.
struct Session {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Session {
    async fn send(
        client: &Client<HttpConnector, Full<Bytes>>,
        method: Method,
        url: &str,
        body: Option<Value>,
    ) -> Result<Value, AnyError> {
        let payload = body.map(|b| b.to_string()).unwrap_or_default();
        let request = http::Request::builder()
            .method(method)
            .uri(url)
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(payload)))?;
        let response = client.request(request).await?;
        let status = response.status();
        let bytes = response.into_body().collect().await?.to_bytes();
        let json: Value = serde_json::from_slice(&bytes)?;
        if !status.is_success() {
            return Err(format!("WebDriver {url}: {status}: {json}").into());
        }
        Ok(json["value"].clone())
    }

    async fn start(driver: &Driver) -> Result<Session, AnyError> {
        let client = Client::builder(TokioExecutor::new()).build_http();
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", driver.profile.display()),
                ]
            }
        }}});
        let created = Self::send(
            &client,
            Method::POST,
            &format!("{}/session", driver.url),
            Some(capabilities),
        )
        .await?;
        let id = created["sessionId"].as_str().ok_or("no session id")?;
        Ok(Session {
            base: format!("{}/session/{id}", driver.url),
            client,
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, AnyError> {
        Self::send(&self.client, method, &format!("{}{path}", self.base), body).await
    }

    async fn open(&self, url: &str) -> Result<(), AnyError> {
        self.call(Method::POST, "/url", Some(json!({ "url": url })))
            .await
            .map(drop)
    }

    async fn url(&self) -> Result<String, AnyError> {
        Ok(self
            .call(Method::GET, "/url", None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    /// Waits for a navigation a click started to reach a URL containing
    /// `part` (a click may return before the browser has followed it).
    async fn wait_for_url(&self, part: &str) -> Result<String, AnyError> {
        let mut url = self.url().await?;
        for _ in 0..100 {
            if url.contains(part) {
                return Ok(url);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            url = self.url().await?;
        }
        Err(format!(
            "still at {url}, waiting for {part}: {}",
            self.source().await?
        )
        .into())
    }

    async fn source(&self) -> Result<String, AnyError> {
        Ok(self
            .call(Method::GET, "/source", None)
            .await?
            .as_str()
            .unwrap_or_default()
            .to_owned())
    }

    async fn find(&self, css: &str) -> Result<String, AnyError> {
        let found = self
            .call(
                Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await?;
        Ok(found[ELEMENT]
            .as_str()
            .ok_or_else(|| format!("no element {css}: {found}"))?
            .to_owned())
    }

    async fn click(&self, css: &str) -> Result<(), AnyError> {
        let id = self.find(css).await?;
        self.call(
            Method::POST,
            &format!("/element/{id}/click"),
            Some(json!({})),
        )
        .await
        .map(drop)
    }

    async fn type_into(&self, css: &str, text: &str) -> Result<(), AnyError> {
        let id = self.find(css).await?;
        self.call(
            Method::POST,
            &format!("/element/{id}/value"),
            Some(json!({ "text": text })),
        )
        .await
        .map(drop)
    }

    /// Saves a PNG of the page.
    async fn screenshot(&self, dir: &Path, name: &str) -> Result<(), AnyError> {
        let data = self.call(Method::GET, "/screenshot", None).await?;
        let png = base64_decode(data.as_str().ok_or("no screenshot")?)?;
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join(format!("{name}.png")), png)?;
        Ok(())
    }

    async fn end(&self) {
        let _ = self.call(Method::DELETE, "", None).await;
    }
}

/// Standard base64, as WebDriver sends screenshots.
fn base64_decode(text: &str) -> Result<Vec<u8>, AnyError> {
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(format!("not base64: {c}").into()),
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Ok(out)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver() -> Result<Driver, AnyError> {
    let port = free_port();
    let profile = std::env::temp_dir().join(format!("revy-chromium-{}-{port}", std::process::id()));
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        profile,
    };
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).build_http();
    for _ in 0..100 {
        if let Ok(status) = Session::send(
            &client,
            Method::GET,
            &format!("{}/status", driver.url),
            None,
        )
        .await
            && status["ready"] == json!(true)
        {
            return Ok(driver);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err("chromedriver did not become ready".into())
}

async fn seed(t: &TestDb) -> (post::Model, post::Model) {
    t.create_table(post::Entity).await;
    let db = &t.db;
    let ann = Some(Actor::new("users", "ann"));
    let bob = Some(Actor::new("users", "bob"));
    let save = |who: Option<Actor>, why: &'static str, am: post::ActiveModel| async move {
        Context::via_actor(who)
            .revision_description(why)
            .scope(async move {
                if am.id.is_not_set() {
                    am.insert(db).await
                } else {
                    am.update(db).await
                }
            })
            .await
            .unwrap()
    };
    let launch = save(
        ann.clone(),
        "Draft the launch post",
        post::ActiveModel {
            title: Set("Launch notes".into()),
            body: Set(Some("We ship on Monday.".into())),
            data: Set(Some(json!({"tags": ["launch"]}))),
            secret: Set("embargoed".into()),
            ..Default::default()
        },
    )
    .await;
    let mut am = launch.into_active_model();
    am.title = Set("Launch notes, v2".into());
    am.body = Set(Some("We ship on Tuesday, after the review.".into()));
    let launch = save(bob.clone(), "Move the launch to Tuesday", am).await;
    let tagged = revy::revisions().limit(1).all(db).await.unwrap()[0].id;
    revy::tag(db, "review-done", tagged).await.unwrap();
    let mut am = launch.into_active_model();
    am.data = Set(Some(json!({"tags": ["launch", "release"]})));
    let launch = Context::via_actor(ann.clone())
        .revision_description("Tag it for the release")
        .meta(json!({"ticket": "OPS-12"}))
        .scope(am.update(db))
        .await
        .unwrap();
    let old = save(
        bob.clone(),
        "Write a post that goes away",
        post::ActiveModel {
            title: Set("Old pricing".into()),
            body: Set(None),
            data: Set(None),
            secret: Set("s".into()),
            ..Default::default()
        },
    )
    .await;
    Context::via_actor(bob)
        .revision_description("Remove the old pricing post")
        .scope(old.clone().into_active_model().delete(db))
        .await
        .unwrap();
    (launch, old)
}

async fn browse(t: TestDb) {
    let (launch, old) = seed(&t).await;
    let app: Router = Router::new().nest(
        "/admin/history",
        HistoryUi::new(t.db.clone())
            .entity::<post::Entity>()
            // the browser sends no credentials: this viewer is the admin
            .authorize(|_| async { Some(Actor::new("users", "admin")) })
            .router(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });
    let base = format!("http://{addr}/admin/history");

    let driver = start_driver().await.unwrap();
    let session = Session::start(&driver).await.unwrap();
    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/history-ui-screenshots");
    let result = steps(&t, &session, &base, &shots, &launch, &old).await;
    session.end().await;
    drop(driver);
    server.abort();
    result.unwrap();
    if std::env::var("REVY_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1") {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/history-ui");
        std::fs::create_dir_all(&docs).unwrap();
        for entry in std::fs::read_dir(&shots).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), docs.join(entry.file_name())).unwrap();
        }
    }
}

async fn steps(
    t: &TestDb,
    s: &Session,
    base: &str,
    shots: &Path,
    launch: &post::Model,
    old: &post::Model,
) -> Result<(), AnyError> {
    // 1. the revisions page
    s.open(base).await?;
    let page = s.source().await?;
    for text in [
        "Revisions",
        "Move the launch to Tuesday",
        "Remove the old pricing post",
        "review-done",
        "OPS-12",
    ] {
        assert!(page.contains(text), "revisions page lacks {text}");
    }
    s.screenshot(shots, "revisions").await?;

    // 2. filter by actor
    s.type_into("form.filters input[name=actor]", "users:ann")
        .await?;
    s.click("form.filters button[type=submit]").await?;
    s.wait_for_url("actor=users%3Aann").await?;
    let page = s.source().await?;
    assert!(page.contains("Tag it for the release"));
    assert!(
        !page.contains("Move the launch to Tuesday"),
        "bob's revision is filtered out"
    );

    // 3. open a row from the list
    s.click(&format!("a[href$='/rows/ui_posts?key={}']", launch.id))
        .await?;
    s.wait_for_url("/rows/ui_posts?key=").await?;
    let page = s.source().await?;
    assert!(page.contains("Timeline") && page.contains("at version 3"));
    assert!(page.contains("withheld") && !page.contains("embargoed"));
    s.screenshot(shots, "row").await?;

    // 4. diff v1 and v3 (not neighbours)
    let history = revy::history::<post::Entity>(launch.id).all(&t.db).await?;
    let id_of = |v: i64| {
        history
            .iter()
            .find(|d| d.version == v)
            .map(|d| d.id)
            .unwrap_or_default()
    };
    s.click(&format!("select[name=a] option[value='{}']", id_of(1)))
        .await?;
    s.click(&format!("select[name=b] option[value='{}']", id_of(3)))
        .await?;
    s.click("form.compare button[type=submit]").await?;
    s.wait_for_url(&format!("b={}", id_of(3))).await?;
    let page = s.source().await?;
    let diff = &page[page.find("class=\"diff\"").ok_or("no diff table")?..];
    assert!(diff.contains("Launch notes") && diff.contains("Launch notes, v2"));
    assert!(diff.contains("class=\"changed\""));
    s.screenshot(shots, "diff").await?;

    // the table at the tag, for the README
    s.open(&format!("{base}/tables/ui_posts?tag=review-done"))
        .await?;
    let page = s.source().await?;
    assert!(page.contains("Launch notes, v2") && !page.contains("Old pricing"));
    s.screenshot(shots, "table").await?;

    // 5. restore the deleted row: confirmation, then the POST
    s.open(&format!("{base}/rows/ui_posts?key={}", old.id))
        .await?;
    assert!(s.source().await?.contains("deleted now"));
    s.click("a.button[href*='/actions/restore']").await?;
    s.wait_for_url("/actions/restore").await?;
    let page = s.source().await?;
    assert!(page.contains("Restore a deleted row?"));
    assert!(
        post::Entity::find_by_id(old.id).one(&t.db).await?.is_none(),
        "the confirmation changes nothing"
    );
    s.screenshot(shots, "restore").await?;
    s.click("form.confirm button[type=submit]").await?;
    // the POST answers 303 to the row's page
    s.wait_for_url(&format!("/rows/ui_posts?key={}", old.id))
        .await?;
    let page = s.source().await?;
    assert!(page.contains("at version 3") && !page.contains("deleted now"));
    let back = post::Entity::find_by_id(old.id)
        .one(&t.db)
        .await?
        .ok_or("not restored")?;
    assert_eq!(back.title, "Old pricing");
    let newest = revy::history::<post::Entity>(old.id)
        .limit(1)
        .all(&t.db)
        .await?;
    assert_eq!(newest[0].actor(), Some(Actor::new("users", "admin")));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_ui_in_a_real_browser() {
    let installed = Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists();
    if !installed {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        assert!(
            !ci,
            "CI=true but {CHROMEDRIVER} or {CHROMIUM} is missing: .ci/run installs them"
        );
        eprintln!(
            "skipped: {CHROMEDRIVER} or {CHROMIUM} is missing (apt-get install chromium chromium-driver)"
        );
        return;
    }
    crate::common::run(Backend::Sqlite, "history_ui_browser", browse).await;
}
