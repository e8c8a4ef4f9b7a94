//! Issue 27: the history browser. Its router, called as an app calls it
//! (nested under a prefix), on every backend: the pages show the journal's
//! content, hostile history is escaped everywhere, actions need a POST with
//! a CSRF token after a confirmation page and are journaled with the
//! authorized actor, the read-only mode refuses them, and a stale revert
//! gives a conflict page.
#![cfg(feature = "history-ui")]

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode, header};
use revy::axum::HistoryUi;
use revy::entity::object_delta;
use revy::{Action, Actor, Context};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, IntoActiveModel, QueryFilter,
    QueryOrder, Set,
};
use serde_json::json;
use tower::ServiceExt;

use crate::common::TestDb;

/// A tracked entity with a redacted column, nullable text and JSON.
pub mod post {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "ui_posts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub title: String,
        #[sea_orm(column_type = "Text", nullable)]
        pub body: Option<String>,
        pub data: Option<Json>,
        #[sea_orm(default_value = "")]
        pub secret: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {
        fn policy() -> revy::Policy<Self> {
            revy::Policy::new().redact(Column::Secret)
        }
    }
}

/// A tracked entity keyed by text, so row keys can be hostile too.
pub mod label {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "ui_labels")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        #[sea_orm(column_type = "Text")]
        pub note: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
}

/// Tracked, but not registered with the browser.
pub mod hidden {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "ui_hidden")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub payload: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
}

const PREFIX: &str = "/admin/history";
const SECRET: [u8; 32] = [42; 32];

fn user(n: i64) -> Option<Actor> {
    Some(Actor::new("users", n))
}

/// The browser as an app mounts it; `x-user: <n>` is user n, no header
/// nobody.
fn ui(t: &TestDb) -> HistoryUi {
    HistoryUi::new(t.db.clone())
        .entity::<post::Entity>()
        .entity::<label::Entity>()
        .csrf_secret(SECRET)
        .authorize(|parts| async move {
            let n = parts
                .headers
                .get("x-user")?
                .to_str()
                .ok()?
                .parse::<i64>()
                .ok()?;
            Some(Actor::new("users", n))
        })
}

fn mount(ui: HistoryUi) -> Router {
    Router::new().nest(PREFIX, ui.router())
}

async fn setup(t: &TestDb) {
    t.create_table(post::Entity).await;
    t.create_table(label::Entity).await;
    t.create_table(hidden::Entity).await;
    // MySQL's TEXT holds 64 KiB; the hostile test saves a 1 MiB note
    if t.backend == crate::common::Backend::MySql {
        use sea_orm::sea_query::{Alias, ColumnDef, Table};
        let widen = Table::alter()
            .table(label::Entity)
            .modify_column(
                ColumnDef::new(label::Column::Note)
                    .custom(Alias::new("LONGTEXT"))
                    .not_null(),
            )
            .to_owned();
        t.db.execute(&widen).await.unwrap();
    }
}

/// GET `path` (under the prefix) as user `who`.
async fn get(app: &Router, who: Option<i64>, path: &str) -> (StatusCode, String) {
    let mut request = Request::get(format!("{PREFIX}{path}"));
    if let Some(n) = who {
        request = request.header("x-user", n.to_string());
    }
    let response = app
        .clone()
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

/// POST a form (already encoded) as user `who`.
async fn post_form(
    app: &Router,
    who: i64,
    path: &str,
    form: &str,
) -> (StatusCode, HeaderMap, String) {
    let request = Request::post(format!("{PREFIX}{path}"))
        .header("x-user", who.to_string())
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(form.to_owned()))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), 64 << 20)
        .await
        .unwrap();
    (status, headers, String::from_utf8(body.to_vec()).unwrap())
}

/// The value of the hidden input `name` in a page.
fn hidden_value(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no {name} in {page}"))
        + marker.len();
    let end = page[start..].find('"').unwrap() + start;
    page[start..end].to_owned()
}

