//! Reading, describing and converting the shared real data (skipped without it, failing under
//! `CI`), and splits on synthetic fields.

use std::path::PathBuf;

use super::*;
use crate::npy::read_npz;
use crate::testdata::data_file;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mf-field-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// `convert` then `read_variable` gives back the input's f32 values bit for bit, with the
/// same coordinates and labels (time, level, member).
fn round_trip(
    rel: &str,
    var: Option<&str>,
    out: &str,
) -> Option<(GriddedVariable, GriddedVariable)> {
    let input = data_file(rel)?;
    let want = read_variable(&input, var).unwrap();
    let path = tmp(out);
    let s = convert(&input, &path, var, None).unwrap();
    assert_eq!(s.fields, want.num_fields());
    let got = read_variable(&path, Some(&want.name)).unwrap();
    assert_eq!(got.lat_deg, want.lat_deg, "{rel} → {out}: latitudes");
    assert_eq!(got.lon_deg, want.lon_deg, "{rel} → {out}: longitudes");
    assert!(
        bits(&got.values) == bits(&want.values),
        "{rel} → {out}: values"
    );
    assert_eq!(got.num_fields(), want.num_fields());
    Some((want, got))
}

#[test]
fn grib_to_netcdf_and_npz_is_lossless() {
    let Some((want, got)) = round_trip("era5/era5-levels-members.grib", Some("t"), "t.nc") else {
        return;
    };
    assert_eq!(got.units.as_deref(), Some("K"));
    assert_eq!(got.long_name.as_deref(), Some("Temperature"));
    // 80 fields share 4 times: leading axis `field`, labels kept in global attributes and
    // read back from them.
    assert_eq!(got.labels, want.labels);
    let Some((_, got)) = round_trip("era5/era5-levels-members.grib", Some("t"), "t.npz") else {
        return;
    };
    assert_eq!(got.labels, want.labels);
    let npz = read_npz(tmp("t.npz")).unwrap();
    assert_eq!(
        npz.keys(),
        ["t", "latitude", "longitude", "time", "level", "member"]
    );
    // The single-field surface file: time axis in .nc.
    let Some((want, got)) = round_trip("era5/era5-single-level-scalar-time.grib", None, "2t.nc")
    else {
        return;
    };
    assert_eq!(want.labels[0].time.as_deref(), Some("2017-01-01T12:00:00"));
    assert_eq!(want.labels[0].level, None);
    assert_eq!(got.labels[0].time, want.labels[0].time);
}

#[test]
fn grib_labels_follow_the_file_order() {
    let Some(p) = data_file("era5/era5-levels-members.grib") else {
        return;
    };
    let t = read_variable(&p, Some("t")).unwrap();
    assert_eq!((t.nlat(), t.nlon(), t.num_fields()), (61, 120, 80));
    // File order: time, then level (500 before 850), then number.
    let l = &t.labels;
    assert_eq!(l[0].time.as_deref(), Some("2017-01-01T00:00:00"));
    assert_eq!((l[0].level, l[0].member), (Some(500.0), Some(0)));
    assert_eq!((l[9].level, l[9].member), (Some(500.0), Some(9)));
    assert_eq!((l[10].level, l[10].member), (Some(850.0), Some(0)));
    assert_eq!(l[20].time.as_deref(), Some("2017-01-01T12:00:00"));
    assert_eq!(l[79].time_index, 3);
    // Spot value from the README: number 0, 2017-01-01 00 UTC, 850 hPa, latitude 0.
    let f = t.field(10);
    assert_eq!(f[30 * 120], 291.163_146_972_656_25_f64 as f32);
    let e = read_variable(&p, None).unwrap_err().to_string();
    assert!(e.contains("z, t") && e.contains("--var"), "{e}");
    let e = read_variable(&p, Some("nosuch")).unwrap_err().to_string();
    assert!(e.contains("nosuch") && e.contains("z, t"), "{e}");
}

