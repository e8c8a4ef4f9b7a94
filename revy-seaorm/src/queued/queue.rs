//! The journal rows a [`Transaction`](super::Transaction) holds until it
//! flushes them. The hooks find the queue of the connection they were
//! handed through [`handoff::QueueProbe`](crate::handoff::QueueProbe).

use std::collections::HashSet;
use std::sync::{Mutex, MutexGuard};

use revy_core::{Action, LazyRevision};
use sea_orm::ConnectionTrait;

use crate::error::{Error, JournalError};
use crate::record::flush::{self, Entry, RevisionRef};
use crate::record::rows::{AttributeChange, ContextValues, now};

/// Past this many queued object deltas, or attribute deltas, the next
/// statement sent through the transaction flushes the queue first: the
/// queue's memory stays bounded whatever the transaction's size.
pub(crate) const FLUSH_OBJECT_DELTAS: usize = 1_000;
pub(crate) const FLUSH_ATTRIBUTE_DELTAS: usize = 20_000;

/// A transaction's queue, shared by the transaction and its nested ones.
#[derive(Default)]
pub(crate) struct Queue {
    state: Mutex<State>,
}

#[derive(Default)]
pub(crate) struct State {
    pub entries: Vec<Entry>,
    /// Attribute deltas in `entries`.
    attributes: usize,
    /// `(content type, key text)` of every queued object delta.
    known: HashSet<(String, String)>,
    /// Revisions a flush created for a context's [`LazyRevision`], with the
    /// id it was given: forgotten again if the transaction does not commit.
    pub created: Vec<(LazyRevision, i64)>,
    /// A flush failed: the transaction may hold part of a journal write,
    /// so it must not commit.
    pub poisoned: Option<String>,
}

impl Queue {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues an object delta with its attribute deltas.
    pub(crate) fn push(
        &self,
        ctx: &ContextValues,
        action: Action,
        content_type: &str,
        content_id: &str,
        changes: Vec<AttributeChange>,
        known_version: Option<i64>,
    ) {
        let revision = match &ctx.revision {
            Some(lazy) => match lazy.id() {
                Some(id) => RevisionRef::Id(id),
                None => RevisionRef::Lazy {
                    lazy: lazy.clone(),
                    description: ctx.revision_description.clone(),
                    meta: ctx.meta.clone(),
                },
            },
            None => RevisionRef::Own {
                description: ctx.revision_description.clone(),
                meta: ctx.meta.clone(),
            },
        };
        self.push_entry(Entry {
            revision,
            action,
            actor: ctx.actor.clone(),
            description: ctx.object_delta_description.clone(),
            content_type: content_type.to_owned(),
            content_id: content_id.to_owned(),
            changes,
            created_at: now(),
            known_version,
        });
    }

    /// Queues a baseline: the row as it was, in the flush's baseline revision.
    pub(crate) fn push_baseline(
        &self,
        content_type: &str,
        content_id: &str,
        changes: Vec<AttributeChange>,
        known_version: Option<i64>,
    ) {
        self.push_entry(Entry {
            revision: RevisionRef::Baseline,
            action: Action::Create,
            actor: None,
            description: String::new(),
            content_type: content_type.to_owned(),
            content_id: content_id.to_owned(),
            changes,
            created_at: now(),
            known_version,
        });
    }

    fn push_entry(&self, entry: Entry) {
        let mut state = self.lock();
        state.attributes += entry.changes.len();
        state
            .known
            .insert((entry.content_type.clone(), entry.content_id.clone()));
        state.entries.push(entry);
    }

    /// Whether an object delta of the row is queued.
    pub(crate) fn knows(&self, content_type: &str, content_id: &str) -> bool {
        self.lock()
            .known
            .contains(&(content_type.to_owned(), content_id.to_owned()))
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub(crate) fn is_full(&self) -> bool {
        let state = self.lock();
        state.entries.len() >= FLUSH_OBJECT_DELTAS || state.attributes >= FLUSH_ATTRIBUTE_DELTAS
    }

    /// Drops the entries queued after the first `mark` (a nested
    /// transaction rolled back), and forgets the revisions created after
    /// the first `created_mark`.
    pub(crate) fn truncate(&self, mark: usize, created_mark: usize) {
        let mut state = self.lock();
        if state.entries.len() > mark {
            state.entries.truncate(mark);
            state.attributes = state.entries.iter().map(|e| e.changes.len()).sum();
            state.known = state
                .entries
                .iter()
                .map(|e| (e.content_type.clone(), e.content_id.clone()))
                .collect();
        }
        if state.created.len() > created_mark {
            for (lazy, id) in state.created.drain(created_mark..) {
                lazy.forget(id);
            }
        }
    }

    pub(crate) fn created_len(&self) -> usize {
        self.lock().created.len()
    }

    /// Writes every queued entry through `db` and empties the queue. A
    /// failure poisons the queue: the transaction then refuses to commit.
    pub(crate) async fn flush<C: ConnectionTrait>(&self, db: &C) -> Result<(), Error> {
        let entries = {
            let mut state = self.lock();
            if let Some(why) = &state.poisoned {
                return Err(JournalError::EarlierWriteFailed {
                    reason: why.clone(),
                }
                .into());
            }
            state.attributes = 0;
            state.known.clear();
            std::mem::take(&mut state.entries)
        };
        if entries.is_empty() {
            return Ok(());
        }
        match flush::write(db, entries, crate::record::Seal::current()).await {
            Ok(created) => {
                self.lock().created.extend(created);
                Ok(())
            }
            Err(e) => {
                self.lock().poisoned = Some(e.to_string());
                Err(e)
            }
        }
    }
}
