//! NetCDF-3 and NetCDF-4 reading checked against the reference `.npz` files of the shared
//! data (see `shared/data/reanalysis/README.md` and `shared/data/era5/README.md`).
//! Skipped with a `skipping:` line when the data is absent, and failing when `CI` is set.

use meshflow_datasets::cf::{Axis, Calendar, LatitudeOrder};
use meshflow_datasets::netcdf::{CfData, NcFile, NcFormat, NcType, RawArray};
use meshflow_datasets::npy::{read_npz, Npz};
use meshflow_datasets::testdata::data_file;
use meshflow_datasets::DatasetError;

fn bits32(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn bits64(v: &[f64]) -> Vec<u64> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// The NetCDF file `nc` and its reference `.npz` (paths under the data folder), or `None`
/// when either is absent (the test is then skipped, see [`data_file`]).
fn nc_and_npz(nc: &str, npz: &str) -> Option<(NcFile, Npz)> {
    let nc_path = data_file(nc)?;
    let npz_path = data_file(npz)?;
    Some((
        NcFile::open(&nc_path).unwrap(),
        read_npz(&npz_path).unwrap(),
    ))
}

/// The axis of every dimension of `var`.
fn axes(nc: &NcFile, var: &str) -> Vec<Option<Axis>> {
    nc.coordinate_axes(var)
        .unwrap()
        .into_iter()
        .map(|(_, a)| a)
        .collect()
}

const TIME_LAT_LON: [Option<Axis>; 3] = [
    Some(Axis::Time),
    Some(Axis::Latitude),
    Some(Axis::Longitude),
];

#[test]
fn trefht_classic_record_variables_bit_exact() {
    for member in ["57", "59", "60", "61"] {
        let base = format!("reanalysis/TREFHT.B06.{member}.atm.1890-1999ANN");
        let Some((nc, npz)) = nc_and_npz(&format!("{base}.nc"), &format!("{base}.npz")) else {
            return;
        };
        assert_eq!(nc.format(), NcFormat::Classic);
        let time_dim = &nc.dimensions()[0];
        assert!(time_dim.unlimited && time_dim.len == 110, "{time_dim:?}");

        let v = nc.variable("TREFHT").unwrap();
        assert_eq!(v.dtype, NcType::Float);
        assert_eq!(v.dims, ["time", "lat", "lon"]);
        let t = nc.read_f32("TREFHT").unwrap();
        let want = npz.get("TREFHT").unwrap();
        let want = want.as_f32().unwrap();
        assert_eq!(t.shape, want.shape);
        assert_eq!(t.shape, [110, 64, 128]);
        assert!(bits32(&t.data) == bits32(&want.data), "TREFHT {member}");

        // CF decode keeps f32 and masks nothing (no fill values in these files).
        let cf = nc.read_cf("TREFHT").unwrap();
        assert_eq!(cf.units.as_deref(), Some("K"));
        assert_eq!(cf.missing_count(), 0);
        let CfData::F32(cfd) = &cf.data else {
            panic!("f32 expected")
        };
        assert!(bits32(&cfd.data) == bits32(&want.data));

        // Hyperslabs along time equal the same records of the whole read.
        let per = 64 * 128;
        let slab = nc.read_f32_slab("TREFHT", 37..41).unwrap();
        assert_eq!(slab.shape, [4, 64, 128]);
        assert!(bits32(&slab.data) == bits32(&t.data[37 * per..41 * per]));
        let last = nc.read_cf_slab("TREFHT", 109..110).unwrap();
        assert_eq!(last.data.to_f32().data[..], t.data[109 * per..]);

        let time = nc.read_f64("time").unwrap();
        assert!(bits64(&time.data) == bits64(&npz.get("time").unwrap().to_f64().data));
        for (name, key) in [("lat", "lat"), ("lon", "lon")] {
            let got = nc.read_f32(name).unwrap();
            let want = npz.get(key).unwrap();
            assert!(
                bits32(&got.data) == bits32(&want.as_f32().unwrap().data),
                "{name}"
            );
        }

        // No calendar attribute: the 365-day steps decode to mid-July with noleap.
        assert!(nc.variable("time").unwrap().attr_str("calendar").is_none());
        let dates = nc.read_time("time", Some(Calendar::NoLeap)).unwrap();
        let years = npz.get("year").unwrap().to_f64().data;
        for (d, y) in dates.iter().zip(&years) {
            assert_eq!(d.year as f64, *y);
            assert_eq!(
                (d.month, d.day, d.hour, d.minute, d.second),
                (7, 16, 22, 0, 0),
                "{d}"
            );
            assert_eq!(d.microsecond, 0);
        }
        assert_eq!((dates[0].year, dates[109].year), (1890, 1999));

        assert_eq!(axes(&nc, "TREFHT"), TIME_LAT_LON);
        let lat = nc.read_f64("lat").unwrap().data;
        assert_eq!(LatitudeOrder::of(&lat), Some(LatitudeOrder::SouthToNorth));
    }
}

#[test]
fn trefht_spot_values_from_readme() {
    let Some(p) = data_file("reanalysis/TREFHT.B06.57.atm.1890-1999ANN.nc") else {
        return;
    };
    let t = NcFile::open(p).unwrap().read_f32("TREFHT").unwrap();
    let row = 32 * 128;
    let wide: Vec<f64> = t.data[row..row + 4].iter().map(|&v| f64::from(v)).collect();
    assert_eq!(
        wide,
        [
            298.0852966308594,
            298.3788146972656,
            299.1753234863281,
            297.4466247558594
        ]
    );
    assert_eq!(
        t.get(&[109, 0, 0]).map(|&v| f64::from(v)),
        Some(227.19920349121094)
    );
}

#[test]
fn eraint_cdf2_negative_scale_factor() {
    let Some((nc, npz)) = nc_and_npz("reanalysis/eraint_uvz.nc", "reanalysis/eraint_uvz.npz")
    else {
        return;
    };
    assert_eq!(nc.format(), NcFormat::Offset64);
    for name in ["z", "u", "v"] {
        let var = nc.variable(name).unwrap();
        assert_eq!(var.dims, ["month", "level", "latitude", "longitude"]);
        assert!(var.attribute("scale_factor").unwrap().as_f64().unwrap() < 0.0);
        let RawArray::Short(raw) = nc.read_raw(name).unwrap() else {
            panic!("{name} is int16")
        };
        let want_raw = npz.get(&format!("{name}_raw")).unwrap();
        assert_eq!(raw, *want_raw.as_i16().unwrap(), "{name}_raw");

        // The NaN float64 _FillValue cannot apply to int16: nothing is masked.
        let cf = nc.read_cf(name).unwrap();
        assert_eq!(cf.missing_count(), 0, "{name}");
        let CfData::F64(dec) = &cf.data else {
            panic!("f64 packing attributes give f64 data")
        };
        let want = npz.get(name).unwrap();
        let want = want.as_f32().unwrap();
        let got = cf.data.to_f32();
        assert_eq!(got.shape, want.shape);
        assert!(bits32(&got.data) == bits32(&want.data), "{name} decoded");
        let sf = npz
            .get(&format!("{name}_scale_factor"))
            .unwrap()
            .to_f64()
            .data[0];
        let ao = npz
            .get(&format!("{name}_add_offset"))
            .unwrap()
            .to_f64()
            .data[0];
        assert_eq!(dec.data[17], f64::from(raw.data[17]) * sf + ao);
    }
    // README spot values.
    let z = nc.read_cf("z").unwrap();
    let i = (120) * 480; // [0, 1, 120, 0]
    let zf = z.data.to_f64();
    assert_eq!(zf.data[241 * 480 + i], 57391.32478026002);
    assert_eq!(f64::from(zf.data[241 * 480 + i] as f32), 57391.32421875);
    let lat = nc.read_f64("latitude").unwrap().data;
    assert_eq!(LatitudeOrder::of(&lat), Some(LatitudeOrder::NorthToSouth));
    let z_axes = axes(&nc, "z");
    assert_eq!(z_axes[1], Some(Axis::Vertical));
    assert_eq!(z_axes[2], Some(Axis::Latitude));
    assert_eq!(z_axes[3], Some(Axis::Longitude));
    assert_eq!(nc.read_f64("level").unwrap().data, [200.0, 500.0, 850.0]);
    // Slab of the second month.
    let july = nc.read_cf_slab("u", 1..2).unwrap();
    let all = nc.read_cf("u").unwrap().data.to_f64();
    let half = all.data.len() / 2;
    assert_eq!(bits64(&july.data.to_f64().data), bits64(&all.data[half..]));
}

#[test]
fn a1b_netcdf4_chunked_bit_exact() {
    let Some((nc, npz)) = nc_and_npz(
        "reanalysis/A1B_north_america.nc",
        "reanalysis/A1B_north_america.npz",
    ) else {
        return;
    };
    assert_eq!(nc.format(), NcFormat::Netcdf4);
    let v = nc.variable("air_temperature").unwrap();
    assert_eq!(v.dims, ["time", "latitude", "longitude"]);
    assert_eq!(v.shape, [240, 37, 49]);
    assert_eq!(v.attr_str("units"), Some("K"));
    let t = nc.read_f32("air_temperature").unwrap();
    let want = npz.get("air_temperature").unwrap();
    let want = want.as_f32().unwrap();
    assert_eq!(t.shape, want.shape);
    assert!(bits32(&t.data) == bits32(&want.data));
    assert_eq!(
        t.data[..4]
            .iter()
            .map(|&v| f64::from(v))
            .collect::<Vec<_>>(),
        [
            296.0785827636719,
            296.1764221191406,
            296.2521667480469,
            296.29339599609375
        ]
    );
    let cf = nc.read_cf("air_temperature").unwrap();
    assert_eq!(cf.missing_count(), 0);
    assert!(bits32(&cf.data.to_f32().data) == bits32(&want.data));
    let per = 37 * 49;
    let slab = nc.read_f32_slab("air_temperature", 100..103).unwrap();
    assert!(bits32(&slab.data) == bits32(&want.data[100 * per..103 * per]));

    for name in ["time", "time_bnds"] {
        let got = nc.read_f64(name).unwrap();
        let want = npz.get(name).unwrap().to_f64();
        assert_eq!(got.shape, want.shape, "{name}");
        assert!(bits64(&got.data) == bits64(&want.data), "{name}");
    }
    for name in ["latitude", "longitude"] {
        let got = nc.read_f32(name).unwrap();
        assert!(bits32(&got.data) == bits32(&npz.get(name).unwrap().as_f32().unwrap().data));
    }
    let RawArray::Int(fp) = nc.read_raw("forecast_period").unwrap() else {
        panic!("int32")
    };
    assert_eq!(fp, *npz.get("forecast_period").unwrap().as_i32().unwrap());

    // 360_day calendar from the attribute: every point is 1 June, 1860..2099.
    assert_eq!(
        nc.time_axis("time", None).unwrap().calendar,
        Calendar::Day360
    );
    let dates = nc.read_time("time", None).unwrap();
    let years = npz.get("year").unwrap().to_f64().data;
    assert_eq!(dates.len(), 240);
    for (d, y) in dates.iter().zip(&years) {
        assert_eq!(
            (d.year as f64, d.month, d.day, d.hour),
            (*y, 6, 1, 0),
            "{d}"
        );
    }
    assert_eq!((dates[0].year, dates[239].year), (1860, 2099));
    assert_eq!(axes(&nc, "air_temperature"), TIME_LAT_LON);
    assert_eq!(nc.find_coordinate(Axis::Time).unwrap().name, "time");
    // Scalar coordinate variables read as 0-d arrays.
    let h = nc.read_f64("height").unwrap();
    assert_eq!((h.shape.len(), h.data[0]), (0, 1.5));
}

#[test]
fn era5_cfgrib_netcdf4_members() {
    let Some((nc, npz)) = nc_and_npz("era5/era5-levels-members.nc", "era5/era5_t_members.npz")
    else {
        return;
    };
    let v = nc.variable("t").unwrap();
    assert_eq!(
        v.dims,
        ["number", "time", "isobaricInhPa", "latitude", "longitude"]
    );
    assert_eq!(v.shape, [10, 4, 2, 61, 120]);
    let t = nc.read_cf("t").unwrap();
    assert_eq!(t.units.as_deref(), Some("K"));
    assert_eq!(t.missing_count(), 0);
    let got = t.data.to_f32();
    let want = npz.get("t").unwrap();
    let want = want.as_f32().unwrap();
    assert_eq!(got.shape, want.shape);
    let worst = got
        .data
        .iter()
        .zip(&want.data)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(worst <= 3e-5, "max |t - reference| = {worst}");
    assert_eq!(nc.read_f64("isobaricInhPa").unwrap().data, [850.0, 500.0]);
    assert_eq!(
        nc.read_f64("number").unwrap().data,
        (0..10).map(f64::from).collect::<Vec<_>>()
    );
    let lat = nc.read_f64("latitude").unwrap();
    assert_eq!(lat.data, npz.get("lat").unwrap().to_f64().data);
    assert_eq!(
        LatitudeOrder::of(&lat.data),
        Some(LatitudeOrder::NorthToSouth)
    );
    assert_eq!(
        axes(&nc, "t"),
        [
            None,
            Some(Axis::Time),
            Some(Axis::Vertical),
            Some(Axis::Latitude),
            Some(Axis::Longitude)
        ]
    );
    // Times decode to the Unix seconds of the reference.
    let dates = nc.read_time("time", None).unwrap();
    let unix = npz.get("time").unwrap().to_f64().data;
    for (d, s) in dates.iter().zip(&unix) {
        let days = (s / 86400.0).floor();
        assert_eq!(d.hour as f64, (s - days * 86400.0) / 3600.0, "{d}");
        assert_eq!((d.year, d.month), (2017, 1));
    }
}

#[test]
fn missing_variable_lists_names_and_wrong_magic_names_grib() {
    let Some(p) = data_file("reanalysis/eraint_uvz.nc") else {
        return;
    };
    let nc = NcFile::open(p).unwrap();
    match nc.read_cf("t2m") {
        Err(DatasetError::NoSuchVariable {
            name, available, ..
        }) => {
            assert_eq!(name, "t2m");
            assert_eq!(available, "longitude, latitude, level, z, u, v, month");
        }
        other => panic!("{other:?}"),
    }
    let Some(g) = data_file("era5/era5-levels-members.grib") else {
        return;
    };
    let e = NcFile::open(&g).unwrap_err().to_string();
    assert!(
        e.contains("GRIB") && e.contains("era5-levels-members.grib"),
        "{e}"
    );
}

#[test]
fn truncated_real_files_error_never_panic() {
    // Every length through the header and first records of a classic file, and through
    // the metadata of the HDF5 file (superblock, object headers, B-tree, heaps), then a
    // stride through the data.
    for (rel, var, dense) in [
        (
            "reanalysis/TREFHT.B06.57.atm.1890-1999ANN.nc",
            "TREFHT",
            2752 + 64,
        ),
        ("reanalysis/A1B_north_america.nc", "air_temperature", 13_500),
    ] {
        let Some(p) = data_file(rel) else {
            return;
        };
        let bytes = std::fs::read(p).unwrap();
        let lens = (0..dense).chain((dense..bytes.len()).step_by(40_009));
        for len in lens {
            if let Ok(nc) = NcFile::from_bytes(bytes[..len].to_vec()) {
                let r = nc.read_f32(var);
                assert!(r.is_err(), "{rel} cut at {len} read fine");
            }
        }
    }
}
