//! What revy records of an entity: its tracking policy.
//!
//! Every tracked entity implements [`TrackingPolicy`], with one empty line
//! when it records everything, as before. Its neighbour
//! [`DeletionPolicies`](crate::deletion::DeletionPolicies) says what happens to the
//! rows that point at it; the two together are all of an entity's tracking
//! rules.
//!
//! A policy can
//! - **ignore** columns: they get no attribute deltas, and an update that
//!   changes only ignored columns writes nothing to the journal (not even a
//!   statement is sent);
//! - record **only** some columns: every other column is ignored (the
//!   primary key is always recorded);
//! - **redact** columns: the journal says that the column changed, by whom,
//!   when and in which revision, and never its value. Old and new values, a
//!   baseline's values and a draft's intermediate values are all the marker
//!   `{"revy":"redacted"}` (see [`is_redacted`]); no hash of the value is
//!   stored either, since a hash of a low-entropy secret gives it away. Even
//!   whether the column became NULL is withheld: its attribute deltas are
//!   always `Set`;
//! - track rows **when** a condition holds (e.g. not drafts);
//! - say how entries written before a migration read: a column
//!   **renamed** from an old name, a **conversion** of the old values of a
//!   column whose type changed (see the schema changes guide, `revy::schema_change`).
//!
//! Every path honours the policy: the hooks, [`Tracked`](crate::hooks::draft::Tracked)
//! drafts, baselines, deletion policies, bulk writes, restore, revert and
//! undo (which save through the hooks). The writers of the journal only
//! take attribute deltas that went through the policy, so a path that
//! forgot it would not compile.
//!
//! # Conditions
//!
//! The condition is asked about the row as saved (inserts, updates) and as
//! it was (deletes, and the row before an update):
//! - an insert or update whose saved row fails it writes nothing;
//! - an update that makes the condition hold (a draft is published) first
//!   records the row as it was, as a baseline (as for any row the journal
//!   has never seen), then the update itself: snapshots after it are
//!   complete and undoing it brings the draft back;
//! - a delete is recorded when the row met the condition, or when the
//!   journal knows the row (so that a row once tracked never outlives its
//!   deletion in the journal).
//!
//! # Snapshots, restore, revert and undo
//!
//! The journal holds no value for ignored and redacted columns (nor for
//! columns only-listing leaves out). In a snapshot such a column takes
//! - the live row's value, when the row exists (read in one query per
//!   snapshot statement): so a snapshot shows it as it is now, not as it
//!   was;
//! - else the column's declared default (`#[sea_orm(default_value = ..)]`);
//! - else NULL when the column is nullable;
//! - else the snapshot fails with [`HistoryError::NotRecorded`](crate::history::HistoryError::NotRecorded) naming the column
//!   and the policy.
//!
//! [`revert`](crate::rollback::revert) and [`undo_revision`](crate::rollback::undo_revision)
//! leave such columns of a live row as they are (they are not part of the
//! update); [`restore`](crate::rollback::restore) of a deleted row inserts the
//! default or NULL, since the value is not in the journal by design.
//!
//! ```
//! mod user {
//!     use sea_orm::entity::prelude::*;
//!
//!     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
//!     #[sea_orm(table_name = "users")]
//!     pub struct Model {
//!         #[sea_orm(primary_key)]
//!         pub id: i32,
//!         pub email: String,
//!         #[sea_orm(default_value = "")]
//!         pub password_hash: String,
//!         pub last_seen_at: Option<DateTimeUtc>,
//!         pub draft: bool,
//!     }
//!     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
//!     pub enum Relation {}
//!     #[async_trait::async_trait]
//!     impl ActiveModelBehavior for ActiveModel { revy_seaorm::track!(); }
//!
//!     impl revy_seaorm::TrackingPolicy for Entity {
//!         fn policy() -> revy_seaorm::Policy<Self> {
//!             revy_seaorm::Policy::new()
//!                 .redact(Column::PasswordHash)
//!                 .ignore(Column::LastSeenAt)
//!                 .when(|user: &Model| !user.draft)
//!         }
//!     }
//!     impl revy_seaorm::deletion::DeletionPolicies for Entity {}
//! }
//! # fn main() {}
//! ```

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;
use std::sync::{Arc, OnceLock, RwLock};

