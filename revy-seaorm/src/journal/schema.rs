//! Creating the journal tables.

use sea_orm::sea_query::{
    ColumnDef, ForeignKey, ForeignKeyAction, Index, IndexCreateStatement, Table,
    TableCreateStatement,
};
use sea_orm::{ConnectionTrait, DbBackend, Statement};

use super::{erasure, object_delta, revision, tag};
use crate::error::{Error, JournalError};

/// The name of the object deltas' index by object: `(content_type,
/// content_id, id)`.
pub(crate) const CONTENT_INDEX: &str = "idx_revy_object_deltas_content";

/// The name of MySQL's unique index of versions.
pub(crate) const VERSION_INDEX: &str = "uq_revy_object_deltas_version";

/// Creates the journal tables and their indexes if they do not exist yet.
///
/// Safe to call at every start-up: it changes nothing when the tables are
/// there. Works on SQLite, PostgreSQL and MySQL/MariaDB.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), revy_seaorm::Error> {
/// let db = sea_orm::Database::connect("sqlite::memory:").await?;
/// revy_seaorm::install(&db).await?;
/// revy_seaorm::install(&db).await?; // idempotent
/// # Ok(()) }
/// ```
///
/// A database that holds revy's three-table journal from before 0.1 is
/// refused with [`JournalError::OldJournal`], which says how to move its history
/// over: revy 0.1 has no in-place upgrade.
pub async fn install<C: ConnectionTrait>(db: &C) -> Result<(), Error> {
    if db.get_database_backend() == DbBackend::Sqlite {
        crate::db::returning::check_sqlite(db).await?;
    }
    refuse_old_journal(db).await?;
    for statement in statements(db.get_database_backend()) {
        db.execute_raw(statement).await?;
    }
    Ok(())
}

/// The table only the journal before 0.1 had.
const OLD_ATTRIBUTE_TABLE: &str = "revy_attribute_deltas";

/// [`JournalError::OldJournal`] when the database holds the three-table journal.
pub(crate) async fn refuse_old_journal<C: ConnectionTrait>(db: &C) -> Result<(), Error> {
    let backend = db.get_database_backend();
    let probe = match backend {
        DbBackend::Sqlite => "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
        DbBackend::MySql => {
            "SELECT 1 FROM information_schema.tables WHERE table_schema = DATABASE() \
             AND table_name = ?"
        }
        _ => {
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() \
             AND table_name = $1"
        }
    };
    let found = db
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            probe,
            [OLD_ATTRIBUTE_TABLE.into()],
        ))
        .await?;
    match found {
        Some(_) => Err(JournalError::OldJournal {
            table: OLD_ATTRIBUTE_TABLE,
        }
        .into()),
        None => Ok(()),
    }
}

/// A text column of any length on `revy_object_deltas` (`LONGTEXT` on
/// MySQL, whose `TEXT` stops at 64 KiB): `changes`, the inline attribute
/// deltas, and `state`, a checkpoint's whole recorded state (see
/// `record::checkpoint`).
fn long_text(column: object_delta::Column, backend: DbBackend) -> ColumnDef {
    let mut def = ColumnDef::new(column);
    match backend {
        DbBackend::MySql => def.custom(sea_orm::sea_query::Alias::new("LONGTEXT")),
        _ => def.text(),
    };
    def
}

fn changes_column(backend: DbBackend) -> ColumnDef {
    long_text(object_delta::Column::Changes, backend)
}

fn state_column(backend: DbBackend) -> ColumnDef {
    long_text(object_delta::Column::State, backend)
}

/// Characters of a hash: SHA-256 in lowercase hex.
const HASH_LEN: u32 = 64;

