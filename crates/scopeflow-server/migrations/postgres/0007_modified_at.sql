-- The raw file's modification time from the QC document (`modified_at`): the dashboard shows it,
-- marked as such, when the file's metadata has no acquisition time, and files sort by it then.
ALTER TABLE files ADD COLUMN modified_at TEXT;