use sea_orm::{ActiveModelTrait, ActiveValue, EntityTrait, IdenStatic, Iterable};

use crate::db::keys::{self, content_type};
use crate::error::{Error, JournalError};
pub(crate) mod mapping;

use crate::record::rows::AttributeChange;
pub(crate) use mapping::{Conversion, Mapping};

/// What revy records of an entity. Implement it for every tracked entity;
/// the default records every column of every row:
///
/// ```
/// # mod tag {
/// #     use sea_orm::entity::prelude::*;
/// #     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
/// #     #[sea_orm(table_name = "tags")]
/// #     pub struct Model { #[sea_orm(primary_key)] pub id: i32 }
/// #     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
/// #     pub enum Relation {}
/// #     #[async_trait::async_trait]
/// #     impl ActiveModelBehavior for ActiveModel { revy_seaorm::track!(); }
/// impl revy_seaorm::TrackingPolicy for Entity {}
/// # }
/// # fn main() {}
/// ```
///
/// See the [module](crate::policy) for a policy with rules, and what each
/// rule means for snapshots and restores.
#[diagnostic::on_unimplemented(
    message = "`{Self}` declares no tracking policy",
    note = "every tracked entity says what revy records of it; to record everything, write `impl revy::TrackingPolicy for Entity {{}}` next to the entity"
)]
pub trait TrackingPolicy: EntityTrait {
    /// The entity's policy. Asked once per process; a bad declaration is
    /// an [`JournalError::Policy`] at the first tracked write or snapshot.
    fn policy() -> Policy<Self> {
        Policy::new()
    }
}

/// A tracking policy being declared; see [`TrackingPolicy`].
pub struct Policy<E: EntityTrait> {
    ignore: Vec<E::Column>,
    only: Option<Vec<E::Column>>,
    redact: Vec<E::Column>,
    personal: Vec<E::Column>,
    condition: Option<Condition<E>>,
    renamed: Vec<(String, E::Column)>,
    conversions: Vec<(E::Column, Conversion)>,
}

type Condition<E> = Arc<dyn Fn(&<E as EntityTrait>::Model) -> bool + Send + Sync>;

impl<E: EntityTrait> Default for Policy<E> {
    fn default() -> Self {
        Policy {
            ignore: Vec::new(),
            only: None,
            redact: Vec::new(),
            personal: Vec::new(),
            condition: None,
            renamed: Vec::new(),
            conversions: Vec::new(),
        }
    }
}

