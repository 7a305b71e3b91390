//! GRIB reader against the cfgrib ERA5 sample in the shared data folder
//! (`$MESHFLOW_DATA/era5`; figures from its README and `era5_t_members.npz`, made with
//! ecCodes 2.50.0).

use meshflow_datasets::grib::{GribFile, GridKind, Mode};
use meshflow_datasets::npy::read_npz;
use meshflow_datasets::testdata::data_dir;
use meshflow_datasets::DatasetError;

#[test]
fn members_file_index() {
    let Some(dir) = data_dir("era5") else { return };
    let f = GribFile::open(dir.join("era5-levels-members.grib"), Mode::Strict).unwrap();
    assert_eq!(f.messages().len(), 160);
    assert!(f.warnings().is_empty());
    for (k, m) in f.messages().iter().enumerate() {
        assert_eq!(
            (m.index, m.offset, m.length, m.edition),
            (k, 14760 * k as u64, 14752, 1)
        );
    }
    let inv = f.inventory().unwrap();
    assert_eq!(f.variable_names().unwrap(), ["z", "t"]);
    let m = &inv[0];
    assert_eq!(m.parameter.short_name, "z");
    assert_eq!(m.parameter.name, "Geopotential");
    assert_eq!(m.parameter.units, "m**2 s**-2");
    assert_eq!(m.level.type_of_level, "isobaricInhPa");
    assert_eq!(m.level.value, 500.0);
    assert_eq!(m.centre, 98);
    assert_eq!(m.reference_time.data_date(), 20170101);
    assert_eq!(m.step.unwrap().end, 0);
    assert_eq!((m.number, m.ensemble_size), (Some(0), Some(10)));
    assert_eq!(m.grid.kind, GridKind::RegularLatLon);
    assert_eq!((m.grid.ni, m.grid.nj), (120, 61));
    assert_eq!((m.grid.lat_first, m.grid.lat_last), (90.0, -90.0));
    assert_eq!((m.grid.lon_first, m.grid.lon_last), (0.0, 357.0));
    assert_eq!((m.grid.di, m.grid.dj), (Some(3.0), Some(3.0)));
    // File order: time, then level (500, 850), then variable (z, t), then number 0..9.
    for (k, m) in inv.iter().enumerate() {
        assert_eq!(m.number, Some((k % 10) as u32));
        assert_eq!(
            m.parameter.short_name,
            if (k / 10) % 2 == 0 { "z" } else { "t" }
        );
        assert_eq!(m.level.value, if (k / 20) % 2 == 0 { 500.0 } else { 850.0 });
    }
}

#[test]
fn temperature_matches_eccodes_bit_for_bit() {
    let Some(dir) = data_dir("era5") else { return };
    let f = GribFile::open(dir.join("era5-levels-members.grib"), Mode::Strict).unwrap();
    let npz = read_npz(dir.join("era5_t_members.npz")).unwrap();
    let t_ref = npz.get("t_f64").unwrap().to_f64();
    assert_eq!(t_ref.shape, [10, 4, 2, 61, 120]);
    let ref_levels = npz.get("level").unwrap().to_f64().data; // [850, 500]
    let ref_times = npz.get("time").unwrap().as_i64().unwrap().data.clone();

    let t = f.variable("t").unwrap();
    assert_eq!(t.dims, ["number", "time", "level", "lat", "lon"]);
    assert_eq!(t.data.shape, [10, 4, 2, 61, 120]);
    assert_eq!(t.units, "K");
    assert_eq!(
        t.number.as_deref(),
        Some(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 9][..])
    );
    assert_eq!(t.time, ref_times);
    assert_eq!(t.level, [500.0, 850.0]); // file order
    assert_eq!(t.lat, npz.get("lat").unwrap().to_f64().data);
    assert_eq!(t.lon, npz.get("lon").unwrap().to_f64().data);

    let plane = 61 * 120;
    let mut max_abs = 0.0f64;
    let mut differing_bits = 0usize;
    for n in 0..10 {
        for ti in 0..4 {
            for (li, lev) in t.level.iter().enumerate() {
                let rl = ref_levels.iter().position(|l| l == lev).unwrap();
                let ours = &t.data.data[((n * 4 + ti) * 2 + li) * plane..][..plane];
                let theirs = &t_ref.data[((n * 4 + ti) * 2 + rl) * plane..][..plane];
                for (a, b) in ours.iter().zip(theirs) {
                    max_abs = max_abs.max((a - b).abs());
                    differing_bits += usize::from(a.to_bits() != b.to_bits());
                }
            }
        }
    }
    assert_eq!(differing_bits, 0, "max |diff| = {max_abs}");
    assert_eq!(max_abs, 0.0);

    // README spot values: number 0, 2017-01-01 00 UTC, 850 hPa.
    let li = t.level.iter().position(|&l| l == 850.0).unwrap();
    let row = |j: usize| &t.data.data[(li * 61 + j) * 120..][..120];
    assert_eq!(
        row(30)[..5],
        [
            291.16314697265625,
            290.68072509765625,
            290.83697509765625,
            290.92681884765625,
            291.56353759765625
        ]
    );
    assert!(row(0).iter().all(|&v| v == 252.66314697265625));

    // Value ranges from the README.
    let (lo, hi) = t
        .data
        .data
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    assert_eq!(format!("{lo:.4} {hi:.4}"), "224.1296 305.8412");
}

