//! End-to-end tests of `scopeflow retention` (in progress).
