-- QC alarms: one row per file version, channel and rule broken, and one delivery row per way of
-- notifying (webhook, e-mail, desktop), so each is sent once even across a crash or restart.
CREATE TABLE alarms (
    id           INTEGER PRIMARY KEY,
    file_id      INTEGER NOT NULL REFERENCES files(id),
    channel      INTEGER NOT NULL,            -- 0-based channel index, as in qc --json
    channel_name TEXT,
    rule         TEXT NOT NULL,               -- saturation_max | snr_min | focus_min
    value        REAL,                        -- the figure; NULL when the QC gives none
    threshold    REAL NOT NULL,
    instrument   TEXT NOT NULL,               -- from the file's metadata, else the pipeline name
    created_at   TEXT NOT NULL,
    UNIQUE (file_id, channel, rule)
);

CREATE TABLE alarm_deliveries (
    alarm_id   INTEGER NOT NULL REFERENCES alarms(id),
    notifier   TEXT NOT NULL,                 -- "INDEX:KIND", INDEX in the pipeline's qc.notify
    state      TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent')),
    attempts   INTEGER NOT NULL DEFAULT 0,
    error      TEXT,
    next_at    TEXT NOT NULL,
    sent_at    TEXT,
    PRIMARY KEY (alarm_id, notifier)
);

CREATE INDEX alarm_deliveries_due ON alarm_deliveries (state, next_at);