#[test]
fn netcdf3_to_npz_is_lossless() {
    let Some((want, got)) = round_trip(
        "reanalysis/TREFHT.B06.57.atm.1890-1999ANN.nc",
        None,
        "trefht.npz",
    ) else {
        return;
    };
    assert_eq!(want.format, DataFormat::NetCdf3Classic);
    assert_eq!(
        (want.nlat(), want.nlon(), want.num_fields()),
        (64, 128, 110)
    );
    // No calendar attribute: the CF default (standard) calendar is the file's calendar.
    assert_eq!(
        want.time.as_ref().unwrap().calendar,
        crate::cf::Calendar::Standard
    );
    assert_eq!(got.labels, want.labels);
    let grid = sphere_grid(&want).unwrap();
    assert_eq!(grid.num_vertices(), 64 * 128 + 2);
}

#[test]
fn netcdf4_to_netcdf_is_lossless_with_its_360_day_calendar() {
    let Some((want, got)) = round_trip("reanalysis/A1B_north_america.nc", None, "a1b.nc") else {
        return;
    };
    assert_eq!(want.format, DataFormat::NetCdf4);
    assert_eq!((want.nlat(), want.nlon(), want.num_fields()), (37, 49, 240));
    let t = got.time.as_ref().unwrap();
    assert_eq!(t.calendar, crate::cf::Calendar::Day360);
    assert_eq!(got.labels, want.labels);
    // No int64 seconds for a 360-day calendar: left out, and said so.
    let s = convert(
        data_file("reanalysis/A1B_north_america.nc").unwrap(),
        tmp("a1b.npz"),
        None,
        Some("-10:".parse().unwrap()),
    )
    .unwrap();
    assert_eq!(s.fields, 10);
    assert!(
        s.notes.iter().any(|n| n.contains("360_day")),
        "{:?}",
        s.notes
    );
    assert!(!read_npz(tmp("a1b.npz")).unwrap().contains("time"));
}

#[test]
fn describe_reports_grids_and_variables() {
    let Some(p) = data_file("reanalysis/TREFHT.B06.57.atm.1890-1999ANN.nc") else {
        return;
    };
    let info = describe(&p).unwrap();
    assert_eq!(info.grid.kind, GridFamily::Gaussian);
    assert_eq!(info.variables.len(), 1);
    let v = &info.variables[0];
    assert_eq!((v.name.as_str(), v.fields, v.missing), ("TREFHT", 110, 0));
    assert!((v.min.unwrap() - 212.278).abs() < 1e-3, "{v:?}");
    let Some(p) = data_file("era5/era5-levels-members.grib") else {
        return;
    };
    let info = describe(&p).unwrap();
    assert_eq!(info.grid.kind, GridFamily::LatLon);
    assert_eq!(info.variables[1].levels, vec![500.0, 850.0]);
    assert_eq!(
        (info.variables[1].times, info.variables[1].members),
        (4, 10)
    );
}

#[test]
fn netcdf4_members_and_levels_are_labelled() {
    let Some(p) = data_file("era5/era5-levels-members.nc") else {
        return;
    };
    let t = read_variable(&p, Some("t")).unwrap();
    assert_eq!(t.num_fields(), 80);
    // dims (number, time, isobaricInhPa, latitude, longitude).
    assert_eq!(t.labels[0].member, Some(0));
    assert_eq!(t.labels[1].level, Some(500.0));
    assert_eq!(t.labels[2].time_index, 1);
    assert_eq!(t.labels[8].member, Some(1));
    assert_eq!(t.labels[2].time.as_deref(), Some("2017-01-01T12:00:00"));
}

