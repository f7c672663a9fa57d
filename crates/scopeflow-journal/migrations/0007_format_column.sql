-- `status` shows each file's format (tiff, czi, imaris…). It was read out of the QC document
-- with json_extract for every row listed: at 100,000 files that parsed 360 MB of JSON, most of
-- `status`'s time. The format now has its own column, written with the QC document.
ALTER TABLE files ADD COLUMN format TEXT;
UPDATE files SET format = json_extract(qc, '$.inspect.format') WHERE qc IS NOT NULL;
