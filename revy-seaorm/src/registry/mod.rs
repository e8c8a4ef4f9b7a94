//! What revy knows of the entities it tracks: [`TrackedEntity`], the bound
//! of every call that rebuilds and writes rows back, and
//! [`content_type`], the name under which an entity's rows sit in the
//! journal (its table name), and [`register`], which tells revy which
//! entity a table is. The journal's column sizes are here too.
//!
//! Tables are matched to entities at run time by [`register`], which
//! `track!` calls on an entity's first save or delete.

use sea_orm::{ActiveModelBehavior, ActiveModelTrait, EntityTrait, IntoActiveModel, TryIntoModel};

use crate::policy::TrackingPolicy;

mod tables;

pub(crate) use tables::{Parts, tracked_table};
pub use tables::{is_registered, register};

pub use crate::db::keys::content_type;
pub use crate::journal::{CONTENT_ID_LEN, CONTENT_TYPE_LEN, FIELD_NAME_LEN};

/// An entity revy can rebuild and write back: its active model is tracked
/// (`revy::track!()`) and round-trips through its model. Every sea-orm
/// entity whose `ActiveModelBehavior` is implemented is one.
pub trait TrackedEntity:
    TrackingPolicy
    + EntityTrait<
        ActiveModel: ActiveModelTrait<Entity = Self>
                         + ActiveModelBehavior
                         + TryIntoModel<<Self as EntityTrait>::Model>
                         + Send
                         + 'static,
        Model: IntoActiveModel<<Self as EntityTrait>::ActiveModel> + Sync,
    >
{
}

impl<E> TrackedEntity for E where
    E: TrackingPolicy
        + EntityTrait<
            ActiveModel: ActiveModelTrait<Entity = E>
                             + ActiveModelBehavior
                             + TryIntoModel<E::Model>
                             + Send
                             + 'static,
            Model: IntoActiveModel<E::ActiveModel> + Sync,
        >
{
}
