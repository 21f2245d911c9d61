//! [`SharedData`]: an immutable value shared between threads.

use std::fmt;
use std::ops::Deref;

use crate::sync::Arc;

/// An immutable value shared by reference counting.
///
/// Cloning a `SharedData` (or calling [`clone_ref`](SharedData::clone_ref)) copies a pointer,
/// never the value, so handing the same lookup table or configuration to many threads costs one
/// atomic increment per handle. The value cannot change; use [`CowData`](super::CowData) when
/// holders occasionally need their own modified copy,
/// [`SharedMutableData`](super::SharedMutableData) when everyone must see changes, or [`Snapshot`](super::Snapshot) for read-mostly values that
/// are replaced as a whole.
///
/// # Examples
///
/// ```
/// use patinox_memory::share::SharedData;
///
/// let table = SharedData::new(vec![1, 2, 3]);
/// let other = table.clone_ref();
/// std::thread::spawn(move || assert_eq!(other.len(), 3)).join().unwrap();
/// assert_eq!(table.get(), &[1, 2, 3]);
/// ```
pub struct SharedData<T> {
    inner: Arc<T>,
}

impl<T> SharedData<T> {
    /// Wraps `value` for sharing.
    pub fn new(value: T) -> Self {
        Self {
            inner: Arc::new(value),
        }
    }

    /// The shared value.
    pub fn get(&self) -> &T {
        &self.inner
    }

    /// Another handle to the same value (the same as [`Clone::clone`], spelled out so readers
    /// see that no deep copy happens).
    pub fn clone_ref(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }

    /// Whether two handles point at the same value.
    pub fn ptr_eq(a: &Self, b: &Self) -> bool {
        Arc::ptr_eq(&a.inner, &b.inner)
    }
}

impl<T> Clone for SharedData<T> {
    fn clone(&self) -> Self {
        self.clone_ref()
    }
}

impl<T> Deref for SharedData<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T> From<T> for SharedData<T> {
    fn from(value: T) -> Self {
        Self::new(value)
    }
}

impl<T: fmt::Debug> fmt::Debug for SharedData<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SharedData").field(self.get()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_data_clone_ref_shares_the_value() {
        let a = SharedData::new(String::from("config"));
        let b = a.clone_ref();
        let c = a.clone();
        assert!(SharedData::ptr_eq(&a, &b));
        assert!(SharedData::ptr_eq(&a, &c));
        assert_eq!(b.get(), "config");
        assert_eq!(c.len(), 6);
    }
}
