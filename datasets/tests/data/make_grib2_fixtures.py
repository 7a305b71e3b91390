#!/usr/bin/env python3
"""Make the small GRIB fixtures and their ecCodes reference for meshflow-datasets' GRIB tests.

Run (needs the `eccodes` and `numpy` wheels; `pip install eccodes numpy`, the eccodes wheel
bundles libeccodes):

    python3 make_grib2_fixtures.py /path/to/shared/data/era5/era5-levels-members.grib

Made with python eccodes 2.50.0 (libeccodes 2.50.0) and numpy 2.4. Writes, next to this script:

- era5-grib2.grib2: messages 0 (z) and 10 (t) of the cfgrib ERA5 sample, converted to GRIB2
  by ecCodes (simple packing, 16 bits, values unchanged: checked here bit for bit against the
  GRIB1 decode), then message 11 (t) with a bitmap (some points missing),
  decimalScaleFactor 2, 13 bits per value and binaryScaleFactor patched to -1 (see below),
  and message 0 again at 7 bits per value (packed
  integers not byte-aligned).
- gaussian.grib1 / gaussian.grib2: a regular Gaussian N32 grid (128 x 64) from the ecCodes
  samples, filled with a synthetic smooth field (not Copernicus data).
- scanning.grib1 / scanning.grib2: a tiny 5 x 4 regular lat-lon grid in every scanning mode
  (GRIB1: the 8 combinations of iScansNegatively, jScansPositively, jPointsAreConsecutive;
  GRIB2: those 8 with and without alternativeRowScanning), values 0..19 in storage order,
  plus one GRIB2 constant field (bitsPerValue 0) with decimalScaleFactor 2.
- unsupported.grib2: the tiny grid with CCSDS (5.42), JPEG 2000 (5.40), complex packing (5.2),
  complex packing with spatial differencing (5.3); unsupported.grib1: second-order packing.
- grib-reference.npz: for every simple-packed message of the files above (key prefix
  `<stem>_<index>_`, stem `era5-grib2`, `gaussian_g1`, `gaussian`, `scanning_g1`, `scanning`),
  the ecCodes `values` (float64, storage order, NaN where missing): all of them for the small
  grids, every STRIDE-th (`values_strided`, STRIDE = 11) for the large ones, plus `missing`
  (bool, every point) where a bitmap is present; per-point `latitudes` / `longitudes` for the
  small grids; `distinctLatitudes` / `distinctLongitudes` for all.
- grib-reference.json: per message the ecCodes keys the tests compare (shortName, level,
  dataDate, number, packing parameters, byte offset, ...).
"""
import json
import os
import sys

import eccodes as ec
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
MISSING = 9999.0
STRIDE = 11


def era5_messages(path):
    out = []
    with open(path, "rb") as f:
        while True:
            h = ec.codes_grib_new_from_file(f)
            if h is None:
                break
            out.append(h)
    return out


def to_grib2(h):
    g = ec.codes_clone(h)
    ec.codes_set(g, "edition", 2)
    return g


def set_values_with_missing(g, values, missing_mask):
    ec.codes_set(g, "bitmapPresent", 1)
    ec.codes_set(g, "missingValue", MISSING)
    v = np.array(values, dtype=np.float64)
    v[missing_mask] = MISSING
    ec.codes_set_values(g, v)


def patch_grib2_binary_scale(msg, e):
    """Sets octets 16-17 of GRIB2 section 5 (binaryScaleFactor, sign and magnitude) to e."""
    b = bytearray(msg)
    pos = 16
    while b[pos:pos + 4] != b"7777":
        length = int.from_bytes(b[pos:pos + 4], "big")
        if b[pos + 4] == 5:
            raw = abs(e) | (0x8000 if e < 0 else 0)
            b[pos + 15:pos + 17] = raw.to_bytes(2, "big")
        pos += length
    return bytes(b)


