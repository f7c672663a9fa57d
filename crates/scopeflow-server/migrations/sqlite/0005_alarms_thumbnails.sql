-- Issue 15: the agents' QC alarms (one per file version, channel and rule: the agent journals
-- each once, and a resent event changes nothing) and the conversions' thumbnails.
CREATE TABLE qc_alarms (
    id INTEGER PRIMARY KEY,
    agent TEXT NOT NULL,
    file_id BIGINT NOT NULL,
    channel BIGINT NOT NULL,
    channel_name TEXT,
    rule TEXT NOT NULL,
    value DOUBLE PRECISION,
    threshold DOUBLE PRECISION NOT NULL,
    instrument TEXT NOT NULL,
    at TEXT NOT NULL,
    UNIQUE (file_id, channel, rule)
);
CREATE INDEX qc_alarms_at ON qc_alarms (at, id);
CREATE INDEX qc_alarms_instrument ON qc_alarms (instrument, at);
-- PNG as base64 text (as it arrives): one column type both backends read through sqlx's Any.
CREATE TABLE thumbnails (
    file_id BIGINT PRIMARY KEY,
    png TEXT NOT NULL
);
