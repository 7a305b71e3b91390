//! GRIB reader against the small committed fixtures in `tests/data/` and their ecCodes
//! reference (`grib-reference.npz`, `grib-reference.json`, made by `make_grib2_fixtures.py`
//! with ecCodes 2.50.0). These tests need no shared data, except the one comparing GRIB2 to
//! GRIB1.

use meshflow_datasets::grib::{GribField, GribFile, GridKind, Mode, PackingKind};
use meshflow_datasets::npy::{read_npz, Npz};
use meshflow_datasets::testdata::data_dir;
use meshflow_datasets::DatasetError;
use std::path::PathBuf;

const STRIDE: usize = 11;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

fn reference() -> (Npz, serde_json::Value) {
    let npz = read_npz(data("grib-reference.npz")).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(data("grib-reference.json")).unwrap())
            .unwrap();
    (npz, json)
}

fn arr(npz: &Npz, key: &str) -> Vec<f64> {
    npz.get(key).unwrap().to_f64().data
}

fn same_bits(a: &[f64], b: &[f64]) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b)
            .all(|(x, y)| x.to_bits() == y.to_bits() || (x.is_nan() && y.is_nan()))
}

/// Compares metadata with the ecCodes keys in grib-reference.json.
fn check_meta(f: &GribField, r: &serde_json::Value) {
    let m = &f.meta;
    let i = |k: &str| r[k].as_i64().unwrap();
    assert_eq!(m.offset as i64, i("offset"));
    assert_eq!(i64::from(m.edition), i("editionNumber"));
    assert_eq!(m.reference_time.data_date(), i("dataDate"));
    assert_eq!(m.reference_time.data_time(), i("dataTime"));
    assert_eq!(m.grid.ni as i64, i("Ni"));
    assert_eq!(m.grid.nj as i64, i("Nj"));
    assert_eq!(i64::from(m.packing.bits_per_value), i("bitsPerValue"));
    assert_eq!(
        i64::from(m.packing.binary_scale_factor),
        i("binaryScaleFactor")
    );
    assert_eq!(
        i64::from(m.packing.decimal_scale_factor),
        i("decimalScaleFactor")
    );
    assert_eq!(
        m.packing.reference_value.to_bits(),
        r["referenceValue"].as_f64().unwrap().to_bits()
    );
    assert_eq!(i64::from(m.grid.scanning.i_negative), i("iScansNegatively"));
    assert_eq!(i64::from(m.grid.scanning.j_positive), i("jScansPositively"));
    assert_eq!(
        i64::from(m.grid.scanning.j_consecutive),
        i("jPointsAreConsecutive")
    );
    if let Some(a) = r["alternativeRowScanning"].as_i64() {
        assert_eq!(i64::from(m.grid.scanning.alternate_rows), a);
    }
    let missing = f
        .mask
        .as_ref()
        .map_or(0, |m| m.iter().filter(|&&b| !b).count());
    assert_eq!(missing as i64, i("numberOfMissing"));
    assert_eq!(m.level.type_of_level, r["typeOfLevel"].as_str().unwrap());
    assert_eq!(m.level.value, r["level"].as_f64().unwrap());
    assert_eq!(m.parameter.short_name, r["shortName"].as_str().unwrap());
    assert_eq!(m.number.map(i64::from), r["number"].as_i64());
    match r["gridType"].as_str().unwrap() {
        "regular_ll" => assert_eq!(m.grid.kind, GridKind::RegularLatLon),
        "regular_gg" => assert_eq!(
            m.grid.kind,
            GridKind::RegularGaussian {
                n: r["N"].as_i64().unwrap() as u32
            }
        ),
        other => panic!("{other}"),
    }
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v
}

fn close(a: &[f64], b: &[f64], tol: f64) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
}

