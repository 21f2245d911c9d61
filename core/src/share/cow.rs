//! [`CowData`]: a shared value that is copied only when a holder changes it while shared.

use std::fmt;
use std::ops::Deref;

use crate::sync::Arc;

/// A shared value with copy-on-write semantics.
///
/// Handles share one value until a holder asks to change it: [`make_mut`](CowData::make_mut)
/// and [`modify`](CowData::modify) clone the value first only if another handle still points at
/// it; a sole holder changes it in place without any copy. The other handles never see the
/// change.
///
/// # Examples
///
/// ```
/// use patinox_memory::share::CowData;
///
/// let original = CowData::new(vec![1, 2, 3]);
/// let mut mine = original.clone();
/// mine.modify(|v| v.push(4)); // shared: clones once, then changes the copy
/// assert_eq!(original.get(), &[1, 2, 3]);
/// assert_eq!(mine.get(), &[1, 2, 3, 4]);
/// mine.make_mut().push(5); // now unshared: no clone
/// assert_eq!(mine.len(), 5);
/// ```
pub struct CowData<T: Clone> {
    inner: Arc<T>,
}

impl<T: Clone> CowData<T> {
    /// Wraps `value`.
    pub fn new(value: T) -> Self {
        Self {
            inner: Arc::new(value),
        }
    }

    /// The current value.
    pub fn get(&self) -> &T {
        &self.inner
    }

    /// Mutable access to this handle's value, cloning it first only if it is shared.
    ///
    /// When this is the only handle, no clone happens: the check is one atomic load.
    pub fn make_mut(&mut self) -> &mut T {
        // Unshared: change in place. `get_mut` succeeds only when no other strong handle exists,
        // and `&mut self` keeps anyone from creating one meanwhile.
        if Arc::get_mut(&mut self.inner).is_none() {
            self.inner = Arc::new(T::clone(&self.inner));
        }
        match Arc::get_mut(&mut self.inner) {
            Some(value) => value,
            // A freshly created Arc has exactly one handle.
            None => unreachable!("a new Arc is unshared"),
        }
    }

    /// Runs `f` on this handle's value (cloned first only if shared) and returns its result.
    ///
    /// # Examples
    ///
    /// ```
    /// use patinox_memory::share::CowData;
    ///
    /// let mut counter = CowData::new(0u32);
    /// let now = counter.modify(|n| {
    ///     *n += 1;
    ///     *n
    /// });
    /// assert_eq!(now, 1);
    /// ```
    pub fn modify<R>(&mut self, f: impl FnOnce(&mut T) -> R) -> R {
        f(self.make_mut())
    }

    /// Whether another handle shares this handle's value.
    pub fn is_shared(&self) -> bool {
        Arc::strong_count(&self.inner) > 1
    }

    /// The value, cloned only if another handle still shares it.
    pub fn into_inner(self) -> T {
        Arc::try_unwrap(self.inner).unwrap_or_else(|shared| T::clone(&shared))
    }
}

impl<T: Clone> Clone for CowData<T> {
    /// Another handle to the same value; no copy until one of them changes it.
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T: Clone> Deref for CowData<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: Clone + fmt::Debug> fmt::Debug for CowData<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CowData").field(self.get()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static CLONES: AtomicUsize = AtomicUsize::new(0);

    #[derive(Debug, PartialEq)]
    struct Counted(u32);

    impl Clone for Counted {
        fn clone(&self) -> Self {
            CLONES.fetch_add(1, Ordering::SeqCst);
            Counted(self.0)
        }
    }

    // One test owns the CLONES counter so parallel tests cannot disturb it.
    #[test]
    fn cow_clones_only_when_shared() {
        let mut a = CowData::new(Counted(1));
        a.modify(|c| c.0 = 2);
        a.make_mut().0 += 1;
        assert_eq!(
            CLONES.load(Ordering::SeqCst),
            0,
            "unshared value was cloned"
        );
        assert_eq!(a.get(), &Counted(3));

        let b = a.clone();
        assert!(a.is_shared());
        a.modify(|c| c.0 = 10);
        assert_eq!(CLONES.load(Ordering::SeqCst), 1);
        assert_eq!(b.get(), &Counted(3), "the other handle saw the change");
        assert_eq!(a.get(), &Counted(10));
        assert!(!a.is_shared());

        a.modify(|c| c.0 = 11);
        assert_eq!(CLONES.load(Ordering::SeqCst), 1);
        assert_eq!(a.into_inner(), Counted(11));
        assert_eq!(
            CLONES.load(Ordering::SeqCst),
            1,
            "into_inner of a sole handle cloned"
        );
    }
}
