//! Issue 27: the history browser in a real browser. Headless Chromium,
//! driven through chromedriver by the WebDriver client `fantoccini`, opens
//! the revisions page, filters by actor, opens a row, diffs two versions
//! and restores a deleted row, checking the page and the database after
//! each step, and saves screenshots of the pages. It runs on every
//! configured backend, as the other integration tests do.
//!
//! Needs `/usr/bin/chromedriver` and `/usr/bin/chromium` (Debian's
//! `chromium-driver` and `chromium`; `.ci/run` installs them). Without
//! them it prints a note and passes, except under `CI=true`, where it fails.
//! The screenshots go to `target/history-ui-screenshots/<backend>/`; with
//! `REVY_UPDATE_SCREENSHOTS=1` SQLite's replace the README's, in
//! `docs/history-ui/`.
#![cfg(feature = "history-ui")]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::Router;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use revy::axum::HistoryUi;
use revy::{Actor, Context};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};
use serde_json::json;

use crate::common::{Backend, TestDb};
use crate::history_ui::post;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

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

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_driver() -> Result<Driver, AnyError> {
    let port = free_port();
    let profile = std::env::temp_dir().join(format!("revy-chromium-{}-{port}", std::process::id()));
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    Ok(Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        profile,
    })
}

/// A session of headless Chromium. chromedriver is plain HTTP on loopback,
/// so the client needs no TLS; the first attempts may come before
/// chromedriver listens.
async fn start_session(driver: &Driver) -> Result<Client, AnyError> {
    let capabilities = json!({
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
    });
    let serde_json::Value::Object(capabilities) = capabilities else {
        unreachable!("a JSON object")
    };
    let mut builder = ClientBuilder::new(HttpConnector::new());
    builder.capabilities(capabilities);
    let mut tries = 0;
    loop {
        match builder.connect(&driver.url).await {
            Ok(client) => return Ok(client),
            Err(
                fantoccini::error::NewSessionError::Failed(_)
                | fantoccini::error::NewSessionError::FailedC(_),
            ) if tries < 100 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => return Err(format!("no WebDriver session at {}: {e}", driver.url).into()),
        }
    }
}

/// Clicks the element `css` selects.
async fn click(c: &Client, css: &str) -> Result<(), AnyError> {
    c.find(Locator::Css(css)).await?.click().await?;
    Ok(())
}

