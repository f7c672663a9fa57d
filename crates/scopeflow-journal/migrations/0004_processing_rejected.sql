-- Files being processed right now, written (and synced) before conversion starts and removed
-- when it ends, whatever the outcome. A row found at start-up means the process died while
-- processing that file (an abort, an out-of-memory kill, a power cut): it counts as a failed
-- attempt, so a file that kills the agent is quarantined instead of crash-looping it.
CREATE TABLE processing (
    file_id    INTEGER PRIMARY KEY REFERENCES files (id),
    started_at TEXT    NOT NULL,
    pid        INTEGER NOT NULL
) STRICT;

-- Events the central server refused for good (HTTP 400, 413, 422: the batch itself is wrong,
-- not the server's state): kept with the server's reason, shown by `status`, never resent, so
-- one poison event cannot hold back the events after it.
ALTER TABLE outbox ADD COLUMN rejected TEXT;
