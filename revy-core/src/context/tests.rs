use std::time::Duration;

use super::*;

fn user(id: i64) -> Option<Actor> {
    Some(Actor::new("users", id))
}

#[test]
fn nested_frames_shadow_and_restore_the_actor() {
    Context::new().sync_scope(|| {
        Context::set_actor(user(1)).unwrap();
        Context::new().sync_scope(|| {
            assert_eq!(Context::actor(), user(1));
            Context::set_actor(None).unwrap();
            assert_eq!(Context::actor(), None);
        });
        assert_eq!(Context::actor(), user(1));
    });
    assert_eq!(Context::actor(), None);
    assert!(!Context::is_active());
}

#[test]
fn unset_reveals_the_outer_value_and_reset_clears_every_frame() {
    Context::via_revision_description("outer").sync_scope(|| {
        Context::via_revision_description("middle").sync_scope(|| {
            Context::new().sync_scope(|| {
                Context::set_revision_description("inner").unwrap();
                Context::unset_revision_description().unwrap();
                assert_eq!(Context::revision_description(), "middle");
                Context::unset_revision_description().unwrap();
                assert_eq!(Context::revision_description(), "outer");
                Context::set_revision_description("again").unwrap();
                Context::reset_revision_description().unwrap();
                assert_eq!(Context::revision_description(), "");
            });
            // the reset reached the frames that were pushed at the time
            assert_eq!(Context::revision_description(), "");
        });
        assert_eq!(Context::revision_description(), "");
    });
}

#[test]
fn set_writes_into_the_innermost_frame_and_ends_with_it() {
    Context::via_deletion_description("outer").sync_scope(|| {
        Context::new().sync_scope(|| {
            Context::set_deletion_description("inner").unwrap();
            assert_eq!(Context::deletion_description(), "inner");
        });
        assert_eq!(Context::deletion_description(), "outer");
    });
}

#[test]
fn every_key_has_its_own_value() {
    let lazy = LazyRevision::from_id(9);
    Context::new()
        .actor(user(3))
        .revision(lazy.clone())
        .revision_description("r")
        .object_delta_description("o")
        .attribute_delta_description("a")
        .deletion_description("d")
        .meta(serde_json::json!({"k": 1}))
        .sync_scope(|| {
            assert_eq!(Context::actor(), user(3));
            assert!(Context::revision().unwrap().same_as(&lazy));
            assert_eq!(Context::revision_description(), "r");
            assert_eq!(Context::object_delta_description(), "o");
            assert_eq!(Context::attribute_delta_description(), "a");
            assert_eq!(Context::deletion_description(), "d");
            assert_eq!(Context::meta(), serde_json::json!({"k": 1}));
            assert!(Context::is_enabled());
            // a None revision shadows the outer one
            Context::via_revision(None).sync_scope(|| assert!(Context::revision().is_none()));
            Context::unset_meta().unwrap();
            assert_eq!(Context::meta(), serde_json::Value::Null);
        });
}

#[test]
fn outside_any_frame_setters_fail_and_getters_are_empty() {
    assert_eq!(
        Context::set_actor(user(1)),
        Err(ContextError::NoActiveContext)
    );
    assert_eq!(Context::unset_actor(), Err(ContextError::NoActiveContext));
    assert_eq!(
        Context::reset_revision(),
        Err(ContextError::NoActiveContext)
    );
    assert_eq!(
        Context::set_meta(serde_json::json!({})),
        Err(ContextError::NoActiveContext)
    );
    assert_eq!(Context::disable(), Err(ContextError::NoActiveContext));
    assert_eq!(Context::enable(), Err(ContextError::NoActiveContext));
    assert_eq!(Context::actor(), None);
    assert_eq!(Context::object_delta_description(), "");
    assert!(Context::revision().is_none());
    assert!(Context::is_disabled());
    assert!(!Context::is_enabled());
    assert!(!Context::is_active());
    assert!(Context::capture().is_none());
}

#[test]
fn disable_in_an_inner_frame_disables_its_children_and_ends_with_it() {
    assert!(Context::is_disabled());
    Context::new().sync_scope(|| {
        assert!(Context::is_enabled());
        Context::new().sync_scope(|| {
            Context::disable().unwrap();
            assert!(Context::is_disabled());
            Context::new().sync_scope(|| assert!(Context::is_disabled()));
            assert!(Context::is_disabled());
        });
        assert!(Context::is_enabled());
    });
    assert!(Context::is_disabled());
}

#[test]
fn enable_removes_only_the_innermost_flag() {
    Context::as_disabled().sync_scope(|| {
        Context::new().sync_scope(|| {
            Context::disable().unwrap();
            Context::enable().unwrap();
            // the outer disabled frame still applies
            assert!(Context::is_disabled());
        });
        Context::enable().unwrap();
        assert!(Context::is_enabled());
    });
}

