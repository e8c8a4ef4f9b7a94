//! Paired mode, `REVY_BENCH_PAIRED=<rounds>`: the write cases without
//! criterion. Each round times a tracked case and its plain twin back to
//! back, in alternating order, and the report gives the median of the
//! per-round ratios. Criterion measures a tracked case and its twin some
//! seconds apart, so on a machine shared with other work a change of load
//! in between moves their ratio; a ratio taken within one round moves only
//! with load that changes faster than a round lasts.
//!
//! `REVY_BENCH_CASE=<text>` runs only the cases whose name contains it
//! (`insert`, `update`, `delete`, `one transaction`, ...);
//! `REVY_BENCH_SIDE=tracked` or `plain` runs one side of each case only.

use std::time::{Duration, Instant};

use tokio::runtime::Runtime;

use crate::entities::{item, plain_item};
use crate::{
    Backend, Sizes, clear, delete_rows, insert_rows, rows, set_queued, settle, update_rows,
};

/// Single-row transactions per round in the row-per-transaction cases.
const TRANSACTIONS_PER_ROUND: u64 = 20;

/// Runs every write case on `backend` and prints a Markdown table row each.
pub fn run(rt: &Runtime, backend: &Backend, sizes: Sizes, rounds: usize) {
    println!(
        "| backend | case | tracked µs/row | plain µs/row | ratio (median) | ratio (min–max) |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    // the tracked side on sea-orm's transactions (the journal written after
    // each operation), then in queued ones (written at commit)
    for queued in [false, true] {
        set_queued(queued);
        cases(
            rt,
            backend,
            sizes,
            rounds,
            if queued { "queued " } else { "" },
        );
    }
    set_queued(false);
    if std::env::var_os("REVY_BENCH_NO_SEALED").is_none() {
        sealed(rt, backend, sizes, rounds);
    }
}

/// The cost of tamper evidence: the tracked insert and update cases with
/// it on next to the same cases with it off, in the same rounds (the
/// table's "tracked" column is sealed, "plain" is tracked unsealed).
fn sealed(rt: &Runtime, backend: &Backend, sizes: Sizes, rounds: usize) {
    let db = &backend.db;
    let n = sizes.batch;
    let name = backend.name;
    let k = TRANSACTIONS_PER_ROUND;
    println!();
    println!(
        "| backend | case (tracked) | sealed µs/row | unsealed µs/row | ratio (median) | ratio (min–max) |"
    );
    println!("|---|---|---:|---:|---:|---:|");
    let seal = |on: bool| match on {
        true => revy_seaorm::tamper::enable(),
        false => revy_seaorm::tamper::disable(),
    };
    report(
        name,
        &format!("sealed insert, {n} rows in one transaction"),
        n,
        rounds,
        |on| {
            rt.block_on(async {
                clear(db).await;
                seal(on);
                let start = Instant::now();
                insert_rows::<item::Entity>(db, n).await;
                let took = start.elapsed();
                seal(false);
                took
            })
        },
    );
    report(
        name,
        "sealed insert, one row per transaction",
        k,
        rounds,
        |on| {
            rt.block_on(async {
                settle(db).await;
                seal(on);
                let start = Instant::now();
                for _ in 0..k {
                    insert_rows::<item::Entity>(db, 1).await;
                }
                let took = start.elapsed();
                seal(false);
                took
            })
        },
    );
    let mut made = None;
    let (tracked_rows, _) = rows(&mut made, rt, db, n);
    report(
        name,
        &format!("sealed update of 2 columns, {n} rows in one transaction"),
        n,
        rounds,
        |on| {
            rt.block_on(async {
                seal(on);
                let took = update_rows::<item::Entity>(db, tracked_rows).await;
                seal(false);
                took
            })
        },
    );
    report(
        name,
        "sealed update of 2 columns, one row per transaction",
        k,
        rounds,
        |on| {
            rt.block_on(async {
                seal(on);
                let mut total = Duration::ZERO;
                for i in 0..k as usize {
                    total += update_rows::<item::Entity>(db, &mut tracked_rows[i..=i]).await;
                }
                seal(false);
                total
            })
        },
    );
}

/// The write cases, each named after `mode`.
fn cases(rt: &Runtime, backend: &Backend, sizes: Sizes, rounds: usize, mode: &str) {
    let db = &backend.db;
    let n = sizes.batch;
    let name = backend.name;

    report(
        name,
        &format!("{mode}insert, {n} rows in one transaction"),
        n,
        rounds,
        |tracked| {
            rt.block_on(async {
                clear(db).await;
                let start = Instant::now();
                if tracked {
                    insert_rows::<item::Entity>(db, n).await;
                } else {
                    insert_rows::<plain_item::Entity>(db, n).await;
                }
                start.elapsed()
            })
        },
    );

    let k = TRANSACTIONS_PER_ROUND;
    report(
        name,
        &format!("{mode}insert, one row per transaction"),
        k,
        rounds,
        |tracked| {
            rt.block_on(async {
                settle(db).await;
                let start = Instant::now();
                for _ in 0..k {
                    if tracked {
                        insert_rows::<item::Entity>(db, 1).await;
                    } else {
                        insert_rows::<plain_item::Entity>(db, 1).await;
                    }
                }
                start.elapsed()
            })
        },
    );

    let mut made = None;
    let (tracked_rows, plain_rows) = rows(&mut made, rt, db, n);
    report(
        name,
        &format!("{mode}update of 2 columns, {n} rows in one transaction"),
        n,
        rounds,
        |tracked| {
            rt.block_on(async {
                if tracked {
                    update_rows::<item::Entity>(db, tracked_rows).await
                } else {
                    update_rows::<plain_item::Entity>(db, plain_rows).await
                }
            })
        },
    );
    report(
        name,
        &format!("{mode}update of 2 columns, one row per transaction"),
        k,
        rounds,
        |tracked| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for i in 0..k as usize {
                    total += if tracked {
                        update_rows::<item::Entity>(db, &mut tracked_rows[i..=i]).await
                    } else {
                        update_rows::<plain_item::Entity>(db, &mut plain_rows[i..=i]).await
                    };
                }
                total
            })
        },
    );

    report(
        name,
        &format!("{mode}delete, {n} rows in one transaction"),
        n,
        rounds,
        |tracked| {
            rt.block_on(async {
                clear(db).await;
                if tracked {
                    let rows = insert_rows::<item::Entity>(db, n).await;
                    delete_rows::<item::Entity>(db, rows).await
                } else {
                    let rows = insert_rows::<plain_item::Entity>(db, n).await;
                    delete_rows::<plain_item::Entity>(db, rows).await
                }
            })
        },
    );
}

