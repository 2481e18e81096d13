//! Shared helpers live in the test files themselves; this crate has only integration tests.