#[test]
fn as_enabled_re_enables_under_a_disabled_parent() {
    Context::as_disabled().sync_scope(|| {
        assert!(Context::is_disabled());
        Context::as_enabled().sync_scope(|| {
            assert!(Context::is_enabled());
            Context::new().sync_scope(|| assert!(Context::is_enabled()));
        });
        assert!(Context::is_disabled());
    });
}

#[test]
fn frame_is_popped_after_a_panic_in_sync_scope() {
    let result = std::panic::catch_unwind(|| {
        Context::via_actor(user(1)).sync_scope(|| {
            Context::via_actor(user(2)).sync_scope(|| panic!("boom"));
        })
    });
    assert!(result.is_err());
    assert!(!Context::is_active());
    assert_eq!(Context::actor(), None);
    // the stack still works
    Context::via_actor(user(3)).sync_scope(|| assert_eq!(Context::actor(), user(3)));
}

#[tokio::test(flavor = "current_thread")]
async fn frame_is_popped_when_a_scope_future_is_dropped_midway() {
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let scoped = Context::via_actor(user(1)).scope(async move {
        let _ = rx.await;
    });
    let mut scoped = Box::pin(scoped);
    // poll once: the future parks on the channel, inside its scope
    let polled = futures_poll_once(scoped.as_mut()).await;
    assert!(polled.is_pending());
    assert!(
        !Context::is_active(),
        "frame must be off the stack between polls"
    );
    drop(scoped);
    drop(tx);
    assert!(!Context::is_active());
    assert_eq!(Context::actor(), None);
}

#[tokio::test(flavor = "current_thread")]
async fn frame_is_popped_when_a_scope_future_panics() {
    let handle = tokio::spawn(Context::via_actor(user(1)).scope(async {
        tokio::task::yield_now().await;
        panic!("inside scope");
    }));
    assert!(handle.await.is_err());
    assert!(!Context::is_active());
}

async fn futures_poll_once<F: std::future::Future + Unpin>(mut f: F) -> std::task::Poll<F::Output> {
    std::future::poll_fn(|cx| std::task::Poll::Ready(std::pin::Pin::new(&mut f).poll(cx))).await
}

#[tokio::test(flavor = "current_thread")]
async fn joined_scopes_in_one_task_each_see_their_own_frame() {
    let (a, b) = tokio::join!(
        Context::via_actor(user(1)).scope(async {
            tokio::task::yield_now().await;
            let first = Context::actor();
            tokio::task::yield_now().await;
            (first, Context::actor())
        }),
        Context::via_actor(user(2)).scope(async {
            tokio::task::yield_now().await;
            let first = Context::actor();
            tokio::task::yield_now().await;
            (first, Context::actor())
        }),
    );
    assert_eq!(a, (user(1), user(1)));
    assert_eq!(b, (user(2), user(2)));
}