def tiny_grid(sample, i_neg, j_pos, j_cons, alt=None):
    g = ec.codes_grib_new_from_samples(sample)
    ec.codes_set(g, "Ni", 5)
    ec.codes_set(g, "Nj", 4)
    ec.codes_set(g, "iScansNegatively", i_neg)
    ec.codes_set(g, "jScansPositively", j_pos)
    ec.codes_set(g, "jPointsAreConsecutive", j_cons)
    if alt is not None:
        ec.codes_set(g, "alternativeRowScanning", alt)
    lon0, lon1 = (20.0, 0.0) if i_neg else (0.0, 20.0)
    lat0, lat1 = (10.0, 40.0) if j_pos else (40.0, 10.0)
    ec.codes_set(g, "latitudeOfFirstGridPointInDegrees", lat0)
    ec.codes_set(g, "longitudeOfFirstGridPointInDegrees", lon0)
    ec.codes_set(g, "latitudeOfLastGridPointInDegrees", lat1)
    ec.codes_set(g, "longitudeOfLastGridPointInDegrees", lon1)
    ec.codes_set(g, "iDirectionIncrementInDegrees", 5.0)
    ec.codes_set(g, "jDirectionIncrementInDegrees", 10.0)
    ec.codes_set(g, "bitsPerValue", 8)
    ec.codes_set_values(g, np.arange(20, dtype=np.float64))
    return g


def gaussian(sample):
    g = ec.codes_grib_new_from_samples(sample)
    lats = ec.codes_get_array(g, "latitudes")
    lons = ec.codes_get_array(g, "longitudes")
    v = 250.0 + 40.0 * np.cos(np.radians(lats)) + 5.0 * np.sin(np.radians(2.0 * lons))
    ec.codes_set(g, "bitsPerValue", 12)
    ec.codes_set_values(g, v)
    return g


def write(name, handles):
    path = os.path.join(HERE, name)
    with open(path, "wb") as f:
        for g in handles:
            ec.codes_write(g, f)
    return path


KEYS_LONG = [
    "editionNumber", "totalLength", "dataDate", "dataTime", "level", "bitsPerValue",
    "binaryScaleFactor", "decimalScaleFactor", "Ni", "Nj", "numberOfValues",
    "numberOfMissing", "iScansNegatively", "jScansPositively", "jPointsAreConsecutive",
]
KEYS_STR = ["shortName", "typeOfLevel", "gridType", "packingType"]
KEYS_OPT = ["number", "alternativeRowScanning", "N", "dataRepresentationTemplateNumber"]


def reference(name, arrays, meta, small):
    path = os.path.join(HERE, name)
    stem = os.path.splitext(name)[0] + ("_g1" if name.endswith("grib1") else "")
    entries = []
    with open(path, "rb") as f:
        i = 0
        while True:
            offset = f.tell()
            h = ec.codes_grib_new_from_file(f)
            if h is None:
                break
            # ecCodes reports the message start via the `offset` key.
            offset = int(ec.codes_get(h, "offset"))
            m = {"index": i, "offset": offset}
            for k in KEYS_LONG:
                m[k] = int(ec.codes_get_long(h, k))
            for k in KEYS_STR:
                m[k] = ec.codes_get_string(h, k)
            for k in KEYS_OPT:
                try:
                    m[k] = int(ec.codes_get_long(h, k))
                except ec.KeyValueNotFoundError:
                    m[k] = None
            m["referenceValue"] = float(ec.codes_get_double(h, "referenceValue"))
            prefix = f"{stem}_{i}_"
            if m["packingType"] in ("grid_simple",):
                vals = ec.codes_get_values(h).astype(np.float64)
                if ec.codes_get_long(h, "bitmapPresent"):
                    vals[vals == ec.codes_get_double(h, "missingValue")] = np.nan
                arrays[prefix + "values"] = vals
                arrays[prefix + "distinctLatitudes"] = ec.codes_get_array(h, "distinctLatitudes")
                arrays[prefix + "distinctLongitudes"] = ec.codes_get_array(h, "distinctLongitudes")
                if ec.codes_get_long(h, "bitmapPresent"):
                    arrays[prefix + "missing"] = np.isnan(vals)
                if not small:
                    arrays[prefix + "values_strided"] = vals[::STRIDE]
                    del arrays[prefix + "values"]
                if small:
                    arrays[prefix + "latitudes"] = ec.codes_get_array(h, "latitudes")
                    arrays[prefix + "longitudes"] = ec.codes_get_array(h, "longitudes")
            entries.append(m)
            ec.codes_release(h)
            i += 1
    meta[name] = entries


