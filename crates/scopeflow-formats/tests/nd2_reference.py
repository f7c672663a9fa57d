#!/usr/bin/env python3
"""What the `nd2` Python package (the independent reference) reads from an ND2 file.

  nd2_reference.py FILE OUTDIR

Writes OUTDIR/ref.json (sizes, dtype, channel names, voxel size, acquisition time in UTC,
position names) and OUTDIR/pixels.bin: every plane as raw little-endian bytes in
P, T, C, Z, Y, X, S order (axes the file lacks have length 1).
"""
import datetime
import json
import os
import sys

import nd2
import numpy as np


def main(path, out):
    with nd2.ND2File(path) as f:
        sizes = dict(f.sizes)
        arr = np.asarray(f.asarray())
        names = list(sizes)
        for ax in "PTCZYXS":
            if ax not in names:
                arr = arr[..., np.newaxis]
                names.append(ax)
        arr = np.ascontiguousarray(arr.transpose([names.index(a) for a in "PTCZYXS"]))
        arr.astype(arr.dtype.newbyteorder("<")).tofile(os.path.join(out, "pixels.bin"))
        meta = f.metadata
        channels = [c.channel.name for c in (meta.channels or [])] if meta else []
        calibrated = bool(meta and meta.channels and meta.channels[0].volume.axesCalibrated[0])
        vs = f.voxel_size()
        when = f._rdr._acquisition_datetime() if hasattr(f._rdr, "_acquisition_datetime") else None
        positions = []
        for loop in f.experiment:
            if loop.type == "XYPosLoop":
                positions = [p.name for p in loop.parameters.points]
        period_ms = None
        for loop in f.experiment:
            if loop.type == "TimeLoop" and loop.count > 1:
                period_ms = loop.parameters.periodMs or loop.parameters.periodDiff.avg or None
        z_step = None
        for loop in f.experiment:
            if loop.type == "ZStackLoop" and loop.count > 1:
                z_step = abs(loop.parameters.stepUm) or None
        ref = dict(
            sizes=sizes,
            shape=[int(n) for n in arr.shape],
            dtype=arr.dtype.name,
            channel_names=channels,
            components=f.attributes.componentCount,
            voxel_size=[vs.x, vs.y, vs.z],
            calibrated=calibrated,
            z_step=z_step,
            period_ms=period_ms,
            acquired_utc=when.astimezone(datetime.timezone.utc).isoformat() if when else None,
            positions=positions,
            compression=f.attributes.compressionType,
            width_bytes=f.attributes.widthBytes,
            objective_name=meta.channels[0].microscope.objectiveName if meta and meta.channels else None,
            objective_mag=meta.channels[0].microscope.objectiveMagnification if meta and meta.channels else None,
            objective_na=meta.channels[0].microscope.objectiveNumericalAperture if meta and meta.channels else None,
        )
    with open(os.path.join(out, "ref.json"), "w") as fh:
        json.dump(ref, fh)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
