"""The Python pipeline a user would write to get OME-Zarr from a CZI or an Imaris file:
the vendor-format reader (pylibCZIrw, h5py) wrapped in a lazy dask array, one plane per task,
written by ngff-zarr with the settings of ../shared/tools/peer_convert.py (NGFF 0.5, 512x512
chunks, zstd level 1, 4 levels, 2x2 mean) so it compares with `scopeflow convert` and with the
TIFF peers of bench_peers.sh.  Used by benches/formats_convert.sh.

  python python_peer.py SHARED_TOOLS_DIR INPUT.czi|INPUT.ims OUT.ome.zarr
"""
import sys

import dask
import dask.array as da
import numpy as np


def czi_source(path):
    from pylibCZIrw import czi as pyczi

    with pyczi.open_czi(path) as doc:
        box = doc.total_bounding_box
        rect = doc.total_bounding_rectangle
        dtype = doc.get_channel_pixel_type(0)
    n_c = box.get("C", (0, 1))[1] - box.get("C", (0, 1))[0]
    n_z = box.get("Z", (0, 1))[1] - box.get("Z", (0, 1))[0]
    dtype = {"Gray8": np.uint8, "Gray16": np.uint16, "Gray32Float": np.float32}[dtype]
    roi = (rect.x, rect.y, rect.w, rect.h)

    def plane(c, z):
        with pyczi.open_czi(path) as doc:
            return doc.read(plane={"C": c, "Z": z, "T": 0}, roi=roi)[..., 0]

    planes = [[da.from_delayed(dask.delayed(plane)(c, z), (rect.h, rect.w), dtype) for z in range(n_z)]
              for c in range(n_c)]
    return da.stack([da.stack(p) for p in planes]), {"x": 0.1, "y": 0.1, "z": 0.5}


def ims_source(path):
    import h5py

    f = h5py.File(path, "r")
    info = f["DataSetInfo/Image"].attrs
    text = lambda k: b"".join(info[k]).decode()  # Imaris: arrays of 1-byte strings
    x, y, z, n_c = (int(text(k)) for k in ("X", "Y", "Z", "Noc"))
    scale = {"x": float(text("ExtMax0")) / x, "y": float(text("ExtMax1")) / y, "z": float(text("ExtMax2")) / z}
    chans = [f[f"DataSet/ResolutionLevel 0/TimePoint 0/Channel {c}/Data"] for c in range(n_c)]
    arr = da.stack([da.from_array(d, chunks=(1, d.shape[1], d.shape[2]))[:z, :y, :x] for d in chans])
    return arr, scale


def main():
    tools, src, out = sys.argv[1:4]
    sys.path.insert(0, tools)
    import ngff_zarr as nz
    from peer_convert import LEVELS, ZSTD_LEVEL, zarr_chunks
    from zarr.codecs import ZstdCodec

    arr, scale = czi_source(src) if src.lower().endswith(".czi") else ims_source(src)
    dims = ["c", "z", "y", "x"]
    img = nz.to_ngff_image(arr, dims=dims, scale=scale, name="image",
                           axes_units={d: "micrometer" for d in "zyx"})
    factors = [{"z": 1, "y": 2**i, "x": 2**i} for i in range(1, LEVELS)]
    chunks = dict(zip(dims, zarr_chunks(arr.shape)))
    ms = nz.to_multiscales(img, scale_factors=factors, method=nz.Methods.DASK_BIN_SHRINK, chunks=chunks)
    nz.to_ngff_zarr(out, ms, version="0.5", compressors=[ZstdCodec(level=ZSTD_LEVEL)])


if __name__ == "__main__":
    main()
