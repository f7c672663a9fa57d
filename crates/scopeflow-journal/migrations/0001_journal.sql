-- The agent's journal. Timestamps are RFC 3339 UTC with milliseconds ("2026-08-01T12:00:00.000Z"):
-- one fixed width and format, so comparing them as text orders them in time.
-- STRICT: a wrongly typed bind is an error here rather than a silently coerced value.

-- One row per version of a raw file. A file replaced with different content after it was
-- processed gets a new row (version + 1): its outputs and copies belong to the old content.
CREATE TABLE files (
    id              INTEGER PRIMARY KEY,
    watch           TEXT    NOT NULL,   -- the watched folder, as configured
    rel             TEXT    NOT NULL,   -- path relative to it, '/'-separated
    version         INTEGER NOT NULL CHECK (version >= 1),
    size            INTEGER NOT NULL CHECK (size >= 0),
    mtime_ns        INTEGER NOT NULL,
    sha256          TEXT,               -- of the raw file, once processed
    state           TEXT    NOT NULL CHECK (state IN ('discovered', 'stable', 'processed', 'transferred',
                                                      'verified', 'purged', 'failed', 'quarantined')),
    failed_from     TEXT,               -- the state a `failed`/`quarantined` row was in when it failed
    error           TEXT,               -- the last failure's (or deferral's) reason
    attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt_at TEXT,               -- not to be worked on before this
    discovered_at   TEXT    NOT NULL,
    stable_at       TEXT,
    processed_at    TEXT,
    transferred_at  TEXT,
    verified_at     TEXT,
    purged_at       TEXT,
    updated_at      TEXT    NOT NULL,
    UNIQUE (watch, rel, version)
) STRICT;

CREATE INDEX files_by_state ON files (state, next_attempt_at);

-- One row per (file version, destination).
CREATE TABLE copies (
    file_id        INTEGER NOT NULL REFERENCES files (id),
    destination    TEXT    NOT NULL,
    state          TEXT    NOT NULL CHECK (state IN ('pending', 'transferred', 'verified', 'invalid')),
    sha256         TEXT,               -- of the raw file as written / read back at the destination
    transferred_at TEXT,
    verified_at    TEXT,
    error          TEXT,
    updated_at     TEXT    NOT NULL,
    PRIMARY KEY (file_id, destination)
) STRICT;

-- Events for the central server, sent later and at least once (the server dedups by id).
CREATE TABLE outbox (
    seq        INTEGER PRIMARY KEY,     -- send order
    id         TEXT    NOT NULL UNIQUE,
    kind       TEXT    NOT NULL,
    payload    TEXT    NOT NULL CHECK (json_valid(payload)),
    created_at TEXT    NOT NULL,
    sent_at    TEXT
) STRICT;

CREATE INDEX outbox_unsent ON outbox (seq) WHERE sent_at IS NULL;
