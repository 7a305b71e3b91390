//! GRIB edition 1: sections 1 (PDS), 2 (GDS), 3 (BMS), 4 (BDS).

use super::bits::{ibm_f32, signed, u16_at, u24_at, u8_at};
use super::grid::{grid_kind, GridUnits, ScanningMode};
use super::tables::{grib1_level_type, grib1_parameter};
use super::{
    Ctx, DataRef, DateTime, Decoded, FieldMeta, Level, Packing, PackingKind, Parameter,
    ParameterId, Step, TimeUnit, MAX_POINTS,
};
use crate::Result;

/// ECMWF local definitions (centre 98, section 1 octet 41) that carry the ensemble member:
/// `(number offset, number bytes, ensemble-size offset, ensemble-size bytes)`, 0-based
/// offsets within section 1. From ecCodes' `grib1/local.98.<n>.def`.
fn ecmwf_ensemble_fields(local_def: u8) -> Option<(usize, usize, usize, usize)> {
    match local_def {
        // number at octet 50 (I1), total at octet 51 (I1).
        1 | 26 | 30 | 36 => Some((49, 1, 50, 1)),
        // number at octets 50-51 (I2), system, method, total at octets 56-57 (I2).
        15 => Some((49, 2, 55, 2)),
        _ => None,
    }
}

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
        13 => TimeUnit::Minutes15,
        14 => TimeUnit::Minutes30,
        254 => TimeUnit::Second,
        c => TimeUnit::Other(c),
    }
}

/// Length of the BDS, undoing ECMWF's convention for messages over 8 MiB: when the top bit
/// of the 24-bit total length is set and the coded BDS length is below 120, the total is
/// in units of 120 bytes and the BDS runs to 4 bytes before the end.
pub(crate) fn is_large_message(declared_total: u32) -> bool {
    declared_total & 0x80_0000 != 0
}

/// The true total length of a GRIB1 message starting at `msg[0]` whose 24-bit length field
/// is `declared`, or `None` if the header is unreadable. Handles ECMWF's large-message
/// convention (see [`is_large_message`]); centres 7 (NCEP) and 54 (CMC) never use it.
pub(crate) fn total_length(msg: &[u8], declared: u32) -> Option<u64> {
    if !is_large_message(declared) {
        return Some(u64::from(declared));
    }
    let pds_len = u24_at(msg, 8)? as usize;
    let centre = u8_at(msg, 12)?;
    let flags = u8_at(msg, 15)?;
    if centre == 7 || centre == 54 {
        return Some(u64::from(declared));
    }
    let mut pos = 8usize.checked_add(pds_len)?;
    if flags & 0x80 != 0 {
        pos = pos.checked_add(u24_at(msg, pos)? as usize)?;
    }
    if flags & 0x40 != 0 {
        pos = pos.checked_add(u24_at(msg, pos)? as usize)?;
    }
    let bds_len = u64::from(u24_at(msg, pos)?);
    if bds_len >= 120 {
        return Some(u64::from(declared));
    }
    Some(u64::from(declared & 0x7f_ffff) * 120 - bds_len + 4)
}

/// Reads a section header: its 24-bit length, checked to be at least `min` and to fit
/// before the end section.
fn section<'a>(msg: &'a [u8], pos: usize, min: usize, name: &str, ctx: &Ctx) -> Result<&'a [u8]> {
    let end = msg.len().saturating_sub(4);
    let len = u24_at(msg, pos)
        .filter(|_| pos < end)
        .ok_or_else(|| ctx.format(format!("{name} starts past the end of the message")))?
        as usize;
    if len < min {
        return Err(ctx.format(format!("{name} is {len} bytes, shorter than {min}")));
    }
    if pos + len > end {
        return Err(ctx.format(format!(
            "{name} ({len} bytes at message byte {pos}) runs past the end of the message"
        )));
    }
    Ok(&msg[pos..pos + len])
}

