-- Copies remember where the raw copy is, so the retention robot can verify it without knowing
-- the layout rules; files keep their QC document, which the `processed` event carries.
ALTER TABLE copies ADD COLUMN path TEXT;   -- destination-relative path of the raw copy
ALTER TABLE files ADD COLUMN qc TEXT;      -- the QC document sent to destinations (JSON)

-- Events for the central server are written by triggers, inside the transaction that changes
-- the state they report: a crash can never commit one without the other. Payload shape:
-- {"file": {"watch", "path", "version", "sha256", "size"}, "data": {…}}, kind as in
-- scopeflow-core's `EventBody`. Ids are 128 random bits in hex, unique across agents.

CREATE TRIGGER files_event_found AFTER INSERT ON files
BEGIN
    INSERT INTO outbox (id, kind, payload, created_at) VALUES (
        lower(hex(randomblob(16))), 'found',
        json_object('file', json_object('watch', NEW.watch, 'path', NEW.rel, 'version', NEW.version,
                                        'sha256', NEW.sha256, 'size', NEW.size),
                    'data', json_object()),
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TRIGGER files_event_state AFTER UPDATE OF state, attempts ON files
WHEN NEW.state IN ('processed', 'verified', 'failed', 'quarantined', 'purged')
     AND (NEW.state <> OLD.state OR (NEW.state = 'failed' AND NEW.attempts <> OLD.attempts))
BEGIN
    INSERT INTO outbox (id, kind, payload, created_at) VALUES (
        lower(hex(randomblob(16))), NEW.state,
        json_object('file', json_object('watch', NEW.watch, 'path', NEW.rel, 'version', NEW.version,
                                        'sha256', NEW.sha256, 'size', NEW.size),
                    'data', CASE NEW.state
                        WHEN 'processed' THEN json_object('qc', json(NEW.qc))
                        WHEN 'failed' THEN json_object('error', COALESCE(NEW.error, ''), 'attempts', NEW.attempts)
                        WHEN 'quarantined' THEN json_object('error', COALESCE(NEW.error, ''))
                        ELSE json_object() END),
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
END;

CREATE TRIGGER copies_event_inserted AFTER INSERT ON copies
WHEN NEW.state IN ('verified', 'invalid')
BEGIN
    INSERT INTO outbox (id, kind, payload, created_at)
    SELECT lower(hex(randomblob(16))), 'copy_' || NEW.state,
        json_object('file', json_object('watch', f.watch, 'path', f.rel, 'version', f.version,
                                        'sha256', f.sha256, 'size', f.size),
                    'data', CASE NEW.state
                        WHEN 'verified' THEN json_object('destination', NEW.destination, 'verified_at', NEW.verified_at)
                        ELSE json_object('destination', NEW.destination, 'error', NEW.error) END),
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    FROM files f WHERE f.id = NEW.file_id;
END;

CREATE TRIGGER copies_event_updated AFTER UPDATE OF state, verified_at ON copies
WHEN NEW.state IN ('verified', 'invalid')
     AND (NEW.state <> OLD.state OR NEW.verified_at IS NOT OLD.verified_at)
BEGIN
    INSERT INTO outbox (id, kind, payload, created_at)
    SELECT lower(hex(randomblob(16))), 'copy_' || NEW.state,
        json_object('file', json_object('watch', f.watch, 'path', f.rel, 'version', f.version,
                                        'sha256', f.sha256, 'size', f.size),
                    'data', CASE NEW.state
                        WHEN 'verified' THEN json_object('destination', NEW.destination, 'verified_at', NEW.verified_at)
                        ELSE json_object('destination', NEW.destination, 'error', NEW.error) END),
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    FROM files f WHERE f.id = NEW.file_id;
END;

-- A copy found bad must be sent again: its file leaves `verified`/`transferred` for
-- `processed`, where the agent picks it up, in the transaction that records the bad copy (a
-- crash in between would otherwise leave a file that nobody re-sends). Purged files stay purged.
CREATE TRIGGER copies_invalid_reopens_inserted AFTER INSERT ON copies
WHEN NEW.state = 'invalid'
BEGIN
    UPDATE files SET state = 'processed', transferred_at = NULL, verified_at = NULL,
                     updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = NEW.file_id AND state IN ('verified', 'transferred');
END;

CREATE TRIGGER copies_invalid_reopens_updated AFTER UPDATE OF state ON copies
WHEN NEW.state = 'invalid' AND OLD.state <> 'invalid'
BEGIN
    UPDATE files SET state = 'processed', transferred_at = NULL, verified_at = NULL,
                     updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
    WHERE id = NEW.file_id AND state IN ('verified', 'transferred');
END;