/// Times `rounds` pairs of `case(true)` (tracked) and `case(false)`
/// (plain), after one pair to warm up, and prints the medians.
fn report(
    backend: &str,
    case: &str,
    rows_per_round: u64,
    rounds: usize,
    mut time: impl FnMut(bool) -> Duration,
) {
    // REVY_BENCH_CASE=<text> runs only the cases whose name contains it
    if let Ok(only) = std::env::var("REVY_BENCH_CASE")
        && !case.contains(&only)
    {
        return;
    }
    // REVY_BENCH_SIDE=tracked|plain runs one side only (for profilers:
    // `valgrind --tool=callgrind` counts the instructions of one side)
    let side = std::env::var("REVY_BENCH_SIDE").ok();
    let mut time = |tracked: bool| match side.as_deref() {
        Some("tracked") if !tracked => Duration::ZERO,
        Some("plain") if tracked => Duration::ZERO,
        _ => time(tracked),
    };
    time(true);
    time(false);
    let (mut tracked, mut plain, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds.max(1) {
        let (t, p) = if round % 2 == 0 {
            let t = time(true);
            (t, time(false))
        } else {
            let p = time(false);
            (time(true), p)
        };
        let per_row = |d: Duration| d.as_secs_f64() * 1e6 / rows_per_round as f64;
        tracked.push(per_row(t));
        plain.push(per_row(p));
        ratios.push(t.as_secs_f64() / p.as_secs_f64());
    }
    let (low, high) = (min(&ratios), max(&ratios));
    println!(
        "| {backend} | {case} | {:.1} | {:.1} | {:.2}x | {low:.2}–{high:.2}x |",
        median(&mut tracked),
        median(&mut plain),
        median(&mut ratios),
    );
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn min(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(values: &[f64]) -> f64 {
    values.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}
