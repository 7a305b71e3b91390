//! `meshflow info` on data files (GRIB, NetCDF, NPZ) and `meshflow convert`.

use anyhow::{Context, Result};

use super::{ConvertArgs, InfoArgs};
use crate::builtin::{builtin_data, find_data_file, resolve_data_source, BUILTIN_MESHES};
use crate::datasets::cf::Calendar;
use crate::datasets::field::{DataFile, DataFileInfo, DataFormat, DataSource, FieldRange};
use crate::geometry::sphere::looks_like_grid_spec;

/// The data file `source` names (a built-in data set or a path), or `None` when it is a grid
/// spec, a built-in mesh, a mesh file (`.obj`, `.ply`) or no file at all (the mesh commands
/// report those). A file that is neither a mesh nor in a recognised data format is an error
/// naming its first bytes.
pub(super) fn data_file(source: &str) -> Result<Option<DataSource>> {
    if let Some(d) = builtin_data(source) {
        return Ok(Some(d.source()));
    }
    if looks_like_grid_spec(source) || BUILTIN_MESHES.contains(&source) {
        return Ok(None);
    }
    let Some(path) = find_data_file(source) else {
        return Ok(None);
    };
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase());
    if matches!(ext.as_deref(), Some("obj" | "ply")) {
        return Ok(None);
    }
    DataFormat::detect(&path).with_context(|| {
        format!(
            "`{source}` is an unsupported file: neither a mesh (.obj, .ply) nor a data file \
             meshflow reads"
        )
    })?;
    Ok(Some(DataSource::Path(path)))
}

/// Parses `--calendar NAME` (clap value parser): a CF calendar name.
pub(super) fn parse_calendar(name: &str) -> Result<Calendar, String> {
    Calendar::parse(name).ok_or_else(|| {
        format!(
            "unknown calendar `{name}`; CF calendars are standard (gregorian), \
             proleptic_gregorian, julian, noleap (365_day), all_leap (366_day) and 360_day"
        )
    })
}

/// Opens a data file with the calendar override of the command line.
fn open(source: DataSource, calendar: Option<Calendar>) -> Result<DataFile> {
    let name = source.name().display().to_string();
    DataFile::open(source)
        .and_then(|f| f.with_calendar(calendar))
        .with_context(|| format!("reading {name}"))
}

/// `meshflow info FILE` for a data file.
pub(super) fn info(source: DataSource, args: &InfoArgs) -> Result<()> {
    let name = source.name().display().to_string();
    let info = open(source, args.calendar)?
        .describe()
        .with_context(|| format!("reading {name}"))?;
    for w in &info.warnings {
        eprintln!("warning: {w}");
    }
    if args.json {
        println!("{}", serde_json::to_string(&info)?);
    } else {
        print!("{}", table(&info));
    }
    Ok(())
}

fn num(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.6}"))
}

fn table(info: &DataFileInfo) -> String {
    let g = &info.grid;
    let mut out = format!(
        "{}: {}\ngrid: {} {}x{}, latitude {} .. {}, longitude {} .. {}\n",
        info.path.display(),
        info.format,
        g.kind,
        g.nlat,
        g.nlon,
        g.lat_first,
        g.lat_last,
        g.lon_first,
        g.lon_last
    );
    let rows: Vec<[String; 9]> = info
        .variables
        .iter()
        .map(|v| {
            let levels: Vec<String> = v.levels.iter().map(|l| l.to_string()).collect();
            [
                v.name.clone(),
                v.units.clone().unwrap_or("-".into()),
                v.fields.to_string(),
                v.times.to_string(),
                if levels.is_empty() {
                    "-".into()
                } else {
                    levels.join(",")
                },
                v.members.to_string(),
                num(v.min),
                num(v.max),
                v.missing.to_string(),
            ]
        })
        .collect();
    let header = [
        "variable", "units", "fields", "times", "levels", "members", "min", "max", "missing",
    ];
    let mut width: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in &rows {
        for (w, c) in width.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut s: String = cells
            .iter()
            .zip(&width)
            .map(|(c, w)| format!("{c:<w$}  "))
            .collect();
        s.truncate(s.trim_end().len());
        s.push('\n');
        s
    };
    out.push_str(&line(&header));
    for (r, v) in rows.iter().zip(&info.variables) {
        let cells: Vec<&str> = r.iter().map(String::as_str).collect();
        out.push_str(&line(&cells));
        if let Some(l) = &v.long_name {
            out.push_str(&format!("  {}: {l}\n", v.name));
        }
        if let (Some(a), Some(b)) = (&v.time_first, &v.time_last) {
            out.push_str(&format!("  {}: time {a} .. {b}\n", v.name));
        }
    }
    out
}

/// `meshflow convert IN OUT [--var NAME] [--fields A:B] [--json]`.
pub(super) fn convert(args: &ConvertArgs) -> Result<()> {
    let fields = args
        .fields
        .as_deref()
        .map(str::parse::<FieldRange>)
        .transpose()
        .context("--fields")?;
    let source = resolve_data_source(&args.input)?;
    let summary = open(source, args.calendar)?
        .convert(&args.output, args.var.as_deref(), fields)
        .with_context(|| format!("converting {} to {}", args.input, args.output.display()))?;
    for w in &summary.warnings {
        eprintln!("warning: {w}");
    }
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!("{summary}");
        for n in &summary.notes {
            eprintln!("note: {n}");
        }
    }
    Ok(())
}
