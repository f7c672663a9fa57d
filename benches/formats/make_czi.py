"""Writes a CZI holding the pixels of a CZYX OME-TIFF, for benches/formats_convert.sh.

zstd1 with HiLoByteUnpack (ZEN's default zstd flavour), each plane as a 2x2 mosaic of
1024x1024 tiles at a negative stage offset, so the benchmark exercises decompression and tile
composition, not just a copy.   python make_czi.py SOURCE.ome.tif OUT.czi
"""
import os
import sys
import numpy as np
import tifffile
from pylibCZIrw import czi as pyczi

src, dst = sys.argv[1], sys.argv[2]
out = dst + ".part"
with tifffile.TiffFile(src) as tf, pyczi.create_czi(
        out, exist_ok=True, compression_options="zstd1:ExplicitLevel=1;PreProcess=HiLoByteUnpack") as w:
    s = tf.series[0]
    lead = [a for a in s.axes if a in "TCZ"]
    lead_shape = s.shape[: len(lead)]
    for i, page in enumerate(s.pages):
        plane = {a: int(v) for a, v in zip(lead, np.unravel_index(i, lead_shape))}
        img = page.asarray()
        ny, nx = img.shape
        for y in range(0, ny, 1024):
            for x in range(0, nx, 1024):
                w.write(np.ascontiguousarray(img[y:y + 1024, x:x + 1024]), plane=plane,
                        location=(x - 20000, y - 15000))
    w.write_metadata(document_name="czi benchmark", scale_x=1e-7, scale_y=1e-7, scale_z=5e-7)
os.replace(out, dst)
