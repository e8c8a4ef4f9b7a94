//! Database cascades between tracked tables: `ON DELETE CASCADE` and `SET
//! NULL` keys are reported when no policy covers them, refused in strict
//! mode, adopted as child policies in one line, and applied by bulk deletes.
//!
//! revy reads foreign keys once per table and backend per process, and the
//! registered policies are per table: each test has tables of its own.

use crate::common::TestDb;
use revy::entity::object_delta;
use revy::{Action, Context, guard::Guarded};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, ModelTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Set,
};

/// The untracked-write counts are per process and per table, and the three
/// backends of one test use tables of the same names: tests that compare
/// counts take turns.
static COUNTING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A parent table `$m` and its children, each pointing at it with a
/// database key: `$child` ON DELETE CASCADE and `$nullable` ON DELETE SET
/// NULL.
macro_rules! family {
    ($family:ident, $parent_table:literal, $child_table:literal, $nullable_table:literal,
     { $($declared:tt)* }) => {
      pub mod $family {
        pub mod parent {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $parent_table)]
            pub struct Model {
                #[sea_orm(primary_key, auto_increment = false)]
                pub id: i32,
                pub name: String,
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            #[async_trait::async_trait]
            impl ActiveModelBehavior for ActiveModel {
                revy::track!();
            }
            impl revy::TrackingPolicy for Entity {}
            impl revy::deletion::DeletionPolicies for Entity {
                $($declared)*
            }
        }

        pub mod child {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $child_table)]
            pub struct Model {
                #[sea_orm(primary_key, auto_increment = false)]
                pub id: i32,
                pub parent_id: i32,
                pub body: String,
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {
                #[sea_orm(
                    belongs_to = "super::parent::Entity",
                    from = "Column::ParentId",
                    to = "super::parent::Column::Id",
                    on_delete = "Cascade"
                )]
                Parent,
            }

            #[async_trait::async_trait]
            impl ActiveModelBehavior for ActiveModel {
                revy::track!();
            }
            impl revy::TrackingPolicy for Entity {}
            impl revy::deletion::DeletionPolicies for Entity {}
        }

        pub mod nullable {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $nullable_table)]
            pub struct Model {
                #[sea_orm(primary_key, auto_increment = false)]
                pub id: i32,
                pub parent_id: Option<i32>,
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {
                #[sea_orm(
                    belongs_to = "super::parent::Entity",
                    from = "Column::ParentId",
                    to = "super::parent::Column::Id",
                    on_delete = "SetNull"
                )]
                Parent,
            }

            #[async_trait::async_trait]
            impl ActiveModelBehavior for ActiveModel {
                revy::track!();
            }
            impl revy::TrackingPolicy for Entity {}
            impl revy::deletion::DeletionPolicies for Entity {}
        }
      }
    };
}

// nothing declared, nothing registered: the database's keys are reported
family!(lone, "cx_lists", "cx_items", "cx_tags", {});
// nothing declared: the policies are adopted from the database
family!(adopt, "cy_authors", "cy_posts", "cy_reviews", {});
// declared in Rust, registered for bulk deletes
family!(decl, "cw_folders", "cw_files", "cw_links", {
    fn on_delete() -> Vec<revy::deletion::ChildPolicy> {
        vec![
            revy::deletion::ChildPolicy::new(
                super::child::Column::ParentId,
                revy::deletion::OnDelete::Cascade,
            ),
            revy::deletion::ChildPolicy::new(
                super::nullable::Column::ParentId,
                revy::deletion::OnDelete::SetNull,
            ),
        ]
    }
});

// declared in Rust, registered, with a fault at every journal row
family!(fault, "cv_folders", "cv_files", "cv_links", {
    fn on_delete() -> Vec<revy::deletion::ChildPolicy> {
        vec![
            revy::deletion::ChildPolicy::new(
                super::child::Column::ParentId,
                revy::deletion::OnDelete::Cascade,
            ),
            revy::deletion::ChildPolicy::new(
                super::nullable::Column::ParentId,
                revy::deletion::OnDelete::SetNull,
            ),
        ]
    }
});

macro_rules! create_family {
    ($t:expr, $family:ident) => {{
        $t.create_table($family::parent::Entity).await;
        $t.create_table($family::child::Entity).await;
        $t.create_table($family::nullable::Entity).await;
        revy::registry::register::<$family::parent::Entity>();
        revy::registry::register::<$family::child::Entity>();
        revy::registry::register::<$family::nullable::Entity>();
    }};
}