impl<E: EntityTrait> fmt::Debug for Policy<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = |cols: &[E::Column]| cols.iter().map(|c| c.as_str()).collect::<Vec<_>>();
        f.debug_struct("Policy")
            .field("ignore", &names(&self.ignore))
            .field("only", &self.only.as_deref().map(names))
            .field("redact", &names(&self.redact))
            .field("personal", &names(&self.personal))
            .field("condition", &self.condition.is_some())
            .field(
                "renamed",
                &self
                    .renamed
                    .iter()
                    .map(|(old, c)| (old.as_str(), c.as_str()))
                    .collect::<Vec<_>>(),
            )
            .field(
                "convert",
                &self
                    .conversions
                    .iter()
                    .map(|(c, _)| c.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl<E: EntityTrait> Policy<E> {
    /// Records every column of every row.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records nothing of `column`: no attribute deltas, and an update that
    /// changes only ignored columns writes nothing.
    pub fn ignore(mut self, column: E::Column) -> Self {
        self.ignore.push(column);
        self
    }

    /// Records only these columns (and the primary key); every other
    /// column is ignored. Calling it again adds to the list.
    pub fn only(mut self, columns: impl IntoIterator<Item = E::Column>) -> Self {
        self.only.get_or_insert_with(Vec::new).extend(columns);
        self
    }

    /// Records that `column` changed, by whom and when, never its value.
    pub fn redact(mut self, column: E::Column) -> Self {
        self.redact.push(column);
        self
    }

    /// Marks `column` as personal data: [`erase`](crate::lifecycle::erase()) of a row
    /// erases its personal columns unless told which. The column is still
    /// recorded (redact it too to keep its values out of the journal
    /// altogether).
    pub fn personal(mut self, column: E::Column) -> Self {
        self.personal.push(column);
        self
    }

    /// Tracks a row only while `condition` holds for it (see the
    /// [module](crate::policy) for inserts, updates and deletes that cross
    /// it). A second call replaces the first.
    ///
    /// Let the condition read recorded columns only: an update that
    /// changes ignored columns alone is skipped without reading the row, so
    /// a condition that turns on an ignored column would not see it flip.
    pub fn when(mut self, condition: impl Fn(&E::Model) -> bool + Send + Sync + 'static) -> Self {
        self.condition = Some(Arc::new(condition));
        self
    }

    /// Declares that `column` was called `old` before a migration renamed
    /// it: the journal's entries under `old` then count as `column` in
    /// snapshots, restores, blame, [`diff`](crate::history::diff()), time travel and
    /// [`History::changed`](crate::history::History::changed), while history
    /// entries still show the name as it was at the time (see the
    /// schema changes guide, `revy::schema_change`). When one object's
    /// history holds both names, the newest entry wins, whichever name it
    /// has. Declare each former name once, and never a name the entity
    /// still has; a column renamed twice declares both former names.
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// // the table `users` after a migration renamed its column `name`
    /// mod member {
    ///     use sea_orm::entity::prelude::*;
    ///
    ///     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    ///     #[sea_orm(table_name = "users")]
    ///     pub struct Model {
    ///         #[sea_orm(primary_key)]
    ///         pub id: i32,
    ///         pub display_name: String,
    ///         pub email: Option<String>,
    ///     }
    ///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    ///     pub enum Relation {}
    ///     #[async_trait::async_trait]
    ///     impl ActiveModelBehavior for ActiveModel { revy_seaorm::track!(); }
    ///
    ///     impl revy_seaorm::TrackingPolicy for Entity {
    ///         fn policy() -> revy_seaorm::Policy<Self> {
    ///             revy_seaorm::Policy::new().renamed("name", Column::DisplayName)
    ///         }
    ///     }
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// use revy_core::Context;
    /// use sea_orm::sea_query::{Alias, Table};
    /// use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
    ///
    /// // written while the column was `name` (the entity `user`)
    /// let ann = Context::new()
    ///     .scope(user::ActiveModel { name: Set("Ann".into()), ..Default::default() }.insert(&db))
    ///     .await?;
    /// // the migration
    /// let rename = Table::alter()
    ///     .table(Alias::new("users"))
    ///     .rename_column(Alias::new("name"), Alias::new("display_name"))
    ///     .to_owned();
    /// db.execute(&rename).await?;
    ///
    /// let created = revy_seaorm::history::of::<member::Entity>(ann.id).all(&db).await?[0].id;
    /// let then = revy_seaorm::history::ObjectSnapshot::<member::Entity>::at(created).one(&db).await?;
    /// assert_eq!(then.map(|m| m.display_name), Some("Ann".to_owned()));
    /// // history entries name the column as it was then
    /// let entries = revy_seaorm::history::of::<member::Entity>(ann.id).entries(&db).await?;
    /// assert!(entries[0].changes.iter().any(|c| c.column == "name"));
    /// # Ok(()) }
    /// ```
    pub fn renamed(mut self, old: impl Into<String>, column: E::Column) -> Self {
        self.renamed.push((old.into(), column));
        self
    }

    /// Converts every value of `column` the journal holds before it is
    /// decoded to the column's type: for a column whose type a migration
    /// changed, when old values no longer decode as the new type. The
    /// conversion takes and returns values in revy's JSON encoding (see
    /// [`codec`](crate::codec): integers are numbers, text and decimals
    /// strings, a JSON column's value a one-element array, ...). It sees the
    /// values written after the change too, so it passes those through
    /// unchanged; SQL NULL (JSON `null`) stays NULL and is never passed.
    /// An `Err` fails the read with [`HistoryError::ConversionFailed`](crate::history::HistoryError::ConversionFailed), naming the
    /// table, column and object delta, and the text given. A second call
    /// for the same column replaces the first.
    ///
    /// Conversions apply wherever a journal value becomes a value of the
    /// column: snapshots, restores, blame, time travel and history entries
    /// (which also show converted values). The journal itself is never
    /// rewritten, so its tamper evidence still holds.
    ///
    /// ```
    /// # revy_seaorm::__doc_fixture!();
    /// // the table `transactions` after a migration made `amount` text
    /// mod payment {
    ///     use sea_orm::entity::prelude::*;
    ///
    ///     #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    ///     #[sea_orm(table_name = "transactions")]
    ///     pub struct Model {
    ///         #[sea_orm(primary_key)]
    ///         pub id: i32,
    ///         pub account_id: i32,
    ///         pub amount: String,
    ///         pub local_amount: i64,
    ///     }
    ///     #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    ///     pub enum Relation {}
    ///     #[async_trait::async_trait]
    ///     impl ActiveModelBehavior for ActiveModel { revy_seaorm::track!(); }
    ///
    ///     impl revy_seaorm::TrackingPolicy for Entity {
    ///         fn policy() -> revy_seaorm::Policy<Self> {
    ///             revy_seaorm::Policy::new().convert(Column::Amount, |old: &serde_json::Value| {
    ///                 match old {
    ///                     serde_json::Value::Number(n) => Ok(n.to_string().into()),
    ///                     serde_json::Value::String(_) => Ok(old.clone()), // written since
    ///                     other => Err(format!("an amount cannot be {other}")),
    ///                 }
    ///             })
    ///         }
    ///     }
    /// }
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// # let db = setup().await?;
    /// use revy_core::Context;
    /// use sea_orm::{ActiveModelTrait, Set};
    ///
    /// // written while `amount` was an integer (the entity `transaction`)
    /// let tx = transaction::ActiveModel {
    ///     account_id: Set(1),
    ///     amount: Set(1250),
    ///     local_amount: Set(1250),
    ///     ..Default::default()
    /// };
    /// let tx = Context::new().scope(tx.insert(&db)).await?;
    ///
    /// let created = revy_seaorm::history::of::<payment::Entity>(tx.id).all(&db).await?[0].id;
    /// let then = revy_seaorm::history::ObjectSnapshot::<payment::Entity>::at(created).one(&db).await?;
    /// assert_eq!(then.map(|p| p.amount), Some("1250".to_owned()));
    /// # Ok(()) }
    /// ```
    pub fn convert(
        mut self,
        column: E::Column,
        conversion: impl Fn(&serde_json::Value) -> Result<serde_json::Value, String>
        + Send
        + Sync
        + 'static,
    ) -> Self {
        self.conversions
            .retain(|(c, _)| c.as_str() != column.as_str());
        self.conversions.push((column, Arc::new(conversion)));
        self
    }
}

/// Whether a journal value is the marker that stands for a redacted value.
pub fn is_redacted(value: &serde_json::Value) -> bool {
    is_marker(value, MARKER)
}

/// Whether a journal value is revy's marker `{"revy": word}` (redacted,
/// erased).
const ERASED: &str = "erased";

/// Whether a journal value is the marker an [`erase`](crate::lifecycle::erase()) left in place of a
/// value: `{"revy": "erased"}`.
///
/// ```
/// use serde_json::json;
/// assert!(revy_seaorm::lifecycle::is_erased(&json!({"revy": "erased"})));
/// assert!(!revy_seaorm::lifecycle::is_erased(&json!("erased")));
/// assert!(!revy_seaorm::lifecycle::is_erased(&json!({"revy": "redacted"})));
/// ```
pub fn is_erased(value: &serde_json::Value) -> bool {
    is_marker(value, ERASED)
}

/// The marker an erasure leaves in place of a value.
pub(crate) fn erased() -> serde_json::Value {
    serde_json::json!({ "revy": ERASED })
}

pub(crate) fn is_marker(value: &serde_json::Value, word: &str) -> bool {
    value
        .as_object()
        .is_some_and(|o| o.len() == 1 && o.get(MARKER_KEY).and_then(|v| v.as_str()) == Some(word))
}

/// The columns of `E` whose values the journal does not hold, with why:
/// `"ignored"` or `"redacted"` (columns an [`only`](Policy::only) list
/// leaves out are ignored). A snapshot fills them from the live row or a
/// default (see the [module](crate::policy)), so a reader that shows
/// snapshots shows these as not recorded.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # fn main() -> Result<(), revy_seaorm::Error> {
/// assert!(revy_seaorm::policy::unrecorded_columns::<user::Entity>()?.is_empty());
/// # Ok(()) }
/// ```
pub fn unrecorded_columns<E: TrackingPolicy>() -> Result<Vec<(String, &'static str)>, Error> {
    Ok(rules::<E>()?
        .unrecorded()
        .map(|(c, t)| (c.as_str().to_owned(), t.as_str()))
        .collect())
}

// No encoded value is a JSON object (see the codec's table), so the marker
// cannot be mistaken for a value.
const MARKER_KEY: &str = "revy";
const MARKER: &str = "redacted";

pub(crate) fn redacted() -> serde_json::Value {
    serde_json::json!({ MARKER_KEY: MARKER })
}

/// How the journal treats one column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Treatment {
    Record,
    Ignore,
    Redact,
}

impl Treatment {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Treatment::Record => "recorded",
            Treatment::Ignore => "ignored",
            Treatment::Redact => "redacted",
        }
    }
}

