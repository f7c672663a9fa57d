//! The acquisition-PC agent: watch folders, settle check, run pipelines exactly once, deliver verified copies.