/// Waits for a navigation a click started to reach a URL containing
/// `part` (a click may return before the browser has followed it).
async fn wait_for_url(c: &Client, part: &str) -> Result<String, AnyError> {
    for _ in 0..100 {
        let url = c.current_url().await?;
        if url.as_str().contains(part) {
            return Ok(url.into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(format!(
        "still at {}, waiting for {part}: {}",
        c.current_url().await?,
        c.source().await?
    )
    .into())
}

/// Saves a PNG of the page.
async fn screenshot(c: &Client, dir: &Path, name: &str) -> Result<(), AnyError> {
    let png = c.screenshot().await?;
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join(format!("{name}.png")), png)?;
    Ok(())
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
    let tagged = revy::history::revisions().limit(1).all(db).await.unwrap()[0].id;
    revy::tags::tag("review-done", tagged)
        .exec(db)
        .await
        .unwrap();
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

    let driver = start_driver().unwrap();
    let client = start_session(&driver).await.unwrap();
    // each backend's run has its own folder: they run at the same time
    let shots = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/history-ui-screenshots")
        .join(format!("{:?}", t.backend).to_lowercase());
    let result = steps(&t, &client, &base, &shots, &launch, &old).await;
    let _ = client.close().await;
    drop(driver);
    server.abort();
    result.unwrap();
    if t.backend == Backend::Sqlite
        && std::env::var("REVY_UPDATE_SCREENSHOTS").is_ok_and(|v| v == "1")
    {
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
    s: &Client,
    base: &str,
    shots: &Path,
    launch: &post::Model,
    old: &post::Model,
) -> Result<(), AnyError> {
    // 1. the revisions page
    s.goto(base).await?;
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
    screenshot(s, shots, "revisions").await?;

    // 2. filter by actor
    s.find(Locator::Css("form.filters input[name=actor]"))
        .await?
        .send_keys("users:ann")
        .await?;
    click(s, "form.filters button[type=submit]").await?;
    wait_for_url(s, "actor=users%3Aann").await?;
    let page = s.source().await?;
    assert!(page.contains("Tag it for the release"));
    assert!(
        !page.contains("Move the launch to Tuesday"),
        "bob's revision is filtered out"
    );

    // 3. open a row from the list
    click(s, &format!("a[href$='/rows/ui_posts?key={}']", launch.id)).await?;
    wait_for_url(s, "/rows/ui_posts?key=").await?;
    let page = s.source().await?;
    assert!(page.contains("Timeline") && page.contains("at version 3"));
    assert!(page.contains("withheld") && !page.contains("embargoed"));
    screenshot(s, shots, "row").await?;

    // 4. diff v1 and v3 (not neighbours)
    let history = revy::history::of::<post::Entity>(launch.id)
        .all(&t.db)
        .await?;
    let id_of = |v: i64| {
        history
            .iter()
            .find(|d| d.version == v)
            .map(|d| d.id)
            .unwrap_or_default()
    };
    click(s, &format!("select[name=a] option[value='{}']", id_of(1))).await?;
    click(s, &format!("select[name=b] option[value='{}']", id_of(3))).await?;
    click(s, "form.compare button[type=submit]").await?;
    wait_for_url(s, &format!("b={}", id_of(3))).await?;
    let page = s.source().await?;
    let diff = &page[page.find("class=\"diff\"").ok_or("no diff table")?..];
    assert!(diff.contains("Launch notes") && diff.contains("Launch notes, v2"));
    assert!(diff.contains("class=\"changed\""));
    screenshot(s, shots, "diff").await?;

    // the table at the tag, for the README
    s.goto(&format!("{base}/tables/ui_posts?tag=review-done"))
        .await?;
    let page = s.source().await?;
    assert!(page.contains("Launch notes, v2") && !page.contains("Old pricing"));
    screenshot(s, shots, "table").await?;

    // 5. restore the deleted row: confirmation, then the POST
    s.goto(&format!("{base}/rows/ui_posts?key={}", old.id))
        .await?;
    assert!(s.source().await?.contains("deleted now"));
    click(s, "a.button[href*='/actions/restore']").await?;
    wait_for_url(s, "/actions/restore").await?;
    let page = s.source().await?;
    assert!(page.contains("Restore a deleted row?"));
    assert!(
        post::Entity::find_by_id(old.id).one(&t.db).await?.is_none(),
        "the confirmation changes nothing"
    );
    screenshot(s, shots, "restore").await?;
    click(s, "form.confirm button[type=submit]").await?;
    // the POST answers 303 to the row's page
    wait_for_url(s, &format!("/rows/ui_posts?key={}", old.id)).await?;
    let page = s.source().await?;
    assert!(page.contains("at version 3") && !page.contains("deleted now"));
    let back = post::Entity::find_by_id(old.id)
        .one(&t.db)
        .await?
        .ok_or("not restored")?;
    assert_eq!(back.title, "Old pricing");
    let newest = revy::history::of::<post::Entity>(old.id)
        .limit(1)
        .all(&t.db)
        .await?;
    assert_eq!(newest[0].actor(), Some(Actor::new("users", "admin")));
    Ok(())
}

/// Runs the browser test on `backend` (when it is configured), if
/// Chromium and chromedriver are installed.
async fn in_a_real_browser(backend: Backend) {
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
    crate::common::run(backend, "history_ui_browser", browse).await;
}

mod history_ui_in_a_real_browser {
    use super::{Backend, in_a_real_browser};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        in_a_real_browser(Backend::Sqlite).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        in_a_real_browser(Backend::Postgres).await
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mysql() {
        in_a_real_browser(Backend::MySql).await
    }
}
