//! Whether a connection is a transaction: the hooks write the journal in
//! the caller's connection, whatever its type, and only a transaction makes
//! the change and its journal rows commit together (and holds the row locks
//! a checkpoint is written under).
//!
//! sea-orm's `ConnectionTrait` does not say, so the connection's type does.
//! The hooks' connection type is any `C: ConnectionTrait`, not necessarily
//! `'static`, so it is compared by a `TypeId` that needs no `'static`
//! ([`typeid`]). revy's queued [`Transaction`](super::Transaction) is
//! known by its queue instead, wrapped or not.

use std::any::TypeId;

use sea_orm::{ConnectionTrait, DatabaseTransaction};

use super::Queue;
use crate::guard::GuardedTransaction;
use crate::handoff;

/// Whether `db` is a transaction: sea-orm's [`DatabaseTransaction`], a
/// [`GuardedTransaction`], or a queued transaction. Any other connection,
/// a sea-orm `DatabaseExecutor` too (its type does not tell), counts as
/// outside a transaction.
pub(crate) fn is_transaction<C: ConnectionTrait + ?Sized>(db: &C) -> bool {
    is_transaction_type::<C>() || handoff::QueueProbe::ask::<Queue>(db).is_some()
}

fn is_transaction_type<C: ?Sized>() -> bool {
    let c = typeid::of::<C>();
    c == TypeId::of::<DatabaseTransaction>() || c == TypeId::of::<GuardedTransaction>()
}

#[cfg(test)]
mod tests {
    use sea_orm::{Database, DatabaseConnection, TransactionTrait};

    use super::*;
    use crate::guard::Guarded;

    #[tokio::test]
    async fn transactions_count_and_connections_do_not() {
        let db = Database::connect("sqlite::memory:").await.unwrap();
        assert!(!is_transaction(&db));
        assert!(!is_transaction(&Guarded::new(db.clone())));

        let txn = db.begin().await.unwrap();
        assert!(is_transaction(&txn));
        assert!(is_transaction(&Guarded::new(txn)));

        let queued = crate::begin(&db).await.unwrap();
        assert!(is_transaction(&queued));
        // a queued transaction in a guard still answers with its queue
        assert!(is_transaction(&Guarded::new(queued)));
    }

    #[test]
    fn the_type_alone_tells_a_plain_transaction() {
        assert!(is_transaction_type::<DatabaseTransaction>());
        assert!(is_transaction_type::<GuardedTransaction>());
        assert!(!is_transaction_type::<DatabaseConnection>());
        assert!(!is_transaction_type::<Guarded<DatabaseConnection>>());
        assert!(!is_transaction_type::<&DatabaseTransaction>());
    }
}
