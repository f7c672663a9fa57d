//! Pipeline files (YAML): the model, its validation with line and column, duration parsing.
