//! The `track!` macro: revy's hooks in an `ActiveModelBehavior` block.

/// Puts revy's four hooks into an `impl ActiveModelBehavior` block.
///
/// ```
/// mod user {
///     use sea_orm::entity::prelude::*;
///
///     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
///     #[sea_orm(table_name = "users")]
///     pub struct Model {
///         #[sea_orm(primary_key)]
///         pub id: i32,
///         pub name: String,
///     }
///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
///     pub enum Relation {}
///
///     #[async_trait::async_trait]
///     impl ActiveModelBehavior for ActiveModel {
///         revy_seaorm::track!(); // `revy::track!()` through the facade
///     }
///     impl revy_seaorm::TrackingPolicy for Entity {}
/// }
/// # fn main() {}
/// ```
///
/// `#[async_trait]` rewrites the block before this macro expands, so the
/// macro writes the hooks in the form async-trait would have produced. The
/// first save or delete also registers the entity for
/// [`undo_revision`](crate::rollback::undo_revision).
///
/// # What the hooks do not see
///
/// sea-orm calls active-model hooks only from an active model's own
/// `insert`, `update`, `save` and `delete`. These write rows without them,
/// so nothing is journaled:
///
/// - `Entity::insert(am).exec(..)`, `Entity::insert_many(..)`;
/// - `Entity::update(am).exec(..)`, `Entity::update_many()`;
/// - `Entity::delete(am).exec(..)`, `Entity::delete_many()`,
///   `Entity::delete_by_id(..)`;
/// - an active model's `update_without_returning`, which runs `before_save`
///   but never `after_save` (and, since `before_save` ran, a
///   [`Guarded`](crate::guard::Guarded) connection takes it for a tracked update:
///   forbid it with clippy, see the README);
/// - raw SQL (`execute_unprepared`, `execute_raw`, `Statement`s);
/// - what the database writes itself: triggers, procedures, `ON DELETE` /
///   `ON UPDATE` clauses; and other clients of the database.
///
/// Use revy's tracked calls for the first three ([`delete`](crate::deletion::delete)
/// with deletion policies, and the bulk writes [`insert_many`](crate::bulk::insert_many),
/// [`update_many`](crate::bulk::update_many), [`delete_many`](crate::bulk::delete_many),
/// [`delete_by_id`](crate::bulk::delete_by_id)), `update` for the fourth, and wrap the connection
/// in a [`Guarded`](crate::guard::Guarded) one to be told, or stopped, when a
/// write to a tracked table slips past (raw SQL included).
#[macro_export]
macro_rules! track {
    () => {
        fn before_save<'life0, 'async_trait, C>(
            self,
            db: &'life0 C,
            insert: bool,
        ) -> ::core::pin::Pin<
            ::std::boxed::Box<
                dyn ::core::future::Future<
                        Output = ::core::result::Result<Self, $crate::__private::DbErr>,
                    > + ::core::marker::Send
                    + 'async_trait,
            >,
        >
        where
            C: 'async_trait + $crate::__private::ConnectionTrait,
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            static REGISTERED: ::std::sync::Once = ::std::sync::Once::new();
            REGISTERED.call_once(
                $crate::registry::register::<<Self as $crate::__private::ActiveModelTrait>::Entity>,
            );
            ::std::boxed::Box::pin($crate::hooks::before_save(self, db, insert))
        }

        fn after_save<'life0, 'async_trait, C>(
            model: <Self::Entity as $crate::__private::EntityTrait>::Model,
            db: &'life0 C,
            insert: bool,
        ) -> ::core::pin::Pin<
            ::std::boxed::Box<
                dyn ::core::future::Future<
                        Output = ::core::result::Result<
                            <Self::Entity as $crate::__private::EntityTrait>::Model,
                            $crate::__private::DbErr,
                        >,
                    > + ::core::marker::Send
                    + 'async_trait,
            >,
        >
        where
            C: 'async_trait + $crate::__private::ConnectionTrait,
            'life0: 'async_trait,
        {
            ::std::boxed::Box::pin($crate::hooks::after_save(model, db, insert))
        }

        fn before_delete<'life0, 'async_trait, C>(
            self,
            db: &'life0 C,
        ) -> ::core::pin::Pin<
            ::std::boxed::Box<
                dyn ::core::future::Future<
                        Output = ::core::result::Result<Self, $crate::__private::DbErr>,
                    > + ::core::marker::Send
                    + 'async_trait,
            >,
        >
        where
            C: 'async_trait + $crate::__private::ConnectionTrait,
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            static REGISTERED: ::std::sync::Once = ::std::sync::Once::new();
            REGISTERED.call_once(
                $crate::registry::register::<<Self as $crate::__private::ActiveModelTrait>::Entity>,
            );
            ::std::boxed::Box::pin($crate::hooks::before_delete(self, db))
        }

        fn after_delete<'life0, 'async_trait, C>(
            self,
            db: &'life0 C,
        ) -> ::core::pin::Pin<
            ::std::boxed::Box<
                dyn ::core::future::Future<
                        Output = ::core::result::Result<Self, $crate::__private::DbErr>,
                    > + ::core::marker::Send
                    + 'async_trait,
            >,
        >
        where
            C: 'async_trait + $crate::__private::ConnectionTrait,
            'life0: 'async_trait,
            Self: 'async_trait,
        {
            ::std::boxed::Box::pin($crate::hooks::after_delete(self, db))
        }
    };
}