/// Parents 1 and 2, each with two cascading children and one nullable
/// child, written with tracking on.
macro_rules! fill_family {
    ($db:expr, $family:ident) => {{
        use $family::{child, nullable, parent};
        let db: &DatabaseConnection = $db;
        Context::new()
            .scope(async {
                for p in 1..=2 {
                    parent::ActiveModel {
                        id: Set(p),
                        name: Set(format!("parent {p}")),
                    }
                    .insert(db)
                    .await?;
                    for c in 0..2 {
                        child::ActiveModel {
                            id: Set(p * 10 + c),
                            parent_id: Set(p),
                            body: Set("hi".into()),
                        }
                        .insert(db)
                        .await?;
                    }
                    nullable::ActiveModel {
                        id: Set(p),
                        parent_id: Set(Some(p)),
                    }
                    .insert(db)
                    .await?;
                }
                Ok::<_, sea_orm::DbErr>(())
            })
            .await
            .unwrap();
    }};
}

fn counts(tables: &[&str]) -> Vec<u64> {
    let seen = revy::guard::untracked_writes();
    tables.iter().map(|t| seen.get(t)).collect()
}

async fn deltas(db: &DatabaseConnection, table: &str, action: Action) -> Vec<object_delta::Model> {
    object_delta::Entity::find()
        .filter(object_delta::Column::ContentType.eq(table))
        .filter(object_delta::Column::Action.eq(action))
        .order_by_asc(object_delta::Column::Id)
        .all(db)
        .await
        .unwrap()
}

/// A key with no policy: counted (and warned about) in default mode, and
/// the database's cascade happens; refused before anything runs in strict
/// mode, by every tracked delete path.
async fn a_cascade_with_no_policy_is_reported_and_refused_when_strict(t: TestDb) {
    let _turn = COUNTING.lock().await;
    create_family!(t, lone);
    fill_family!(&t.db, lone);
    let before = (
        revy::guard::untracked_writes().get("cx_items"),
        revy::guard::untracked_writes().get("cx_tags"),
    );

    // strict: each tracked delete of a list is refused, naming the key and the fix
    let strict = Guarded::new(t.db.clone()).strict();
    let one = lone::parent::Entity::find_by_id(1)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    let refusals = Context::new()
        .scope(async {
            vec![
                revy::bulk::delete_many::<lone::parent::Entity>()
                    .exec(&strict)
                    .await
                    .unwrap_err()
                    .to_string(),
                revy::bulk::delete_by_id::<lone::parent::Entity>(1)
                    .exec(&strict)
                    .await
                    .unwrap_err()
                    .to_string(),
                revy::deletion::delete(one.clone())
                    .exec(&strict)
                    .await
                    .unwrap_err()
                    .to_string(),
                one.clone().delete(&strict).await.unwrap_err().to_string(),
            ]
        })
        .await;
    for refused in &refusals {
        assert!(refused.contains("cx_items.parent_id"), "{refused}");
        assert!(refused.contains("CASCADE"), "{refused}");
        assert!(refused.contains("register_child_policies"), "{refused}");
    }
    assert_eq!(lone::parent::Entity::find().count(&t.db).await.unwrap(), 2);
    assert_eq!(lone::child::Entity::find().count(&t.db).await.unwrap(), 4);
    assert!(deltas(&t.db, "cx_lists", Action::Delete).await.is_empty());
    // each refused statement counted both keys, the set-null one too
    let after = (
        revy::guard::untracked_writes().get("cx_items"),
        revy::guard::untracked_writes().get("cx_tags"),
    );
    assert_eq!(after, (before.0 + 4, before.1 + 4));

    // default mode: counted, and the database cascades unjournaled
    let lenient = Guarded::new(t.db.clone());
    Context::new()
        .scope(
            revy::bulk::delete_many::<lone::parent::Entity>()
                .filter(lone::parent::Column::Id.eq(1))
                .exec(&lenient),
        )
        .await
        .unwrap();
    assert_eq!(revy::guard::untracked_writes().get("cx_items"), after.0 + 1);
    assert_eq!(revy::guard::untracked_writes().get("cx_tags"), after.1 + 1);
    let items = lone::child::Entity::find().all(&t.db).await.unwrap();
    assert!(items.iter().all(|i| i.parent_id == 2), "{items:?}");
    assert!(deltas(&t.db, "cx_items", Action::Delete).await.is_empty());
    let tag = lone::nullable::Entity::find_by_id(1)
        .one(&t.db)
        .await
        .unwrap();
    assert_eq!(tag.unwrap().parent_id, None, "the database set it null");

    // a delete of a table nothing points at is not reported
    Context::new()
        .scope(revy::bulk::delete_by_id::<lone::child::Entity>(20).exec(&strict))
        .await
        .unwrap();
    assert_eq!(revy::guard::untracked_writes().get("cx_items"), after.0 + 1);
}

