"""Writes an Imaris 5.5 .ims file holding the pixels of a CZYX OME-TIFF, for
benches/formats_convert.sh: gzip level 1, chunks padded the way Imaris pads them.
  python make_ims.py SOURCE.ome.tif OUT.ims Z,Y,X-CHUNK
"""
import os
import sys
import h5py
import numpy as np
import tifffile

src, dst, chunk = sys.argv[1], sys.argv[2], tuple(int(v) for v in sys.argv[3].split(","))
s = lambda v: np.frombuffer(str(v).encode(), dtype="S1")  # Imaris: arrays of 1-byte strings
with tifffile.TiffFile(src) as tif:
    series = tif.series[0]
    assert series.axes == "CZYX", series.axes
    C, Z, Y, X = series.shape
    padded = [-(-n // k) * k for n, k in zip((Z, Y, X), chunk)]
    with h5py.File(dst + ".part", "w") as f:
        for k, v in dict(ImarisDataSet="ImarisDataSet", ImarisVersion="5.5.0", DataSetDirectoryName="DataSet",
                         DataSetInfoDirectoryName="DataSetInfo").items():
            f.attrs[k] = s(v)
        im = f.create_group("DataSetInfo/Image")
        for k, v in dict(X=X, Y=Y, Z=Z, Unit="um", Noc=C, ExtMin0=0, ExtMin1=0, ExtMin2=0,
                         ExtMax0=X * 0.1, ExtMax1=Y * 0.1, ExtMax2=Z * 0.5).items():
            im.attrs[k] = s(v)
        for c in range(C):
            g = f.create_group(f"DataSet/ResolutionLevel 0/TimePoint 0/Channel {c}")
            for k, v in dict(ImageSizeX=X, ImageSizeY=Y, ImageSizeZ=Z).items():
                g.attrs[k] = s(v)
            d = g.create_dataset("Data", shape=padded, dtype=series.dtype, chunks=chunk,
                                 compression="gzip", compression_opts=1, fillvalue=0)
            for z0 in range(0, Z, chunk[0]):  # one slab of chunks at a time
                z1 = min(z0 + chunk[0], Z)
                d[z0:z1, :Y, :X] = np.stack([series.pages[c * Z + z].asarray() for z in range(z0, z1)])
    os.replace(dst + ".part", dst)
