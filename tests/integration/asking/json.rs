//! The history's types as JSON, as a web handler answers them: values in
//! the journal's encoding, read back from each backend.

use crate::common::{Backend, TestDb};
use revy::{Actor, Context};
use rust_decimal::Decimal;
use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
use serde_json::{Value, json};

/// An invoice: a decimal at full precision, two JSON columns (one to hold
/// SQL NULL, one JSON `null`) and a redacted secret.
mod invoice {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "json_invoices")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        #[sea_orm(column_type = "Decimal(Some((30, 10)))")]
        pub total: Decimal,
        pub data: Option<Json>,
        pub extra: Option<Json>,
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

fn change<'a>(entry: &'a Value, column: &str) -> &'a Value {
    entry["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["column"] == column)
        .unwrap_or_else(|| panic!("no change of {column} in {entry}"))
}

async fn history_and_blame_serialize_in_the_journal_encoding(t: TestDb) {
    t.create_table(invoice::Entity).await;
    let db = &t.db;
    let total: Decimal = "123456789012345678.1234567890".parse().unwrap();
    let created = Context::via_actor(Some(Actor::new("users", 4)))
        .revision_description("Bill")
        .scope(
            invoice::ActiveModel {
                total: Set(total),
                data: Set(None),
                extra: Set(Some(json!(null))),
                secret: Set("s3cret".into()),
                ..Default::default()
            }
            .insert(db),
        )
        .await
        .unwrap();
    let mut am = created.clone().into_active_model();
    am.data = Set(Some(json!({"lines": 2})));
    am.secret = Set("other".into());
    let updated = Context::via_actor(None).scope(am.update(db)).await.unwrap();

    let entries = revy::history::of::<invoice::Entity>(created.id)
        .entries(db)
        .await
        .unwrap();
    let json = serde_json::to_value(&entries).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    assert_eq!(entries[1].to_json().unwrap(), json[1]);

    let create = &json[1];
    assert_eq!(create["action"], "Create");
    assert_eq!(create["actor"], json!({"kind": "users", "id": "4"}));
    assert_eq!(create["revision_description"], "Bill");
    assert_eq!(create["version"], 1);
    assert!(create["at"].as_str().unwrap().ends_with('Z'));
    // the decimal as the database returned it, as text: at full precision
    // where the column keeps it (SQLite stores decimals as REAL)
    let stored = json!(created.total.to_string());
    assert_eq!(change(create, "total")["new"], stored);
    if t.backend != Backend::Sqlite {
        assert_eq!(stored, json!("123456789012345678.1234567890"));
    }
    // SQL NULL is null, a JSON column's null is [null]
    assert_eq!(change(create, "extra")["old"], json!(null));
    assert_eq!(change(create, "extra")["new"], json!([null]));
    assert_eq!(change(create, "secret")["new"], json!({"revy": "redacted"}));
    assert!(revy::policy::is_redacted(&change(create, "secret")["new"]));
    assert!(
        create["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["column"] != "data" || c["new"].is_null())
    );

    let update = &json[0];
    assert_eq!(update["action"], "Update");
    assert_eq!(update["actor"], json!(null));
    assert_eq!(update["version"], 2);
    assert_eq!(change(update, "data")["old"], json!(null));
    assert_eq!(change(update, "data")["new"], json!([{"lines": 2}]));
    assert_eq!(change(update, "secret")["old"], json!({"revy": "redacted"}));
    assert_eq!(update["changes"].as_array().unwrap().len(), 2);

    // blame's rows, and the versions history lists
    let blame = revy::history::blame::<invoice::Entity>(updated.id)
        .all(db)
        .await
        .unwrap();
    let blame = serde_json::to_value(&blame).unwrap();
    let column = |name: &str| {
        blame
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["column"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(column("data")["value"], json!([{"lines": 2}]));
    assert_eq!(column("data")["actor"], json!(null));
    assert_eq!(column("extra")["value"], json!([null]));
    assert_eq!(column("total")["value"], stored);
    assert_eq!(column("total")["revision_description"], "Bill");
    assert_eq!(column("secret")["value"], json!({"revy": "redacted"}));

    let versions = revy::history::of::<invoice::Entity>(updated.id)
        .all(db)
        .await
        .unwrap();
    let versions = serde_json::to_value(&versions).unwrap();
    assert_eq!(versions[0]["version"], 2);
    assert_eq!(versions[0]["action"], "Update");
    assert_eq!(versions[1]["actor_id"], "4");
    assert_eq!(versions[1]["content_type"], "json_invoices");
}

backend_tests!(history_and_blame_serialize_in_the_journal_encoding);
