-- The QC document (kilobytes of JSON) moves out of `files` into a table of its own. Kept inline,
-- it made each `files` row about one page: walking 100,000 files for `status` read 365 MB, most
-- of it QC text that `status` never shows. `files` rows are now a few hundred bytes.
CREATE TABLE qc_documents (
    file_id INTEGER PRIMARY KEY REFERENCES files (id),
    doc     TEXT    NOT NULL CHECK (json_valid(doc))
) STRICT;

INSERT INTO qc_documents (file_id, doc) SELECT id, qc FROM files WHERE qc IS NOT NULL;

-- The `processed` event takes the document from its new place (written before the state
-- changes, in the same transaction).
DROP TRIGGER files_event_state;

ALTER TABLE files DROP COLUMN qc;

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
                            THEN json_object('qc', json((SELECT q.doc FROM qc_documents q WHERE q.file_id = NEW.id)),
                                             'thumbnail',
                                             (SELECT t.png_base64 FROM thumbnails t WHERE t.file_id = NEW.id))
                            ELSE json_object('qc', json((SELECT q.doc FROM qc_documents q WHERE q.file_id = NEW.id))) END
                        WHEN 'failed' THEN json_object('error', COALESCE(NEW.error, ''), 'attempts', NEW.attempts)
                        WHEN 'quarantined' THEN json_object('error', COALESCE(NEW.error, ''))
                        ELSE json_object() END),
        strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    DELETE FROM thumbnails WHERE file_id = NEW.id AND NEW.state = 'processed';
END;

-- `status` lists files in (watch, rel, version) order with these columns: from this index
-- alone, without a lookup in `files` per file (100,000 random row reads were a fifth of a
-- full listing's time). Paid for with a few hundred bytes per file and an index update per
-- state change, small beside the journal's fsync.
CREATE INDEX files_listing ON files (watch, rel, version, id, size, mtime_ns, sha256, state,
    failed_from, error, attempts, next_attempt_at, discovered_at, stable_at, processed_at,
    transferred_at, verified_at, purged_at, updated_at, format);
