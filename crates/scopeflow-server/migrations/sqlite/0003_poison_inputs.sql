-- Issue 20 (poison inputs). Event ids become per agent: one agent can no longer post an id that
-- swallows another agent's event. SQLite cannot change a primary key in place: the table is
-- copied.
CREATE TABLE events_per_agent (
    id TEXT NOT NULL,
    agent TEXT NOT NULL,
    file_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    data TEXT NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (agent, id)
);
INSERT INTO events_per_agent (id, agent, file_id, kind, at, data, received_at)
    SELECT id, agent, file_id, kind, at, data, received_at FROM events;
DROP TABLE events;
ALTER TABLE events_per_agent RENAME TO events;
CREATE INDEX events_file ON events (file_id, at);
-- Sizes the server now refuses (negative, above 1 PiB = 2^50, or not an integer) become 0, the
-- catalog's "size unknown".
UPDATE files SET size = 0
    WHERE typeof(size) <> 'integer' OR size < 0 OR size > 1125899906842624;
-- The per-state totals are by definition a count over `files`: rebuilt (TOTAL never overflows;
-- the result is capped at i64::MAX).
DELETE FROM state_counts;
INSERT INTO state_counts (agent, state, files, bytes)
    SELECT agent, state, COUNT(*), CAST(MIN(TOTAL(size), 9223372036854775807.0) AS INTEGER)
    FROM files GROUP BY agent, state;
-- Hourly throughput cannot be rebuilt exactly; a byte count that is not an integer (SQLite turned
-- an overflowing sum into a float), negative, or larger than its file count times 1 PiB can only
-- come from a poisoned size, and becomes 0.
UPDATE hourly SET found_bytes = 0
    WHERE typeof(found_bytes) <> 'integer' OR found_bytes < 0
       OR found_bytes / 1125899906842624 > found;
UPDATE hourly SET verified_bytes = 0
    WHERE typeof(verified_bytes) <> 'integer' OR verified_bytes < 0
       OR verified_bytes / 1125899906842624 > verified;
