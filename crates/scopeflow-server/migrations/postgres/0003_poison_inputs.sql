-- Issue 20 (poison inputs). Event ids become per agent: one agent can no longer post an id that
-- swallows another agent's event.
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ADD PRIMARY KEY (agent, id);
-- Sizes the server now refuses (negative or above 1 PiB = 2^50) become 0, the catalog's "size
-- unknown".
UPDATE files SET size = 0 WHERE size < 0 OR size > 1125899906842624;
-- The per-state totals are by definition a count over `files`: rebuilt (SUM of BIGINT is
-- NUMERIC and never overflows; the result is capped at i64::MAX).
DELETE FROM state_counts;
INSERT INTO state_counts (agent, state, files, bytes)
    SELECT agent, state, COUNT(*), LEAST(COALESCE(SUM(size), 0), 9223372036854775807)::BIGINT
    FROM files GROUP BY agent, state;
-- Hourly throughput cannot be rebuilt exactly; a byte count that is negative or larger than its
-- file count times 1 PiB can only come from a poisoned size, and becomes 0.
UPDATE hourly SET found_bytes = 0
    WHERE found_bytes < 0 OR found_bytes / 1125899906842624 > found;
UPDATE hourly SET verified_bytes = 0
    WHERE verified_bytes < 0 OR verified_bytes / 1125899906842624 > verified;
