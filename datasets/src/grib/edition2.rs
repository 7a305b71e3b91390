//! GRIB edition 2: sections 1 (identification), 3 (grid), 4 (product), 5 (data
//! representation), 6 (bitmap), 7 (data); sections 2–7 may repeat (several fields in one
//! message).

use super::bits::{ieee_f32, signed, u16_at, u32_at, u8_at, uint};
use super::grid::{grid_kind, GridUnits, ScanningMode};
use super::tables::{grib2_level_type, grib2_parameter};
use super::{
    Ctx, DataRef, DateTime, Decoded, FieldMeta, Level, Packing, PackingKind, Parameter,
    ParameterId, Step, TimeUnit, MAX_POINTS,
};
use crate::Result;

fn time_unit(code: u8) -> TimeUnit {
    match code {
        0 => TimeUnit::Minute,
        1 => TimeUnit::Hour,
        2 => TimeUnit::Day,
        3 => TimeUnit::Month,
        4 => TimeUnit::Year,
        5 => TimeUnit::Decade,
        6 => TimeUnit::Normal,
        7 => TimeUnit::Century,
        10 => TimeUnit::Hours3,
        11 => TimeUnit::Hours6,
        12 => TimeUnit::Hours12,
        13 => TimeUnit::Second,
        c => TimeUnit::Other(c),
    }
}

/// Product definition (section 4) fields that matter here.
#[derive(Clone)]
struct Product {
    category: u8,
    number: u8,
    level: Level,
    /// Surface type and value used to refine the parameter name.
    surface: (u8, f64),
    step: Option<Step>,
    ensemble: Option<(u32, u32)>,
}

/// A fixed surface value: scaled value × 10^−scale factor; `None` when missing.
fn surface_value(s: &[u8], pos: usize) -> Option<f64> {
    let sf = u8_at(s, pos)?;
    let sv = uint(s, pos + 1, 4)?;
    if sf == 0xFF || sv == 0xFFFF_FFFF {
        return None;
    }
    let sf = signed(s, pos, 1)? as i32;
    let sv = signed(s, pos + 1, 4)? as f64;
    Some(if sf >= 0 {
        sv / 10f64.powi(sf)
    } else {
        sv * 10f64.powi(-sf)
    })
}

fn parse_product(s: &[u8], ctx: &Ctx) -> Result<Product> {
    let template = u16_at(s, 7).unwrap_or(u16::MAX);
    let (category, number) = (u8_at(s, 9).unwrap_or(255), u8_at(s, 10).unwrap_or(255));
    let unknown_level = Level {
        type_of_level: "unknown".into(),
        code: 255,
        value: 0.0,
        second_value: None,
    };
    // Templates 4.0–4.15 share octets 10–34 (parameter, time, surfaces).
    if template > 15 || s.len() < 34 {
        return Ok(Product {
            category,
            number,
            level: unknown_level,
            surface: (255, 0.0),
            step: None,
            ensemble: None,
        });
    }
    let unit = s[17];
    let forecast = i64::from(u32_at(s, 18).unwrap_or(0));
    let (t1, t2) = (s[22], s[28]);
    let v1 = surface_value(s, 23);
    let v2 = if t2 == 255 {
        None
    } else {
        surface_value(s, 29)
    };
    let level = if t1 == 100 && v2.is_none() && v1.is_some_and(|p| p >= 100.0 && p % 100.0 == 0.0) {
        Level {
            type_of_level: "isobaricInhPa".into(),
            code: t1,
            value: v1.unwrap_or(0.0) / 100.0,
            second_value: None,
        }
    } else {
        Level {
            type_of_level: grib2_level_type(t1, v2.is_some()),
            code: t1,
            value: v1.unwrap_or(0.0),
            second_value: v2,
        }
    };
    let ensemble = match template {
        1 | 11 if s.len() >= 37 => Some((u32::from(s[35]), u32::from(s[36]))),
        _ => None,
    };
    // Statistical templates: the end of the first time range gives the end of the step.
    let stat_at = match template {
        8 => Some(46usize),
        11 => Some(49usize),
        _ => None,
    };
    let step = match stat_at {
        None => Some(Step {
            start: forecast,
            end: forecast,
            unit: time_unit(unit),
        }),
        Some(p) => match (u8_at(s, p + 2), u32_at(s, p + 3)) {
            (Some(u2), Some(len)) if u2 == unit => Some(Step {
                start: forecast,
                end: forecast + i64::from(len),
                unit: time_unit(unit),
            }),
            (Some(u2), Some(len)) => {
                // Different units: express both in seconds where possible.
                match (time_unit(unit).seconds(), time_unit(u2).seconds()) {
                    (Some(a), Some(b)) => Some(Step {
                        start: forecast * a,
                        end: forecast * a + i64::from(len) * b,
                        unit: TimeUnit::Second,
                    }),
                    _ => None,
                }
            }
            _ => {
                return Err(ctx.format(format!(
                    "section 4 template 4.{template} is too short ({} bytes)",
                    s.len()
                )))
            }
        },
    };
    Ok(Product {
        category,
        number,
        surface: (t1, v1.unwrap_or(0.0)),
        level,
        step,
        ensemble,
    })
}

