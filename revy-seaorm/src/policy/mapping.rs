//! What a policy declares of an entity's past schema (former column names,
//! conversions of old values), and how the journal's readers map an old
//! entry onto a column of the entity as it is now (see the `schema_change`
//! guide).

use std::marker::PhantomData;
use std::sync::Arc;

use sea_orm::{EntityTrait, IdenStatic, Iterable};

use crate::db::keys::content_type;
use crate::error::{Error, HistoryError, JournalError};

/// A conversion of a column's journal values, declared with
/// [`Policy::convert`](crate::policy::Policy::convert).
pub(crate) type Conversion =
    Arc<dyn Fn(&serde_json::Value) -> Result<serde_json::Value, String> + Send + Sync>;

/// What an entity's policy declares of its past schema (former column
/// names, conversions of old values), checked: how the readers of the
/// journal map an entry onto a column of the entity as it is now.
pub(crate) struct Mapping<E: EntityTrait> {
    /// Per renamed column, by its name: the names its entries had before.
    renamed: Vec<(&'static str, Vec<String>)>,
    /// Per converted column, by its name: the conversion of its values.
    conversions: Vec<(&'static str, Conversion)>,
    entity: PhantomData<fn() -> E>,
}

impl<E: EntityTrait> Mapping<E> {
    /// Checks the declarations: a former name must be no column of the
    /// entity, and count as one column only.
    pub(crate) fn check(
        renamed: Vec<(String, E::Column)>,
        conversions: Vec<(E::Column, Conversion)>,
    ) -> Result<Self, Error> {
        let problem = |old: &str, problem: &'static str| {
            Error::from(JournalError::Policy {
                table: content_type::<E>(),
                column: old.to_owned(),
                problem,
            })
        };
        let mut by_column: Vec<(&'static str, Vec<String>)> = Vec::new();
        for (old, col) in &renamed {
            if E::Column::iter().any(|c| c.as_str() == old) {
                return Err(problem(
                    old,
                    "is declared as a former name (renamed) but is a column of the entity: \
                     drop the renamed declaration, or rename the column",
                ));
            }
            if renamed.iter().filter(|(o, _)| o == old).count() > 1 {
                return Err(problem(
                    old,
                    "is declared as a former name (renamed) more than once: a name the \
                     journal holds can count as one column only",
                ));
            }
            match by_column.iter_mut().find(|(name, _)| *name == col.as_str()) {
                Some((_, names)) => names.push(old.clone()),
                None => by_column.push((col.as_str(), vec![old.clone()])),
            }
        }
        Ok(Mapping {
            renamed: by_column,
            conversions: conversions
                .into_iter()
                .map(|(c, f)| (c.as_str(), f))
                .collect(),
            entity: PhantomData,
        })
    }

    /// The names `column` had before a migration renamed it, in the order
    /// declared; empty when none.
    pub(crate) fn old_names(&self, column: E::Column) -> &[String] {
        self.renamed
            .iter()
            .find(|(name, _)| *name == column.as_str())
            .map_or(&[], |(_, old)| old.as_slice())
    }

    /// The name under which a folded state holds the newest value of
    /// `column`: its own or one it had before a rename, whichever the
    /// newest delta set (`setter` gives the id of the delta that set a
    /// name, if any did); `None` when no name is held.
    pub(crate) fn held_name(
        &self,
        column: E::Column,
        setter: impl Fn(&str) -> Option<i64>,
    ) -> Option<&str> {
        let own = column.as_str();
        let mut best = setter(own).map(|id| (own, id));
        for old in self.old_names(column) {
            if let Some(id) = setter(old)
                && best.is_none_or(|(_, newest)| id > newest)
            {
                best = Some((old.as_str(), id));
            }
        }
        best.map(|(name, _)| name)
    }

    /// The column of `E` whose entries the journal records under `field`:
    /// the column of that name, else the one renamed from it.
    pub(crate) fn column_of(&self, field: &str) -> Option<E::Column> {
        E::Column::iter().find(|c| c.as_str() == field).or_else(|| {
            let (name, _) = self
                .renamed
                .iter()
                .find(|(_, old)| old.iter().any(|o| o == field))?;
            E::Column::iter().find(|c| c.as_str() == *name)
        })
    }

    /// A journal value of `column`, written by the object delta `setter`,
    /// through the column's conversion if the policy declares one (SQL
    /// NULL stays NULL).
    pub(crate) fn converted(
        &self,
        column: E::Column,
        value: serde_json::Value,
        setter: i64,
    ) -> Result<serde_json::Value, Error> {
        let Some((_, conversion)) = self
            .conversions
            .iter()
            .find(|(name, _)| *name == column.as_str())
        else {
            return Ok(value);
        };
        if matches!(value, serde_json::Value::Null) {
            return Ok(value);
        }
        conversion(&value).map_err(|reason| {
            HistoryError::ConversionFailed {
                table: content_type::<E>(),
                column: column.as_str().to_owned(),
                object_delta_id: setter,
                json_type: crate::db::values::json_type(&value),
                reason,
            }
            .into()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    fn renames(renamed: &[(&str, Column)]) -> Result<Mapping<user::Entity>, Error> {
        let renamed = renamed.iter().map(|(o, c)| ((*o).to_owned(), *c)).collect();
        Mapping::check(renamed, Vec::new())
    }

    fn problem(renamed: &[(&str, Column)]) -> String {
        match renames(renamed) {
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
    fn a_renamed_column_reads_the_name_its_newest_entry_has() {
        let rules = renames(&[("mail", Column::Email), ("e_mail", Column::Email)]).unwrap();
        assert_eq!(rules.old_names(Column::Email), ["mail", "e_mail"]);
        assert!(rules.old_names(Column::Secret).is_empty());
        let held = |setters: &[(&str, i64)]| {
            rules.held_name(Column::Email, |name| {
                setters.iter().find(|(n, _)| *n == name).map(|(_, id)| *id)
            })
        };
        assert_eq!(held(&[]), None);
        assert_eq!(held(&[("mail", 3)]), Some("mail"));
        // the newest setter wins, whichever name it wrote
        assert_eq!(held(&[("email", 9), ("mail", 3)]), Some("email"));
        assert_eq!(held(&[("email", 2), ("mail", 3)]), Some("mail"));
        assert_eq!(
            held(&[("email", 2), ("mail", 3), ("e_mail", 5)]),
            Some("e_mail")
        );
        assert_eq!(rules.column_of("e_mail").map(|c| c.as_str()), Some("email"));
        assert_eq!(rules.column_of("seen").map(|c| c.as_str()), Some("seen"));
        assert!(rules.column_of("gone").is_none());
    }

    #[test]
    fn a_conversion_sees_every_value_but_null() {
        let parse: Conversion = Arc::new(|old: &serde_json::Value| match old.as_str() {
            Some(text) => text
                .parse::<i32>()
                .map(Into::into)
                .map_err(|e| e.to_string()),
            None => Ok(old.clone()),
        });
        let rules =
            Mapping::<user::Entity>::check(Vec::new(), vec![(Column::Seen, parse)]).unwrap();
        let converted = |column, value| rules.converted(column, value, 4).unwrap();
        assert_eq!(converted(Column::Seen, json!("12")), json!(12));
        assert_eq!(converted(Column::Seen, json!(12)), json!(12));
        assert_eq!(converted(Column::Seen, json!(null)), json!(null));
        // another column's values pass untouched
        assert_eq!(converted(Column::Email, json!("x")), json!("x"));
        match rules.converted(Column::Seen, json!("twelve"), 4) {
            Err(Error::History(e)) => match *e {
                HistoryError::ConversionFailed {
                    table,
                    column,
                    object_delta_id,
                    json_type,
                    reason,
                } => {
                    assert_eq!(
                        (table.as_str(), column.as_str(), object_delta_id, json_type),
                        ("users", "seen", 4, "string")
                    );
                    assert!(reason.contains("invalid digit"), "{reason}");
                }
                other => panic!("expected ConversionFailed, got {other:?}"),
            },
            other => panic!("expected ConversionFailed, got {other:?}"),
        }
    }

    #[test]
    fn a_former_name_must_be_no_column_and_declared_once() {
        assert!(
            problem(&[("secret", Column::Email)])
                .starts_with("secret: is declared as a former name (renamed) but is a column")
        );
        assert!(
            problem(&[("mail", Column::Email), ("mail", Column::Secret)])
                .starts_with("mail: is declared as a former name (renamed) more than once")
        );
    }
}
