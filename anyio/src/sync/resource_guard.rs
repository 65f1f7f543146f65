//! [`ResourceGuard`]: detects concurrent use of a resource that allows one user at a time.

// `ResourceGuard::new` is a `const fn`: std's atomic in both builds (loom's has no const `new`).
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::error::{Error, ErrorKind, Result};

/// Detects that two tasks use a resource at once, when the resource allows only one —
/// AnyIO's `ResourceGuard`.
///
/// A stream that must not be read by two tasks at the same time keeps a `ResourceGuard` and
/// [`enter`](Self::enter)s it for each read. A second task entering while the first is
/// inside gets an error of kind [`ErrorKind::BusyResource`] instead of interleaved data.
/// Unlike a [`Lock`](crate::Lock), nothing waits: concurrent use is a bug to report, not a
/// turn to take.
///
/// # Examples
///
/// ```
/// use anyio::{ErrorKind, ResourceGuard};
///
/// let guard = ResourceGuard::new("reading from");
/// let token = guard.enter()?;
/// let err = guard.enter().unwrap_err();
/// assert_eq!(err.kind(), ErrorKind::BusyResource);
/// assert_eq!(err.to_string(), "another task is already reading from this resource");
/// drop(token);
/// let _again = guard.enter()?; // free again
/// # Ok::<_, anyio::Error>(())
/// ```
pub struct ResourceGuard {
    action: &'static str,
    busy: AtomicBool,
}

impl ResourceGuard {
    /// A guard whose error message says what the other task is doing: `action` is a verb
    /// phrase such as `"reading from"` or `"writing to"` (AnyIO's default is `"using"`).
    pub const fn new(action: &'static str) -> ResourceGuard {
        ResourceGuard {
            action,
            busy: AtomicBool::new(false),
        }
    }

    /// The action named in the error message.
    pub fn action(&self) -> &'static str {
        self.action
    }

    /// Marks the resource as in use until the returned token is dropped.
    ///
    /// # Errors
    ///
    /// [`ErrorKind::BusyResource`] ("another task is already {action} this resource") when
    /// the resource is in use already.
    pub fn enter(&self) -> Result<ResourceGuardToken<'_>> {
        // Acquire: pairs with the Release store of the previous user's token, so this user
        // sees what the previous one did with the resource.
        if self.busy.swap(true, Ordering::Acquire) {
            return Err(Error::new(
                ErrorKind::BusyResource,
                format!("another task is already {} this resource", self.action),
            ));
        }
        Ok(ResourceGuardToken { guard: self })
    }

    /// Whether the resource is in use now.
    pub fn is_busy(&self) -> bool {
        // Acquire: pairs with the Release store when a token is dropped.
        self.busy.load(Ordering::Acquire)
    }
}

impl Default for ResourceGuard {
    /// A guard for the action `"using"`, as AnyIO's default.
    fn default() -> ResourceGuard {
        ResourceGuard::new("using")
    }
}

impl fmt::Debug for ResourceGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceGuard")
            .field("action", &self.action)
            .field("busy", &self.is_busy())
            .finish()
    }
}

/// The resource of a [`ResourceGuard`] is in use while this token lives.
#[must_use = "the resource is free again as soon as the token is dropped"]
pub struct ResourceGuardToken<'a> {
    guard: &'a ResourceGuard,
}

impl Drop for ResourceGuardToken<'_> {
    fn drop(&mut self) {
        // Release: publishes this user's writes to the next one (its Acquire swap).
        self.guard.busy.store(false, Ordering::Release);
    }
}

impl fmt::Debug for ResourceGuardToken<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResourceGuardToken")
            .field("action", &self.guard.action)
            .finish()
    }
}
