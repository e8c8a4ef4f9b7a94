//! The journal written by the workload, projected into one row per change
//! in several encodings of its attribute deltas, to measure what issue 26's
//! shape would take before building it.

use std::collections::BTreeMap;

use revy_seaorm::entity::{attribute_delta, object_delta};
use sea_orm::sea_query::{Alias, ColumnDef, Index, Query, Table};
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryOrder};
use serde_json::{Value, json};

use super::{Failure, bytes};

/// How a change's attribute deltas are written into its row.
#[derive(Clone, Copy)]
enum Encoding {
    /// `[["quantity", old, new], ...]`
    Triples,
    /// A create `{"quantity": new, ...}` (old is always null there); an
    /// update `{"quantity": [old, new], ...}`. (Entries with an actor of
    /// their own, from drafts, would need an array form; the workload has none.)
    Maps,
    /// `Maps`, with the content type as a small number (a table of names
    /// beside) and the action as one letter.
    MapsInterned,
}

const ENCODINGS: [(&str, Encoding); 3] = [
    ("triples", Encoding::Triples),
    ("maps", Encoding::Maps),
    ("maps + interned type and action", Encoding::MapsInterned),
];

fn changes(encoding: Encoding, create: bool, deltas: &[attribute_delta::Model]) -> String {
    match encoding {
        Encoding::Triples => Value::Array(
            deltas
                .iter()
                .map(|d| json!([d.field_name, d.old_value, d.new_value]))
                .collect(),
        )
        .to_string(),
        Encoding::Maps | Encoding::MapsInterned => {
            let map: serde_json::Map<String, Value> = deltas
                .iter()
                .map(|d| {
                    let v = if create {
                        d.new_value.clone()
                    } else {
                        json!([d.old_value, d.new_value])
                    };
                    (d.field_name.clone(), v)
                })
                .collect();
            Value::Object(map).to_string()
        }
    }
}

fn create_table(backend: DbBackend, name: &str, interned: bool) -> Vec<String> {
    let t = Alias::new(name);
    let mut table = Table::create();
    table
        .table(t.clone())
        .col(
            ColumnDef::new(Alias::new("id"))
                .big_integer()
                .not_null()
                .primary_key(),
        )
        .col(
            ColumnDef::new(Alias::new("revision_id"))
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(Alias::new("actor_type"))
                .string_len(64)
                .null(),
        )
        .col(
            ColumnDef::new(Alias::new("actor_id"))
                .string_len(128)
                .null(),
        );
    if interned {
        table
            .col(ColumnDef::new(Alias::new("action")).char_len(1).not_null())
            .col(
                ColumnDef::new(Alias::new("content_type"))
                    .small_integer()
                    .not_null(),
            );
    } else {
        table
            .col(
                ColumnDef::new(Alias::new("action"))
                    .string_len(16)
                    .not_null(),
            )
            .col(
                ColumnDef::new(Alias::new("content_type"))
                    .string_len(255)
                    .not_null(),
            );
    }
    table
        .col(ColumnDef::new(Alias::new("description")).text().not_null())
        .col(
            ColumnDef::new(Alias::new("content_id"))
                .string_len(255)
                .not_null(),
        )
        .col(
            ColumnDef::new(Alias::new("created_at"))
                .timestamp_with_time_zone()
                .not_null(),
        )
        .col(
            ColumnDef::new(Alias::new("version"))
                .big_integer()
                .not_null(),
        )
        .col(ColumnDef::new(Alias::new("hash")).string_len(64).null())
        .col(ColumnDef::new(Alias::new("seal")).string_len(64).null())
        .col(ColumnDef::new(Alias::new("changes")).text().not_null());
    let history = Index::create()
        .name(format!("{name}_content"))
        .table(t.clone())
        .col(Alias::new("content_type"))
        .col(Alias::new("content_id"))
        .col(Alias::new("version"))
        .unique()
        .to_owned();
    let by_revision = Index::create()
        .name(format!("{name}_revision"))
        .table(t.clone())
        .col(Alias::new("revision_id"))
        .to_owned();
    vec![
        backend.build(&table).sql,
        backend.build(&history).sql,
        backend.build(&by_revision).sql,
    ]
}

/// Projects the journal into one table per encoding; gives each table's
/// bytes (indexes included).
pub(crate) async fn project(db: &DatabaseConnection) -> Result<Vec<(&'static str, i64)>, Failure> {
    let backend = db.get_database_backend();
    let objects = object_delta::Entity::find()
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await?;
    let mut entries: BTreeMap<i64, Vec<attribute_delta::Model>> = BTreeMap::new();
    for d in attribute_delta::Entity::find()
        .order_by_asc(attribute_delta::Column::Id)
        .all(db)
        .await?
    {
        entries.entry(d.object_delta_id).or_default().push(d);
    }
    let mut out = Vec::new();
    for (i, (label, encoding)) in ENCODINGS.into_iter().enumerate() {
        let name = format!("revy_projected_{i}");
        let interned = matches!(encoding, Encoding::MapsInterned);
        db.execute_unprepared(&format!("DROP TABLE IF EXISTS {name}"))
            .await?;
        for sql in create_table(backend, &name, interned) {
            db.execute_unprepared(&sql).await?;
        }
        for chunk in objects.chunks(500) {
            let mut insert = Query::insert();
            insert.into_table(Alias::new(&name)).columns(
                [
                    "id",
                    "revision_id",
                    "actor_type",
                    "actor_id",
                    "action",
                    "content_type",
                    "description",
                    "content_id",
                    "created_at",
                    "version",
                    "hash",
                    "seal",
                    "changes",
                ]
                .map(Alias::new),
            );
            for o in chunk {
                let create = o.action == revy_core::Action::Create;
                let own = entries.get(&o.id).map(Vec::as_slice).unwrap_or(&[]);
                let (action, content_type): (sea_orm::Value, sea_orm::Value) = if interned {
                    (o.action.as_str()[..1].to_owned().into(), 1i16.into())
                } else {
                    (
                        o.action.as_str().to_owned().into(),
                        o.content_type.clone().into(),
                    )
                };
                insert.values_panic([
                    o.id.into(),
                    o.revision_id.into(),
                    o.actor_type.clone().into(),
                    o.actor_id.clone().into(),
                    action.into(),
                    content_type.into(),
                    o.description.clone().into(),
                    o.content_id.clone().into(),
                    o.created_at.into(),
                    o.version.into(),
                    o.hash.clone().into(),
                    o.seal.clone().into(),
                    changes(encoding, create, own).into(),
                ]);
            }
            db.execute_raw(backend.build(&insert)).await?;
        }
        match backend {
            DbBackend::Postgres => {
                db.execute_unprepared(&format!("VACUUM ANALYZE {name}"))
                    .await?;
            }
            DbBackend::MySql => {
                db.execute_unprepared(&format!("ANALYZE TABLE {name}"))
                    .await?;
            }
            _ => {}
        }
        out.push((label, bytes(db, &[name.as_str()]).await?));
    }
    Ok(out)
}