#[test]
fn packing_parameters_and_offsets_match() {
    let Some(dir) = data_dir("era5") else { return };
    let f = GribFile::open(dir.join("era5-levels-members.grib"), Mode::Strict).unwrap();
    let npz = read_npz(dir.join("era5_t_members.npz")).unwrap();
    let get = |k: &str| npz.get(k).unwrap().to_f64().data;
    let (idx, off) = (get("message_index"), get("message_offset"));
    let (r, e, d, bits) = (
        get("reference_value"),
        get("binary_scale_factor"),
        get("decimal_scale_factor"),
        get("bits_per_value"),
    );
    let inv = f.inventory().unwrap();
    for k in 0..idx.len() {
        let m = &inv[idx[k] as usize];
        assert_eq!(m.parameter.short_name, "t");
        assert_eq!(m.offset as f64, off[k]);
        assert_eq!(m.packing.reference_value.to_bits(), r[k].to_bits());
        assert_eq!(f64::from(m.packing.binary_scale_factor), e[k]);
        assert_eq!(f64::from(m.packing.decimal_scale_factor), d[k]);
        assert_eq!(f64::from(m.packing.bits_per_value), bits[k]);
    }
}

#[test]
fn geopotential_ranges() {
    let Some(dir) = data_dir("era5") else { return };
    let f = GribFile::open(dir.join("era5-levels-members.grib"), Mode::Lenient).unwrap();
    let z = f.variable("z").unwrap();
    let plane = 61 * 120;
    for (li, expect) in [(0, "46442.031 58148.145"), (1, "9238.090 16326.039")] {
        let mut lo = f64::INFINITY;
        let mut hi = f64::NEG_INFINITY;
        for c in 0..40 {
            let s = &z.data.data[(c * 2 + li) * plane..][..plane];
            for &v in s {
                lo = lo.min(v);
                hi = hi.max(v);
            }
        }
        assert_eq!(format!("{lo:.3} {hi:.3}"), expect, "level {}", z.level[li]);
    }
    let e = f.variable("q").unwrap_err();
    assert!(
        matches!(&e, DatasetError::NoSuchVariable { available, .. } if available == "z, t"),
        "{e}"
    );
}

#[test]
fn single_level_regional_field() {
    let Some(dir) = data_dir("era5") else { return };
    let f = GribFile::open(dir.join("era5-single-level-scalar-time.grib"), Mode::Strict).unwrap();
    let fields = f.read_all().unwrap();
    assert_eq!(fields.len(), 1);
    let g = &fields[0];
    let m = &g.meta;
    assert_eq!(m.parameter.short_name, "2t");
    assert_eq!(m.parameter.name, "2 metre temperature");
    assert_eq!(m.level.type_of_level, "surface");
    assert_eq!(m.reference_time.to_string(), "2017-01-01T12:00:00Z");
    assert_eq!(m.valid_time(), Some(1_483_272_000));
    assert_eq!(g.shape(), [121, 201]);
    assert_eq!((g.lats[0], g.lats[1], g.lats[120]), (60.0, 59.75, 30.0));
    assert_eq!((g.lons[0], g.lons[1], g.lons[200]), (-10.0, -9.75, 40.0));
    assert!(g.mask.is_none());
    let (lo, hi) = g
        .values
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    assert_eq!(format!("{lo:.4} {hi:.4}"), "263.2971 292.1448");
    let v = f.variable("2t").unwrap();
    assert_eq!(v.dims, ["time", "level", "lat", "lon"]);
    assert_eq!(v.data.shape, [1, 1, 121, 201]);
}

#[test]
fn corrupted_file_strict_and_lenient() {
    let Some(dir) = data_dir("era5") else { return };
    let path = dir.join("era5-levels-corrupted.grib");
    let e = GribFile::open(&path, Mode::Strict).unwrap_err();
    match &e {
        DatasetError::Format {
            location, message, ..
        } => {
            assert_eq!(location, "message 0 (byte 0)");
            assert!(message.contains("declared length 1588"), "{message}");
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("era5-levels-corrupted.grib"));

    let f = GribFile::open(&path, Mode::Lenient).unwrap();
    assert_eq!(f.warnings().len(), 1);
    let w = &f.warnings()[0];
    assert_eq!((w.message_index, w.offset), (0, 0));
    assert!(w
        .to_string()
        .starts_with("message 0 (byte 0): declared length 1588"));
    assert_eq!(f.messages().len(), 1);
    assert_eq!((f.messages()[0].index, f.messages()[0].offset), (1, 22068));
    // The good message: t at 850 hPa, 24 bits; figures from ecCodes 2.50.0.
    let g = &f.read_all().unwrap()[0];
    assert_eq!(g.meta.parameter.short_name, "t");
    assert_eq!(g.meta.level.value, 850.0);
    assert_eq!(g.meta.packing.bits_per_value, 24);
    assert_eq!(g.meta.packing.binary_scale_factor, -17);
    assert_eq!(g.meta.packing.reference_value, 237.74517822265625);
    let lo = g.values.iter().cloned().fold(f64::INFINITY, f64::min);
    let hi = g.values.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    assert_eq!((lo, hi), (237.74517822265625, 303.50299072265625));
    assert_eq!(g.values[0], 252.66314697265625);
    let mean = g.values.iter().sum::<f64>() / g.values.len() as f64;
    assert!((mean - 273.6222351407744).abs() < 1e-9, "{mean}");
    // The one-call lenient reader gives the same: one field, one warning.
    let (fields, warnings) = f.read_all_lenient();
    assert_eq!((fields.len(), warnings.len()), (1, 1));
    assert_eq!(&fields[0], g);
    assert_eq!(warnings[0].message_index, 0);
}
