"""Makes the small NetCDF-4/HDF5 fixtures used by datasets/tests/netcdf4_fixtures.rs.

Run from this folder:  python3 make_netcdf4_fixtures.py
Made with netCDF4-python 1.7.5.1 (bundled netCDF-C/HDF5), h5py 3.16.0, numpy 2.4.
Every value is a formula of its indices, so the Rust tests check them without a
reference file: f(k, i, j) = 250 + k + 0.5*i + 0.25*j (exact in float32).
"""
import h5py
import netCDF4
import numpy as np

K, I, J = 5, 7, 9
k, i, j = np.meshgrid(np.arange(K), np.arange(I), np.arange(J), indexing="ij")
F = (250 + k + 0.5 * i + 0.25 * j).astype("f4")

# 1. What netCDF-C writes for a CDS-style download: chunked, deflate + shuffle +
#    fletcher32, unlimited time, packed int16 with _FillValue, big-endian variable,
#    string attributes, noleap time.
with netCDF4.Dataset("nc4_filters.nc", "w", format="NETCDF4") as ds:
    ds.createDimension("time", None)
    ds.createDimension("lat", I)
    ds.createDimension("lon", J)
    ds.setncattr_string("title", "meshflow fixture")  # NC_STRING (variable-length) attribute
    ds.Conventions = "CF-1.8"
    t = ds.createVariable("time", "f8", ("time",))
    t.units = "days since 2000-01-01 00:00:00"
    t.calendar = "noleap"
    t[:] = np.arange(K) * 365.0 + 59.0  # 1 March each year
    la = ds.createVariable("lat", "f4", ("lat",))
    la.units = "degrees_north"
    la[:] = np.linspace(-30, 30, I)
    lo = ds.createVariable("lon", "f4", ("lon",))
    lo.units = "degrees_east"
    lo[:] = np.arange(J) * 40.0
    v = ds.createVariable("t2m", "f4", ("time", "lat", "lon"), zlib=True, complevel=4,
                          shuffle=True, fletcher32=True, chunksizes=(2, 4, 5))
    v.units = "K"
    v.setncattr_string("long_name", "2 metre temperature")
    v[:] = F
    p = ds.createVariable("packed", "i2", ("time", "lat", "lon"), zlib=True,
                          fill_value=np.int16(-32767), chunksizes=(1, I, J))
    p.set_auto_maskandscale(False)
    p.scale_factor = np.float64(-0.01)
    p.add_offset = np.float64(280.0)
    raw = np.round((F - 280.0) / -0.01).astype("i2")
    raw[0, 0, 0] = -32767  # one missing value
    p[:] = raw
    b = ds.createVariable("big", ">f8", ("lat",), endian="big")
    b[:] = np.arange(I) * 1.5

# 2. HDF5 newest format (superblock v3, object header v2, layout v4 chunk indexes), no
#    netCDF metadata, written by h5py.
with h5py.File("h5_latest.h5", "w", libver="latest") as f:
    f.create_dataset("fixed_array", data=F, chunks=(2, 4, 5))                   # fixed array
    f.create_dataset("ext_array", data=F, chunks=(2, 4, 5), maxshape=(None, I, J))  # extensible array
    f.create_dataset("btree2", data=F, chunks=(2, 4, 5), maxshape=(None, None, J))  # v2 B-tree
    f.create_dataset("single", data=F, chunks=(K, I, J), compression="gzip")   # single chunk
    f.create_dataset("contiguous", data=F)
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_layout(h5py.h5d.COMPACT)
    sid = h5py.h5s.create_simple((6,))
    did = h5py.h5d.create(f.id, b"compact", h5py.h5t.STD_I32LE, sid, dcpl=dcpl)
    did.write(h5py.h5s.ALL, h5py.h5s.ALL, np.arange(6, dtype="<i4"))
    f.create_dataset("lzf", data=F, chunks=(1, I, J), compression="lzf")       # unsupported filter
    f.create_dataset("compound", data=np.zeros(3, dtype=[("a", "<i4"), ("b", "<f8")]))
    f["fixed_array"].attrs["units"] = "K"

# 3. HDF5 oldest format (superblock v0, object header v1, symbol-table groups, v1 B-tree).
with h5py.File("h5_earliest.h5", "w", libver="earliest") as f:
    f.create_dataset("chunked", data=F, chunks=(1, 4, 5), compression="gzip", shuffle=True)
    f.create_dataset("big_endian", data=F.astype(">f4"))
    f["chunked"].attrs["units"] = "K"
