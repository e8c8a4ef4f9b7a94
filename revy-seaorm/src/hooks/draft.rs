//! Drafts that remember who set each column: several actors in one save.

use revy_core::{Actor, Context};
use sea_orm::{
    ActiveModelBehavior, ActiveModelTrait, ConnectionTrait, EntityTrait, IdenStatic,
    IntoActiveModel, Value,
};

use crate::db::keys;
use crate::db::values;
use crate::error::Error;
use crate::handoff;
use crate::record::rows::AttributeChange;
use crate::versions;

/// An active model being edited, that records for each [`set`](Tracked::set)
/// the actor and attribute delta description of the context at that moment.
/// Saving it writes one object delta whose attribute deltas name, column by
/// column, who set what (Revy's "multiple actors in one revision").
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = setup().await?;
/// use revy_core::{Actor, Context};
/// use revy_seaorm::{Tracked, entity::object_delta};
/// use sea_orm::{ActiveModelBehavior, EntityTrait};
///
/// Context::via_actor(Some(Actor::new("users", 7)))
///     .scope(async {
///         let mut tx = Tracked::new(transaction::ActiveModel::new());
///         tx.set(transaction::Column::AccountId, 1);
///         tx.set(transaction::Column::Amount, 100i64);            // by user 7
///         tx.set(transaction::Column::LocalAmount, 90i64);        // by user 7
///         Context::via_actor(None)
///             .attribute_delta_description("Corrected by the system.")
///             .sync_scope(|| tx.set(transaction::Column::LocalAmount, 100i64));
///         tx.save(&db).await
///     })
///     .await?;
///
/// let saved = object_delta::Entity::find().one(&db).await?.unwrap();
/// let local: Vec<_> = saved
///     .attribute_deltas()?
///     .into_iter()
///     .filter(|e| e.field_name == "local_amount")
///     .collect();
/// let who: Vec<Option<Actor>> = local.iter().map(|e| e.actor()).collect();
/// assert_eq!(who, [Some(Actor::new("users", 7)), None]);
/// assert_eq!(local[1].description, "Corrected by the system.");
/// # Ok(()) }
/// ```
///
/// Consecutive sets of one column by the same actor merge into one delta
/// (old = the first old value, new = the last new one); a set by another
/// actor starts a new delta for that column. Deltas keep the order in which
/// the sets happened; columns the database fills remain the system's. A
/// value the column does not accept is reported by `save`, which then
/// writes nothing.
pub struct Tracked<A: ActiveModelTrait> {
    model: A,
    edits: Vec<Edit<<A::Entity as EntityTrait>::Column>>,
    error: Option<Error>,
    expected_version: Option<i64>,
}

struct Edit<C> {
    column: C,
    new_value: serde_json::Value,
    actor: Option<Actor>,
    description: String,
}

/// The edits of a draft, handed to the hooks as a [`handoff::DraftEdits`]:
/// per edited column, its name and the change.
pub(crate) type Edits = Vec<(String, AttributeChange)>;