#[test]
fn era5_grib2_messages() {
    let (npz, json) = reference();
    let refs = json["era5-grib2.grib2"].as_array().unwrap();
    let f = GribFile::open(data("era5-grib2.grib2"), Mode::Strict).unwrap();
    let fields = f.read_all().unwrap();
    assert_eq!(fields.len(), refs.len());
    for (k, (g, r)) in fields.iter().zip(refs).enumerate() {
        check_meta(g, r);
        assert_eq!(g.meta.edition, 2);
        let p = format!("era5-grib2_{k}_");
        // Storage order is the output order here (scanning mode 0).
        let strided: Vec<f64> = g.values.iter().step_by(STRIDE).copied().collect();
        assert!(
            same_bits(&strided, &arr(&npz, &format!("{p}values_strided"))),
            "message {k}"
        );
        assert_eq!(g.lats, arr(&npz, &format!("{p}distinctLatitudes")));
        assert_eq!(g.lons, arr(&npz, &format!("{p}distinctLongitudes")));
        let key = format!("{p}missing");
        if npz.contains(&key) {
            let missing = npz.get(&key).unwrap();
            let missing = &missing.as_bool().unwrap().data;
            let mask = g.mask.as_ref().unwrap();
            assert!(mask.iter().zip(missing).all(|(m, x)| *m != *x));
            assert!(g.values.iter().zip(mask).all(|(v, m)| v.is_nan() != *m));
        } else {
            assert!(g.mask.is_none());
        }
    }
    // Message 2: bitmap, D = 2, E = -1, 13 bits; message 3: 7 bits.
    let m2 = &fields[2].meta.packing;
    assert_eq!(
        (
            m2.decimal_scale_factor,
            m2.binary_scale_factor,
            m2.bits_per_value
        ),
        (2, -1, 13)
    );
    assert_eq!(fields[3].meta.packing.bits_per_value, 7);
    assert_eq!(fields[0].meta.ensemble_size, Some(10));
}

#[test]
fn era5_grib2_equals_grib1_source() {
    // ecCodes' GRIB1 -> GRIB2 conversion kept the values; so must our decode of both.
    let Some(dir) = data_dir("era5") else { return };
    let g1 = GribFile::open(dir.join("era5-levels-members.grib"), Mode::Strict).unwrap();
    let g2 = GribFile::open(data("era5-grib2.grib2"), Mode::Strict).unwrap();
    for (pos1, pos2) in [(0, 0), (10, 1)] {
        let a = g1.decode_message(pos1).unwrap().remove(0);
        let b = g2.decode_message(pos2).unwrap().remove(0);
        assert!(same_bits(&a.values, &b.values));
        assert_eq!((a.lats, a.lons), (b.lats, b.lons));
        assert_eq!(a.meta.parameter.short_name, b.meta.parameter.short_name);
        assert_eq!(a.meta.level, b.meta.level);
        assert_eq!(a.meta.number, b.meta.number);
        assert_eq!(a.meta.valid_time(), b.meta.valid_time());
    }
}

#[test]
fn gaussian_grids() {
    let (npz, json) = reference();
    for (file, stem) in [
        ("gaussian.grib1", "gaussian_g1"),
        ("gaussian.grib2", "gaussian"),
    ] {
        let f = GribFile::open(data(file), Mode::Strict).unwrap();
        let g = f.read_all().unwrap().remove(0);
        check_meta(&g, &json[file][0]);
        assert_eq!(g.meta.grid.kind, GridKind::RegularGaussian { n: 32 });
        assert_eq!(g.shape(), [64, 128]);
        let p = format!("{stem}_0_");
        let strided: Vec<f64> = g.values.iter().step_by(STRIDE).copied().collect();
        assert!(
            same_bits(&strided, &arr(&npz, &format!("{p}values_strided"))),
            "{file}"
        );
        // Coordinates: ecCodes accumulates increments; ours are exact to within 1e-9 degree.
        let lats = arr(&npz, &format!("{p}distinctLatitudes"));
        assert!(
            close(&sorted(g.lats.clone()), &sorted(lats), 1e-9),
            "{file} lats"
        );
        let lons = arr(&npz, &format!("{p}distinctLongitudes"));
        assert!(
            close(&g.lons, &lons, 1e-9),
            "{file} lons {:?}",
            &g.lons[..3]
        );
    }
}

