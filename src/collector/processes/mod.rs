//! Per-process metrics (SPEC section 3).
pub mod classify;
pub mod parse;
