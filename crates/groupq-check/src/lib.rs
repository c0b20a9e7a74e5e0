//! Test tooling for [`groupq`], kept out of the core's build: the invariant
//! [`Checker`], the [`Checked`] machine that drives like a `Machine` with
//! every step checked, and the replayable [`trace`] format with [`replay`].
//!
//! Adapter authors use it in their tests and to audit recordings:
//! run a recorded stream of inputs through [`replay`], or drive their loop
//! with a [`Checked`] machine instead of a plain one (both implement
//! [`groupq::Steppable`]).

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod checked;
pub mod checker;
mod replay;
pub mod trace;

pub use checked::{CheckError, Checked};
pub use checker::{Checker, Property, Violation};
pub use replay::{replay, ReplayError};
