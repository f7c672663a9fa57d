//! TIFF compression codes: which ones the `tiff` crate decodes, and names for the rest so an
//! operator reads "JPEG 2000" rather than "compression 34712".

/// Codes decoded: none, LZW, new JPEG, Adobe and old Deflate, PackBits, zstd.
pub(crate) fn is_supported(code: u16) -> bool {
    matches!(code, 1 | 5 | 7 | 8 | 32946 | 32773 | 50000)
}

pub(crate) fn name(code: u16) -> String {
    let known = match code {
        1 => "none",
        2 => "CCITT RLE",
        3 => "CCITT Group 3 fax",
        4 => "CCITT Group 4 fax",
        5 => "LZW",
        6 => "old-style JPEG",
        7 => "JPEG",
        8 | 32946 => "Deflate",
        32773 => "PackBits",
        33003 | 33005 => "Aperio JPEG 2000",
        34676 | 34677 => "SGI LogLuv",
        34712 => "JPEG 2000",
        34887..=34889 => "LERC",
        34892 => "lossy JPEG (DNG)",
        34925 => "LZMA",
        34926 | 50000 => "zstd",
        34927 | 50001 => "WebP",
        50002 | 52546 => "JPEG XL",
        50004 => "LZ4",
        _ => "",
    };
    if known.is_empty() {
        format!("unknown compression (code {code})")
    } else {
        format!("{known} (code {code})")
    }
}
