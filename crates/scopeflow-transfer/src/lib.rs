//! Destination trait and back-ends (local/NAS for now): atomic, checksummed, verified copies and the destination manifest.
