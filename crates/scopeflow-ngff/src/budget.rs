//! The memory a conversion pass will need, checked before anything is allocated.

use scopeflow_formats::{FormatError, ImageSource};

use crate::plan::Plan;

/// Most memory one plane's band buffers may take. A file's header decides them (a band of
/// rows of its width, and the pyramid's band buffers); past this it is refused up front with
/// exit 1, rather than allocated: a claim under the machine's memory but over what is free
/// would otherwise be killed by the OOM killer instead of failing that one file.
/// 8 GiB keeps a 1,000,000-pixel-wide 16-bit plane (2 GiB of buffers) well inside.
const MAX_BAND_BYTES: u128 = 8 << 30;

/// Refuses a pass whose buffers would exceed [`MAX_BAND_BYTES`], naming the file and why.
/// `row`: bytes of one full row of the source; `plan`: the pyramid, when converting.
pub(crate) fn check(
    src: &dyn ImageSource,
    plan: Option<&Plan>,
    band: usize,
    row: usize,
) -> Result<(), FormatError> {
    let meta = src.meta();
    let rows = band.min(meta.height()) as u128;
    let samples = meta.samples() as u128;
    let size = meta.dtype.size() as u128;
    let mut total = rows * row as u128 * if samples > 1 { 2 } else { 1 };
    if let Some(plan) = plan {
        for l in &plan.levels[1..] {
            total += l.block.0 as u128 * l.width as u128 * size * samples;
        }
    }
    if total > MAX_BAND_BYTES {
        return Err(FormatError::unsupported(
            src.path(),
            format!(
                "{} x {} pixels of {} sample(s) of {} bytes: one band of rows needs {:.1} GiB of memory, over the {} GiB limit (corrupt dimensions?)",
                meta.width(),
                meta.height(),
                samples,
                size,
                total as f64 / f64::from(1u32 << 30),
                MAX_BAND_BYTES >> 30
            ),
        ));
    }
    Ok(())
}
