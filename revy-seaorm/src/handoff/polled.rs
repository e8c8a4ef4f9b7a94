//! A value held on a thread-local stack during each poll of a future: how
//! [`own_writes`](super::own_writes) and
//! [`AppliedPolicies`](super::AppliedPolicies) reach the guard.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use std::thread::LocalKey;

/// The stack of values the futures being polled on a thread hold.
pub(super) type Stack<T> = LocalKey<RefCell<Vec<T>>>;

/// Runs `fut` with `value` on `stack` during each of its polls on the
/// polling thread: like a context scope, it does not leak into other tasks,
/// nor into tasks `fut` spawns.
pub(super) async fn holding<T: Unpin + 'static, F: Future>(
    stack: &'static Stack<T>,
    value: T,
    fut: F,
) -> F::Output {
    Holding {
        stack,
        value: Some(value),
        fut: Box::pin(fut),
    }
    .await
}

struct Holding<T: 'static, F> {
    stack: &'static Stack<T>,
    value: Option<T>,
    fut: Pin<Box<F>>,
}

impl<T: Unpin + 'static, F: Future> Future for Holding<T, F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let _held = Held::push(this.stack, &mut this.value);
        this.fut.as_mut().poll(cx)
    }
}

/// Keeps a value on its stack while it lives (also while unwinding).
struct Held<'a, T: 'static> {
    stack: &'static Stack<T>,
    slot: &'a mut Option<T>,
}

impl<'a, T: 'static> Held<'a, T> {
    fn push(stack: &'static Stack<T>, slot: &'a mut Option<T>) -> Self {
        if let Some(value) = slot.take() {
            let _ = stack.try_with(|s| s.borrow_mut().push(value));
        }
        Held { stack, slot }
    }
}

impl<T: 'static> Drop for Held<'_, T> {
    fn drop(&mut self) {
        if let Ok(Some(value)) = self.stack.try_with(|s| s.borrow_mut().pop()) {
            *self.slot = Some(value);
        }
    }
}
