//! A checkpoint's `state` column: an object's whole recorded state after a
//! delta, per column the newest value and the id of the delta that set it
//! (written by the journal writer every few versions, read by snapshots,
//! blame and prune). The text is a JSON object from column name to
//! `[value, setter]`, keys in order, values in revy's encoding.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::error::{Error, JournalError};
use crate::journal::object_delta;

/// An object's recorded state: per column, its value and the id of the
/// delta that set it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct State(pub(crate) BTreeMap<String, (Value, i64)>);

impl State {
    /// The state a checkpoint holds.
    pub(crate) fn decode(text: &str) -> Result<State, String> {
        let Value::Object(columns) =
            serde_json::from_str::<Value>(text).map_err(|e| format!("not JSON: {e}"))?
        else {
            return Err("not a JSON object".into());
        };
        let mut state = BTreeMap::new();
        for (column, entry) in columns {
            let pair = match entry {
                Value::Array(mut pair) if pair.len() == 2 => {
                    let setter = pair.pop().and_then(|s| s.as_i64());
                    let value = pair.pop();
                    value.zip(setter)
                }
                _ => None,
            };
            let Some(pair) = pair else {
                return Err(format!("column {column:?}: not [value, delta id]"));
            };
            state.insert(column, pair);
        }
        Ok(State(state))
    }

    /// The text a checkpoint stores.
    pub(crate) fn encode(&self) -> String {
        let columns: serde_json::Map<String, Value> = self
            .0
            .iter()
            .map(|(column, (value, setter))| {
                (
                    column.clone(),
                    Value::Array(vec![value.clone(), (*setter).into()]),
                )
            })
            .collect();
        Value::Object(columns).to_string()
    }

    /// A column's value and the id of the delta that set it.
    pub(crate) fn get(&self, column: &str) -> Option<&(Value, i64)> {
        self.0.get(column)
    }

    /// The same, taken.
    pub(crate) fn into_columns(self) -> BTreeMap<String, (Value, i64)> {
        self.0
    }

    /// One step of a fold over an object's deltas in id order: the
    /// `first` delta's checkpoint when it holds one, else its entries.
    pub(crate) fn step(&mut self, delta: &object_delta::Model, first: bool) -> Result<(), Error> {
        self.step_columns(delta.id, &delta.changes, delta.state.as_deref(), first)
    }

    /// [`step`](Self::step) from the columns a fold reads of the delta
    /// `id`: its `changes` and its `state`.
    pub(crate) fn step_columns(
        &mut self,
        id: i64,
        changes: &str,
        state: Option<&str>,
        first: bool,
    ) -> Result<(), Error> {
        match (state, first) {
            (Some(text), true) => {
                *self = State::decode(text).map_err(|reason| {
                    Error::from(JournalError::BadEntries {
                        object_delta_id: id,
                        reason: format!("checkpoint state: {reason}"),
                    })
                })?;
                Ok(())
            }
            _ => self.apply(id, changes),
        }
    }

    /// Applies the inline entries of the delta `id`, in their order (only
    /// their columns and new values are read).
    fn apply(&mut self, id: i64, changes: &str) -> Result<(), Error> {
        crate::journal::attribute_delta::decode_new_values(changes, |column, value| {
            match self.0.get_mut(&*column) {
                Some(held) => *held = (value, id),
                None => {
                    self.0.insert(column.into_owned(), (value, id));
                }
            }
        })
        .map_err(|reason| {
            Error::from(JournalError::BadEntries {
                object_delta_id: id,
                reason,
            })
        })
    }
}
