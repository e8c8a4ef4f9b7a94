//! Every configured backend is reachable and holds the journal tables.

use crate::common::TestDb;
use revy::entity::{object_delta, revision};
use sea_orm::{ConnectionTrait, EntityTrait, PaginatorTrait};

async fn connects_and_installs_the_journal(t: TestDb) {
    let one =
        t.db.query_one_raw(sea_orm::Statement::from_string(
            t.db.get_database_backend(),
            "SELECT 1 AS one",
        ))
        .await
        .unwrap()
        .unwrap();
    let one: i64 = one
        .try_get("", "one")
        .unwrap_or_else(|_| one.try_get::<i32>("", "one").unwrap().into());
    assert_eq!(one, 1);
    // install ran in the harness; a second run changes nothing
    revy::install(&t.db).await.unwrap();
    assert_eq!(revision::Entity::find().count(&t.db).await.unwrap(), 0);
    assert_eq!(object_delta::Entity::find().count(&t.db).await.unwrap(), 0);
}

backend_tests!(connects_and_installs_the_journal);