/// `register_child_policies` adopts the database's keys: deleting a parent
/// journals its children's Delete and its nullable children's Update, and
/// a strict guard lets every path through.
async fn adopted_policies_journal_the_children(t: TestDb) {
    let _turn = COUNTING.lock().await;
    create_family!(t, adopt);
    fill_family!(&t.db, adopt);
    let adopted = revy::deletion::cascade::register_child_policies::<adopt::parent::Entity>(&t.db)
        .await
        .unwrap();
    let mut found: Vec<_> = adopted
        .iter()
        .map(|p| (p.table(), p.column(), p.on_delete().clone()))
        .collect();
    found.sort_by_key(|(t, _, _)| t.to_string());
    assert_eq!(
        found,
        vec![
            ("cy_posts", "parent_id", revy::deletion::OnDelete::Cascade),
            ("cy_reviews", "parent_id", revy::deletion::OnDelete::SetNull),
        ]
    );
    let before = counts(&["cy_posts", "cy_reviews"]);
    let strict = Guarded::new(t.db.clone()).strict();

    // one parent with revy::deletion::delete, the other with a bulk delete
    let first = adopt::parent::Entity::find_by_id(1)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    Context::new()
        .deletion_description("gone with its author")
        .scope(revy::deletion::delete(first).exec(&strict))
        .await
        .unwrap();
    Context::new()
        .scope(revy::bulk::delete_by_id::<adopt::parent::Entity>(2).exec(&strict))
        .await
        .unwrap();
    assert_eq!(counts(&["cy_posts", "cy_reviews"]), before);
    assert_eq!(adopt::child::Entity::find().count(&t.db).await.unwrap(), 0);

    let post_deletes = deltas(&t.db, "cy_posts", Action::Delete).await;
    let mut deleted: Vec<_> = post_deletes.iter().map(|d| d.content_id.clone()).collect();
    deleted.sort();
    assert_eq!(deleted, ["10", "11", "20", "21"]);
    assert_eq!(post_deletes[0].description, "gone with its author");
    let review_updates = deltas(&t.db, "cy_reviews", Action::Update).await;
    assert_eq!(review_updates.len(), 2);
    let reviews = adopt::nullable::Entity::find().all(&t.db).await.unwrap();
    assert!(reviews.iter().all(|r| r.parent_id.is_none()), "{reviews:?}");

    // the journal says the cascaded child is gone, and can bring it back
    let history = revy::history::of::<adopt::child::Entity>(10)
        .all(&t.db)
        .await
        .unwrap();
    assert_eq!(history[0].action, Action::Delete);
    let now = chrono::Utc::now() + chrono::Duration::seconds(1);
    assert_eq!(
        revy::history::as_of::<adopt::child::Entity>(10, now)
            .one(&t.db)
            .await
            .unwrap(),
        None
    );
    let as_was = revy::history::as_of::<adopt::nullable::Entity>(1, now)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(as_was.parent_id, None);
}

/// A bulk delete of a parent whose declared policies are registered
/// applies them, journaled, and passes a strict guard.
async fn bulk_delete_applies_declared_policies(t: TestDb) {
    let _turn = COUNTING.lock().await;
    create_family!(t, decl);
    fill_family!(&t.db, decl);
    let registered =
        revy::deletion::cascade::register_child_policies::<decl::parent::Entity>(&t.db)
            .await
            .unwrap();
    // the declared policies cover both keys: nothing more is adopted
    assert_eq!(registered.len(), 2);
    let before = counts(&["cw_files", "cw_links"]);
    let strict = Guarded::new(t.db.clone()).strict();
    let gone = Context::new()
        .scope(
            revy::bulk::delete_many::<decl::parent::Entity>()
                .chunk_size(1)
                .exec(&strict),
        )
        .await
        .unwrap();
    assert_eq!(gone.rows_affected, 2);
    assert_eq!(counts(&["cw_files", "cw_links"]), before);
    assert_eq!(decl::child::Entity::find().count(&t.db).await.unwrap(), 0);
    assert_eq!(deltas(&t.db, "cw_files", Action::Delete).await.len(), 4);
    assert_eq!(deltas(&t.db, "cw_links", Action::Update).await.len(), 2);
    let folder_deletes = deltas(&t.db, "cw_folders", Action::Delete).await;
    assert_eq!(folder_deletes.len(), 2);
    // children first, then their parents, in one revision
    let files = deltas(&t.db, "cw_files", Action::Delete).await;
    assert!(
        files
            .iter()
            .all(|f| f.revision_id == folder_deletes[0].revision_id)
    );
    let link = decl::nullable::Entity::find_by_id(2)
        .one(&t.db)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(link.parent_id, None);
    // restoring the folder, then a cascaded file, brings them back as they were
    let folder = folder_deletes.iter().find(|d| d.content_id == "1").unwrap();
    revy::rollback::restore::<decl::parent::Entity>(folder.id)
        .exec(&t.db)
        .await
        .unwrap();
    let file = files.iter().find(|f| f.content_id == "10").unwrap();
    let restored = revy::rollback::restore::<decl::child::Entity>(file.id)
        .exec(&t.db)
        .await
        .unwrap();
    assert_eq!((restored.parent_id, restored.body.as_str()), (1, "hi"));
}