/// The statements that create the journal on `backend`, in order.
///
/// MySQL has no `CREATE INDEX IF NOT EXISTS`, so there the indexes are part
/// of `CREATE TABLE IF NOT EXISTS`; the other backends take them apart. On
/// PostgreSQL the change feed's notify trigger comes last (see
/// [`feed`](crate::feed)); it too is created only when missing, so a
/// journal installed before it gets it at the next start-up.
pub(crate) fn statements(backend: DbBackend) -> Vec<Statement> {
    let inline = backend == DbBackend::MySql;
    let mut out = Vec::new();
    for (mut table, indexes) in [
        revisions(backend),
        object_deltas(backend),
        tags(backend),
        erasures(backend),
    ] {
        if inline {
            for mut index in indexes {
                table.index(&mut index);
            }
            out.push(backend.build(&table));
        } else {
            out.push(backend.build(&table));
            out.extend(
                indexes
                    .into_iter()
                    .map(|mut i| backend.build(i.if_not_exists())),
            );
        }
    }
    out.extend(crate::journal::trigger::install_statements(backend));
    out
}

fn id<C: sea_orm::sea_query::IntoIden>(column: C) -> ColumnDef {
    ColumnDef::new(column)
        .big_integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .to_owned()
}

fn created_at<C: sea_orm::sea_query::IntoIden>(column: C, backend: DbBackend) -> ColumnDef {
    let mut def = ColumnDef::new(column);
    match backend {
        // TIMESTAMP on MySQL has whole seconds and ends in 2038
        DbBackend::MySql => def.custom(sea_orm::sea_query::Alias::new("DATETIME(6)")),
        _ => def.timestamp_with_time_zone(),
    };
    def.not_null().to_owned()
}

fn table_options(table: &mut TableCreateStatement, backend: DbBackend) {
    if backend == DbBackend::MySql {
        // exact, case-sensitive comparison of keys and column names
        table.character_set("utf8mb4").collate("utf8mb4_bin");
    }
}

fn revisions(backend: DbBackend) -> (TableCreateStatement, Vec<IndexCreateStatement>) {
    use revision::Column as C;
    let mut t = Table::create();
    t.table(revision::Entity)
        .if_not_exists()
        .col(id(C::Id))
        .col(ColumnDef::new(C::Description).text().not_null())
        .col(ColumnDef::new(C::Meta).json().null())
        .col(created_at(C::CreatedAt, backend));
    table_options(&mut t, backend);
    (t, vec![])
}

fn actor_columns<C: sea_orm::sea_query::IntoIden>(
    t: &mut TableCreateStatement,
    actor_type: C,
    actor_id: C,
) {
    t.col(ColumnDef::new(actor_type).string_len(255).null())
        .col(ColumnDef::new(actor_id).string_len(255).null());
}

fn object_deltas(backend: DbBackend) -> (TableCreateStatement, Vec<IndexCreateStatement>) {
    use object_delta::Column as C;
    let mut t = Table::create();
    t.table(object_delta::Entity)
        .if_not_exists()
        .col(id(C::Id))
        .col(ColumnDef::new(C::RevisionId).big_integer().not_null());
    actor_columns(&mut t, C::ActorType, C::ActorId);
    t.col(ColumnDef::new(C::Action).string_len(16).not_null())
        .col(ColumnDef::new(C::Description).text().not_null())
        .col(
            ColumnDef::new(C::ContentType)
                .string_len(CONTENT_TYPE_LEN)
                .not_null(),
        )
        .col(
            ColumnDef::new(C::ContentId)
                .string_len(CONTENT_ID_LEN)
                .not_null(),
        )
        .col(created_at(C::CreatedAt, backend))
        .col(ColumnDef::new(C::Version).big_integer().not_null())
        .col(ColumnDef::new(C::Hash).string_len(HASH_LEN).null())
        .col(ColumnDef::new(C::Seal).string_len(HASH_LEN).null())
        .col(ColumnDef::new(C::Salt).text().null())
        .col(changes_column(backend).not_null())
        .col(state_column(backend).null())
        .foreign_key(
            ForeignKey::create()
                .name("fk_revy_object_deltas_revision")
                .from(object_delta::Entity, C::RevisionId)
                .to(revision::Entity, revision::Column::Id)
                .on_delete(ForeignKeyAction::Restrict),
        );
    table_options(&mut t, backend);
    let history = Index::create()
        .name(CONTENT_INDEX)
        .table(object_delta::Entity)
        .col(C::ContentType)
        .col(C::ContentId)
        .col(C::Id)
        .to_owned();
    let by_revision = Index::create()
        .name("idx_revy_object_deltas_revision")
        .table(object_delta::Entity)
        .col(C::RevisionId)
        .to_owned();
    let mut indexes = vec![history, by_revision];
    if backend == DbBackend::MySql {
        indexes.push(version_index());
    }
    (t, indexes)
}

