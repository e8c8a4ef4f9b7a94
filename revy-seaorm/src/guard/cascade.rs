//! Cascades the journal would not see: before a tracked `DELETE` runs, the
//! guard reads the foreign keys pointing at its table and reports each
//! cascading or set-null key from a tracked table that the delete applies no
//! policy for (see [`crate::deletion::cascade`] for the whole story).

use std::collections::BTreeSet;
use std::sync::{LazyLock, Mutex};

use sea_orm::ConnectionTrait;

use crate::db::foreign_keys::{ForeignKey, Rule, foreign_keys_to, same_table};
use crate::error::Error;
use crate::guard::GuardError;

/// The keys already warned about.
static WARNED: LazyLock<Mutex<BTreeSet<String>>> = LazyLock::new(Default::default);

/// Looks at the foreign keys pointing at `parent`, whose rows a tracked
/// `DELETE` is about to remove having applied the policies in `applied`:
/// each cascading or set-null key from a tracked table that they do not
/// cover is counted, warned about once, and refused when `strict`.
pub(crate) async fn check<C: ConnectionTrait + ?Sized>(
    db: &C,
    parent: &str,
    applied: &[(String, &'static str)],
    strict: bool,
) -> Result<(), Error> {
    let keys = foreign_keys_to(db, parent).await?;
    // every uncovered key is counted and warned about, the first refused
    let mut refusal = Ok(());
    for key in keys.iter().filter(|k| k.on_delete != Rule::Refuse) {
        let Some(child) = crate::registry::tracked_table(|t| same_table(t, &key.child_table))
        else {
            continue;
        };
        let covered = match key.child_columns.as_slice() {
            [column] => applied
                .iter()
                .any(|(t, c)| same_table(t, &key.child_table) && c.eq_ignore_ascii_case(column)),
            _ => false,
        };
        if !covered && let Err(e) = report(parent, &child, key, strict) {
            refusal = refusal.and(Err(e));
        }
    }
    refusal
}

fn report(parent: &str, child: &str, key: &ForeignKey, strict: bool) -> Result<(), Error> {
    super::report::count_untracked(child);
    let name = format!("{} -> {parent}", key.columns_text());
    let first = WARNED
        .lock()
        .map(|mut warned| warned.insert(name.clone()))
        .unwrap_or(false);
    let fix = fix(parent, key);
    if first {
        tracing::warn!(
            table = parent,
            child,
            key = name.as_str(),
            "revy: a DELETE on table {parent} lets the database apply ON DELETE {} of {} \
             to tracked table {child}, and the journal does not see it; {fix} \
             (warned once per key; revy::guard::untracked_writes() counts every one under {child})",
            key.on_delete.sql(),
            key.columns_text(),
        );
    }
    if strict {
        return Err(GuardError::UnjournaledCascade {
            parent: parent.to_owned(),
            child: child.to_owned(),
            key: key.columns_text(),
            rule: key.on_delete.sql(),
            fix,
        }
        .into());
    }
    Ok(())
}

fn fix(parent: &str, key: &ForeignKey) -> String {
    if key.child_columns.len() > 1 {
        return format!(
            "revy cannot apply a policy to a key of several columns: delete the {} rows \
             with revy::bulk::delete_many before their parent",
            key.child_table
        );
    }
    format!(
        "adopt the database's keys with revy::deletion::cascade::register_child_policies::<E>(&db) at start-up \
         (or declare a ChildPolicy for {} in E's DeletionPolicies), and delete through \
         revy::deletion::delete(model).exec(&db), revy::bulk::delete_many::<E>() or revy::bulk::delete_by_id::<E>(..), \
         which apply them (E = the entity of table {parent})",
        key.columns_text()
    )
}

/// Lets each key warn once more: part of
/// [`reset_untracked_writes`](super::reset_untracked_writes).
pub(crate) fn forget_warnings() {
    if let Ok(mut warned) = WARNED.lock() {
        warned.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::guard::report::tests::Warnings;

    fn key(child: &str, rule: Rule) -> ForeignKey {
        ForeignKey {
            child_table: child.into(),
            child_columns: vec!["parent_id".into()],
            on_delete: rule,
        }
    }

    #[test]
    fn each_key_warns_once_and_counts_every_delete() {
        let warnings = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let cascade = key("unit_cascade_child", Rule::Cascade);
        let set_null = key("unit_set_null_child", Rule::SetNull);
        tracing::subscriber::with_default(Warnings(warnings.clone()), || {
            for _ in 0..3 {
                report("unit_parent", "unit_cascade_child", &cascade, false).unwrap();
            }
            report("unit_parent", "unit_set_null_child", &set_null, false).unwrap();
            let refused =
                report("unit_parent", "unit_set_null_child", &set_null, true).unwrap_err();
            let text = refused.to_string();
            assert!(text.contains("unit_set_null_child.parent_id"), "{text}");
            assert!(text.contains("SET NULL"), "{text}");
            assert!(text.contains("register_child_policies"), "{text}");
        });
        assert_eq!(warnings.load(std::sync::atomic::Ordering::SeqCst), 2);
        let counts = crate::guard::untracked_writes();
        assert_eq!(counts.get("unit_cascade_child"), 3);
        assert_eq!(counts.get("unit_set_null_child"), 2);
    }
}