#[tokio::test(flavor = "current_thread")]
async fn set_inside_a_scope_survives_across_await_points() {
    Context::new()
        .scope(async {
            Context::set_actor(user(5)).unwrap();
            tokio::task::yield_now().await;
            assert_eq!(Context::actor(), user(5));
            Context::via_actor(user(6))
                .scope(async {
                    tokio::task::yield_now().await;
                    assert_eq!(Context::actor(), user(6));
                })
                .await;
            assert_eq!(Context::actor(), user(5));
        })
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_tasks_see_only_their_own_actor() {
    let mut handles = Vec::with_capacity(1000);
    for i in 0..1000i64 {
        handles.push(tokio::spawn(Context::via_actor(user(i)).scope(
            async move {
                let mut wrong = 0u32;
                for step in 0..6u64 {
                    if step % 2 == 0 {
                        tokio::task::yield_now().await;
                    } else {
                        tokio::time::sleep(Duration::from_micros((i as u64 * 7 + step) % 500))
                            .await;
                    }
                    if Context::actor() != user(i) {
                        wrong += 1;
                    }
                    // a nested frame of this task's own, set and read around an await
                    Context::new()
                        .scope(async {
                            Context::set_object_delta_description(format!("task {i}")).unwrap();
                            tokio::task::yield_now().await;
                            if Context::object_delta_description() != format!("task {i}") {
                                wrong += 1;
                            }
                        })
                        .await;
                }
                wrong
            },
        )));
    }
    let mut total_wrong = 0;
    for h in handles {
        total_wrong += h.await.unwrap();
    }
    assert_eq!(total_wrong, 0);
    assert!(!Context::is_active());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn capture_carries_the_stack_into_a_spawned_task() {
    let lazy = LazyRevision::new();
    Context::via_actor(user(1))
        .revision(lazy.clone())
        .scope(async {
            Context::via_object_delta_description("inner")
                .scope(async {
                    // without capture, a spawned task sees nothing
                    let bare = tokio::spawn(async { (Context::is_active(), Context::actor()) });
                    assert_eq!(bare.await.unwrap(), (false, None));

                    let captured = Context::capture().unwrap();
                    let seen = tokio::spawn(captured.scope(async {
                        tokio::task::yield_now().await;
                        let before = (Context::actor(), Context::object_delta_description());
                        // unset in the child reveals the outer captured frame's value
                        Context::unset_actor().unwrap();
                        Context::set_object_delta_description("child").unwrap();
                        let rev = Context::revision().unwrap();
                        rev.get_or_try_create(|| async { Ok::<_, ()>(77) })
                            .await
                            .unwrap();
                        (before, Context::actor())
                    }))
                    .await
                    .unwrap();
                    assert_eq!(seen, ((user(1), "inner".to_owned()), None));
                    // the child's changes did not reach the parent...
                    assert_eq!(Context::actor(), user(1));
                    assert_eq!(Context::object_delta_description(), "inner");
                })
                .await;
        })
        .await;
    // ...but the shared lazy revision did
    assert_eq!(lazy.id(), Some(77));
}

#[test]
fn captured_context_works_on_another_thread() {
    let captured = Context::via_actor(user(4)).sync_scope(|| Context::capture().unwrap());
    let seen = std::thread::spawn(move || captured.sync_scope(Context::actor))
        .join()
        .unwrap();
    assert_eq!(seen, user(4));
}

#[test]
fn scoped_futures_are_send_when_the_inner_future_is() {
    fn assert_send<T: Send + 'static>(_: &T) {}
    let f = Context::new().actor(user(1)).scope(async {});
    assert_send(&f);
    let c = Context::new().sync_scope(|| Context::capture().unwrap());
    assert_send(&c.scope(async {}));
}

/// Reads the context's actor when dropped.
struct ReadsActorOnDrop(std::sync::Arc<std::sync::Mutex<Vec<Option<Actor>>>>);

impl Drop for ReadsActorOnDrop {
    fn drop(&mut self) {
        self.0.lock().unwrap().push(Context::actor());
    }
}

#[tokio::test]
async fn the_inner_future_is_dropped_inside_its_frame() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let inner = Some(Actor::new("users", 1));
    let outer = Some(Actor::new("users", 2));
    Context::via_actor(outer.clone())
        .scope(async {
            // never polled: the guard is dropped with the unstarted future
            let guard = ReadsActorOnDrop(seen.clone());
            drop(Context::via_actor(inner.clone()).scope(async move {
                let _guard = guard;
            }));
            // cancelled while waiting: the guard is held across an await
            let guard = ReadsActorOnDrop(seen.clone());
            let mut waiting = Box::pin(Context::via_actor(inner.clone()).scope(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            }));
            assert!(futures_poll_once(waiting.as_mut()).await.is_pending());
            drop(waiting);
            // a captured context, too
            let guard = ReadsActorOnDrop(seen.clone());
            let captured = Context::via_actor(inner.clone())
                .sync_scope(Context::capture)
                .unwrap();
            drop(captured.scope(async move {
                let _guard = guard;
            }));
            // and the caller's frame is back afterwards
            assert_eq!(Context::actor(), outer);
        })
        .await;
    assert_eq!(
        *seen.lock().unwrap(),
        vec![inner.clone(), inner.clone(), inner]
    );
}

#[test]
fn peek_stashed_looks_newest_and_innermost_first_and_takes_nothing() {
    assert_eq!(Context::peek_stashed::<u32, _>(|v| Some(*v)), None);
    Context::new().sync_scope(|| {
        Context::stash(1_u32).unwrap();
        Context::new().sync_scope(|| {
            Context::stash(2_u32).unwrap();
            Context::stash(3_u32).unwrap();
            Context::stash("other").unwrap();
            assert_eq!(Context::peek_stashed::<u32, _>(|v| Some(*v)), Some(3));
            assert_eq!(
                Context::peek_stashed::<u32, _>(|v| (*v < 3).then_some(*v)),
                Some(2)
            );
            assert_eq!(
                Context::peek_stashed::<u32, _>(|v| (*v == 1).then_some(())),
                Some(())
            );
            assert_eq!(
                Context::peek_stashed::<u32, _>(|v| (*v > 3).then_some(())),
                None
            );
            // everything is still there, in order
            assert_eq!(Context::take_stashed::<u32>(|_| true), Some(3));
            assert_eq!(Context::take_stashed::<u32>(|_| true), Some(2));
            assert_eq!(Context::take_stashed::<u32>(|_| true), Some(1));
            assert_eq!(Context::take_stashed::<&str>(|_| true), Some("other"));
        });
    });
}
