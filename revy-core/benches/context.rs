//! Benchmarks of the context stack: pushing and popping frames, reading and
//! writing keys, and polling a future inside a scope.
//!
//! Run with `cargo bench -p revy-core --bench context`; CI adds `-- --quick`.

use std::future::{Future, ready};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use revy_core::{Actor, Context, Frame};

/// How many frames the `*_depth_32` benchmarks have pushed around them.
const DEPTH: usize = 32;

fn actor() -> Actor {
    Actor::new("users", 7)
}

/// The frame every benchmark reads its keys from: it holds each key a getter
/// benchmark reads, so a lookup always finds a value.
fn outer_frame() -> Frame {
    Context::new()
        .actor(Some(actor()))
        .revision_description("Imported from CSV")
        .disabled(false)
}

/// Runs `f` inside `depth` frames: `outer_frame()` outermost, then empty
/// frames, so the keys are set only in the frame farthest from the top.
fn at_depth(depth: usize, f: &mut dyn FnMut()) {
    fn nest(remaining: usize, f: &mut dyn FnMut()) {
        if remaining == 0 {
            f();
        } else {
            Context::new().sync_scope(|| nest(remaining - 1, f));
        }
    }
    assert!(depth >= 1);
    outer_frame().sync_scope(|| nest(depth - 1, f));
}

fn push_pop(c: &mut Criterion) {
    let actor = actor();
    let mut group = c.benchmark_group("context/push_pop");
    group.bench_function("push_pop", |b| {
        b.iter(|| {
            Context::new()
                .actor(Some(actor.clone()))
                .sync_scope(|| black_box(1))
        })
    });
    group.bench_function("push_pop_empty", |b| {
        b.iter(|| Context::new().sync_scope(|| black_box(1)))
    });
    group.bench_function("push_pop_depth_32", |b| {
        at_depth(DEPTH, &mut || {
            b.iter(|| {
                Context::new()
                    .actor(Some(actor.clone()))
                    .sync_scope(|| black_box(1))
            })
        })
    });
    group.finish();
}

fn get(c: &mut Criterion) {
    let mut group = c.benchmark_group("context/get");
    for depth in [1, DEPTH] {
        let suffix = if depth == 1 {
            String::new()
        } else {
            format!("_depth_{depth}")
        };
        at_depth(depth, &mut || {
            assert!(Context::is_enabled());
            assert_eq!(Context::actor(), Some(actor()));
            assert_eq!(Context::revision_description(), "Imported from CSV");
            group.bench_function(format!("is_enabled{suffix}"), |b| {
                b.iter(Context::is_enabled)
            });
            group.bench_function(format!("actor{suffix}"), |b| b.iter(Context::actor));
            group.bench_function(format!("revision_description{suffix}"), |b| {
                b.iter(Context::revision_description)
            });
        });
    }
    // Reference, not a getter: the clone of an `Actor` that `Context::actor()`
    // returns, without the stack lookup around it.
    let actor = actor();
    group.bench_function("actor_clone_only", |b| b.iter(|| black_box(&actor).clone()));
    group.finish();
}

fn set(c: &mut Criterion) {
    let actor = actor();
    let mut group = c.benchmark_group("context/set");
    // The clone of the actor is made outside the timed part; dropping the
    // value it replaces is inside, as it is part of every real `set_actor`.
    group.bench_function("set_actor", |b| {
        Context::new().actor(Some(actor.clone())).sync_scope(|| {
            b.iter_batched(
                || Some(actor.clone()),
                Context::set_actor,
                BatchSize::SmallInput,
            )
        })
    });
    group.finish();
}

/// Awaits `make()` `iters` times inside one `block_on`, so the runtime's
/// entry cost is paid once per sample, not once per iteration.
fn await_many<F: Future<Output = i32>>(
    rt: &tokio::runtime::Runtime,
    iters: u64,
    make: impl Fn() -> F,
) -> Duration {
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(make().await);
        }
        start.elapsed()
    })
}

fn scope_poll(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a current-thread runtime");
    let actor = actor();
    let mut group = c.benchmark_group("context/scope_poll");
    group.bench_function("without_scope", |b| {
        b.iter_custom(|iters| await_many(&rt, iters, || black_box(ready(1))))
    });
    group.bench_function("with_scope_empty", |b| {
        b.iter_custom(|iters| await_many(&rt, iters, || Context::new().scope(black_box(ready(1)))))
    });
    group.bench_function("with_scope_actor", |b| {
        b.iter_custom(|iters| {
            await_many(&rt, iters, || {
                Context::new()
                    .actor(Some(actor.clone()))
                    .scope(black_box(ready(1)))
            })
        })
    });
    group.finish();
}

/// Short enough for CI (`-- --quick` cuts it further), long enough for
/// stable medians of operations in the nanoseconds.
fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(100)
}

criterion_group! {
    name = benches;
    config = config();
    targets = push_pop, get, set, scope_poll
}
criterion_main!(benches);
