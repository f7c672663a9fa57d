-- What a file's QC document says about it beyond pixels and QC (issue 16): the dataset metadata
-- of the pipeline and its sidecar files (project, licence, contact, eln_url…) and the naming
-- step's verdict. The DataCite and Dublin Core exports read them. `at` is the `processed`
-- event's time: a late, older event never replaces a newer document.
CREATE TABLE file_metadata (
    file_id BIGINT PRIMARY KEY,
    at TEXT NOT NULL,
    metadata TEXT,
    naming TEXT
);