#[test]
fn every_scanning_mode() {
    let (npz, json) = reference();
    for (file, stem, count) in [
        ("scanning.grib1", "scanning_g1", 8),
        ("scanning.grib2", "scanning", 17),
    ] {
        let f = GribFile::open(data(file), Mode::Strict).unwrap();
        let fields = f.read_all().unwrap();
        assert_eq!(fields.len(), count);
        let refs = json[file].as_array().unwrap();
        for (k, g) in fields.iter().enumerate() {
            check_meta(g, &refs[k]);
            let p = format!("{stem}_{k}_");
            let vals = arr(&npz, &format!("{p}values"));
            let (ni, nj) = (5, 4);
            assert_eq!(g.shape(), [nj, ni]);
            let s = g.meta.grid.scanning;
            if s.alternate_rows {
                // ecCodes 2.50's geo-iterator ignores alternativeRowScanning, so check the WMO
                // definition directly: storage index k goes to (row, column) with every other
                // row (column, if j-consecutive) reversed.
                for (kk, &v) in vals.iter().enumerate() {
                    let (r, c) = if s.j_consecutive {
                        let (c, r) = (kk / nj, kk % nj);
                        (if c % 2 == 1 { nj - 1 - r } else { r }, c)
                    } else {
                        let (r, c) = (kk / ni, kk % ni);
                        (r, if r % 2 == 1 { ni - 1 - c } else { c })
                    };
                    assert_eq!(g.value(r, c), Some(v), "{file} message {k} point {kk}");
                }
                // Coordinates as for the same mode without alternation.
                assert_eq!(g.lats, fields[k - 8].lats);
                assert_eq!(g.lons, fields[k - 8].lons);
                continue;
            }
            // ecCodes gives each stored value's latitude and longitude: find that cell.
            let lat = arr(&npz, &format!("{p}latitudes"));
            let lon = arr(&npz, &format!("{p}longitudes"));
            for kk in 0..vals.len() {
                let r = g
                    .lats
                    .iter()
                    .position(|&l| (l - lat[kk]).abs() < 1e-9)
                    .unwrap();
                let c = g
                    .lons
                    .iter()
                    .position(|&l| (l - lon[kk]).abs() < 1e-9)
                    .unwrap();
                assert_eq!(
                    g.value(r, c),
                    Some(vals[kk]),
                    "{file} message {k} point {kk}"
                );
            }
            // After orientation every mode looks the same: north->south, west->east.
            let mut o = g.clone();
            o.orient_north_south_west_east();
            assert_eq!(o.lats, [40.0, 30.0, 20.0, 10.0]);
            assert_eq!(o.lons, [0.0, 5.0, 10.0, 15.0, 20.0]);
            for r in 0..nj {
                for c in 0..ni {
                    let (lat, lon) = (o.lats[r], o.lons[c]);
                    let rr = g.lats.iter().position(|&l| l == lat).unwrap();
                    let cc = g.lons.iter().position(|&l| l == lon).unwrap();
                    assert_eq!(o.value(r, c), g.value(rr, cc));
                }
            }
        }
    }
}

#[test]
fn constant_field_keeps_reference_value() {
    // bitsPerValue 0 with decimalScaleFactor 2: ecCodes returns R unscaled.
    let (npz, json) = reference();
    let f = GribFile::open(data("scanning.grib2"), Mode::Strict).unwrap();
    let g = f.decode_message(16).unwrap().remove(0);
    check_meta(&g, &json["scanning.grib2"][16]);
    assert_eq!(g.meta.packing.bits_per_value, 0);
    assert_eq!(g.meta.packing.decimal_scale_factor, 2);
    assert!(same_bits(&g.values, &arr(&npz, "scanning_16_values")));
    assert!(g.values.iter().all(|&v| v == f64::from(273.15f32)));
}

