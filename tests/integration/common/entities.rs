//! Entities the integration tests track: Revy's ledger (accounts and
//! transactions).

pub mod account {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "accounts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub code: String,
        pub name: Option<String>,
        pub is_active: bool,
        #[sea_orm(default_value = 0)]
        pub balance: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
}

pub mod transaction {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "transactions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub account_id: i32,
        pub kind: String,
        #[sea_orm(column_type = "Decimal(Some((20, 4)))")]
        pub amount: Decimal,
        #[sea_orm(column_type = "Decimal(Some((20, 4)))")]
        pub exchange_rate: Decimal,
        #[sea_orm(column_type = "Decimal(Some((20, 4)))")]
        pub local_amount: Decimal,
        pub iso_code: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
}

/// A tracked entity with a composite key, in Revy's recovery sample shape.
pub mod membership {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "memberships")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub group_id: String,
        pub role: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
}

/// An untracked entity: its saves never reach the journal.
pub mod note {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "notes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub body: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// The `accounts` table as a later version of the program sees it: two
/// columns were added after history was written.
pub mod account_v2 {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "accounts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub code: String,
        pub name: Option<String>,
        pub is_active: bool,
        pub balance: i64,
        pub nickname: Option<String>,
        #[sea_orm(default_value = 5)]
        pub level: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
    impl revy::TrackingPolicy for Entity {}
}

/// The `accounts` table with an added column that has neither a default nor NULL.
pub mod account_v3 {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "accounts")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub code: String,
        pub region: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
    impl revy::TrackingPolicy for Entity {}
}

use sea_orm::entity::prelude::StringLen;

/// A status enum stored as text.
#[derive(Clone, Debug, PartialEq, Eq, sea_orm::EnumIter, sea_orm::DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Status {
    #[sea_orm(string_value = "draft")]
    Draft,
    #[sea_orm(string_value = "live")]
    Live,
    #[sea_orm(string_value = "gone")]
    Gone,
}

/// One column of each type the three backends store alike.
pub mod everything {
    use super::Status;
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "everything")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub small: i16,
        pub int: i32,
        pub big: i64,
        pub float: f32,
        pub double: f64,
        pub flag: bool,
        #[sea_orm(column_type = "Text")]
        pub text: String,
        pub maybe_text: Option<String>,
        #[sea_orm(column_type = "VarBinary(StringLen::N(255))")]
        pub bytes: Vec<u8>,
        #[sea_orm(column_type = "Decimal(Some((30, 10)))")]
        pub decimal: Decimal,
        #[sea_orm(column_type = "Decimal(Some((30, 10)))", nullable)]
        pub maybe_decimal: Option<Decimal>,
        pub date: Date,
        pub time: Time,
        pub naive: DateTime,
        pub utc: DateTimeUtc,
        pub zoned: DateTimeWithTimeZone,
        pub uuid: Uuid,
        pub json: Json,
        pub maybe_json: Option<Json>,
        pub status: Status,
        pub maybe_status: Option<Status>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
}

/// Deletion policies of the ledger: an account's transactions go with it,
/// and a transaction's lines with the transaction.
mod ledger_policies {
    use super::{account, line, transaction};

    impl revy::deletion::DeletionPolicies for account::Entity {
        fn on_delete() -> Vec<revy::deletion::ChildPolicy> {
            vec![revy::deletion::ChildPolicy::new(
                transaction::Column::AccountId,
                revy::deletion::OnDelete::Cascade,
            )]
        }
    }

    impl revy::deletion::DeletionPolicies for transaction::Entity {
        fn on_delete() -> Vec<revy::deletion::ChildPolicy> {
            vec![revy::deletion::ChildPolicy::new(
                line::Column::TransactionId,
                revy::deletion::OnDelete::Cascade,
            )]
        }
    }

    impl revy::deletion::DeletionPolicies for line::Entity {}
}

/// A line of a transaction: a grandchild of an account.
pub mod line {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "lines")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub transaction_id: i32,
        pub memo: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
}

/// A team, whose players point at it three ways, each with another policy.
pub mod team {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "teams")]
    pub struct Model {
        #[sea_orm(primary_key)]
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
        fn on_delete() -> Vec<revy::deletion::ChildPolicy> {
            use super::player::Column;
            vec![
                revy::deletion::ChildPolicy::new(
                    Column::CaptainOf,
                    revy::deletion::OnDelete::SetNull,
                ),
                revy::deletion::ChildPolicy::new(
                    Column::PlaysFor,
                    revy::deletion::OnDelete::SetDefault,
                ),
                revy::deletion::ChildPolicy::new(
                    Column::Sponsor,
                    revy::deletion::OnDelete::Set((-1i32).into()),
                ),
            ]
        }
    }
}

pub mod player {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "players")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i32,
        pub captain_of: Option<i32>,
        #[sea_orm(default_value = 0)]
        pub plays_for: i32,
        pub sponsor: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}

    impl revy::deletion::DeletionPolicies for Entity {}
}

/// A tree whose nodes point at their parent: a self-referencing cascade.
pub mod node {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "nodes")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: i32,
        pub parent_id: Option<i32>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}

    impl revy::deletion::DeletionPolicies for Entity {
        fn on_delete() -> Vec<revy::deletion::ChildPolicy> {
            vec![revy::deletion::ChildPolicy::new(
                Column::ParentId,
                revy::deletion::OnDelete::Cascade,
            )]
        }
    }
}

/// A table and a column whose names are made of quotes, a semicolon and SQL
/// keywords: the journal must name them exactly and build SQL without ever
/// pasting them into a statement.
pub mod odd {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "odd \"t\"; select")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(column_name = "from")]
        pub from_: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    #[async_trait::async_trait]
    impl ActiveModelBehavior for ActiveModel {
        revy::track!();
    }
    impl revy::TrackingPolicy for Entity {}
}