/// MySQL's unique index of versions (see `numbering`): the other backends
/// read each version in the statement that writes it. The version comes
/// first so that the index serves no lookup of an object's deltas: given
/// `(content_type, content_id, version)`, MariaDB took it for the walk of
/// a time-travel page and read a whole table's journal at each step.
fn version_index() -> IndexCreateStatement {
    use object_delta::Column as C;
    Index::create()
        .name(VERSION_INDEX)
        .table(object_delta::Entity)
        .col(C::Version)
        .col(C::ContentType)
        .col(C::ContentId)
        .unique()
        .to_owned()
}

fn tags(backend: DbBackend) -> (TableCreateStatement, Vec<IndexCreateStatement>) {
    use tag::Column as C;
    let mut t = Table::create();
    t.table(tag::Entity)
        .if_not_exists()
        .col(id(C::Id))
        .col(ColumnDef::new(C::Name).string_len(TAG_NAME_LEN).not_null())
        .col(ColumnDef::new(C::RevisionId).big_integer().not_null());
    actor_columns(&mut t, C::ActorType, C::ActorId);
    t.col(ColumnDef::new(C::Description).text().not_null())
        .col(created_at(C::CreatedAt, backend))
        // a tagged revision cannot be deleted from under its tag
        .foreign_key(
            ForeignKey::create()
                .name("fk_revy_tags_revision")
                .from(tag::Entity, C::RevisionId)
                .to(revision::Entity, revision::Column::Id)
                .on_delete(ForeignKeyAction::Restrict),
        );
    table_options(&mut t, backend);
    let by_name = Index::create()
        .name("idx_revy_tags_name")
        .table(tag::Entity)
        .col(C::Name)
        .unique()
        .to_owned();
    (t, vec![by_name])
}

fn erasures(backend: DbBackend) -> (TableCreateStatement, Vec<IndexCreateStatement>) {
    use erasure::Column as C;
    let mut t = Table::create();
    t.table(erasure::Entity)
        .if_not_exists()
        .col(id(C::Id))
        .col(ColumnDef::new(C::RevisionId).big_integer().not_null());
    actor_columns(&mut t, C::ActorType, C::ActorId);
    t.col(
        ColumnDef::new(C::ContentType)
            .string_len(CONTENT_TYPE_LEN)
            .not_null(),
    )
    .col(
        ColumnDef::new(C::ContentId)
            .string_len(CONTENT_ID_LEN)
            .not_null(),
    )
    .col(ColumnDef::new(C::Columns).text().not_null())
    .col(ColumnDef::new(C::Deltas).big_integer().not_null())
    .col(created_at(C::CreatedAt, backend))
    .foreign_key(
        ForeignKey::create()
            .name("fk_revy_erasures_revision")
            .from(erasure::Entity, C::RevisionId)
            .to(revision::Entity, revision::Column::Id)
            .on_delete(ForeignKeyAction::Restrict),
    );
    table_options(&mut t, backend);
    let by_object = Index::create()
        .name("idx_revy_erasures_content")
        .table(erasure::Entity)
        .col(C::ContentType)
        .col(C::ContentId)
        .to_owned();
    (t, vec![by_object])
}

/// Longest tag name the journal stores.
pub const TAG_NAME_LEN: u32 = 128;
/// Longest table name (with schema) the journal stores.
pub const CONTENT_TYPE_LEN: u32 = 128;
pub use crate::db::keys::CONTENT_ID_LEN;
/// Longest column name the journal stores.
pub const FIELD_NAME_LEN: u32 = 128;
// On MySQL the snapshot index holds (128 + 255 + 128) utf8mb4 characters and
// two BIGINTs, 2060 bytes: under InnoDB's 3072-byte key limit.