#[test]
fn unsupported_packings_are_named() {
    let f = GribFile::open(data("unsupported.grib2"), Mode::Strict).unwrap();
    let inv = f.inventory().unwrap();
    assert_eq!(inv.len(), 4);
    for (k, (template, name)) in [
        (42, "CCSDS"),
        (40, "JPEG 2000"),
        (2, "complex packing"),
        (3, "complex packing with spatial differencing"),
    ]
    .into_iter()
    .enumerate()
    {
        let want = format!("GRIB2 data representation template 5.{template} ({name})");
        assert_eq!(inv[k].packing.kind, PackingKind::Unsupported(want.clone()));
        match f.decode_message(k).unwrap_err() {
            DatasetError::Unsupported {
                location,
                feature,
                path,
            } => {
                assert_eq!(feature, want);
                assert_eq!(location, format!("message {k} (byte {})", inv[k].offset));
                assert!(path.ends_with("unsupported.grib2"));
            }
            other => panic!("{other}"),
        }
    }
    let f = GribFile::open(data("unsupported.grib1"), Mode::Strict).unwrap();
    let e = f.read_all().unwrap_err().to_string();
    assert!(
        e.contains("message 0 (byte 0)") && e.contains("second-order"),
        "{e}"
    );
}

/// Byte offset of section `number` of the GRIB2 message starting at `start`.
fn grib2_section(bytes: &[u8], start: usize, number: u8) -> usize {
    let total = u64::from_be_bytes(bytes[start + 8..start + 16].try_into().unwrap()) as usize;
    let mut pos = start + 16;
    while pos + 5 <= start + total - 4 {
        let len = u32::from_be_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        if bytes[pos + 4] == number {
            return pos;
        }
        pos += len;
    }
    panic!("no section {number}");
}

/// A synthetic message: the second message of `era5-grib2.grib2` with a template number
/// patched (octets 13-14 of section 3, 10-11 of section 5). Errors must name the message
/// (index and byte offset) and the feature, in the library and on the command line.
#[test]
fn patched_templates_are_named_with_their_message() {
    let bytes = std::fs::read(data("era5-grib2.grib2")).unwrap();
    let offset = GribFile::open(data("era5-grib2.grib2"), Mode::Strict)
        .unwrap()
        .messages()[1]
        .offset as usize;
    for (section, at, template, feature) in [
        (
            3u8,
            12,
            50u16,
            "GRIB2 grid definition template 3.50 (spherical harmonics)",
        ),
        (
            5,
            9,
            50,
            "GRIB2 data representation template 5.50 (spectral simple packing)",
        ),
        (
            5,
            9,
            51,
            "GRIB2 data representation template 5.51 (spectral complex packing)",
        ),
        (5, 9, 42, "GRIB2 data representation template 5.42 (CCSDS)"),
        (
            5,
            9,
            40,
            "GRIB2 data representation template 5.40 (JPEG 2000)",
        ),
        (5, 9, 3, "complex packing with spatial differencing"),
    ] {
        let mut b = bytes.clone();
        let s = grib2_section(&b, offset, section) + at;
        b[s..s + 2].copy_from_slice(&template.to_be_bytes());
        let f = GribFile::from_bytes(b.clone(), "patched.grib2", Mode::Strict).unwrap();
        match f.decode_message(1).unwrap_err() {
            DatasetError::Unsupported {
                location,
                feature: got,
                ..
            } => {
                assert_eq!(location, format!("message 1 (byte {offset})"));
                assert!(got.contains(feature), "{got}");
            }
            other => panic!("{other}"),
        }
        // The good messages around it still decode.
        assert!(f.decode_message(0).is_ok() && f.decode_message(2).is_ok());
        // Reading the whole variable fails with the same message and feature.
        let name = f.inventory().map(|i| i[1].parameter.short_name.clone());
        if let Ok(name) = name {
            let e = f.variable(&name).unwrap_err().to_string();
            assert!(e.contains("message 1") && e.contains(feature), "{e}");
        }
    }
}
