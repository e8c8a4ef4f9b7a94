//! The per-thread stack that holds the frames of the scope being polled.
//!
//! Each key has a stack of its own, holding `(frame depth, value)` for the
//! frames that set it, innermost last. Reading a key is a look at the top of
//! its stack, whatever the number of frames; pushing or popping a frame
//! touches each of the eight keys once. Values move in and out of the frame
//! that owns them, so a push and a pop allocate nothing once the vectors have
//! grown to the program's nesting depth.

use std::cell::RefCell;

use crate::{Actor, LazyRevision};

/// The values of one key, innermost frame last.
pub(crate) struct KeyStack<T> {
    entries: Vec<(u32, T)>,
}

impl<T> KeyStack<T> {
    const fn new() -> Self {
        KeyStack {
            entries: Vec::new(),
        }
    }

    /// The value of the innermost frame that holds the key.
    pub(crate) fn top(&self) -> Option<&T> {
        self.entries.last().map(|(_, v)| v)
    }

    /// Writes the value into the frame at `depth` (the innermost one).
    pub(crate) fn set(&mut self, depth: u32, value: T) {
        match self.entries.last_mut() {
            Some((d, slot)) if *d == depth => *slot = value,
            _ => self.entries.push((depth, value)),
        }
    }

    /// Removes the value from the nearest frame that holds it.
    pub(crate) fn unset(&mut self) {
        self.entries.pop();
    }

    /// Removes the value from every frame.
    pub(crate) fn reset(&mut self) {
        self.entries.clear();
    }

    /// Removes the value from the frame at `depth` only, if that frame holds it.
    pub(crate) fn remove_at(&mut self, depth: u32) {
        if matches!(self.entries.last(), Some((d, _)) if *d == depth) {
            self.entries.pop();
        }
    }

    fn push_frame(&mut self, depth: u32, value: Option<T>) {
        if let Some(value) = value {
            self.entries.push((depth, value));
        }
    }

    /// Takes the value of the frame at `depth` back out, discarding any value
    /// of a deeper frame that was not popped (only possible if a guard was
    /// leaked with `mem::forget`).
    fn pop_frame(&mut self, depth: u32) -> Option<T> {
        while matches!(self.entries.last(), Some((d, _)) if *d > depth) {
            self.entries.pop();
        }
        if matches!(self.entries.last(), Some((d, _)) if *d == depth) {
            self.entries.pop().map(|(_, v)| v)
        } else {
            None
        }
    }

    fn collect_into(&self, frames: &mut [Values], pick: impl Fn(&mut Values) -> &mut Option<T>)
    where
        T: Clone,
    {
        for (depth, value) in &self.entries {
            // Depths start at 1; a depth past the frames cannot occur, and is skipped if it does.
            if let Some(frame) = (*depth as usize)
                .checked_sub(1)
                .and_then(|i| frames.get_mut(i))
            {
                *pick(frame) = Some(value.clone());
            }
        }
    }
}

macro_rules! keys {
    ($($key:ident: $ty:ty),* $(,)?) => {
        /// The values one frame holds; `None` means the frame does not hold the key.
        #[derive(Clone, Default, Debug)]
        pub(crate) struct Values {
            $(pub(crate) $key: Option<$ty>,)*
        }

        /// Every key's stack, and how many frames are pushed.
        pub(crate) struct Stack {
            pub(crate) depth: u32,
            $(pub(crate) $key: KeyStack<$ty>,)*
        }

        impl Stack {
            const fn new() -> Self {
                Stack { depth: 0, $($key: KeyStack::new(),)* }
            }

            fn push(&mut self, values: &mut Values) {
                self.depth += 1;
                let depth = self.depth;
                $(self.$key.push_frame(depth, values.$key.take());)*
            }

            fn pop(&mut self, depth: u32, values: &mut Values) {
                $(values.$key = self.$key.pop_frame(depth);)*
                self.depth = depth.saturating_sub(1);
            }

            /// A copy of every pushed frame, outermost first.
            pub(crate) fn capture(&self) -> Vec<Values> {
                let mut frames = vec![Values::default(); self.depth as usize];
                $(self.$key.collect_into(&mut frames, |f| &mut f.$key);)*
                frames
            }
        }
    };
}

