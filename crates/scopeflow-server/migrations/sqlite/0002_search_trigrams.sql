-- PostgreSQL gets a trigram index for text search here. SQLite has no equivalent that keeps
-- `LIKE '%word%'` semantics without a second copy of every row's search text (FTS5 trigram),
-- which would cost ingest speed at the edge of its target: searches scan on SQLite.
SELECT 1;
