//! Workspace-level checks live in `tests/*.rs` of this package.
