//! Where every source pixel goes: output axes in t,c,z,y,x order, the level sizes, and the
//! chunk/shard grid of each level.

use scopeflow_core::{Axis, ImageMeta};

use crate::options::{ConvertOptions, Levels};

/// Where one output lead axis (t, c or z) takes its index from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum LeadSource {
    /// Position in the source's `plane_axes()`.
    Plane(usize),
    /// The interleaved sample (RGB → c).
    Sample,
}

#[derive(Clone, Debug)]
pub(crate) struct Level {
    pub height: usize,
    pub width: usize,
    /// Rows and columns of one stored zarr chunk (the shard, when sharding).
    pub block: (usize, usize),
    /// Inner chunk when sharding.
    pub inner: Option<(usize, usize)>,
}

impl Level {
    pub fn blocks_across(&self) -> usize {
        self.width.div_ceil(self.block.1)
    }
}

#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// Output axes, NGFF order.
    pub axes: Vec<Axis>,
    /// For each output axis but y, x.
    pub lead: Vec<(LeadSource, usize)>,
    pub levels: Vec<Level>,
}

impl Plan {
    pub fn new(meta: &ImageMeta, opts: &ConvertOptions) -> Result<Plan, String> {
        if meta.axes.contains(&Axis::C) && meta.axes.contains(&Axis::S) {
            return Err(
                "images with both a C axis and interleaved samples are not supported".into(),
            );
        }
        let plane_axes = meta.plane_axes();
        let mut lead: Vec<(Axis, LeadSource, usize)> = plane_axes
            .iter()
            .enumerate()
            .map(|(i, &a)| (a, LeadSource::Plane(i), meta.axis_len(a).unwrap_or(1)))
            .collect();
        if meta.samples() > 1 {
            lead.push((Axis::C, LeadSource::Sample, meta.samples()));
        }
        lead.sort_by_key(|(a, _, _)| a.ngff_rank());
        if lead
            .windows(2)
            .any(|w| w[0].0.ngff_rank() == w[1].0.ngff_rank())
        {
            return Err(format!("duplicate axes in {:?}", meta.axes));
        }
        let mut axes: Vec<Axis> = lead.iter().map(|(a, _, _)| *a).collect();
        axes.extend([Axis::Y, Axis::X]);

        let chunk = opts.chunk_yx;
        let (mut h, mut w) = (meta.height(), meta.width());
        let mut levels = Vec::new();
        loop {
            let c = (chunk.min(h), chunk.min(w));
            let (block, inner) = match opts.shard_yx {
                Some(s) => {
                    let b = (
                        s.min(h.next_multiple_of(c.0)),
                        s.min(w.next_multiple_of(c.1)),
                    );
                    (b, Some(c))
                }
                None => (c, None),
            };
            levels.push(Level {
                height: h,
                width: w,
                block,
                inner,
            });
            let more = match opts.levels {
                Levels::Auto => h > chunk || w > chunk,
                Levels::Count(n) => levels.len() < n && (h > 1 || w > 1),
            };
            if !more {
                break;
            }
            h = h.div_ceil(2);
            w = w.div_ceil(2);
        }
        Ok(Plan {
            axes,
            lead: lead.into_iter().map(|(_, s, n)| (s, n)).collect(),
            levels,
        })
    }

    /// Full array shape of level `k`.
    pub fn shape(&self, k: usize) -> Vec<u64> {
        let l = &self.levels[k];
        self.lead
            .iter()
            .map(|&(_, n)| n as u64)
            .chain([l.height as u64, l.width as u64])
            .collect()
    }

    /// Array shape of every level.
    pub fn level_shapes(&self) -> Vec<Vec<u64>> {
        (0..self.levels.len()).map(|k| self.shape(k)).collect()
    }

    /// The output axes as one string of NGFF names (`czyx`).
    pub fn axes_name(&self) -> String {
        self.axes.iter().map(|a| a.ngff_name()).collect()
    }

    /// Output lead indices of source plane `plane` and sample `s`.
    pub fn lead_index(&self, plane: &[usize], s: usize) -> Vec<u64> {
        self.lead
            .iter()
            .map(|&(src, _)| match src {
                LeadSource::Plane(i) => plane[i] as u64,
                LeadSource::Sample => s as u64,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use scopeflow_core::DType;

    fn meta(axes: &[Axis], shape: &[usize]) -> ImageMeta {
        ImageMeta {
            format: "tiff".into(),
            axes: axes.to_vec(),
            shape: shape.to_vec(),
            dtype: DType::U16,
            physical_sizes: None,
            physical_unit: None,
            time_increment: None,
            time_unit: None,
            channel_names: None,
            acquired_at: None,
            instrument: None,
            metadata: Default::default(),
            ome_xml: None,
            series: vec![],
        }
    }

    #[test]
    fn axes_reorder_to_tczyx_and_levels_stop_at_one_chunk() {
        let m = meta(
            &[Axis::T, Axis::Z, Axis::C, Axis::Y, Axis::X],
            &[3, 8, 2, 2048, 1000],
        );
        let p = Plan::new(&m, &ConvertOptions::default()).unwrap();
        assert_eq!(p.axes, vec![Axis::T, Axis::C, Axis::Z, Axis::Y, Axis::X]);
        assert_eq!(p.shape(0), vec![3, 2, 8, 2048, 1000]);
        let sizes: Vec<_> = p.levels.iter().map(|l| (l.height, l.width)).collect();
        assert_eq!(sizes, vec![(2048, 1000), (1024, 500), (512, 250)]);
        assert_eq!(p.lead_index(&[1, 5, 0], 0), vec![1, 0, 5]);
    }

    #[test]
    fn rgb_samples_become_channels_and_odd_sizes_ceil() {
        let m = meta(&[Axis::Y, Axis::X, Axis::S], &[731, 805, 3]);
        let opts = ConvertOptions {
            chunk_yx: 256,
            ..Default::default()
        };
        let p = Plan::new(&m, &opts).unwrap();
        assert_eq!(p.axes, vec![Axis::C, Axis::Y, Axis::X]);
        let sizes: Vec<_> = p.levels.iter().map(|l| (l.height, l.width)).collect();
        assert_eq!(sizes, vec![(731, 805), (366, 403), (183, 202)]);
        assert_eq!(p.levels[2].block, (183, 202));
    }

    #[test]
    fn shards_are_multiples_of_chunks_clipped_to_the_level() {
        let m = meta(&[Axis::Y, Axis::X], &[2048, 2048]);
        let opts = ConvertOptions {
            chunk_yx: 256,
            shard_yx: Some(1024),
            levels: Levels::Count(4),
            ..Default::default()
        };
        let p = Plan::new(&m, &opts).unwrap();
        assert_eq!(p.levels[0].block, (1024, 1024));
        assert_eq!(p.levels[2].block, (512, 512));
        assert_eq!(p.levels[3].inner, Some((256, 256)));
        assert_eq!(p.levels[3].block, (256, 256));
    }
}