#[test]
fn gasp_npz_and_bad_variables() {
    let dir = tmp("gasp");
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join("era5_2m_temperature.npz");
    let lat: Vec<f64> = (0..5).map(|i| 90.0 - 45.0 * i as f64).collect();
    let lon: Vec<f64> = (0..8).map(|j| 45.0 * j as f64).collect();
    let mut t: Vec<f32> = (0..3 * 40).map(|i| 250.0 + i as f32).collect();
    t[7] = f32::NAN;
    let arr = |s: Vec<usize>, d: Vec<f64>| {
        crate::npy::NpyArray::F64(crate::NdArray { shape: s, data: d })
    };
    crate::npy::write_npz(
        &p,
        &[
            ("latitude", &arr(vec![5], lat)),
            ("longitude", &arr(vec![8], lon)),
            (
                "temperature",
                &crate::npy::NpyArray::F32(crate::NdArray {
                    shape: vec![3, 5, 8],
                    data: t,
                }),
            ),
        ],
    )
    .unwrap();
    let v = read_variable(&p, None).unwrap();
    assert_eq!(
        (v.name.as_str(), v.num_fields(), v.missing_count()),
        ("temperature", 3, 1)
    );
    assert_eq!(v.labels[2].time_index, 2);
    let info = describe(&p).unwrap();
    assert_eq!(info.grid.kind, GridFamily::LatLon);
    assert_eq!(info.variables[0].min, Some(250.0));
    let e = read_variable(&p, Some("t2m")).unwrap_err().to_string();
    assert!(e.contains("t2m") && e.contains("temperature"), "{e}");
    // FieldSet: vertex order and masks; a missing pole-row point hides the pole vertex.
    let set = FieldSet::new(&v, None).unwrap();
    assert_eq!(set.grid.num_vertices(), 3 * 8 + 2);
    assert_eq!(set.missing[0].num_observed(), set.grid.num_vertices() - 1);
    assert!(convert(&p, dir.join("out.csv"), None, None)
        .unwrap_err()
        .to_string()
        .contains(".nc"));
}

fn synthetic(times: usize, members: usize) -> GriddedVariable {
    // No pole rows: added pole vertices take their ring's mean, inside the data's range.
    let lat: Vec<f64> = (0..5).map(|i| 72.0 - 36.0 * i as f64).collect();
    let lon: Vec<f64> = (0..8).map(|j| 45.0 * j as f64).collect();
    let mut labels = Vec::new();
    let mut values = Vec::new();
    for t in 0..times {
        for m in 0..members {
            labels.push(FieldLabel {
                time: None,
                time_index: t,
                level: None,
                member: Some(m as i64),
            });
            values.extend((0..40).map(|i| (t * 100 + i) as f32));
        }
    }
    GriddedVariable {
        name: "t".into(),
        long_name: None,
        standard_name: None,
        units: Some("K".into()),
        lat_deg: lat,
        lon_deg: lon,
        labels,
        values,
        time: None,
        source: "<memory>".into(),
        format: DataFormat::Npz,
        warnings: vec![],
    }
}

#[test]
fn splits_never_separate_the_fields_of_one_time() {
    let set = FieldSet::new(&synthetic(10, 3), None).unwrap();
    for seed in 0..20 {
        let (train, test) = set.train_test_split(0.3, seed).unwrap();
        assert_eq!(train.len() + test.len(), 30);
        assert_eq!(test.len(), 9, "3 of 10 times, 3 members each");
        for &i in &test {
            let t = set.labels[i].time_index;
            assert!(train.iter().all(|&j| set.labels[j].time_index != t));
        }
        assert_eq!(set.train_test_split(0.3, seed).unwrap(), (train, test));
    }
    assert_ne!(
        set.train_test_split(0.3, 1).unwrap(),
        set.train_test_split(0.3, 2).unwrap()
    );
    assert!(set.train_test_split(1.0, 0).is_err());
    let one_time = FieldSet::new(&synthetic(1, 5), None).unwrap();
    assert!(one_time.train_test_split(0.2, 0).is_err());
    assert_eq!(
        one_time.train_test_split(0.0, 0).unwrap().1,
        Vec::<usize>::new()
    );
}

