-- Text search on SQLite through an FTS5 trigram index (issue 14): `q=` words of 3 characters or
-- more are answered from the index instead of scanning every row (1.4 s at a million files).
-- External content: the index holds only trigrams, the text stays in `files.search`. Triggers
-- keep it in step inside the ingest's transaction; an update rewrites the entry only when the
-- search text changed (most events do not change it).
CREATE VIRTUAL TABLE files_fts USING fts5(search, content='files', content_rowid='id', tokenize='trigram');
INSERT INTO files_fts (files_fts) VALUES ('rebuild');

CREATE TRIGGER files_fts_insert AFTER INSERT ON files
BEGIN
    INSERT INTO files_fts (rowid, search) VALUES (NEW.id, NEW.search);
END;

CREATE TRIGGER files_fts_delete AFTER DELETE ON files
BEGIN
    INSERT INTO files_fts (files_fts, rowid, search) VALUES ('delete', OLD.id, OLD.search);
END;

CREATE TRIGGER files_fts_update AFTER UPDATE OF search ON files
WHEN NEW.search IS NOT OLD.search
BEGIN
    INSERT INTO files_fts (files_fts, rowid, search) VALUES ('delete', OLD.id, OLD.search);
    INSERT INTO files_fts (rowid, search) VALUES (NEW.id, NEW.search);
END;

-- The format the agent's reader detected (tiff, ome-tiff, czi, imaris…), from the `processed`
-- event's inspect document; NULL for files processed before agents sent it.
ALTER TABLE files ADD COLUMN format TEXT;
UPDATE files SET format = (SELECT json_extract(d.inspect, '$.format') FROM file_docs d WHERE d.file_id = files.id)
    WHERE format IS NULL;