fn parse_grid(s: &[u8], ctx: &Ctx) -> Result<(GridUnits, usize)> {
    if s.len() < 14 {
        return Err(ctx.format(format!("section 3 is {} bytes, too short", s.len())));
    }
    let source = s[5];
    let npoints = u32_at(s, 6).unwrap_or(0) as usize;
    let template = u16_at(s, 12).unwrap_or(0);
    if source != 0 {
        return Err(ctx.unsupported(format!(
            "GRIB2 predefined grid (source of grid definition {source})"
        )));
    }
    if s[10] != 0 {
        return Err(
            ctx.unsupported("GRIB2 quasi-regular (reduced) grid (list of points per row)".into())
        );
    }
    let kind = grid_kind(
        template,
        [0, 40],
        &[
            (1, "rotated lat-lon"),
            (10, "Mercator"),
            (20, "polar stereographic"),
            (30, "Lambert conformal"),
            (41, "rotated Gaussian"),
            (50, "spherical harmonics"),
            (90, "space view"),
            (101, "unstructured"),
            (140, "Lambert azimuthal equal area"),
            (150, "HEALPix"),
        ],
        "GRIB2 grid definition template 3.",
        ctx,
    )?;
    if s.len() < 72 {
        return Err(ctx.format(format!(
            "section 3 is {} bytes, too short for template 3.{template}",
            s.len()
        )));
    }
    let u32f = |i| u32_at(s, i).unwrap_or(0);
    let s32 = |i| signed(s, i, 4).unwrap_or(0);
    let (ni, nj) = (u32f(30), u32f(34));
    if ni == u32::MAX || nj == u32::MAX {
        return Err(ctx.unsupported("GRIB2 quasi-regular (reduced) grid".into()));
    }
    let (basic, subdiv) = (u32f(38), u32f(42));
    let per_degree = if basic == 0 || basic == u32::MAX {
        1e6
    } else if subdiv == 0 || subdiv == u32::MAX {
        return Err(ctx.format(format!("basic angle {basic} with subdivisions {subdiv}")));
    } else {
        f64::from(subdiv) / f64::from(basic)
    };
    let res = s[54];
    let (di, dj_or_n) = (u32f(63), u32f(67));
    let units = GridUnits::regular(
        kind,
        (ni as usize, nj as usize),
        [s32(46), s32(50), s32(55), s32(59)],
        (res & 0x20 != 0 && di != u32::MAX).then_some(i64::from(di)),
        (dj_or_n, res & 0x10 != 0 && dj_or_n != u32::MAX),
        per_degree,
        ScanningMode::from_flags(s[71] & 0xF0),
    );
    let n = (ni as usize).checked_mul(nj as usize).filter(|&n| n > 0);
    if n != Some(npoints) {
        return Err(ctx.format(format!(
            "grid is {ni} x {nj} but section 3 declares {npoints} points"
        )));
    }
    if npoints > MAX_POINTS {
        return Err(ctx.format(format!("grid of {npoints} points is implausibly large")));
    }
    Ok((units, npoints))
}

fn parse_packing(s: &[u8], ctx: &Ctx) -> Result<(Packing, usize)> {
    if s.len() < 11 {
        return Err(ctx.format(format!("section 5 is {} bytes, too short", s.len())));
    }
    let nvals = u32_at(s, 5).unwrap_or(0) as usize;
    let template = u16_at(s, 9).unwrap_or(0);
    let name = match template {
        0 => "",
        1 => "matrix simple packing",
        2 => "complex packing",
        3 => "complex packing with spatial differencing",
        4 => "IEEE floating point",
        40 => "JPEG 2000",
        41 => "PNG",
        42 => "CCSDS",
        50 => "spectral simple packing",
        51 => "spectral complex packing",
        61 => "simple packing with logarithm pre-processing",
        200 => "run length packing",
        _ => "unknown",
    };
    let kind = if template == 0 {
        PackingKind::Simple
    } else {
        PackingKind::Unsupported(format!(
            "GRIB2 data representation template 5.{template} ({name})"
        ))
    };
    // Templates 5.0–5.3, 5.40–5.42, 5.50, 5.51, 5.61 start with R, E, D, bits.
    let common = matches!(template, 0..=3 | 40..=42 | 50 | 51 | 61);
    let packing = if common {
        if s.len() < 21 {
            return Err(ctx.format(format!(
                "section 5 is {} bytes, too short for template 5.{template}",
                s.len()
            )));
        }
        Packing {
            kind,
            reference_value: ieee_f32(s, 11).unwrap_or(0.0),
            binary_scale_factor: signed(s, 15, 2).unwrap_or(0) as i32,
            decimal_scale_factor: signed(s, 17, 2).unwrap_or(0) as i32,
            bits_per_value: s[19],
        }
    } else {
        Packing {
            kind,
            reference_value: 0.0,
            binary_scale_factor: 0,
            decimal_scale_factor: 0,
            bits_per_value: 0,
        }
    };
    Ok((packing, nvals))
}

