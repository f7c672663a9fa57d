//! SFTP destination (in progress).
