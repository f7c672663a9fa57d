//! What of a band no subblock covers. A mosaic's bounding box can hold gaps (tiles of
//! different sizes, a stage path that skips a field), which must read as zero; zero-filling the
//! whole band before drawing the tiles wrote every covered byte twice (1 GiB of `memset` for a
//! 1 GiB CZI), so only the gaps are zeroed.

use super::layout::Tile;

/// Zeroes the parts of rows `y0..y1` (in `out`, rows of `width` pixels of `bpp` bytes) that
/// none of `tiles` covers.
pub(super) fn zero_uncovered<'t>(
    out: &mut [u8],
    (y0, y1): (usize, usize),
    (width, bpp): (usize, usize),
    tiles: impl Iterator<Item = &'t Tile> + Clone,
) {
    let row = width * bpp;
    // Between two consecutive tile edges, every row is covered by the same tiles.
    let mut edges = vec![y0, y1];
    for t in tiles.clone() {
        edges.extend(
            [t.y, t.y + t.height]
                .into_iter()
                .filter(|&e| y0 < e && e < y1),
        );
    }
    edges.sort_unstable();
    edges.dedup();
    let mut spans = Vec::new();
    for seg in edges.windows(2) {
        let (ya, yb) = (seg[0], seg[1]);
        spans.clear();
        spans.extend(
            tiles
                .clone()
                .filter(|t| t.y <= ya && yb <= t.y + t.height)
                .map(|t| (t.x.min(width), (t.x + t.width).min(width))),
        );
        spans.sort_unstable();
        let mut x = 0;
        for &(a, b) in spans.iter().chain([&(width, width)]) {
            if a > x {
                for y in ya..yb {
                    let base = (y - y0) * row;
                    out[base + x * bpp..base + a * bpp].fill(0);
                }
            }
            x = x.max(b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tile(x: usize, y: usize, width: usize, height: usize) -> Tile {
        Tile {
            x,
            y,
            width,
            height,
            t: 0,
            c: 0,
            z: 0,
            m: 0,
            compression: 0,
            file_position: 0,
            order: 0,
        }
    }

    /// Every pixel of a 10×8 band, after zeroing, against coverage tested pixel by pixel.
    fn check(tiles: &[Tile], y0: usize, y1: usize) {
        let (width, bpp) = (10, 2);
        let mut out = vec![0xAB; (y1 - y0) * width * bpp];
        zero_uncovered(&mut out, (y0, y1), (width, bpp), tiles.iter());
        for y in y0..y1 {
            for x in 0..width {
                let covered = tiles.iter().any(|t| {
                    (t.x..t.x + t.width).contains(&x) && (t.y..t.y + t.height).contains(&y)
                });
                let at = ((y - y0) * width + x) * bpp;
                let want = if covered { [0xAB; 2] } else { [0; 2] };
                assert_eq!(out[at..at + bpp], want, "pixel ({x}, {y}) of {tiles:?}");
            }
        }
    }

    #[test]
    fn only_what_no_tile_covers_is_zeroed() {
        check(&[], 0, 8);
        check(&[tile(0, 0, 10, 8)], 0, 8);
        // 2×2 mosaic with overlap, seen through a band that cuts the lower row of tiles.
        check(
            &[
                tile(0, 0, 6, 5),
                tile(4, 0, 6, 5),
                tile(0, 4, 6, 5),
                tile(4, 4, 6, 5),
            ],
            2,
            7,
        );
        // Tiles of different sizes leave a hole, a right margin and a bottom strip.
        check(
            &[tile(0, 0, 3, 8), tile(5, 1, 3, 3), tile(3, 0, 2, 2)],
            0,
            8,
        );
        check(&[tile(2, 3, 4, 2)], 1, 6);
    }
}
