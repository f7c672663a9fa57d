//! What the retention robot reads from and writes to the journal (in progress).