keys! {
    actor: Option<Actor>,
    revision: Option<LazyRevision>,
    revision_description: String,
    object_delta_description: String,
    attribute_delta_description: String,
    deletion_description: String,
    disabled: bool,
    meta: serde_json::Value,
    stash: Stash,
}

/// Values an integration keeps in a frame between two of its calls (e.g.
/// from a `before_save` hook to its `after_save`). A copy of a frame, as made
/// by [`Context::capture`](crate::Context::capture), starts with an empty stash.
#[derive(Default)]
pub(crate) struct Stash(pub(crate) Vec<Box<dyn std::any::Any + Send>>);

impl Clone for Stash {
    fn clone(&self) -> Self {
        Stash::default()
    }
}

impl std::fmt::Debug for Stash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Stash({} values)", self.0.len())
    }
}

impl<T> KeyStack<T> {
    /// The value of the frame at `depth`, created with `T::default()` if
    /// that frame holds none.
    pub(crate) fn at_mut(&mut self, depth: u32) -> Option<&mut T>
    where
        T: Default,
    {
        if !matches!(self.entries.last(), Some((d, _)) if *d == depth) {
            self.entries.push((depth, T::default()));
        }
        self.entries.last_mut().map(|(_, v)| v)
    }

    /// Every frame's value, innermost first.
    pub(crate) fn iter_innermost_first(&self) -> impl Iterator<Item = &T> {
        self.entries.iter().rev().map(|(_, v)| v)
    }

    /// Every frame's value, innermost first.
    pub(crate) fn iter_mut_innermost_first(&mut self) -> impl Iterator<Item = &mut T> {
        self.entries.iter_mut().rev().map(|(_, v)| v)
    }
}

thread_local! {
    static STACK: RefCell<Stack> = const { RefCell::new(Stack::new()) };
}

/// Reads the stack. Returns `None` only while the thread is being torn down.
pub(crate) fn read<R>(f: impl FnOnce(&Stack) -> R) -> Option<R> {
    STACK
        .try_with(|cell| cell.try_borrow().ok().map(|s| f(&s)))
        .ok()
        .flatten()
}

/// Changes the stack. Returns `None` only while the thread is being torn down.
pub(crate) fn write<R>(f: impl FnOnce(&mut Stack) -> R) -> Option<R> {
    STACK
        .try_with(|cell| cell.try_borrow_mut().ok().map(|mut s| f(&mut s)))
        .ok()
        .flatten()
}

/// Keeps frames pushed while it lives; dropping it (also while unwinding from
/// a panic) pops them and gives their values, changes included, back to
/// their owner.
pub(crate) struct Pushed<'a> {
    frames: &'a mut [Values],
    first_depth: u32,
}

impl<'a> Pushed<'a> {
    pub(crate) fn new(frames: &'a mut [Values]) -> Self {
        let first_depth = write(|s| {
            let first = s.depth + 1;
            for frame in frames.iter_mut() {
                s.push(frame);
            }
            first
        })
        .unwrap_or(0);
        Pushed {
            frames,
            first_depth,
        }
    }
}

impl Drop for Pushed<'_> {
    fn drop(&mut self) {
        if self.first_depth == 0 {
            return;
        }
        let first = self.first_depth;
        let frames = &mut *self.frames;
        write(|s| {
            for (offset, frame) in frames.iter_mut().enumerate().rev() {
                s.pop(first + offset as u32, frame);
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_overwrites_the_innermost_frame_only() {
        let mut k = KeyStack::new();
        k.push_frame(1, Some("outer"));
        k.set(2, "inner");
        assert_eq!(k.top(), Some(&"inner"));
        k.set(2, "inner2");
        assert_eq!(k.entries.len(), 2);
        assert_eq!(k.pop_frame(2), Some("inner2"));
        assert_eq!(k.top(), Some(&"outer"));
    }

    #[test]
    fn pop_discards_values_of_frames_never_popped() {
        let mut k = KeyStack::new();
        k.push_frame(1, Some(1));
        k.push_frame(3, Some(3));
        assert_eq!(k.pop_frame(2), None);
        assert_eq!(k.top(), Some(&1));
    }
}