pub(crate) fn decode<'a>(msg: &'a [u8], ctx: &Ctx) -> Result<Decoded<'a>> {
    let truncated = || ctx.format("message shorter than its sections".to_string());
    let pds = section(msg, 8, 28, "section 1 (product definition)", ctx)?;
    let b = |i: usize| pds[i];
    let (table_version, centre, flags, param) = (b(3), u16::from(b(4)), b(7), b(8));
    let (level_type, l1, l2) = (b(9), b(10), b(11));
    let century = b(24);
    if century == 0 {
        return Err(ctx.format("century (section 1 octet 25) is 0".into()));
    }
    let reference_time = DateTime::new(
        (i32::from(century) - 1) * 100 + i32::from(b(12)),
        b(13),
        b(14),
        b(15),
        b(16),
        0,
    )
    .map_err(|e| ctx.format(format!("reference time: {e}")))?;
    let (unit, p1, p2, tri) = (time_unit(b(17)), b(18), b(19), b(20));
    let (start, end) = match tri {
        10 => {
            let p = i64::from(u16::from_be_bytes([p1, p2]));
            (p, p)
        }
        2..=5 => (i64::from(p1), i64::from(p2)),
        _ => (i64::from(p1), i64::from(p1)),
    };
    let sub_centre = u16::from(b(25));
    let decimal_scale = signed(pds, 26, 2).ok_or_else(truncated)? as i32;

    let (number, ensemble_size) = match (centre, pds.get(40)) {
        (98, Some(&def)) => match ecmwf_ensemble_fields(def) {
            Some((no, nl, to, tl)) => (
                super::bits::uint(pds, no, nl).map(|v| v as u32),
                super::bits::uint(pds, to, tl).map(|v| v as u32),
            ),
            None => (None, None),
        },
        _ => (None, None),
    };

    let (level_name, layer) = grib1_level_type(level_type);
    let level = Level {
        type_of_level: level_name,
        code: level_type,
        value: if layer {
            f64::from(l1)
        } else {
            f64::from(u16::from_be_bytes([l1, l2]))
        },
        second_value: layer.then_some(f64::from(l2)),
    };
    let parameter = match grib1_parameter(table_version, centre, param) {
        Some((s, n, u)) => Parameter::new(
            s,
            n,
            u,
            ParameterId::Grib1 {
                table_version,
                number: param,
            },
        ),
        None => Parameter::new(
            &format!("param{param}"),
            "",
            "",
            ParameterId::Grib1 {
                table_version,
                number: param,
            },
        ),
    };

    // Section 2: grid description.
    let mut pos = 8 + pds.len();
    if flags & 0x80 == 0 {
        return Err(ctx.unsupported(format!(
            "GRIB1 message without a grid description section (predefined grid {})",
            b(6)
        )));
    }
    let gds = section(msg, pos, 6, "section 2 (grid description)", ctx)?;
    pos += gds.len();
    let grid_type = gds[5];
    let kind = grid_kind(
        u16::from(grid_type),
        [0, 4],
        &[
            (1, "Mercator"),
            (3, "Lambert conformal"),
            (5, "polar stereographic"),
            (10, "rotated lat-lon"),
            (14, "rotated Gaussian"),
            (50, "spherical harmonics"),
        ],
        "GRIB1 grid type ",
        ctx,
    )?;
    if gds.len() < 28 {
        return Err(ctx.format(format!(
            "section 2 is {} bytes, too short for grid type {grid_type}",
            gds.len()
        )));
    }
    let g16 = |i| u16_at(gds, i).unwrap_or(0);
    let g24s = |i| signed(gds, i, 3).unwrap_or(0);
    let (ni, nj) = (g16(6), g16(8));
    if ni == 0xFFFF || nj == 0xFFFF {
        return Err(ctx.unsupported("GRIB1 quasi-regular (reduced) grid".into()));
    }
    let res_flags = gds[16];
    let di = g16(23);
    let dj_or_n = g16(25);
    let scanning = ScanningMode::from_flags(gds[27] & 0xE0);
    let increments = res_flags & 0x80 != 0;
    let units = GridUnits::regular(
        kind,
        (usize::from(ni), usize::from(nj)),
        [g24s(10), g24s(13), g24s(17), g24s(20)],
        (increments && di != 0xFFFF).then_some(i64::from(di)),
        (u32::from(dj_or_n), increments && dj_or_n != 0xFFFF),
        1000.0,
        scanning,
    );
    let npoints = usize::from(ni) * usize::from(nj);
    if npoints == 0 {
        return Err(ctx.format(format!("grid has {ni} x {nj} points")));
    }

    // Section 3: bitmap.
    let mut bitmap = None;
    if flags & 0x40 != 0 {
        let bms = section(msg, pos, 6, "section 3 (bitmap)", ctx)?;
        pos += bms.len();
        let table = u16_at(bms, 4).ok_or_else(truncated)?;
        if table != 0 {
            return Err(ctx.unsupported(format!("GRIB1 predefined bitmap {table}")));
        }
        let nbits = ((bms.len() - 6) * 8).saturating_sub(usize::from(bms[3]));
        if nbits < npoints {
            return Err(ctx.format(format!(
                "bitmap has {nbits} bits for a grid of {npoints} points"
            )));
        }
        bitmap = Some(&bms[6..]);
    }

    // Section 4: binary data. For ECMWF large messages the BDS runs to the end section.
    let declared = u24_at(msg, 4).unwrap_or(0);
    let bds = if is_large_message(declared)
        && u24_at(msg, pos).is_some_and(|l| l < 120)
        && msg.len() >= pos + 4 + 11
    {
        &msg[pos..msg.len() - 4]
    } else {
        section(msg, pos, 11, "section 4 (binary data)", ctx)?
    };
    let bflags = bds[3] >> 4;
    let unused_bits = usize::from(bds[3] & 0x0F);
    let e = signed(bds, 4, 2).ok_or_else(truncated)? as i32;
    let r = ibm_f32(bds, 6).ok_or_else(truncated)?;
    let bits = bds[10];
    let packing_kind = if bflags & 0x8 != 0 {
        PackingKind::Unsupported(if bflags & 0x4 != 0 {
            "GRIB1 spherical harmonics, complex packing".into()
        } else {
            "GRIB1 spherical harmonics, simple packing".into()
        })
    } else if bflags & 0x4 != 0 {
        PackingKind::Unsupported("GRIB1 grid-point second-order (complex) packing".into())
    } else {
        PackingKind::Simple
    };
    let packed = &bds[11..];
    let available_bits = (packed.len() * 8).saturating_sub(unused_bits);

    let meta = FieldMeta {
        message_index: ctx.index,
        field_index: 0,
        offset: ctx.offset,
        edition: 1,
        centre,
        sub_centre,
        parameter,
        level,
        reference_time,
        step: Some(Step { start, end, unit }),
        number,
        ensemble_size,
        grid: units.grid(),
        packing: Packing {
            kind: packing_kind,
            reference_value: r,
            binary_scale_factor: e,
            decimal_scale_factor: decimal_scale,
            bits_per_value: bits,
        },
    };
    if npoints > MAX_POINTS {
        return Err(ctx.format(format!("grid of {npoints} points is implausibly large")));
    }
    Ok(Decoded {
        meta,
        units,
        data: DataRef {
            packed,
            available_bits,
            coded_values: None,
            bitmap,
            npoints,
        },
    })
}
