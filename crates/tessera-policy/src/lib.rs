//! # tessera-policy
//!
//! The RAM policy language (work in progress).

#![allow(dead_code)]

mod condition;
mod context;
mod error;
mod glob;
mod json;
mod scalar;

pub use error::PolicyError;
