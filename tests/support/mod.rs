//! Shared by the proof tests: input generation, the harness that resolves
//! generated steps against the runs it has seen, and the reference model.

#![allow(dead_code)]

pub mod gen;
pub mod model;
