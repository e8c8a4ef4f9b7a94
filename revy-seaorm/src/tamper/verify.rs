//! Walking the journal's hash chains.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sha2::{Digest, Sha256};

use super::chain::{DeltaFields, Encoder, Salts};
use crate::error::Error;
use crate::journal::object_delta;
use crate::tamper::TamperError;

/// Object deltas [`verify`] reads per query.
pub const VERIFY_CHUNK_SIZE: u64 = 1_000;

pub use crate::error::Finding;

/// What [`verify`] checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verified {
    /// Objects (rows of tracked tables, live or deleted) in the journal.
    pub objects: u64,
    /// Object deltas read.
    pub object_deltas: u64,
    /// Attribute deltas (the object deltas' inline entries) read.
    pub attribute_deltas: u64,
    /// Object deltas whose hash was checked.
    pub sealed: u64,
    /// Object deltas written with tamper evidence off, before their
    /// object's chain began: counted, not checked.
    pub unsealed: u64,
    /// Checkpoints (see [`prune`](crate::lifecycle::prune())) whose seal was checked.
    pub checkpoints: u64,
    /// SHA-256 (hex) over each object's newest link, in the walk's order:
    /// a digest of the journal's chain heads, to store outside the
    /// database (see [`tamper`](crate::tamper)).
    pub root: String,
}

/// Walks every object's hash chain, [`VERIFY_CHUNK_SIZE`] object deltas a
/// query, and returns what it checked, or [`TamperError::Tampered`] naming the
/// first entry that is not as revy wrote it. Reads only; memory holds one
/// chunk.
///
/// ```
/// # revy_seaorm::__doc_fixture!();
/// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), revy_seaorm::Error> {
/// # let db = setup().await?;
/// use revy_core::Context;
/// use sea_orm::{ActiveModelTrait, ActiveValue::Set, ConnectionTrait};
///
/// revy_seaorm::tamper::enable();
/// Context::new()
///     .scope(async {
///         user::ActiveModel { id: Set(1), name: Set("Ann".into()), email: Set(None) }
///             .insert(&db)
///             .await
///     })
///     .await?;
/// assert_eq!(revy_seaorm::tamper::verify(&db).await?.sealed, 1);
///
/// // an edit made outside revy
/// db.execute_unprepared("UPDATE revy_object_deltas SET changes = REPLACE(changes, 'Ann', 'Eve')")
///     .await?;
/// let err = revy_seaorm::tamper::verify(&db).await.unwrap_err();
/// assert!(matches!(
///     &err,
///     revy_seaorm::Error::Tamper(e) if matches!(
///         **e,
///         revy_seaorm::tamper::TamperError::Tampered { finding: revy_seaorm::tamper::Finding::Altered, .. }
///     )
/// ));
/// # Ok(()) }
/// ```
pub async fn verify<C: ConnectionTrait>(db: &C) -> Result<Verified, Error> {
    verify_in_chunks(VERIFY_CHUNK_SIZE).exec(db).await
}

/// [`verify`], `chunk` object deltas a query.
pub fn verify_in_chunks(chunk: u64) -> VerifyInChunks {
    VerifyInChunks { chunk }
}

/// What [`verify_in_chunks`] makes: nothing happens until
/// [`.exec(db)`](VerifyInChunks::exec).
#[must_use = "nothing happens until `.exec(db)`"]
pub struct VerifyInChunks {
    chunk: u64,
}

