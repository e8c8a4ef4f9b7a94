//! [`TagError`]: why a tag cannot be written, found, or undone back to.

use thiserror::Error;

/// Why a tag cannot be written, found, or undone back to. Under
/// [`Error::Tag`](crate::error::Error::Tag).
///
/// ```
/// use revy_seaorm::Error;
/// use revy_seaorm::tags::TagError;
///
/// let e: Error = TagError::NoTag { name: "v1".into() }.into();
/// assert!(matches!(&e, Error::Tag(t) if matches!(**t, TagError::NoTag { .. })));
/// assert!(e.to_string().contains("revy::tags::all"));
/// ```
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum TagError {
    /// A tag with this name already exists.
    #[error(
        "tag {name} already exists in revy_tags (it names revision {revision_id}): pick another name, or find the existing tag with revy::tags::find_tag"
    )]
    TagExists {
        /// The name asked for.
        name: String,
        /// The revision the existing tag names.
        revision_id: i64,
    },

    /// A tag name is longer than the journal stores.
    #[error(
        "tag name {name} is {len} characters long; revy_tags stores names of at most {max}: pick a shorter one"
    )]
    TagNameTooLong {
        /// The name asked for.
        name: String,
        /// Its length in characters.
        len: usize,
        /// The longest name the journal stores.
        max: u32,
    },

    /// No tag has this name.
    #[error("tag {name} does not exist in revy_tags: list the tags with revy::tags::all(&db)")]
    NoTag {
        /// The name asked for.
        name: String,
    },

    /// Undoing back to a tag would also discard a change that belongs at
    /// or before the tag.
    #[error(
        "cannot undo back to tag {tag}: {table} row {key} was changed by revision {revision_id}, at or before the tag's revision, after a later revision had changed it (object delta {object_delta_id}); revert that row by hand"
    )]
    TagConflict {
        /// The tag.
        tag: String,
        /// The table of the row.
        table: String,
        /// The row's key.
        key: String,
        /// The revision at or before the tag's that wrote late.
        revision_id: i64,
        /// The late object delta.
        object_delta_id: i64,
    },
}
