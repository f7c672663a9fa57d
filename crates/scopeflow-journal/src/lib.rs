//! The agent's journal: one row per raw file version and per copy, in SQLite (WAL) through sqlx.
