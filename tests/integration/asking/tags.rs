//! Tags: naming revisions, reading at one, undoing back to one.

use super::{all_accounts, edit, newest_revision, open, remove, user};
use crate::common::TestDb;
use crate::common::entities::account;
use revy::tags::TagError;
use revy::{Context, Error, context::LazyRevision, error::JournalError, history::Moment};
use sea_orm::{ActiveModelTrait, EntityTrait, IntoActiveModel, Set};

async fn tags_round_trip(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    let a = open(db, "T-1", user(1)).await;
    let first = newest_revision(db).await;
    let v1 = Context::via_actor(user(7))
        .revision_description("First release")
        .scope(revy::tags::tag("v1", first).exec(db))
        .await
        .unwrap();
    assert_eq!(v1.name, "v1");
    assert_eq!(v1.revision_id, first);
    assert_eq!(v1.actor(), user(7));
    assert_eq!(v1.description, "First release");

    let err = revy::tags::tag("v1", first).exec(db).await.unwrap_err();
    assert!(matches!(&err, Error::Tag(e)
        if matches!(**e, TagError::TagExists { revision_id, .. } if revision_id == first)));
    let text = err.to_string();
    assert!(text.contains("v1") && text.contains("revy_tags"), "{text}");
    let long = "x".repeat(revy::tags::TAG_NAME_LEN as usize + 1);
    let err = revy::tags::tag(long, first).exec(db).await.unwrap_err();
    assert!(
        matches!(&err, Error::Tag(e) if matches!(**e, TagError::TagNameTooLong { .. })),
        "{err}"
    );
    let err = revy::tags::tag("nowhere", 999_999)
        .exec(db)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Journal(e) if matches!(**e, JournalError::NoRevision { .. })),
        "{err}"
    );

    let renamed = edit(db, a.id, user(2), "Rename", |am| {
        am.name = Set(Some("Renamed".into()))
    })
    .await;
    let second = newest_revision(db).await;
    let v2 = revy::tags::tag("v2", second).exec(db).await.unwrap();
    let also = revy::tags::tag("also-v1", first).exec(db).await.unwrap();
    remove(db, a.id).await;

    assert_eq!(
        revy::tags::all(db).await.unwrap(),
        vec![v1.clone(), also, v2.clone()]
    );
    assert_eq!(revy::tags::find_tag("v2").one(db).await.unwrap(), Some(v2));
    assert_eq!(revy::tags::find_tag("v3").one(db).await.unwrap(), None);

    let at = |name: &'static str| revy::tags::as_of_tag::<account::Entity>(a.id, name).one(db);
    assert_eq!(at("v1").await.unwrap(), Some(a.clone()));
    assert_eq!(at("v2").await.unwrap(), Some(renamed));
    let err = at("v3").await.unwrap_err();
    assert!(
        matches!(&err, Error::Tag(e) if matches!(**e, TagError::NoTag { .. })),
        "{err}"
    );
    // a row created after the tag did not exist at it
    let b = open(db, "T-2", None).await;
    assert_eq!(
        revy::tags::as_of_tag::<account::Entity>(b.id, "v2")
            .one(db)
            .await
            .unwrap(),
        None
    );
    // the whole table at a tag; an unknown tag is an error there too
    let rows = revy::history::table_as_of::<account::Entity>(Moment::tag("v1"))
        .page(db)
        .await
        .unwrap();
    assert_eq!(rows.rows, vec![a]);
    let err = revy::history::table_as_of::<account::Entity>(Moment::tag("v3"))
        .page(db)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Tag(e) if matches!(**e, TagError::NoTag { .. })),
        "{err}"
    );
}

async fn undo_to_tag_restores_the_tagged_state(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    revy::registry::register::<account::Entity>();
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(open(db, &format!("U-{i}"), user(1)).await.id);
    }
    remove(db, ids[3]).await;
    let tagged = all_accounts(db).await;
    revy::tags::tag("stable", newest_revision(db).await)
        .exec(db)
        .await
        .unwrap();

    // several revisions after the tag, some on the same row
    for i in 0..3 {
        edit(db, ids[0], user(2), "Edit", |am| am.balance = Set(100 + i)).await;
    }
    remove(db, ids[1]).await;
    revy::rollback::restore_latest::<account::Entity>(ids[3])
        .exec(db)
        .await
        .unwrap();
    edit(db, ids[3], user(2), "Edit", |am| am.is_active = Set(false)).await;
    open(db, "U-new", user(2)).await;
    assert_ne!(all_accounts(db).await, tagged);

    let undo = revy::rollback::undo_to_tag("stable")
        .exec(db)
        .await
        .unwrap();
    assert!(undo.is_some());
    assert_eq!(all_accounts(db).await, tagged);
    // again: the undo's own changes are after the tag, but every row is
    // as tagged already, so nothing is written
    assert_eq!(
        revy::rollback::undo_to_tag("stable")
            .exec(db)
            .await
            .unwrap(),
        None
    );
    assert_eq!(all_accounts(db).await, tagged);
}

async fn undo_to_tag_stops_at_a_late_write_of_an_earlier_revision(t: TestDb) {
    t.create_table(account::Entity).await;
    let db = &t.db;
    revy::registry::register::<account::Entity>();
    let early = LazyRevision::new();
    let x = Context::via_revision(early.clone())
        .scope(
            account::ActiveModel {
                code: Set("X".into()),
                is_active: Set(true),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap();
    open(db, "Y", None).await;
    let tag_revision = newest_revision(db).await;
    revy::tags::tag("t", tag_revision).exec(db).await.unwrap();
    edit(db, x.id, None, "Later", |am| am.balance = Set(1)).await;
    // the early revision writes again, after the later one
    Context::via_revision(early)
        .scope(async {
            let mut am = account::Entity::find_by_id(x.id)
                .one(db)
                .await?
                .unwrap()
                .into_active_model();
            am.code = Set("X2".into());
            am.update(db).await
        })
        .await
        .unwrap();
    let before = all_accounts(db).await;
    let err = revy::rollback::undo_to_tag("t").exec(db).await.unwrap_err();
    assert!(
        matches!(&err, Error::Tag(e) if matches!(**e, TagError::TagConflict { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("accounts"), "{err}");
    assert_eq!(all_accounts(db).await, before, "nothing changed");
}

backend_tests!(
    tags_round_trip,
    undo_to_tag_restores_the_tagged_state,
    undo_to_tag_stops_at_a_late_write_of_an_earlier_revision,
);
