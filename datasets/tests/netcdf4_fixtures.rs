//! NetCDF-4/HDF5 features on small fixtures made by `tests/data/netcdf4/make_netcdf4_fixtures.py`
//! (netCDF-C via netCDF4-python, and h5py): filters (deflate, shuffle, fletcher32), every
//! chunk index of layout v3/v4, superblocks v0/v2/v3, big-endian data, string attributes,
//! and the errors for features meshflow does not read.
//!
//! Every value is `250 + k + 0.5 i + 0.25 j` at index `[k, i, j]` of a `[5, 7, 9]` array.

use meshflow_datasets::cf::{Calendar, CfDateTime};
use meshflow_datasets::netcdf::{AttrValue, CfData, NcFile, NcFormat, NcType};
use meshflow_datasets::DatasetError;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/netcdf4")
        .join(name)
}

fn expected() -> Vec<f32> {
    let mut v = Vec::new();
    for k in 0..5 {
        for i in 0..7 {
            for j in 0..9 {
                v.push(250.0 + k as f32 + 0.5 * i as f32 + 0.25 * j as f32);
            }
        }
    }
    v
}

#[test]
fn netcdf_c_deflate_shuffle_fletcher32_packed_big_endian() {
    let nc = NcFile::open(fixture("nc4_filters.nc")).unwrap();
    assert_eq!(nc.format(), NcFormat::Netcdf4);
    assert_eq!(
        nc.attribute("title").unwrap().as_str(),
        Some("meshflow fixture")
    );
    assert!(matches!(nc.attribute("title"), Some(AttrValue::Strings(_))));
    assert_eq!(
        nc.attribute("Conventions").unwrap().as_str(),
        Some("CF-1.8")
    );

    let v = nc.variable("t2m").unwrap();
    assert_eq!(v.dims, ["time", "lat", "lon"]);
    assert_eq!(v.shape, [5, 7, 9]);
    assert_eq!(v.attr_str("long_name"), Some("2 metre temperature"));
    assert_eq!(nc.read_f32("t2m").unwrap().data, expected());
    assert_eq!(
        nc.read_f32_slab("t2m", 3..5).unwrap().data,
        expected()[3 * 63..]
    );
    let cf = nc.read_cf("t2m").unwrap();
    assert_eq!(cf.missing_count(), 0);
    assert!(matches!(cf.data, CfData::F32(_)));

    // int16 packed with a negative scale factor and one _FillValue.
    assert_eq!(nc.variable("packed").unwrap().dtype, NcType::Short);
    let p = nc.read_cf("packed").unwrap();
    assert_eq!(p.missing_count(), 1);
    assert!(p.mask[0]);
    let got = p.data.to_f64().data;
    for (n, (g, e)) in got.iter().zip(expected()).enumerate().skip(1) {
        let raw = ((f64::from(e) - 280.0) / -0.01).round();
        assert_eq!(*g, raw * -0.01 + 280.0, "{n}");
    }

    let big = nc.read_f64("big").unwrap();
    assert_eq!(big.data, [0.0, 1.5, 3.0, 4.5, 6.0, 7.5, 9.0]);

    let dates = nc.read_time("time", None).unwrap();
    assert_eq!(
        nc.time_axis("time", None).unwrap().calendar,
        Calendar::NoLeap
    );
    for (y, d) in dates.iter().enumerate() {
        assert_eq!(*d, CfDateTime::ymd_hms(2000 + y as i64, 3, 1, 0, 0, 0));
    }
}

#[test]
fn hdf5_latest_format_chunk_indexes() {
    let nc = NcFile::open(fixture("h5_latest.h5")).unwrap();
    for name in ["fixed_array", "ext_array", "btree2", "single", "contiguous"] {
        let v = nc.variable(name).unwrap();
        assert_eq!(v.shape, [5, 7, 9], "{name}");
        assert_eq!(nc.read_f32(name).unwrap().data, expected(), "{name}");
        assert_eq!(
            nc.read_f32_slab(name, 1..3).unwrap().data,
            expected()[63..3 * 63],
            "{name}"
        );
    }
    assert_eq!(
        nc.variable("fixed_array").unwrap().attr_str("units"),
        Some("K")
    );
    assert_eq!(
        nc.read_f64("compact").unwrap().data,
        [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    );
    // LZF is not a filter meshflow reads; a compound type is not numeric.
    let e = nc.read_f32("lzf").unwrap_err();
    assert!(matches!(e, DatasetError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("lzf"), "{e}");
    let e = nc.read_f64("compound").unwrap_err();
    assert!(matches!(e, DatasetError::Unsupported { .. }), "{e}");
    assert!(e.to_string().contains("user-defined type (compound"), "{e}");
}

#[test]
fn hdf5_earliest_format() {
    let nc = NcFile::open(fixture("h5_earliest.h5")).unwrap();
    assert_eq!(nc.read_f32("chunked").unwrap().data, expected());
    assert_eq!(nc.read_f32("big_endian").unwrap().data, expected());
    assert_eq!(nc.variable("chunked").unwrap().attr_str("units"), Some("K"));
}

#[test]
fn truncated_fixtures_error_never_panic() {
    for name in ["nc4_filters.nc", "h5_latest.h5", "h5_earliest.h5"] {
        let bytes = std::fs::read(fixture(name)).unwrap();
        for len in 0..bytes.len() {
            if let Ok(nc) = NcFile::from_bytes(bytes[..len].to_vec()) {
                for v in nc.variables().to_vec() {
                    let _ = nc.read_cf(&v.name);
                }
            }
        }
    }
}