def main():
    src = sys.argv[1]
    msgs = era5_messages(src)

    # ERA5 messages converted to GRIB2.
    m0, m10 = to_grib2(msgs[0]), to_grib2(msgs[10])
    for g1, g2 in ((msgs[0], m0), (msgs[10], m10)):
        a, b = ec.codes_get_values(g1), ec.codes_get_values(g2)
        assert a.dtype == b.dtype == np.float64 and (a.view(np.int64) == b.view(np.int64)).all()
    bm = to_grib2(msgs[11])
    vals = ec.codes_get_values(bm)
    lats = ec.codes_get_array(bm, "latitudes")
    lons = ec.codes_get_array(bm, "longitudes")
    missing = ((lats > 60) & (lons < 90)) | (np.arange(vals.size) % 97 == 5)
    set_values_with_missing(bm, vals, missing)
    # decimalScaleFactor 2 (ecCodes then packs 13 bits with binaryScaleFactor 0) ...
    ec.codes_set(bm, "changeDecimalPrecision", 2)
    # ... and binaryScaleFactor patched to -1 in the bytes (ecCodes has the key read-only), so
    # that value = (R + X * 2^E) / 10^D is exercised with both E and D non-zero. The patched
    # message is as valid as any; the reference is ecCodes' decode of the patched bytes.
    bm = ec.codes_new_from_message(patch_grib2_binary_scale(ec.codes_get_message(bm), -1))
    low = to_grib2(msgs[0])
    v0 = ec.codes_get_values(low)
    ec.codes_set(low, "bitsPerValue", 7)
    ec.codes_set_values(low, v0)
    write("era5-grib2.grib2", [m0, m10, bm, low])

    write("gaussian.grib1", [gaussian("regular_gg_sfc_grib1")])
    write("gaussian.grib2", [gaussian("regular_gg_sfc_grib2")])

    combos = [(a, b, c) for a in (0, 1) for b in (0, 1) for c in (0, 1)]
    write("scanning.grib1", [tiny_grid("regular_ll_sfc_grib1", *c) for c in combos])
    g2 = [tiny_grid("regular_ll_sfc_grib2", *c, alt=alt) for alt in (0, 1) for c in combos]
    const = tiny_grid("regular_ll_sfc_grib2", 0, 0, 0)
    ec.codes_set(const, "decimalScaleFactor", 2)
    ec.codes_set_values(const, np.full(20, 273.15))
    write("scanning.grib2", g2 + [const])

    unsup = []
    for p in ("grid_ccsds", "grid_jpeg", "grid_complex", "grid_complex_spatial_differencing"):
        g = tiny_grid("regular_ll_sfc_grib2", 0, 0, 0)
        ec.codes_set(g, "packingType", p)
        ec.codes_set_values(g, np.arange(20, dtype=np.float64) * 1.5)
        unsup.append(g)
    write("unsupported.grib2", unsup)
    g = tiny_grid("regular_ll_sfc_grib1", 0, 0, 0)
    ec.codes_set(g, "packingType", "grid_second_order")
    ec.codes_set_values(g, np.sin(np.arange(20, dtype=np.float64)) * 7.0)
    write("unsupported.grib1", [g])

    arrays, meta = {}, {}
    reference("era5-grib2.grib2", arrays, meta, small=False)
    reference("gaussian.grib1", arrays, meta, small=False)
    reference("gaussian.grib2", arrays, meta, small=False)
    reference("scanning.grib1", arrays, meta, small=True)
    reference("scanning.grib2", arrays, meta, small=True)
    reference("unsupported.grib2", arrays, meta, small=True)
    reference("unsupported.grib1", arrays, meta, small=True)
    np.savez_compressed(os.path.join(HERE, "grib-reference.npz"), **arrays)
    meta["_made_with"] = {
        "eccodes_python": ec.__version__,
        "libeccodes": ec.codes_get_api_version(),
        "numpy": np.__version__,
    }
    with open(os.path.join(HERE, "grib-reference.json"), "w") as f:
        # One message per line: small, and diffs stay readable.
        f.write("{\n")
        items = sorted(meta.items())
        for n, (k, v) in enumerate(items):
            f.write(json.dumps(k) + ": ")
            if isinstance(v, list):
                f.write("[\n" + ",\n".join("  " + json.dumps(e, sort_keys=True) for e in v) + "\n]")
            else:
                f.write(json.dumps(v, sort_keys=True))
            f.write(",\n" if n + 1 < len(items) else "\n")
        f.write("}\n")


if __name__ == "__main__":
    main()