impl VerifyInChunks {
    /// Runs it on `db`.
    pub async fn exec<C: ConnectionTrait>(self, db: &C) -> Result<Verified, Error> {
        let Self { chunk } = self;
        use object_delta::Column as O;
        let chunk = std::cmp::max(chunk, 1);
        let mut report = Verified::default();
        let mut walk = Walk::default();
        let mut heads = Sha256::new();
        let mut after: Option<(String, String, i64)> = None;
        loop {
            let mut page = object_delta::Entity::find()
                .order_by_asc(O::ContentType)
                .order_by_asc(O::ContentId)
                .order_by_asc(O::Id)
                .limit(chunk);
            if let Some((t, c, id)) = &after {
                page = page.filter(
                    Expr::col(O::ContentType)
                        .gt(t.as_str())
                        .or(Expr::col(O::ContentType).eq(t.as_str()).and(
                            Expr::col(O::ContentId)
                                .gt(c.as_str())
                                .or(Expr::col(O::ContentId)
                                    .eq(c.as_str())
                                    .and(Expr::col(O::Id).gt(*id))),
                        )),
                );
            }
            let deltas = page
                .all(db)
                .await
                .map_err(|e| Error::from_journal("revy_object_deltas", e))?;
            let Some(last) = deltas.last() else {
                break;
            };
            after = Some((last.content_type.clone(), last.content_id.clone(), last.id));
            for delta in &deltas {
                if walk
                    .object
                    .as_ref()
                    .is_none_or(|(t, c)| *t != delta.content_type || *c != delta.content_id)
                {
                    walk.close(&mut heads);
                    walk = Walk {
                        object: Some((delta.content_type.clone(), delta.content_id.clone())),
                        ..Walk::default()
                    };
                    report.objects += 1;
                }
                report.object_deltas += 1;
                if let Err(finding) = walk.step(delta, &mut report) {
                    let finding = match finding {
                        Finding::Missing { version, expected }
                            if later_has(db, delta, expected).await? =>
                        {
                            Finding::OutOfOrder { version, expected }
                        }
                        other => other,
                    };
                    return Err(Error::from(TamperError::Tampered {
                        content_type: delta.content_type.clone(),
                        content_id: delta.content_id.clone(),
                        object_delta_id: delta.id,
                        finding,
                    }));
                }
            }
        }
        walk.close(&mut heads);
        report.root = super::chain::hex_of(&heads.finalize());
        Ok(report)
    }
}

/// One object's chain as the walk has read it so far.
#[derive(Default)]
struct Walk {
    object: Option<(String, String)>,
    /// The version and link of the object's delta read last.
    previous: Option<(i64, Option<String>)>,
    /// Whether the chain has begun (a delta with a link was read).
    begun: bool,
}

impl Walk {
    fn step(&mut self, delta: &object_delta::Model, report: &mut Verified) -> Result<(), Finding> {
        // entries that do not decode were not written by revy
        let entries = delta.attribute_deltas().map_err(|_| Finding::Altered)?;
        report.attribute_deltas += entries.len() as u64;
        let salts = Salts::parse(delta.salt.as_deref()).map_err(|_| Finding::Altered)?;
        let encode = || {
            let fields = DeltaFields::of(delta);
            let mut encoder = Encoder::new(&fields, &salts);
            for entry in &entries {
                encoder.entry(&fields, entry);
            }
            encoder
        };
        let expected = self.previous.as_ref().map_or(1, |(v, _)| v + 1);
        if let Some(seal) = &delta.seal {
            // a checkpoint starts its object's chain, with the link of the
            // delta it replaced
            if self.previous.is_some() {
                return Err(Finding::Inserted);
            }
            if encode().seal(delta.hash.as_deref()) != *seal {
                return Err(Finding::Altered);
            }
            report.checkpoints += 1;
            self.begun = true;
        } else if let Some(hash) = &delta.hash {
            if delta.version != expected {
                return Err(version_finding(delta.version, expected));
            }
            let previous = self.previous.as_ref().and_then(|(_, h)| h.as_deref());
            if encode().link(previous) != *hash {
                return Err(Finding::Altered);
            }
            report.sealed += 1;
            self.begun = true;
        } else {
            if self.begun {
                return Err(Finding::Inserted);
            }
            report.unsealed += 1;
        }
        self.previous = Some((delta.version, delta.hash.clone()));
        Ok(())
    }

    /// Adds the object's newest link to the heads' digest.
    fn close(&self, heads: &mut Sha256) {
        let (Some((t, c)), Some((version, hash))) = (&self.object, &self.previous) else {
            return;
        };
        for part in [
            t.as_str(),
            c.as_str(),
            &version.to_string(),
            hash.as_deref().unwrap_or(""),
        ] {
            heads.update((part.len() as u64).to_be_bytes());
            heads.update(part.as_bytes());
        }
    }
}

fn version_finding(version: i64, expected: i64) -> Finding {
    if version > expected {
        Finding::Missing { version, expected }
    } else {
        Finding::Inserted
    }
}

/// Whether a later delta of `delta`'s object holds `version` (a gap that
/// is a reordering, not a removal).
async fn later_has<C: ConnectionTrait>(
    db: &C,
    delta: &object_delta::Model,
    version: i64,
) -> Result<bool, Error> {
    use object_delta::Column as O;
    Ok(object_delta::Entity::find()
        .filter(O::ContentType.eq(delta.content_type.as_str()))
        .filter(O::ContentId.eq(delta.content_id.as_str()))
        .filter(O::Id.gt(delta.id))
        .filter(O::Version.eq(version))
        .one(db)
        .await
        .map_err(|e| Error::from_journal("revy_object_deltas", e))?
        .is_some())
}