/// A checked policy, ready to apply.
pub(crate) struct Rules<E: EntityTrait> {
    /// Per column, in column order.
    treatments: Vec<Treatment>,
    /// The columns not recorded as they are, by name.
    special: Vec<(&'static str, Treatment)>,
    /// The columns the policy names personal.
    personal: Vec<&'static str>,
    condition: Option<Condition<E>>,
    /// How entries written before schema changes read.
    pub(crate) schema: Mapping<E>,
    entity: PhantomData<fn() -> E>,
}

/// Attribute deltas that went through their entity's policy: the only
/// input the journal's writers take.
#[derive(Debug, Default, Clone)]
pub(crate) struct Vetted(Vec<AttributeChange>);

impl Vetted {
    pub(crate) fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub(crate) fn into_inner(self) -> Vec<AttributeChange> {
        self.0
    }
}

impl<E: EntityTrait> Rules<E> {
    /// Whether revy tracks this row (the policy's condition).
    pub(crate) fn tracks(&self, row: &E::Model) -> bool {
        self.condition.as_ref().is_none_or(|c| c(row))
    }

    /// The columns whose values the journal does not hold, with why.
    pub(crate) fn unrecorded(&self) -> impl Iterator<Item = (E::Column, Treatment)> + '_ {
        E::Column::iter()
            .zip(&self.treatments)
            .filter(|(_, t)| **t != Treatment::Record)
            .map(|(c, t)| (c, *t))
    }

