//! Workspace-level checks live in `tests/*.rs` of this package; the equations index's parser and
//! checks live here, so that `build.rs` and a test on a broken sample index share them.

pub mod index;
pub mod rows;
