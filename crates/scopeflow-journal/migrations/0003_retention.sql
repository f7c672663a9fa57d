-- The retention robot's audit table, its purge intents and its trash.

-- Every decision of a `retention run` (a file kept again for the same reason as last time is
-- recorded once, the first time). `destinations` is the JSON list of the copies checked, with
-- their verification evidence (time, sha256) or the error; the same record goes, as one JSON
-- line, to `retention-audit.jsonl` beside the journal.
CREATE TABLE retention_audit (
    id           INTEGER PRIMARY KEY,
    at           TEXT    NOT NULL,   -- the run's clock (`--now`)
    run_id       TEXT    NOT NULL,
    host         TEXT    NOT NULL,
    file_id      INTEGER REFERENCES files (id),
    watch        TEXT    NOT NULL,
    rel          TEXT    NOT NULL,
    version      INTEGER NOT NULL,
    sha256       TEXT,
    size         INTEGER NOT NULL,
    age_s        INTEGER,            -- seconds since ingest (discovered_at)
    decision     TEXT    NOT NULL CHECK (decision IN ('purged', 'trashed', 'kept', 'expired', 'recovered')),
    code         TEXT    NOT NULL,   -- machine-readable reason (too_young, not_verified, …)
    reason       TEXT    NOT NULL,   -- the sentence shown to people
    destinations TEXT    NOT NULL CHECK (json_valid(destinations))
) STRICT;

CREATE INDEX retention_audit_by_file ON retention_audit (file_id, id);

-- Written (and fsync'd) before a raw file is deleted or moved to the trash, removed in the
-- transaction that marks it purged. An intent left by a killed run tells the next run what
-- happened: source gone (and, in trash mode, target present) = the purge was done, only the
-- journal update is missing; source still there = nothing was done, decide again.
CREATE TABLE retention_intents (
    file_id    INTEGER PRIMARY KEY REFERENCES files (id),
    mode       TEXT    NOT NULL CHECK (mode IN ('delete', 'trash')),
    source     TEXT    NOT NULL,     -- the local raw file
    target     TEXT,                 -- trash mode: where it is moved
    created_at TEXT    NOT NULL
) STRICT;

-- Raw files moved to the trash, so later runs delete them after `trash_keep` (a rename keeps
-- the mtime, so the trash itself cannot tell when a file arrived). Files an operator puts in
-- the trash folder are not listed here and never touched.
CREATE TABLE retention_trash (
    file_id    INTEGER PRIMARY KEY REFERENCES files (id),
    path       TEXT    NOT NULL,
    trashed_at TEXT    NOT NULL,     -- the run's clock
    deleted_at TEXT
) STRICT;

CREATE INDEX retention_trash_due ON retention_trash (trashed_at) WHERE deleted_at IS NULL;

-- A kept file tells the central server why, in the transaction that records the decision
-- (same payload shape as 0002's triggers).
CREATE TRIGGER retention_event_kept AFTER INSERT ON retention_audit
WHEN NEW.decision = 'kept'
BEGIN
    INSERT INTO outbox (id, kind, payload, created_at) VALUES (
        lower(hex(randomblob(16))), 'kept',
        json_object('file', json_object('watch', NEW.watch, 'path', NEW.rel, 'version', NEW.version,
                                        'sha256', NEW.sha256, 'size', NEW.size),
                    'data', json_object('reason', NEW.reason)),
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;