impl<A> Tracked<A>
where
    A: ActiveModelTrait + ActiveModelBehavior + Send + 'static,
    A::Entity: 'static,
    <A::Entity as EntityTrait>::Model: IntoActiveModel<A>,
{
    /// A draft of a new row (or of any active model you built).
    pub fn new(model: A) -> Self {
        Tracked {
            model,
            edits: Vec::new(),
            error: None,
            expected_version: None,
        }
    }

    /// A draft of an existing row, to update.
    pub fn from_model(model: <A::Entity as EntityTrait>::Model) -> Self {
        Self::new(model.into_active_model())
    }

    /// The active model as edited so far.
    pub fn active_model(&self) -> &A {
        &self.model
    }

    /// Sets a column, recording the context's actor and attribute delta
    /// description as they are now.
    pub fn set(&mut self, column: <A::Entity as EntityTrait>::Column, value: impl Into<Value>) {
        let value = value.into();
        let new_value = match values::encode::<A::Entity>(column, &value) {
            Ok(v) => v,
            Err(e) => {
                self.error.get_or_insert(e);
                return;
            }
        };
        if let Err(e) = self.model.try_set(column, value) {
            self.error.get_or_insert(Error::Db(e));
            return;
        }
        let actor = Context::actor();
        let description = Context::attribute_delta_description();
        let same_column = self
            .edits
            .iter_mut()
            .rev()
            .find(|e| e.column.as_str() == column.as_str());
        match same_column {
            Some(last) if last.actor == actor => {
                last.new_value = new_value;
                last.description = description;
            }
            _ => self.edits.push(Edit {
                column,
                new_value,
                actor,
                description,
            }),
        }
    }

    /// Requires the row to be at `version` (the version its caller read,
    /// from [`version_of`](crate::versions::version_of) or a history entry) when the
    /// draft updates or deletes it: a row that moved on fails the save
    /// with [`VersionError::VersionConflict`](crate::versions::VersionError::VersionConflict), before anything is sent when the
    /// hooks' locked read sees it.
    ///
    /// A conflict found only at the journal write (a writer committed
    /// while this save waited for the row's lock) comes after the row's
    /// UPDATE: run the save in a transaction and let the error roll it
    /// back, or use [`update_at_version`](crate::versions::update_at_version), which
    /// does.
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// use revy_seaorm::versions::{VersionError, version_of};
    /// use revy_seaorm::{Error, Tracked};
    /// use sea_orm::{ActiveModelTrait, Set, TransactionTrait};
    ///
    /// let ann = revy_core::Context::new()
    ///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
    ///     .await?;
    /// let read = version_of::<user::Entity>(ann.id).one(&db).await?.unwrap_or(0);
    ///
    /// let mut draft = Tracked::<user::ActiveModel>::from_model(ann.clone()).expect_version(read);
    /// draft.set(user::Column::Name, "Annie");
    /// let txn = db.begin().await?;
    /// draft.update(&txn).await?;
    /// txn.commit().await?;
    ///
    /// let mut stale = Tracked::<user::ActiveModel>::from_model(ann).expect_version(read);
    /// stale.set(user::Column::Name, "Anna");
    /// let txn = db.begin().await?;
    /// let failed = stale.update(&txn).await;
    /// txn.rollback().await?;
    /// assert!(matches!(
    ///     failed,
    ///     Err(Error::Version(e)) if matches!(*e, VersionError::VersionConflict { current: Some(2), .. })
    /// ));
    /// # Ok(()) }
    /// ```
    pub fn expect_version(mut self, version: i64) -> Self {
        self.expected_version = Some(version);
        self
    }

    /// Saves as sea-orm's `save` does: an update when every key column is
    /// set, else an insert.
    pub async fn save<C: ConnectionTrait>(
        self,
        db: &C,
    ) -> Result<<A::Entity as EntityTrait>::Model, Error> {
        let is_update = keys::key_values_of_active(&self.model)?.is_some()
            && keys::key_columns::<A::Entity>()?
                .into_iter()
                .all(|c| !matches!(self.model.get(c), sea_orm::ActiveValue::NotSet));
        if is_update {
            self.update(db).await
        } else {
            self.insert(db).await
        }
    }

    /// Inserts the draft as a new row.
    pub async fn insert<C: ConnectionTrait>(
        self,
        db: &C,
    ) -> Result<<A::Entity as EntityTrait>::Model, Error> {
        self.write(db, true).await
    }

    /// Updates the row the draft names.
    pub async fn update<C: ConnectionTrait>(
        self,
        db: &C,
    ) -> Result<<A::Entity as EntityTrait>::Model, Error> {
        self.write(db, false).await
    }

    async fn write<C: ConnectionTrait>(
        self,
        db: &C,
        insert: bool,
    ) -> Result<<A::Entity as EntityTrait>::Model, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        let edits: Edits = self
            .edits
            .into_iter()
            .map(|e| {
                let name = e.column.as_str().to_owned();
                (
                    name.clone(),
                    AttributeChange {
                        field_name: name,
                        old_value: serde_json::Value::Null,
                        new_value: e.new_value,
                        actor: e.actor,
                        description: e.description,
                    },
                )
            })
            .collect();
        let model = self.model;
        let expected = match self.expected_version {
            Some(v) if !insert => Some((keys::content_id_of_active(&model)?, v)),
            _ => None,
        };
        // A frame of its own keeps the edits next to this save, and records
        // it even when no context is open (unless tracking is disabled).
        Context::new()
            .scope(async move {
                handoff::DraftEdits::leave::<A::Entity>(edits)?;
                if let Some((content_id, v)) = expected {
                    handoff::RequiredVersion::leave::<A::Entity>(content_id, v)?;
                }
                let saved = if insert {
                    model.insert(db).await
                } else {
                    model.update(db).await
                };
                // when tracking is off the hooks never took the edits
                handoff::DraftEdits::<Edits>::take::<A::Entity>();
                versions::settle(saved)
            })
            .await
    }
}

/// Replaces the single change of each edited column with the chain of the
/// draft's edits. The chain starts at the column's old value and ends at the
/// value the database stored; columns that did not change overall keep no
/// deltas. Edited columns come first, in the order the edits happened.
pub(crate) fn apply_edits(
    changes: Vec<AttributeChange>,
    edits: Vec<(String, AttributeChange)>,
) -> Vec<AttributeChange> {
    let mut out = Vec::with_capacity(changes.len() + edits.len());
    let mut rest = Vec::new();
    let mut chains: Vec<(AttributeChange, Vec<AttributeChange>)> = Vec::new();
    for change in changes {
        let chain: Vec<AttributeChange> = edits
            .iter()
            .filter(|(name, _)| *name == change.field_name)
            .map(|(_, e)| e.clone())
            .collect();
        if chain.is_empty() {
            rest.push(change);
        } else {
            chains.push((change, chain));
        }
    }
    // fix each chain's ends: first old = the column's old, last new = stored
    let mut fixed: Vec<AttributeChange> = Vec::new();
    for (change, mut chain) in chains {
        let mut previous = change.old_value.clone();
        let len = chain.len();
        for (i, link) in chain.iter_mut().enumerate() {
            link.old_value = previous.clone();
            if i + 1 == len {
                link.new_value = change.new_value.clone();
            }
            previous = link.new_value.clone();
        }
        fixed.extend(chain);
    }
    // back into the order the edits happened
    for (name, edit) in &edits {
        if let Some(i) = fixed.iter().position(|f| {
            f.field_name == *name && f.actor == edit.actor && f.description == edit.description
        }) {
            out.push(fixed.remove(i));
        }
    }
    out.extend(fixed);
    out.extend(rest);
    out
}
