//! Reader placeholder (see issue 12).

use std::path::Path;

use crate::{FormatError, ImageSource};

/// Placeholder until the reader lands: refuses the file with the format's name.
pub(crate) fn open(path: &Path, _series: usize) -> Result<Box<dyn ImageSource>, FormatError> {
    Err(crate::unsupported_format(path, crate::detect(path)?))
}