    /// The columns the policy names personal.
    pub(crate) fn personal(&self) -> &[&'static str] {
        &self.personal
    }

    pub(crate) fn treatment(&self, column: E::Column) -> Treatment {
        E::Column::iter()
            .zip(&self.treatments)
            .find(|(c, _)| c.as_str() == column.as_str())
            .map_or(Treatment::Record, |(_, t)| *t)
    }

    /// Whether an update that sets these columns of `am` changes nothing
    /// the journal records, so the hooks need not even read the row: every
    /// column it sends is ignored (a condition is taken to read recorded
    /// columns, see [`Policy::when`]).
    pub(crate) fn update_is_unrecorded<A: ActiveModelTrait<Entity = E>>(&self, am: &A) -> bool {
        E::Column::iter()
            .zip(&self.treatments)
            .all(|(c, t)| *t == Treatment::Ignore || !matches!(am.get(c), ActiveValue::Set(_)))
    }

    /// The changes as the journal may hold them: ignored columns dropped,
    /// redacted values replaced by the marker.
    pub(crate) fn vet(&self, mut changes: Vec<AttributeChange>) -> Vetted {
        if !self.special.is_empty() {
            changes.retain_mut(|change| {
                let treatment = self
                    .special
                    .iter()
                    .find(|(name, _)| *name == change.field_name)
                    .map_or(Treatment::Record, |(_, t)| *t);
                match treatment {
                    Treatment::Record => true,
                    Treatment::Ignore => false,
                    Treatment::Redact => {
                        change.old_value = redacted();
                        change.new_value = redacted();
                        true
                    }
                }
            });
        }
        Vetted(changes)
    }
}

