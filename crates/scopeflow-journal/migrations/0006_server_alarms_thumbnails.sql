-- What the central server shows of QC (issue 15): each alarm becomes a `qc_alarm` event, written
-- by a trigger in the transaction that journals the alarm (sent once, like every event); the
-- conversion's thumbnail rides on the `processed` event.

CREATE TRIGGER alarms_event AFTER INSERT ON alarms
BEGIN
    INSERT INTO outbox (id, kind, payload, created_at)
    SELECT lower(hex(randomblob(16))), 'qc_alarm',
        json_object('file', json_object('watch', f.watch, 'path', f.rel, 'version', f.version,
                                        'sha256', f.sha256, 'size', f.size),
                    'data', json_object('channel', NEW.channel, 'channel_name', NEW.channel_name,
                                        'rule', NEW.rule, 'value', NEW.value,
                                        'threshold', NEW.threshold, 'instrument', NEW.instrument)),
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    FROM files f WHERE f.id = NEW.file_id;
END;

-- A thumbnail (PNG, base64) waits here from `mark_processed` until the `processed` event takes
-- it, in the same transaction: the outbox then holds the only copy (the files table stays small).
CREATE TABLE thumbnails (
    file_id    INTEGER PRIMARY KEY REFERENCES files(id),
    png_base64 TEXT NOT NULL
);

DROP TRIGGER files_event_state;

CREATE TRIGGER files_event_state AFTER UPDATE OF state, attempts ON files
WHEN NEW.state IN ('processed', 'verified', 'failed', 'quarantined', 'purged')
     AND (NEW.state <> OLD.state OR (NEW.state = 'failed' AND NEW.attempts <> OLD.attempts))
BEGIN
    INSERT INTO outbox (id, kind, payload, created_at) VALUES (
        lower(hex(randomblob(16))), NEW.state,
        json_object('file', json_object('watch', NEW.watch, 'path', NEW.rel, 'version', NEW.version,
                                        'sha256', NEW.sha256, 'size', NEW.size),
                    'data', CASE NEW.state
                        WHEN 'processed' THEN
                            CASE WHEN EXISTS (SELECT 1 FROM thumbnails t WHERE t.file_id = NEW.id)
                            THEN json_object('qc', json(NEW.qc), 'thumbnail',
                                             (SELECT t.png_base64 FROM thumbnails t WHERE t.file_id = NEW.id))
                            ELSE json_object('qc', json(NEW.qc)) END
                        WHEN 'failed' THEN json_object('error', COALESCE(NEW.error, ''), 'attempts', NEW.attempts)
                        WHEN 'quarantined' THEN json_object('error', COALESCE(NEW.error, ''))
                        ELSE json_object() END),
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    DELETE FROM thumbnails WHERE file_id = NEW.id AND NEW.state = 'processed';
END;
