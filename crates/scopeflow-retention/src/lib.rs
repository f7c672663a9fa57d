//! Retention robot (in progress).