pub(crate) fn decode<'a>(msg: &'a [u8], ctx: &Ctx) -> Result<Vec<Decoded<'a>>> {
    let discipline = msg[6];
    let end = msg.len() - 4; // "7777"
    let mut pos = 16usize;
    let mut ident: Option<(u16, u16, DateTime)> = None;
    let mut grid: Option<(GridUnits, usize)> = None;
    let mut product: Option<Product> = None;
    let mut packing: Option<(Packing, usize)> = None;
    let mut bitmap: Option<Option<&'a [u8]>> = None;
    let mut last_bitmap: Option<&'a [u8]> = None;
    let mut out = Vec::new();
    while pos < end {
        let len = u32_at(msg, pos).unwrap_or(0) as usize;
        let num = u8_at(msg, pos + 4).unwrap_or(0);
        if len < 5 || pos + len > end {
            return Err(ctx.format(format!(
                "section {num} at message byte {pos} declares {len} bytes, which do not fit \
                 the message ({} bytes)",
                msg.len()
            )));
        }
        let s = &msg[pos..pos + len];
        match num {
            1 => {
                if s.len() < 21 {
                    return Err(ctx.format(format!("section 1 is {len} bytes, too short")));
                }
                let t = DateTime::new(
                    i32::from(u16_at(s, 12).unwrap_or(0)),
                    s[14],
                    s[15],
                    s[16],
                    s[17],
                    s[18],
                )
                .map_err(|e| ctx.format(format!("reference time: {e}")))?;
                ident = Some((u16_at(s, 5).unwrap_or(0), u16_at(s, 7).unwrap_or(0), t));
            }
            2 => {}
            3 => grid = Some(parse_grid(s, ctx)?),
            4 => product = Some(parse_product(s, ctx)?),
            5 => packing = Some(parse_packing(s, ctx)?),
            6 => {
                let ind = u8_at(s, 5).ok_or_else(|| ctx.format("section 6 too short".into()))?;
                bitmap = Some(match ind {
                    0 => {
                        last_bitmap = Some(&s[6..]);
                        last_bitmap
                    }
                    254 => Some(last_bitmap.ok_or_else(|| {
                        ctx.format("section 6 reuses a bitmap, but none was defined".into())
                    })?),
                    255 => None,
                    i => {
                        return Err(ctx.unsupported(format!(
                            "GRIB2 predefined bitmap (bit-map indicator {i})"
                        )))
                    }
                });
            }
            7 => {
                let field_index = out.len();
                let missing = |what: &str| {
                    ctx.format(format!(
                        "field {field_index}: section 7 comes before any section {what}"
                    ))
                };
                let (centre, sub_centre, reference_time) = ident.ok_or_else(|| missing("1"))?;
                let (units, npoints) = grid.clone().ok_or_else(|| missing("3"))?;
                let p = product.clone().ok_or_else(|| missing("4"))?;
                let (pk, nvals) = packing.clone().ok_or_else(|| missing("5"))?;
                let bm = bitmap.ok_or_else(|| missing("6"))?;
                if let Some(bm) = bm {
                    if bm.len() * 8 < npoints {
                        return Err(ctx.format(format!(
                            "field {field_index}: bitmap has {} bits for {npoints} points",
                            bm.len() * 8
                        )));
                    }
                }
                let parameter = match grib2_parameter(
                    discipline,
                    p.category,
                    p.number,
                    p.surface.0,
                    p.surface.1,
                ) {
                    Some((sn, n, u)) => Parameter::new(
                        sn,
                        n,
                        u,
                        ParameterId::Grib2 {
                            discipline,
                            category: p.category,
                            number: p.number,
                        },
                    ),
                    None => Parameter::new(
                        &format!("param{discipline}_{}_{}", p.category, p.number),
                        "",
                        "",
                        ParameterId::Grib2 {
                            discipline,
                            category: p.category,
                            number: p.number,
                        },
                    ),
                };
                let packed = &s[5..];
                let meta = FieldMeta {
                    message_index: ctx.index,
                    field_index,
                    offset: ctx.offset,
                    edition: 2,
                    centre,
                    sub_centre,
                    parameter,
                    level: p.level,
                    reference_time,
                    step: p.step,
                    number: p.ensemble.map(|e| e.0),
                    ensemble_size: p.ensemble.map(|e| e.1),
                    grid: units.grid(),
                    packing: pk,
                };
                out.push(Decoded {
                    meta,
                    units,
                    data: DataRef {
                        packed,
                        available_bits: packed.len() * 8,
                        coded_values: Some(nvals),
                        bitmap: bm,
                        npoints,
                    },
                });
            }
            n => {
                return Err(ctx.format(format!(
                    "unexpected section number {n} at message byte {pos}"
                )))
            }
        }
        pos += len;
    }
    if out.is_empty() {
        return Err(ctx.format("message has no data section (section 7)".into()));
    }
    Ok(out)
}
