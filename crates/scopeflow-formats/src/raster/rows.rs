//! A source for images whose decoder only goes forward, one row after the other (PNG's
//! inflate stream, libjpeg's scanlines): bands cost one row of memory, a plane read top to
//! bottom decodes the file once, and a band above the last one restarts the decoder.

use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use scopeflow_core::ImageMeta;

use super::{check_band, check_plane};
use crate::{FormatError, ImageSource, PlaneReader};

/// A decoder positioned at some row of the image.
pub(super) trait RowDecoder: Sized {
    /// Rows the underlying library decodes at once (a band of this many costs one call).
    const NATURAL_ROWS: usize;

    /// A decoder at the first row.
    fn start(path: &Path) -> Result<Self, FormatError>;

    /// Decodes the next row into `dst` (exactly one row of little-endian samples).
    fn next_row(&mut self, path: &Path, dst: &mut [u8]) -> Result<(), FormatError>;

    /// Called once the last row is decoded: reads to the end of the stream, so a file cut
    /// after its pixels is still reported.
    fn finish(self, path: &Path) -> Result<(), FormatError>;
}

pub(super) struct SequentialSource<D> {
    path: PathBuf,
    meta: ImageMeta,
    decoder: PhantomData<fn() -> D>,
}

impl<D> SequentialSource<D> {
    pub(super) fn new(path: &Path, meta: ImageMeta) -> Self {
        Self {
            path: path.to_path_buf(),
            meta,
            decoder: PhantomData,
        }
    }
}

impl<D: RowDecoder> ImageSource for SequentialSource<D> {
    fn meta(&self) -> &ImageMeta {
        &self.meta
    }

    fn path(&self) -> &Path {
        &self.path
    }

    fn natural_rows(&self) -> usize {
        D::NATURAL_ROWS
    }

    fn plane_reader(&self, plane: &[usize]) -> Result<Box<dyn PlaneReader + '_>, FormatError> {
        check_plane(&self.path, plane)?;
        Ok(Box::new(SequentialRows::<D> {
            src: self,
            dec: None,
            next_row: 0,
        }))
    }
}

struct SequentialRows<'a, D> {
    src: &'a SequentialSource<D>,
    /// Started on the first read, restarted when a band starts above `next_row`.
    dec: Option<D>,
    next_row: usize,
}

impl<D: RowDecoder> PlaneReader for SequentialRows<'_, D> {
    fn read_rows(&mut self, y0: usize, y1: usize, out: &mut [u8]) -> Result<(), FormatError> {
        let path = &self.src.path;
        let row = check_band(path, &self.src.meta, y0, y1, out)?;
        if self.dec.is_none() || y0 < self.next_row {
            self.dec = Some(D::start(path)?);
            self.next_row = 0;
        }
        let Some(dec) = self.dec.as_mut() else {
            return Err(FormatError::corrupt(path, "decoder lost"));
        };
        if y0 > self.next_row {
            let mut skip = vec![0u8; row];
            while self.next_row < y0 {
                dec.next_row(path, &mut skip)?;
                self.next_row += 1;
            }
        }
        while self.next_row < y1 {
            dec.next_row(path, &mut out[(self.next_row - y0) * row..][..row])?;
            self.next_row += 1;
        }
        if self.next_row == self.src.meta.height()
            && let Some(done) = self.dec.take()
        {
            done.finish(path)?;
        }
        Ok(())
    }
}
