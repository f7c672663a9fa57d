use serde::{Deserialize, Serialize};

/// QC figures of one channel, as `scopeflow qc --json` prints them.
///
/// Definitions (saturation, Otsu split, SNR) are those of `shared/tools/make_samples.py`;
/// `None` where the definition gives no value (one class empty, zero background spread).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChannelQc {
    pub index: usize,
    pub name: Option<String>,
    pub snr: Option<f64>,
    pub saturation_fraction: Option<f64>,
    pub otsu_threshold: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub mean: Option<f64>,
    pub mean_signal: Option<f64>,
    pub mean_background: Option<f64>,
    pub std_background: Option<f64>,
    pub n_signal: Option<u64>,
    pub n_background: Option<u64>,
    /// Focus score: population variance of the 4-neighbour Laplacian over the interior pixels
    /// of every full-resolution plane, divided by `mean`²; `None` for planes under 3×3 or a
    /// zero mean. Absent from documents written before it existed.
    #[serde(default)]
    pub focus: Option<f64>,
    /// Pixels in 64 equal bins over `[min, max]` (as `numpy.histogram(x, bins=64,
    /// range=(min, max))`), for people to see the distribution; `None` without a finite
    /// pixel. Absent from documents written before it existed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub histogram: Option<Vec<u64>>,
    /// Number of pixels in the channel.
    pub count: u64,
}

/// The `qc --json` document of the CLI contract: `{"channels": [...]}`.
pub fn qc_document(channels: &[ChannelQc]) -> serde_json::Value {
    serde_json::json!({ "channels": channels })
}
