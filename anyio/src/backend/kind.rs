//! [`Backend`]: which event-loop implementation runs anyio, and which ones this build has.
//!
//! It lives at the bottom of the crate, with the backends themselves, so that everything
//! above (detection, the runner, the I/O layer) can name a backend without importing the
//! runner; [`crate::run`] re-exports it.

use std::fmt;
use std::str::FromStr;

use crate::error::{Error, ErrorKind, Result};

#[cfg(not(any(feature = "tokio", feature = "smol")))]
compile_error!("anyio needs a backend: enable the `tokio` feature, the `smol` feature, or both");

/// An event-loop implementation anyio can run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Backend {
    /// tokio: the default (cargo feature `tokio`), in asyncio's role.
    #[cfg(feature = "tokio")]
    Tokio,
    /// smol: async-io's reactor with async-executor (cargo feature `smol`), in trio's role.
    #[cfg(feature = "smol")]
    Smol,
}

const ALL_NAMES: &[&str] = &["tokio", "smol"];

impl Backend {
    /// The backend's name: `"tokio"` or `"smol"`.
    pub fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "tokio")]
            Backend::Tokio => "tokio",
            #[cfg(feature = "smol")]
            Backend::Smol => "smol",
        }
    }
}

/// The default backend: tokio when its feature is on, smol otherwise.
impl Default for Backend {
    fn default() -> Backend {
        available_backends()[0]
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = Error;

    /// Parses `"tokio"` or `"smol"` (ASCII case ignored).
    ///
    /// # Errors
    ///
    /// [`ErrorKind::BackendUnavailable`] for an unknown name or a backend whose cargo
    /// feature is off; the message names the available backends.
    fn from_str(s: &str) -> Result<Backend> {
        if let Some(b) = available_backends()
            .iter()
            .find(|b| b.name().eq_ignore_ascii_case(s))
        {
            return Ok(*b);
        }
        let available: Vec<&str> = available_backends().iter().map(|b| b.name()).collect();
        let why = if ALL_NAMES.iter().any(|n| n.eq_ignore_ascii_case(s)) {
            format!(
                "backend '{s}' is not enabled: enable the `{}` feature of `anyio`",
                s.to_ascii_lowercase()
            )
        } else {
            format!("unknown backend '{s}'")
        };
        Err(Error::new(
            ErrorKind::BackendUnavailable,
            format!("{why} (available: {})", available.join(", ")),
        ))
    }
}

/// The backends compiled into this build, the default first.
pub fn available_backends() -> &'static [Backend] {
    &[
        #[cfg(feature = "tokio")]
        Backend::Tokio,
        #[cfg(feature = "smol")]
        Backend::Smol,
    ]
}
