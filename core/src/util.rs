//! Small helpers shared by the components: panic containment and cheap randomness.

#![allow(
    dead_code,
    reason = "shared by the components; not every build uses every helper"
)]

use std::any::Any;
use std::cell::Cell;
use std::hash::{BuildHasher, RandomState};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Runs a user callback, turning a panic into `Err(message)`.
///
/// Used wherever the library calls code it does not own (cleanups, loaders, connection
/// managers, hooks) so a panic there is counted and reported instead of unwinding through the
/// library's own state. Callers must make sure no lock is held and no invariant is half-updated
/// while `f` runs; that is what makes the `AssertUnwindSafe` sound in practice.
pub(crate) fn catch_panic<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|payload| panic_message(&*payload))
}

/// The message of a panic payload, if it was a string.
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_owned()
    }
}

thread_local! {
    static RNG: Cell<u64> = Cell::new(seed());
}

fn seed() -> u64 {
    // RandomState is seeded per process and per thread from the OS.
    RandomState::new().hash_one(std::thread::current().id()) | 1
}

/// A fast non-cryptographic random number (xorshift64*), per thread.
///
/// For jitter and sampling only; never for anything security-sensitive.
pub(crate) fn random_u64() -> u64 {
    RNG.with(|state| {
        let mut x = state.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        state.set(x);
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catch_panic_returns_value_or_message() {
        assert_eq!(catch_panic(|| 7), Ok(7));
        assert_eq!(
            catch_panic(|| -> u8 { panic!("static message") }),
            Err("static message".into())
        );
        let n = 3;
        assert_eq!(
            catch_panic(|| -> u8 { panic!("formatted {n}") }),
            Err("formatted 3".into())
        );
        assert_eq!(
            catch_panic(|| -> u8 { std::panic::panic_any(42u32) }),
            Err("non-string panic payload".into())
        );
    }

    #[test]
    fn random_numbers_vary() {
        let a: Vec<u64> = (0..64).map(|_| random_u64()).collect();
        let distinct: std::collections::HashSet<_> = a.iter().collect();
        assert_eq!(distinct.len(), 64);
    }
}
