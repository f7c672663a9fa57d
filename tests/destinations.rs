//! The agent delivering to a local folder, an SFTP server and an S3 store at once (in progress).