/// The confirmation page's hidden fields, encoded as a browser posts them.
fn form_of(page: &str) -> String {
    let marker = "<input type=\"hidden\" name=\"";
    page.match_indices(marker)
        .map(|(i, _)| {
            let rest = &page[i + marker.len()..];
            let name = &rest[..rest.find('"').unwrap()];
            let value = rest[name.len()..].strip_prefix("\" value=\"").unwrap();
            let value = &value[..value.find('"').unwrap()];
            format!("{name}={}", enc(value))
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes an attribute's value, its HTML escapes undone first.
fn enc(s: &str) -> String {
    let s = s
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn newest_delta(t: &TestDb, table: &str, key: &str) -> object_delta::Model {
    object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq(table))
        .filter(object_delta::Column::ContentId.eq(key))
        .order_by_desc(object_delta::Column::Id)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap()
}

async fn newest_revision(t: &TestDb) -> revy::entity::revision::Model {
    revy::history::revisions()
        .limit(1)
        .all(&t.db)
        .await
        .unwrap()
        .remove(0)
}

async fn create_post(t: &TestDb, who: Option<Actor>, title: &str, why: &str) -> post::Model {
    Context::via_actor(who)
        .revision_description(why)
        .scope(
            post::ActiveModel {
                title: Set(title.into()),
                body: Set(None),
                data: Set(None),
                secret: Set("hunter2-secret".into()),
                ..Default::default()
            }
            .insert(&t.db),
        )
        .await
        .unwrap()
}

async fn retitle(
    t: &TestDb,
    who: Option<Actor>,
    row: post::Model,
    title: &str,
    why: &str,
) -> post::Model {
    let mut am = row.into_active_model();
    am.title = Set(title.into());
    Context::via_actor(who)
        .revision_description(why)
        .scope(am.update(&t.db))
        .await
        .unwrap()
}

async fn ui_pages_show_the_journal(t: TestDb) {
    setup(&t).await;
    let app = mount(ui(&t));
    let first = create_post(&t, user(1), "First title", "Write the first post").await;
    let first = retitle(&t, user(2), first, "Second title", "Fix the title").await;
    revy::tags::tag("release-1", newest_revision(&t).await.id)
        .exec(&t.db)
        .await
        .unwrap();
    let mut am = first.clone().into_active_model();
    am.body = Set(Some("word ".repeat(200)));
    am.data = Set(Some(serde_json::Value::Null));
    let first = Context::via_actor(user(1))
        .revision_description("Body and JSON null")
        .meta(json!({"ticket": 4711}))
        .scope(am.update(&t.db))
        .await
        .unwrap();
    let first = retitle(&t, user(1), first, "Third title", "Retitle again").await;
    let gone = create_post(&t, user(3), "Doomed post", "Write a doomed post").await;
    Context::via_actor(user(3))
        .revision_description("Delete the doomed post")
        .scope(gone.clone().into_active_model().delete(&t.db))
        .await
        .unwrap();

    // nobody: refused; no authorize at all: refused
    assert_eq!(get(&app, None, "").await.0, StatusCode::FORBIDDEN);
    let bare = Router::new().nest(PREFIX, HistoryUi::new(t.db.clone()).router());
    assert_eq!(get(&bare, Some(1), "").await.0, StatusCode::FORBIDDEN);

    // revisions, newest first, with descriptions, actors, meta and rows
    let (status, page) = get(&app, Some(1), "").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for text in [
        "Write the first post",
        "Fix the title",
        "Delete the doomed post",
        "users:2",
        "release-1",
        "4711",
        "ui_posts",
    ] {
        assert!(page.contains(text), "revisions page lacks {text}");
    }
    let newest = page.find("Delete the doomed post").unwrap();
    let oldest = page.find("Write the first post").unwrap();
    assert!(newest < oldest, "newest first");
    assert!(page.contains(&format!("{PREFIX}/rows/ui_posts?key={}", first.id)));

    // filters: actor, table + row key, tag, time range
    let (_, by_two) = get(&app, Some(1), "?actor=users%3A2").await;
    assert!(by_two.contains("Fix the title"));
    assert!(!by_two.contains("Write the first post"));
    let (_, system) = get(&app, Some(1), "?actor=system").await;
    assert!(!system.contains("Fix the title"));
    let (status, _) = get(&app, Some(1), "?actor=nobody").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, row) = get(&app, Some(1), &format!("?table=ui_posts&key={}", gone.id)).await;
    assert!(row.contains("Delete the doomed post"));
    assert!(!row.contains("Fix the title"));
    let (_, tagged) = get(&app, Some(1), "?tag=release-1").await;
    assert!(tagged.contains("Fix the title"));
    assert!(!tagged.contains("Retitle again"));
    let (_, future) = get(&app, Some(1), "?from=2999-01-01T00:00").await;
    assert!(future.contains("No revision matches"));
    let (_, past) = get(&app, Some(1), "?to=2999-01-01T00:00").await;
    assert!(past.contains("Fix the title"));

    // keyset paging: two a page, the next link carries the filters on
    let paged = mount(ui(&t).page_size(2));
    let (_, one) = get(&paged, Some(1), "?table=ui_posts").await;
    assert!(one.contains("Delete the doomed post"));
    assert!(!one.contains("Retitle again"));
    let start = one.find("class=\"next\" href=\"").unwrap() + "class=\"next\" href=\"".len();
    let next = one[start..start + one[start..].find('"').unwrap()].replace("&amp;", "&");
    assert!(next.contains("table=ui_posts"), "{next}");
    let (_, two) = get(&paged, Some(1), next.trim_start_matches(PREFIX)).await;
    assert!(two.contains("Retitle again"));
    assert!(!two.contains("Delete the doomed post"));

    // a revision: field by field, old and new
    let (_, rev) = get(&app, Some(1), &format!("/revisions/{}", 2)).await;
    assert!(rev.contains("Fix the title"));
    assert!(rev.contains("First title") && rev.contains("Second title"));
    assert!(rev.contains("users:2"));
    assert_eq!(
        get(&app, Some(1), "/revisions/999999").await.0,
        StatusCode::NOT_FOUND
    );

    // a row: timeline, blame, redaction, NULL vs JSON null, long text
    let (status, row) = get(&app, Some(1), &format!("/rows/ui_posts?key={}", first.id)).await;
    assert_eq!(status, StatusCode::OK, "{row}");
    assert!(row.contains("live") && row.contains("at version 4"));
    for v in ["v1", "v2", "v3", "v4"] {
        assert!(row.contains(v), "timeline lacks {v}");
    }
    assert!(row.contains("withheld"), "the redacted column is withheld");
    assert!(!row.contains("hunter2"), "a redacted value never shows");
    assert!(!row.contains("redacted\""), "nor the marker's JSON");
    assert!(row.contains("jnull"), "JSON null shows as JSON null");
    assert!(row.contains(">NULL<"), "SQL NULL shows as NULL");
    assert!(
        row.contains("<details"),
        "long text is cut with a way to open it"
    );
    assert!(row.contains("Blame"));

    // diff of two versions that are not neighbours (v1 and v3)
    let history = revy::history::of::<post::Entity>(first.id)
        .all(&t.db)
        .await
        .unwrap();
    let id_of = |v: i64| history.iter().find(|d| d.version == v).unwrap().id;
    let (status, diff) = get(
        &app,
        Some(1),
        &format!(
            "/rows/ui_posts?key={}&a={}&b={}",
            first.id,
            id_of(1),
            id_of(3)
        ),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{diff}");
    let table = &diff[diff.find("class=\"diff\"").unwrap()..];
    assert!(table.contains("First title") && table.contains("Second title"));
    assert!(table.contains("class=\"changed\""));
    assert!(!table.contains("hunter2"));

    // state at a time: before anything, the row did not exist
    let (_, then) = get(
        &app,
        Some(1),
        &format!("/rows/ui_posts?key={}&at=2000-01-01T00:00", first.id),
    )
    .await;
    assert!(then.contains("did not exist"));
    let (_, now) = get(
        &app,
        Some(1),
        &format!("/rows/ui_posts?key={}&at=2999-01-01T00:00", first.id),
    )
    .await;
    assert!(now.contains("Third title"));

    // deleted now, with a restore offer
    let (_, deleted) = get(&app, Some(1), &format!("/rows/ui_posts?key={}", gone.id)).await;
    assert!(deleted.contains("deleted now"));
    assert!(deleted.contains("/actions/restore?"));

    // a table at a tag and now
    let (_, at_tag) = get(&app, Some(1), "/tables/ui_posts?tag=release-1").await;
    assert!(at_tag.contains("Second title") && !at_tag.contains("Third title"));
    assert!(!at_tag.contains("hunter2"));
    let (_, now) = get(&app, Some(1), "/tables/ui_posts").await;
    assert!(now.contains("Third title") && !now.contains("Doomed post"));
    assert_eq!(
        get(&app, Some(1), "/tables/ui_hidden").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, Some(1), "/tables/ui_posts?at=yesterday").await.0,
        StatusCode::BAD_REQUEST
    );

    // the stylesheet is served by the router
    let (status, css) = get(&app, None, "/style.css").await;
    assert_eq!(status, StatusCode::OK);
    assert!(css.contains("table"));
}

async fn ui_escapes_hostile_history(t: TestDb) {
    setup(&t).await;
    let app = mount(ui(&t));
    let script = "<script>alert(1)</script>";
    let hostile = format!(
        "{script}\"'><img src=x onerror=alert(2)> javascript:alert(3) \u{202E}evil\u{202C} \u{1b}[31m"
    );
    let actor = Actor::new("users", "x\"><script>alert(4)</script>");
    let key = "<script>k</script>\"'&";
    Context::via_actor(Some(actor.clone()))
        .revision_description(hostile.clone())
        .meta(json!({ "x": hostile }))
        .scope(
            label::ActiveModel {
                name: Set(key.into()),
                note: Set(hostile.clone()),
            }
            .insert(&t.db),
        )
        .await
        .unwrap();
    let mut am = label::Entity::find_by_id(key)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap()
        .into_active_model();
    am.note = Set(format!("{hostile}{}", "x".repeat(1 << 20)));
    Context::via_actor(Some(actor))
        .scope(am.update(&t.db))
        .await
        .unwrap();
    revy::tags::tag(format!("tag{script}"), newest_revision(&t).await.id)
        .exec(&t.db)
        .await
        .unwrap();
    // an authorized viewer whose own id is hostile
    let viewer_app = Router::new().nest(
        PREFIX,
        HistoryUi::new(t.db.clone())
            .entity::<label::Entity>()
            .authorize(|_| async { Some(Actor::new("users", "<script>me</script>")) })
            .router(),
    );

    let enc_key: String = key.bytes().map(|b| format!("%{b:02X}")).collect();
    let pages = [
        String::new(),
        "/revisions/1".to_owned(),
        "/revisions/2".to_owned(),
        format!("/rows/ui_labels?key={enc_key}"),
        format!("/rows/ui_labels?key={enc_key}&at=2999-01-01T00:00"),
        "/tables/ui_labels".to_owned(),
        "/tables/ui_labels?tag=tag%3Cscript%3Ealert(1)%3C%2Fscript%3E".to_owned(),
        format!("/actions/revert?table=ui_labels&key={enc_key}&delta=1"),
    ];
    for path in &pages {
        for app in [&app, &viewer_app] {
            let (status, page) = get(app, Some(1), path).await;
            assert!(status.is_success(), "{path}: {status}");
            let lower = page.to_lowercase();
            assert!(!lower.contains("<script"), "{path}: an active <script>");
            assert!(!lower.contains("<img"), "{path}: an active <img>");
            assert!(
                !lower.contains("href=\"javascript:"),
                "{path}: a javascript: link"
            );
            assert!(!page.contains('\u{202E}'), "{path}: a live bidi override");
            assert!(!page.contains('\u{1b}'), "{path}: a raw control character");
            assert!(
                page.contains("&lt;script&gt;"),
                "{path}: the hostile text is shown escaped"
            );
        }
    }
    // the 1 MB value is cut on the row page, whole behind the disclosure
    let (_, row) = get(&app, Some(1), &pages[3]).await;
    assert!(row.contains("1048"), "the long value's length is shown");
}

async fn ui_actions_need_post_csrf_and_confirmation(t: TestDb) {
    setup(&t).await;
    let app = mount(ui(&t));
    let row = create_post(&t, user(5), "Original", "Create").await;
    let row = retitle(&t, user(5), row, "Edited", "Edit").await;
    let gone = create_post(&t, user(5), "Will be restored", "Create").await;
    Context::via_actor(user(5))
        .scope(gone.clone().into_active_model().delete(&t.db))
        .await
        .unwrap();
    let delete_id = newest_delta(&t, "ui_posts", &gone.id.to_string()).await.id;

    // restore: the GET is only a confirmation page, and changes nothing
    let confirm_path = format!(
        "/actions/restore?table=ui_posts&key={}&delta={delete_id}",
        gone.id
    );
    let (status, confirm) = get(&app, Some(1), &confirm_path).await;
    assert_eq!(status, StatusCode::OK, "{confirm}");
    assert!(confirm.contains("method=\"post\""));
    assert!(
        post::Entity::find_by_id(gone.id)
            .one(&t.db)
            .await
            .unwrap()
            .is_none()
    );
    let form = form_of(&confirm);
    assert!(form.contains("csrf="), "{form}");

    // without a token, with a wrong one, with another viewer's: refused
    let bare = format!("table=ui_posts&key={}&delta={delete_id}", gone.id);
    assert_eq!(
        post_form(&app, 1, "/actions/restore", &bare).await.0,
        StatusCode::FORBIDDEN
    );
    let wrong = format!("{bare}&csrf={}", "0".repeat(64));
    assert_eq!(
        post_form(&app, 1, "/actions/restore", &wrong).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        post_form(&app, 2, "/actions/restore", &form).await.0,
        StatusCode::FORBIDDEN
    );
    assert!(
        post::Entity::find_by_id(gone.id)
            .one(&t.db)
            .await
            .unwrap()
            .is_none()
    );
    // a GET cannot run it: the route's GET is the confirmation
    assert_eq!(get(&app, Some(1), &confirm_path).await.0, StatusCode::OK);
    assert!(
        post::Entity::find_by_id(gone.id)
            .one(&t.db)
            .await
            .unwrap()
            .is_none()
    );

    let (status, headers, body) = post_form(&app, 1, "/actions/restore", &form).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    assert!(
        headers[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with(PREFIX)
    );
    let back = post::Entity::find_by_id(gone.id)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.title, "Will be restored");
    let restored = newest_delta(&t, "ui_posts", &gone.id.to_string()).await;
    assert_eq!(restored.action, Action::Create);
    assert_eq!(
        restored.actor(),
        user(1),
        "journaled with the authorized actor"
    );
    assert_eq!(
        newest_revision(&t).await.description,
        "Restored in the history browser"
    );

    // revert to v1 with update_at_version
    let v1 = revy::history::of::<post::Entity>(row.id)
        .all(&t.db)
        .await
        .unwrap()
        .last()
        .unwrap()
        .id;
    let (status, confirm) = get(
        &app,
        Some(1),
        &format!("/actions/revert?table=ui_posts&key={}&delta={v1}", row.id),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{confirm}");
    assert_eq!(hidden_value(&confirm, "expected"), "2");
    assert_eq!(
        post::Entity::find_by_id(row.id)
            .one(&t.db)
            .await
            .unwrap()
            .unwrap()
            .title,
        "Edited"
    );
    let (status, _, body) = post_form(&app, 1, "/actions/revert", &form_of(&confirm)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let reverted = post::Entity::find_by_id(row.id)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(reverted.title, "Original");
    assert_eq!(
        reverted.secret, "hunter2-secret",
        "the redacted column is left as it is"
    );
    let d = newest_delta(&t, "ui_posts", &row.id.to_string()).await;
    assert_eq!(
        (d.action, d.actor(), d.version),
        (Action::Update, user(1), 3)
    );

    // undo the revert's revision
    let undo_of = newest_revision(&t).await.id;
    let (status, confirm) = get(&app, Some(1), &format!("/actions/undo?revision={undo_of}")).await;
    assert_eq!(status, StatusCode::OK, "{confirm}");
    assert_eq!(
        post::Entity::find_by_id(row.id)
            .one(&t.db)
            .await
            .unwrap()
            .unwrap()
            .title,
        "Original"
    );
    let tokenless = format!("revision={undo_of}");
    assert_eq!(
        post_form(&app, 1, "/actions/undo", &tokenless).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, headers, body) = post_form(&app, 1, "/actions/undo", &form_of(&confirm)).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
    let undo = newest_revision(&t).await;
    assert_eq!(undo.description, "Undone in the history browser");
    assert!(
        headers[header::LOCATION]
            .to_str()
            .unwrap()
            .ends_with(&format!("/revisions/{}", undo.id))
    );
    assert_eq!(
        post::Entity::find_by_id(row.id)
            .one(&t.db)
            .await
            .unwrap()
            .unwrap()
            .title,
        "Edited"
    );
    assert_eq!(
        newest_delta(&t, "ui_posts", &row.id.to_string())
            .await
            .actor(),
        user(1)
    );
}

async fn ui_read_only_refuses_actions(t: TestDb) {
    setup(&t).await;
    let writable = mount(ui(&t));
    let read_only = mount(ui(&t).read_only());
    let row = create_post(&t, user(5), "Original", "Create").await;
    let row = retitle(&t, user(5), row, "Edited", "Edit").await;
    Context::via_actor(user(5))
        .scope(row.clone().into_active_model().delete(&t.db))
        .await
        .unwrap();
    let delete_id = newest_delta(&t, "ui_posts", &row.id.to_string()).await.id;

    let (_, page) = get(
        &read_only,
        Some(1),
        &format!("/rows/ui_posts?key={}", row.id),
    )
    .await;
    assert!(page.contains("deleted now"));
    assert!(!page.contains("/actions/"), "no action is offered");
    let (_, rev) = get(&read_only, Some(1), "/revisions/1").await;
    assert!(!rev.contains("/actions/"));
    let path = format!(
        "/actions/restore?table=ui_posts&key={}&delta={delete_id}",
        row.id
    );
    assert_eq!(
        get(&read_only, Some(1), &path).await.0,
        StatusCode::FORBIDDEN
    );
    // even a valid form (same key, made by a writable instance) is refused
    let (_, confirm) = get(&writable, Some(1), &path).await;
    let (status, _, _) = post_form(&read_only, 1, "/actions/restore", &form_of(&confirm)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        post_form(&read_only, 1, "/actions/undo", "revision=1")
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert!(
        post::Entity::find_by_id(row.id)
            .one(&t.db)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        newest_delta(&t, "ui_posts", &row.id.to_string()).await.id,
        delete_id
    );
}

async fn ui_stale_revert_conflicts(t: TestDb) {
    setup(&t).await;
    let app = mount(ui(&t));
    let row = create_post(&t, user(5), "Original", "Create").await;
    let row = retitle(&t, user(5), row, "Edited", "Edit").await;
    let v1 = revy::history::of::<post::Entity>(row.id)
        .all(&t.db)
        .await
        .unwrap()
        .last()
        .unwrap()
        .id;
    let (_, confirm) = get(
        &app,
        Some(1),
        &format!("/actions/revert?table=ui_posts&key={}&delta={v1}", row.id),
    )
    .await;
    // someone else saves in the meantime
    retitle(&t, user(6), row.clone(), "Moved on", "Meanwhile").await;
    let (status, _, page) = post_form(&app, 1, "/actions/revert", &form_of(&confirm)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{page}");
    assert!(page.contains("changed after you looked"));
    assert!(page.contains("at version 3"));
    let now = post::Entity::find_by_id(row.id)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(now.title, "Moved on", "no lost update");
    let d = newest_delta(&t, "ui_posts", &row.id.to_string()).await;
    assert_eq!((d.version, d.actor()), (3, user(6)));
}

async fn ui_leaves_unregistered_tables_alone(t: TestDb) {
    setup(&t).await;
    let app = mount(ui(&t));
    Context::via_actor(user(1))
        .revision_description("Hidden work")
        .scope(
            hidden::ActiveModel {
                payload: Set("do not show me".into()),
                ..Default::default()
            }
            .insert(&t.db),
        )
        .await
        .unwrap();
    let (_, list) = get(&app, Some(1), "").await;
    assert!(list.contains("Hidden work") && list.contains("ui_hidden"));
    assert!(
        !list.contains("/rows/ui_hidden"),
        "no link to a table the browser does not know"
    );
    let (_, rev) = get(&app, Some(1), "/revisions/1").await;
    assert!(rev.contains("not registered"));
    assert!(!rev.contains("do not show me"));
    assert_eq!(
        get(&app, Some(1), "/rows/ui_hidden?key=1").await.0,
        StatusCode::NOT_FOUND
    );
    let path = "/actions/restore?table=ui_hidden&key=1&delta=1";
    assert_eq!(get(&app, Some(1), path).await.0, StatusCode::NOT_FOUND);
}

/// The statements each page sends, pinned: a page's cost grows only with
/// what it lists (the revisions page: three statements per revision).
async fn ui_statements_per_page(t: TestDb) {
    setup(&t).await;
    let app = mount(ui(&t));
    let row = create_post(&t, user(1), "One", "Create").await;
    let row = retitle(&t, user(2), row, "Two", "Edit").await;
    retitle(&t, user(1), row.clone(), "Three", "Edit again").await;
    let mut counts = Vec::new();
    for path in [
        "".to_owned(),
        "/revisions/2".to_owned(),
        format!("/rows/ui_posts?key={}", row.id),
        "/tables/ui_posts".to_owned(),
    ] {
        t.take_statement_count();
        let (status, _) = get(&app, Some(1), &path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        counts.push(t.take_statement_count());
    }
    // revisions: the list, the tags, and the page's summaries (three
    // statements whatever the number of revisions); a revision: the
    // revision, actors, deltas, tags, and one history entry per row; a row:
    // the live row, its version, the entries and blame (one statement for
    // a row without checkpoints); a table: `table_as_of` (the walk and the
    // rows' deltas) and the tags (a history entry's changes and a
    // revision's actors are read from the object deltas, which hold them
    // inline)
    assert_eq!(counts, [5, 5, 4, 4]);
}

backend_tests!(
    ui_statements_per_page,
    ui_pages_show_the_journal,
    ui_escapes_hostile_history,
    ui_actions_need_post_csrf_and_confirmation,
    ui_read_only_refuses_actions,
    ui_stale_revert_conflicts,
    ui_leaves_unregistered_tables_alone,
);
