-- Catalog of every file version seen by every agent. Timestamps are TEXT in RFC 3339 UTC with a fixed
-- width (YYYY-MM-DDTHH:MM:SS.mmmZ) so that text order is time order on both backends.
CREATE TABLE agents (
    name TEXT PRIMARY KEY,
    host TEXT,
    queue BIGINT,
    last_seen TEXT NOT NULL
);
CREATE TABLE tokens (
    hash TEXT PRIMARY KEY,
    agent TEXT,
    viewer BIGINT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE files (
    id INTEGER PRIMARY KEY,
    agent TEXT NOT NULL,
    watch TEXT NOT NULL,
    path TEXT NOT NULL,
    version BIGINT NOT NULL,
    state TEXT NOT NULL,
    progress BIGINT NOT NULL,
    progress_at TEXT NOT NULL,
    fail_state TEXT,
    fail_at TEXT,
    error TEXT,
    sha256 TEXT,
    size BIGINT NOT NULL,
    found_at TEXT NOT NULL,
    acquired_at TEXT,
    sort_at TEXT NOT NULL,
    instrument TEXT,
    user_name TEXT,
    channels TEXT,
    dtype TEXT,
    axes TEXT,
    kept_reason TEXT,
    kept_at TEXT,
    purged_at TEXT,
    purge_mode TEXT,
    search TEXT NOT NULL,
    UNIQUE (agent, watch, path, version)
);
CREATE INDEX files_sort ON files (sort_at, id);
CREATE INDEX files_agent_sort ON files (agent, sort_at, id);
CREATE INDEX files_state_sort ON files (state, sort_at, id);
CREATE INDEX files_instrument_sort ON files (instrument, sort_at, id);
CREATE INDEX files_kept ON files (kept_at);
-- The bulky JSON documents (inspect, qc) live apart, so that the rows that lists and searches scan
-- stay small.
CREATE TABLE file_docs (
    file_id BIGINT PRIMARY KEY,
    inspect TEXT,
    qc TEXT
);
CREATE TABLE events (
    id TEXT PRIMARY KEY,
    agent TEXT NOT NULL,
    file_id BIGINT NOT NULL,
    kind TEXT NOT NULL,
    at TEXT NOT NULL,
    data TEXT NOT NULL,
    received_at TEXT NOT NULL
);
CREATE INDEX events_file ON events (file_id, at);
CREATE TABLE copies (
    file_id BIGINT NOT NULL,
    destination TEXT NOT NULL,
    verified_at TEXT,
    invalid_at TEXT,
    error TEXT,
    PRIMARY KEY (file_id, destination)
);
CREATE TABLE qc_channels (
    file_id BIGINT NOT NULL,
    channel BIGINT NOT NULL,
    name TEXT,
    instrument TEXT NOT NULL,
    at TEXT NOT NULL,
    snr DOUBLE PRECISION,
    saturation DOUBLE PRECISION,
    PRIMARY KEY (file_id, channel)
);
CREATE INDEX qc_trend ON qc_channels (instrument, name, at);
CREATE INDEX qc_at ON qc_channels (at);
CREATE INDEX qc_saturation ON qc_channels (saturation);
-- Maintained aggregates, so that the overview, /api/agents and /metrics never count a million rows.
CREATE TABLE state_counts (
    agent TEXT NOT NULL,
    state TEXT NOT NULL,
    files BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    PRIMARY KEY (agent, state)
);
CREATE TABLE hourly (
    hour TEXT NOT NULL,
    agent TEXT NOT NULL,
    found BIGINT NOT NULL,
    found_bytes BIGINT NOT NULL,
    verified BIGINT NOT NULL,
    verified_bytes BIGINT NOT NULL,
    PRIMARY KEY (hour, agent)
);
