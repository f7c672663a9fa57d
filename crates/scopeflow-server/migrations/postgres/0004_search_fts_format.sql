-- SQLite gets an FTS5 trigram index for text search in this migration; PostgreSQL has had its
-- pg_trgm GIN index since migration 2 (where pg_trgm is installed: Debian's postgresql package
-- ships it in contrib).
-- The format the agent's reader detected (tiff, ome-tiff, czi, imaris…), from the `processed`
-- event's inspect document; NULL for files processed before agents sent it.
ALTER TABLE files ADD COLUMN format TEXT;
UPDATE files SET format = (SELECT d.inspect::jsonb ->> 'format' FROM file_docs d WHERE d.file_id = files.id)
    WHERE format IS NULL;
