//! The entities the benches write: an 8-column item and a child row
//! pointing at it, each tracked and as an identical untracked ("plain") twin
//! on a table of its own.

use chrono::{TimeZone, Utc};
use revy_seaorm::registry::TrackedEntity;
use rust_decimal::Decimal;
use sea_orm::{IntoActiveModel, NotSet, Set};

/// Declares an 8-column entity; `tracked` or `plain` says whether its
/// active model carries revy's hooks.
macro_rules! item_entity {
    ($module:ident, $table:literal, $($behavior:tt)*) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                #[sea_orm(primary_key)]
                pub id: i64,
                pub quantity: i32,
                pub count: i64,
                pub label: String,
                #[sea_orm(column_type = "Decimal(Some((20, 4)))")]
                pub price: Decimal,
                pub created_at: DateTimeUtc,
                pub active: bool,
                pub note: Option<String>,
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            $($behavior)*
        }
    };
}

/// A child row pointing at an item, for cascades.
macro_rules! child_entity {
    ($module:ident, $table:literal, $($behavior:tt)*) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                #[sea_orm(primary_key)]
                pub id: i64,
                pub parent_id: i64,
                pub label: String,
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            $($behavior)*
        }
    };
}

item_entity!(
    item,
    "bench_items",
    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy_seaorm::track!();
    }
    impl revy_seaorm::TrackingPolicy for Entity {}
);
item_entity!(
    plain_item,
    "bench_plain_items",
    impl ActiveModelBehavior for ActiveModel {}
    impl revy_seaorm::TrackingPolicy for Entity {}
);
child_entity!(
    child,
    "bench_children",
    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy_seaorm::track!();
    }
    impl revy_seaorm::TrackingPolicy for Entity {}
);
child_entity!(
    plain_child,
    "bench_plain_children",
    impl ActiveModelBehavior for ActiveModel {}
    impl revy_seaorm::TrackingPolicy for Entity {}
);

impl revy_seaorm::deletion::DeletionPolicies for item::Entity {
    fn on_delete() -> Vec<revy_seaorm::deletion::ChildPolicy> {
        vec![revy_seaorm::deletion::ChildPolicy::new(
            child::Column::ParentId,
            revy_seaorm::deletion::OnDelete::Cascade,
        )]
    }
}
impl revy_seaorm::deletion::DeletionPolicies for child::Entity {}

/// What the benchmarks do with either item table.
pub trait Item: TrackedEntity {
    /// A new row, numbered `i`.
    fn new_row(i: i64) -> Self::ActiveModel;
    /// `model` with two columns changed to values of round `round`.
    fn edit(model: Self::Model, round: i64) -> Self::ActiveModel;
    /// Whether revy's hooks track the entity (the plain twin's are off).
    const TRACKED: bool;
}

macro_rules! impl_item {
    ($module:ident, $tracked:expr) => {
        impl Item for $module::Entity {
            const TRACKED: bool = $tracked;
            fn new_row(i: i64) -> $module::ActiveModel {
                $module::ActiveModel {
                    id: NotSet,
                    quantity: Set(i as i32),
                    count: Set(i * 1_000),
                    label: Set(format!("item {i}")),
                    price: Set(Decimal::new(i * 100 + 99, 2)),
                    created_at: Set(Utc.timestamp_opt(1_700_000_000 + i, 0).unwrap()),
                    active: Set(i % 2 == 0),
                    note: Set((i % 3 == 0).then(|| format!("note {i}"))),
                }
            }

            fn edit(model: $module::Model, round: i64) -> $module::ActiveModel {
                let mut am = model.into_active_model();
                am.quantity = Set(round as i32);
                am.label = Set(format!("round {round}"));
                am
            }
        }
    };
}
impl_item!(item, true);
impl_item!(plain_item, false);
