//! Central pipeline server (in progress).
