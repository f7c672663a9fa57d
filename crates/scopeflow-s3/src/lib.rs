//! S3-compatible destination (in progress).