#[test]
fn normalisation_sees_only_the_training_fields() {
    let set = FieldSet::new(&synthetic(4, 1), None).unwrap();
    // Time t holds t*100 .. t*100+39.
    let n = set
        .normalisation(NormalisationChoice::FitOnTrain, &[0, 1])
        .unwrap();
    assert_eq!(
        n,
        meshflow_geometry::signal::Normalisation::MinMax {
            min: 0.0,
            max: 139.0
        }
    );
    assert_eq!(
        set.normalisation(NormalisationChoice::Era5Temperature, &[])
            .unwrap(),
        meshflow_geometry::signal::Normalisation::ERA5_TEMPERATURE
    );
    assert!(set
        .normalisation(NormalisationChoice::FitOnTrain, &[9])
        .is_err());
    let sub = FieldSet::new(&synthetic(4, 1), Some(&"1:3".parse().unwrap())).unwrap();
    assert_eq!(sub.len(), 2);
    assert_eq!(sub.labels[0].time_index, 1);
}

#[test]
fn calendar_override_matches_the_trefht_reference() {
    use crate::cf::Calendar;
    for member in ["57", "59", "60", "61"] {
        let base = format!("reanalysis/TREFHT.B06.{member}.atm.1890-1999ANN");
        let (Some(nc), Some(npz)) = (
            data_file(&format!("{base}.nc")),
            data_file(&format!("{base}.npz")),
        ) else {
            return;
        };
        let npz = read_npz(npz).unwrap();
        let years = npz.get("year").unwrap().to_f64().data;
        let want = npz.get("TREFHT").unwrap().to_f32().data;
        // The file's own (missing) calendar: CF's `standard`, with a warning naming the fix.
        let plain = read_variable(&nc, Some("TREFHT")).unwrap();
        assert!(
            plain.warnings.iter().any(|w| w.contains("noleap")),
            "{member}"
        );
        let t = DataFile::open(&nc)
            .unwrap()
            .with_calendar(Some(Calendar::NoLeap))
            .unwrap()
            .read(Some("TREFHT"))
            .unwrap();
        assert!(t.warnings.is_empty(), "{:?}", t.warnings);
        assert_eq!(bits(&t.values), bits(&want), "{member}");
        let time = t.time.as_ref().unwrap();
        assert_eq!(time.calendar, Calendar::NoLeap);
        // Every member decodes to mid-July of its npz `year`, whatever its units' epoch.
        for (label, y) in t.labels.iter().zip(&years) {
            let want = format!("{y}-07-16T22:00:00");
            assert_eq!(label.time.as_deref(), Some(want.as_str()), "{member}");
        }
        // The same numbers in the default calendar drift away from mid-July.
        assert_ne!(plain.labels[109].time, t.labels[109].time, "{member}");
        assert_eq!(time.values, plain.time.as_ref().unwrap().values);
    }
}

#[test]
fn calendar_override_is_refused_for_dated_formats() {
    let Some(p) = data_file("era5/era5-single-level-scalar-time.grib") else {
        return;
    };
    let e = DataFile::open(&p)
        .unwrap()
        .with_calendar(Some(crate::cf::Calendar::Day360))
        .unwrap_err();
    assert!(matches!(e, crate::DatasetError::InvalidArgument(_)), "{e}");
    assert!(e.to_string().contains("360_day"), "{e}");
}

#[test]
fn in_memory_sources_read_like_files() {
    for rel in [
        "era5/era5-single-level-scalar-time.grib",
        "reanalysis/A1B_north_america.nc",
        "reanalysis/A1B_north_america.npz",
    ] {
        let Some(p) = data_file(rel) else {
            return;
        };
        let from_file = describe(&p).unwrap();
        let src = DataSource::from_vec("<memory test>", std::fs::read(&p).unwrap());
        let from_bytes = describe(&src).unwrap();
        assert_eq!(from_bytes.path.to_str(), Some("<memory test>"));
        assert_eq!(from_bytes.variables, from_file.variables, "{rel}");
        assert_eq!(from_bytes.grid, from_file.grid, "{rel}");
    }
}