/// Everything the bulk delete of `fault` could change: its three tables
/// and the journal.
#[derive(Debug, PartialEq)]
struct FaultState {
    parents: Vec<fault::parent::Model>,
    children: Vec<fault::child::Model>,
    nullables: Vec<fault::nullable::Model>,
    journal: (u64, u64, u64),
}

async fn fault_state(db: &DatabaseConnection) -> FaultState {
    use revy::entity::revision;
    FaultState {
        parents: fault::parent::Entity::find()
            .order_by_asc(fault::parent::Column::Id)
            .all(db)
            .await
            .unwrap(),
        children: fault::child::Entity::find()
            .order_by_asc(fault::child::Column::Id)
            .all(db)
            .await
            .unwrap(),
        nullables: fault::nullable::Entity::find()
            .order_by_asc(fault::nullable::Column::Id)
            .all(db)
            .await
            .unwrap(),
        journal: (
            revision::Entity::find().count(db).await.unwrap(),
            object_delta::Entity::find().count(db).await.unwrap(),
            crate::common::attribute_rows(db).await.len() as u64,
        ),
    }
}

/// The bulk delete, on its own or inside the caller's transaction.
async fn bulk_delete_with_policies(
    db: &DatabaseConnection,
    in_caller_txn: bool,
) -> Result<(), String> {
    use sea_orm::TransactionTrait;
    let delete = revy::bulk::delete_many::<fault::parent::Entity>().chunk_size(1);
    Context::new()
        .scope(async {
            if !in_caller_txn {
                return delete.exec(db).await.map(|_| ()).map_err(|e| e.to_string());
            }
            let txn = db.begin().await.map_err(|e| e.to_string())?;
            match delete.exec(&txn).await {
                Ok(_) => txn.commit().await.map_err(|e| e.to_string()),
                Err(e) => {
                    txn.rollback().await.map_err(|e| e.to_string())?;
                    Err(e.to_string())
                }
            }
        })
        .await
}

/// A fault at any journal row of a bulk delete that applies child
/// policies leaves everything or nothing: parents, cascaded children,
/// nulled keys and their journal.
async fn a_fault_in_a_bulk_delete_with_policies_leaves_all_or_nothing(t: TestDb) {
    create_family!(t, fault);
    crate::faults::install_fault_budget(&t.db).await;
    revy::deletion::cascade::register_child_policies::<fault::parent::Entity>(&t.db)
        .await
        .unwrap();
    let db = &t.db;
    let mut tried = 0;
    for in_caller_txn in [false, true] {
        for table in crate::faults::JOURNAL {
            // what the last run left (links with no parent), then a fresh family
            fault::nullable::Entity::delete_many()
                .exec(db)
                .await
                .unwrap();
            fill_family!(db, fault);
            let before = fault_state(db).await;
            let mut budget = 0;
            loop {
                crate::faults::arm(db, table, budget).await;
                let result = bulk_delete_with_policies(db, in_caller_txn).await;
                crate::faults::disarm(db, table).await;
                match result {
                    Err(e) => {
                        assert!(e.contains("injected fault"), "unexpected error {e}");
                        assert_eq!(
                            fault_state(db).await,
                            before,
                            "fault at row {budget} of {table} left a trace"
                        );
                        tried += 1;
                        budget += 1;
                    }
                    Ok(()) => {
                        let after = fault_state(db).await;
                        assert!(after.parents.is_empty() && after.children.is_empty());
                        assert!(after.nullables.iter().all(|n| n.parent_id.is_none()));
                        // 2 parents and 4 children deleted, 2 keys nulled
                        assert_eq!(after.journal.1, before.journal.1 + 8);
                        break;
                    }
                }
                assert!(budget < 1000, "never got through");
            }
        }
    }
    eprintln!(
        "bulk delete with policies: {tried} fault points on {:?}",
        t.backend
    );
    assert!(tried >= 6, "only {tried} fault points");
}

backend_tests!(
    a_fault_in_a_bulk_delete_with_policies_leaves_all_or_nothing,
    a_cascade_with_no_policy_is_reported_and_refused_when_strict,
    adopted_policies_journal_the_children,
    bulk_delete_applies_declared_policies,
);
