//! # The groupq reference agent
//!
//! A stand-in for a real model-driven agent, for tests and demos: it speaks
//! the whole wire protocol of `groupq-protocol`, writes its own life to
//! `agent.log` with its own clock ([`log`]), and can be told to misbehave
//! by the text it is given ([`agent`]'s scripting words `#fail`, `#fatal`, `#ratelimit`, `#flaky`,
//! `#hang`). The driver's tests, the demo and the Docker image run it; the
//! tests and the demo judge the driver's promises on its log
//! ([`log::read_runs`], [`log::max_alive`]), never on the driver's view of
//! itself.
//!
//! An agent author needs none of this: the protocol is `groupq-protocol`,
//! which this crate depends on. The scripting words and the judge live
//! here so that no agent built on the protocol carries them.
//!
//! The binary `groupq-agent` is the Docker image's entry point
//! (`docker/build-image.sh`); it depends on nothing but the protocol and
//! serde, so the image builds without the driver's dependencies.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod agent;
pub mod log;