type Cache = RwLock<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>;

fn cache() -> &'static Cache {
    static CACHE: OnceLock<Cache> = OnceLock::new();
    CACHE.get_or_init(Cache::default)
}

/// The checked policy of `E`, checked once per process.
pub(crate) fn rules<E: TrackingPolicy>() -> Result<Arc<Rules<E>>, Error> {
    let id = TypeId::of::<E>();
    let found = cache()
        .read()
        .ok()
        .and_then(|cache| cache.get(&id).cloned());
    if let Some(found) = found.and_then(|any| any.downcast::<Rules<E>>().ok()) {
        return Ok(found);
    }
    let rules = Arc::new(check(E::policy())?);
    if let Ok(mut cache) = cache().write() {
        cache.insert(id, rules.clone());
    }
    Ok(rules)
}

fn check<E: EntityTrait>(policy: Policy<E>) -> Result<Rules<E>, Error> {
    let key: Vec<&'static str> = keys::key_columns::<E>()?
        .into_iter()
        .map(|c| c.as_str())
        .collect();
    let has = |cols: &[E::Column], col: &E::Column| cols.iter().any(|c| c.as_str() == col.as_str());
    let problem = |col: &E::Column, problem: &'static str| {
        Error::from(JournalError::Policy {
            table: content_type::<E>(),
            column: col.as_str().to_owned(),
            problem,
        })
    };
    for col in &policy.personal {
        if key.contains(&col.as_str()) {
            return Err(problem(
                col,
                "is part of the primary key, which names the row in every \
                 journal row: it cannot be erased, so it cannot be personal",
            ));
        }
    }
    for col in policy.ignore.iter().chain(&policy.redact) {
        if key.contains(&col.as_str()) {
            return Err(problem(
                col,
                "is part of the primary key, which the journal always records: \
                 it cannot be ignored or redacted",
            ));
        }
    }
    for col in &policy.ignore {
        if has(&policy.redact, col) {
            return Err(problem(
                col,
                "is both ignored and redacted: choose one (redacted columns \
                 record that they changed, ignored ones record nothing)",
            ));
        }
        if policy.only.as_deref().is_some_and(|only| has(only, col)) {
            return Err(problem(
                col,
                "is both ignored and listed in only: drop one of the two",
            ));
        }
    }
    if let Some(only) = &policy.only {
        for col in &policy.redact {
            if !has(only, col) {
                return Err(problem(
                    col,
                    "is redacted but not listed in only, which ignores it: \
                     list it in only to record that it changed",
                ));
            }
        }
    }
    let schema = Mapping::check(policy.renamed, policy.conversions)?;
    let mut treatments = Vec::new();
    let mut special = Vec::new();
    for col in E::Column::iter() {
        let treatment = if has(&policy.redact, &col) {
            Treatment::Redact
        } else if has(&policy.ignore, &col)
            || policy
                .only
                .as_deref()
                .is_some_and(|only| !has(only, &col) && !key.contains(&col.as_str()))
        {
            Treatment::Ignore
        } else {
            Treatment::Record
        };
        if treatment != Treatment::Record {
            special.push((col.as_str(), treatment));
        }
        treatments.push(treatment);
    }
    Ok(Rules {
        treatments,
        special,
        personal: policy.personal.iter().map(|c| c.as_str()).collect(),
        condition: policy.condition,
        schema,
        entity: PhantomData,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    mod user {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
        #[sea_orm(table_name = "users")]
        pub struct Model {
            #[sea_orm(primary_key)]
            pub id: i32,
            pub email: String,
            pub secret: String,
            pub seen: i32,
        }
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}
        impl ActiveModelBehavior for ActiveModel {}
    }
    use user::Column;

    fn change(field: &str) -> AttributeChange {
        AttributeChange {
            field_name: field.to_owned(),
            old_value: serde_json::json!("old"),
            new_value: serde_json::json!("new"),
            actor: None,
            description: String::new(),
        }
    }

    fn problem(policy: Policy<user::Entity>) -> String {
        match check(policy) {
            Err(Error::Journal(e)) => match *e {
                JournalError::Policy {
                    column, problem, ..
                } => format!("{column}: {problem}"),
                e => panic!("unexpected error {e}"),
            },
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("accepted"),
        }
    }

    #[test]
    fn vet_drops_ignored_and_masks_redacted() {
        let rules = check(
            Policy::<user::Entity>::new()
                .ignore(Column::Seen)
                .redact(Column::Secret),
        )
        .unwrap();
        let vetted = rules.vet(vec![
            change("id"),
            change("secret"),
            change("seen"),
            change("email"),
        ]);
        let out: Vec<_> = vetted.into_inner();
        let names: Vec<_> = out.iter().map(|c| c.field_name.as_str()).collect();
        assert_eq!(names, ["id", "secret", "email"]);
        assert!(is_redacted(&out[1].old_value) && is_redacted(&out[1].new_value));
        assert_eq!(out[2].new_value, serde_json::json!("new"));
    }

    #[test]
    fn only_ignores_the_rest_but_keeps_the_key() {
        let rules = check(Policy::<user::Entity>::new().only([Column::Email])).unwrap();
        let unrecorded: Vec<_> = rules.unrecorded().map(|(c, _)| c.as_str()).collect();
        assert_eq!(unrecorded, ["secret", "seen"]);
        assert_eq!(rules.treatment(Column::Id), Treatment::Record);
    }

    #[test]
    fn bad_declarations_are_errors_naming_the_column() {
        assert!(
            problem(Policy::new().ignore(Column::Id)).starts_with("id: is part of the primary key")
        );
        assert!(
            problem(Policy::new().redact(Column::Id)).starts_with("id: is part of the primary key")
        );
        assert!(
            problem(Policy::new().ignore(Column::Seen).redact(Column::Seen))
                .contains("both ignored and redacted")
        );
        assert!(
            problem(Policy::new().ignore(Column::Seen).only([Column::Seen]))
                .contains("listed in only")
        );
        assert!(
            problem(Policy::new().only([Column::Email]).redact(Column::Secret))
                .contains("not listed in only")
        );
    }

    #[test]
    fn the_marker_is_no_encoded_value() {
        assert!(is_redacted(&redacted()));
        assert!(!is_redacted(&serde_json::json!(["x"])));
        assert!(!is_redacted(
            &serde_json::json!({"revy": "redacted", "x": 1})
        ));
        assert!(!is_redacted(&serde_json::json!("redacted")));
    }
}
