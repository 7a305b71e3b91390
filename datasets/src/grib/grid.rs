//! Horizontal grids: regular lat-lon and regular Gaussian, scanning modes, coordinates.

use super::Ctx;

/// How the grid points are stored in the message (GRIB code table 8 / 3.4 flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ScanningMode {
    /// Bit 1 (0x80): points along a row go in the −i (westward) direction.
    pub i_negative: bool,
    /// Bit 2 (0x40): rows go in the +j (northward) direction.
    pub j_positive: bool,
    /// Bit 3 (0x20): adjacent points in the j direction are consecutive (column-major).
    pub j_consecutive: bool,
    /// Bit 4 (0x10, GRIB2 only): adjacent rows (columns, if `j_consecutive`) scan in
    /// opposite directions ("boustrophedonic").
    pub alternate_rows: bool,
}

impl ScanningMode {
    /// Decodes the flag octet.
    pub fn from_flags(flags: u8) -> Self {
        Self {
            i_negative: flags & 0x80 != 0,
            j_positive: flags & 0x40 != 0,
            j_consecutive: flags & 0x20 != 0,
            alternate_rows: flags & 0x10 != 0,
        }
    }

    /// The flag octet (bits 5–8 zero).
    pub fn flags(&self) -> u8 {
        (u8::from(self.i_negative) << 7)
            | (u8::from(self.j_positive) << 6)
            | (u8::from(self.j_consecutive) << 5)
            | (u8::from(self.alternate_rows) << 4)
    }
}

/// The kind of grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GridKind {
    /// Equally spaced latitudes and longitudes (GRIB1 type 0, GRIB2 template 3.0).
    RegularLatLon,
    /// Gaussian latitudes, equally spaced longitudes (GRIB1 type 4, GRIB2 template 3.40);
    /// `n` is the number of latitudes between a pole and the equator.
    RegularGaussian {
        /// Latitudes between a pole and the equator (N in "N320").
        n: u32,
    },
}

/// A horizontal grid as coded in the message.
///
/// Decoded values are laid out `[nj][ni]`: row `r` is the `r`-th row in the message's
/// j direction (north→south unless `scanning.j_positive`), column `c` the `c`-th point in
/// its i direction (west→east unless `scanning.i_negative`), whatever the storage order.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Lat-lon or Gaussian.
    pub kind: GridKind,
    /// Points along a parallel (columns).
    pub ni: usize,
    /// Points along a meridian (rows).
    pub nj: usize,
    /// Latitude of the first grid point, degrees.
    pub lat_first: f64,
    /// Longitude of the first grid point, degrees.
    pub lon_first: f64,
    /// Latitude of the last grid point, degrees.
    pub lat_last: f64,
    /// Longitude of the last grid point, degrees.
    pub lon_last: f64,
    /// i (longitude) increment as coded, degrees; `None` when not given.
    pub di: Option<f64>,
    /// j (latitude) increment as coded, degrees (lat-lon grids only); `None` when not given.
    pub dj: Option<f64>,
    /// Storage order.
    pub scanning: ScanningMode,
}

/// Grid numbers in integer units (millidegrees for GRIB1, usually microdegrees for GRIB2),
/// so that coordinates can be computed exactly.
#[derive(Debug, Clone)]
pub(crate) struct GridUnits {
    pub kind: GridKind,
    pub ni: usize,
    pub nj: usize,
    pub lat1: i64,
    pub lon1: i64,
    pub lat2: i64,
    pub lon2: i64,
    pub di: Option<i64>,
    pub dj: Option<i64>,
    /// Units per degree.
    pub per_degree: f64,
    pub scanning: ScanningMode,
}

/// The grid kind of a grid-type code (GRIB1 data representation type, GRIB2 grid definition
/// template number): `lat_lon` and `gaussian` are the edition's codes of the two supported
/// grids. Any other code is an unsupported-feature error `"{what}{code}"`, followed by the
/// grid's name in parentheses when `names` lists it.
pub(crate) fn grid_kind(
    code: u16,
    [lat_lon, gaussian]: [u16; 2],
    names: &[(u16, &str)],
    what: &str,
    ctx: &Ctx,
) -> crate::Result<GridKind> {
    if code == lat_lon {
        return Ok(GridKind::RegularLatLon);
    }
    if code == gaussian {
        return Ok(GridKind::RegularGaussian { n: 0 });
    }
    let name = names
        .iter()
        .find(|(c, _)| *c == code)
        .map_or(String::new(), |(_, name)| format!(" ({name})"));
    Err(ctx.unsupported(format!("{what}{code}{name}")))
}

impl GridUnits {
    /// A regular lat-lon or Gaussian grid from its coded numbers: `corners` are the first and
    /// last points `[lat1, lon1, lat2, lon2]`; `dj_or_n` is the coded value that is N (the
    /// number of parallels between a pole and the equator) of a Gaussian grid and the j
    /// increment of a lat-lon grid, where `dj_given` says whether that increment is present.
    pub(crate) fn regular(
        kind: GridKind,
        (ni, nj): (usize, usize),
        [lat1, lon1, lat2, lon2]: [i64; 4],
        di: Option<i64>,
        (dj_or_n, dj_given): (u32, bool),
        per_degree: f64,
        scanning: ScanningMode,
    ) -> Self {
        let kind = match kind {
            GridKind::RegularGaussian { .. } => GridKind::RegularGaussian { n: dj_or_n },
            k => k,
        };
        Self {
            kind,
            ni,
            nj,
            lat1,
            lon1,
            lat2,
            lon2,
            di,
            dj: (dj_given && matches!(kind, GridKind::RegularLatLon)).then_some(i64::from(dj_or_n)),
            per_degree,
            scanning,
        }
    }

    pub fn grid(&self) -> Grid {
        let deg = |u: i64| u as f64 / self.per_degree;
        Grid {
            kind: self.kind,
            ni: self.ni,
            nj: self.nj,
            lat_first: deg(self.lat1),
            lon_first: deg(self.lon1),
            lat_last: deg(self.lat2),
            lon_last: deg(self.lon2),
            di: self.di.map(deg),
            dj: match self.kind {
                GridKind::RegularLatLon => self.dj.map(deg),
                GridKind::RegularGaussian { .. } => None,
            },
            scanning: self.scanning,
        }
    }

    /// Latitudes of the rows and longitudes of the columns, in the `[nj][ni]` layout
    /// described on [`Grid`].
    ///
    /// Coordinates are `first + k * increment` evaluated exactly in integer units and divided
    /// once, so 0.25° grids give 59.75, not 59.750000000000014. The coded increment is used
    /// when it is consistent with the first and last points; otherwise (e.g. 1/3° coded as
    /// 333 millidegrees) the increment is (last − first)/(n − 1), as ecCodes does.
    pub fn coordinates(&self) -> Result<(Vec<f64>, Vec<f64>), String> {
        let lats = match self.kind {
            GridKind::RegularLatLon => self.regular_lats()?,
            GridKind::RegularGaussian { n } => self.gaussian_lats(n)?,
        };
        Ok((lats, self.lons()))
    }

    fn regular_lats(&self) -> Result<Vec<f64>, String> {
        let (nj, s) = (self.nj, self.scanning);
        if nj == 1 {
            return Ok(vec![self.lat1 as f64 / self.per_degree]);
        }
        let span = self.lat2 - self.lat1; // signed
        if (span > 0 && !s.j_positive) || (span < 0 && s.j_positive) {
            return Err(format!(
                "first and last latitudes ({}, {}) contradict the scanning mode (j {})",
                self.lat1 as f64 / self.per_degree,
                self.lat2 as f64 / self.per_degree,
                if s.j_positive {
                    "south to north"
                } else {
                    "north to south"
                }
            ));
        }
        Ok(spaced(self.lat1, span, self.dj, nj, self.per_degree))
    }

    fn lons(&self) -> Vec<f64> {
        let ni = self.ni;
        if ni == 1 {
            return vec![self.lon1 as f64 / self.per_degree];
        }
        let full = (360.0 * self.per_degree).round() as i64;
        // Span in the scanning direction, going round the globe if needed.
        let mut span = if self.scanning.i_negative {
            self.lon1 - self.lon2
        } else {
            self.lon2 - self.lon1
        };
        if span <= 0 {
            span += full;
        }
        let signed_span = if self.scanning.i_negative {
            -span
        } else {
            span
        };
        let mut lons = spaced(self.lon1, signed_span, self.di, ni, self.per_degree);
        // As ecCodes: an eastward row that would pass 360° is shifted to start below 0°.
        if !self.scanning.i_negative && lons[ni - 2] > 360.0 {
            for l in &mut lons {
                *l -= 360.0;
            }
        }
        lons
    }

    fn gaussian_lats(&self, n: u32) -> Result<Vec<f64>, String> {
        if n == 0 || n > MAX_GAUSSIAN_N {
            return Err(format!("Gaussian grid with N = {n}"));
        }
        let n = n as usize;
        let first = self.lat1 as f64 / self.per_degree;
        // Nearest Gaussian latitude to the coded first latitude (coded values are rounded):
        // invert the first guess, then compare the exact roots around it.
        let guess =
            ((2 * n) as f64 + 0.5) * (90.0 - first).to_radians() / std::f64::consts::PI - 0.75;
        let g = guess.round().clamp(0.0, (2 * n - 1) as f64) as usize;
        let (start, dist) = (g.saturating_sub(1)..=(g + 1).min(2 * n - 1))
            .map(|i| (i, (gaussian_latitude(n, i) - first).abs()))
            .fold((0, f64::INFINITY), |a, b| if b.1 < a.1 { b } else { a });
        let spacing = 180.0 / (2 * n) as f64;
        if dist > 0.25 * spacing {
            return Err(format!(
                "first latitude {first} is not a Gaussian latitude of N{n}"
            ));
        }
        let nj = self.nj;
        let idx: Vec<usize> = if self.scanning.j_positive {
            if start + 1 < nj {
                return Err(format!(
                    "{nj} rows northward from latitude {first} leave the N{n} Gaussian grid"
                ));
            }
            (0..nj).map(|k| start - k).collect()
        } else {
            if start + nj > 2 * n {
                return Err(format!(
                    "{nj} rows southward from latitude {first} leave the N{n} Gaussian grid"
                ));
            }
            (0..nj).map(|k| start + k).collect()
        };
        Ok(idx.into_iter().map(|i| gaussian_latitude(n, i)).collect())
    }
}

/// Largest Gaussian N accepted (operational grids stop at N8000; a damaged header must not
/// start a quadratic computation).
const MAX_GAUSSIAN_N: u32 = 1 << 15;

/// `n` points from `first` spanning `span` (integer units, signed), in degrees. Uses the
/// coded increment `inc` when `|span| == (n - 1) * inc`, else divides the span evenly.
fn spaced(first: i64, span: i64, inc: Option<i64>, n: usize, per_degree: f64) -> Vec<f64> {
    let m = (n - 1) as i64;
    match inc {
        Some(d) if d > 0 && span.checked_abs() == m.checked_mul(d) => {
            let step = if span < 0 { -d } else { d };
            (0..n as i64)
                .map(|k| (first + k * step) as f64 / per_degree)
                .collect()
        }
        _ => {
            // (first * m + k * span) / (m * per_degree): one rounding from the exact rational.
            let den = m as f64 * per_degree;
            (0..n as i64)
                .map(|k| {
                    let num = i128::from(first) * i128::from(m) + i128::from(k) * i128::from(span);
                    num as f64 / den
                })
                .collect()
        }
    }
}

/// The `2n` Gaussian latitudes (degrees, north to south) of a Gaussian grid with `n`
/// latitudes between pole and equator: the zeros of the Legendre polynomial P_2n.
pub fn gaussian_latitudes(n: usize) -> Vec<f64> {
    (0..2 * n).map(|i| gaussian_latitude(n, i)).collect()
}

/// The `i`-th (from the north, 0-based) of the `2n` Gaussian latitudes, in degrees: a zero of
/// P_2n found by Newton iteration from Tricomi's first guess. Costs O(n).
fn gaussian_latitude(n: usize, i: usize) -> f64 {
    let nlat = 2 * n;
    // Roots are symmetric: compute the northern one.
    let (k, sign) = if i < n {
        (i, 1.0)
    } else {
        (nlat - 1 - i, -1.0)
    };
    let mut z = (std::f64::consts::PI * (k as f64 + 0.75) / (nlat as f64 + 0.5)).cos();
    for _ in 0..50 {
        let (mut p1, mut p2) = (1.0f64, 0.0f64);
        for j in 1..=nlat {
            let p3 = p2;
            p2 = p1;
            p1 = ((2 * j - 1) as f64 * z * p2 - (j - 1) as f64 * p3) / j as f64;
        }
        // Derivative of P_nlat at z.
        let pp = nlat as f64 * (z * p1 - p2) / (z * z - 1.0);
        let dz = p1 / pp;
        z -= dz;
        if dz.abs() < 1e-16 {
            break;
        }
    }
    sign * z.asin().to_degrees()
}

/// Moves values from storage order into the `[nj][ni]` layout (see [`Grid`]).
pub(crate) fn reorder<T: Copy + Default>(
    values: Vec<T>,
    ni: usize,
    nj: usize,
    s: ScanningMode,
) -> Vec<T> {
    if !s.j_consecutive && !s.alternate_rows {
        return values;
    }
    let mut out = vec![T::default(); values.len()];
    for (k, &v) in values.iter().enumerate() {
        let (r, c) = if s.j_consecutive {
            let (c, r) = (k / nj, k % nj);
            let r = if s.alternate_rows && c % 2 == 1 {
                nj - 1 - r
            } else {
                r
            };
            (r, c)
        } else {
            let (r, c) = (k / ni, k % ni);
            let c = if s.alternate_rows && r % 2 == 1 {
                ni - 1 - c
            } else {
                c
            };
            (r, c)
        };
        out[r * ni + c] = v;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaussian_n32_matches_eccodes() {
        // ecCodes distinctLatitudes of an N32 grid (first three), see
        // tests/data/grib-reference.npz.
        let l = gaussian_latitudes(32);
        assert_eq!(l.len(), 64);
        for (a, b) in l.iter().zip([87.86379884, 85.09652699, 82.31291295]) {
            assert!((a - b).abs() < 1e-8, "{a} {b}");
        }
        assert!((l[31] + l[32]).abs() < 1e-12 && l[31] > 0.0);
    }

    #[test]
    fn reorder_all_modes() {
        // 3 x 2 grid, values = storage index; check where each lands.
        let (ni, nj) = (3, 2);
        let v: Vec<u8> = (0..6).collect();
        let m = |f| ScanningMode::from_flags(f);
        assert_eq!(reorder(v.clone(), ni, nj, m(0x00)), [0, 1, 2, 3, 4, 5]);
        assert_eq!(reorder(v.clone(), ni, nj, m(0x20)), [0, 2, 4, 1, 3, 5]);
        assert_eq!(reorder(v.clone(), ni, nj, m(0x10)), [0, 1, 2, 5, 4, 3]);
        assert_eq!(reorder(v.clone(), ni, nj, m(0x30)), [0, 3, 4, 1, 2, 5]);
        for f in [0u8, 0x80, 0x40, 0xC0, 0x20, 0xA0, 0x60, 0xE0, 0x10, 0x30] {
            assert_eq!(m(f).flags(), f);
        }
    }

    #[test]
    fn spaced_is_exact_in_decimal() {
        let l = spaced(60000, -30000, Some(250), 121, 1000.0);
        assert_eq!(l[1], 59.75);
        assert_eq!(l[120], 30.0);
        // Inconsistent increment (1/3 degree coded as 333): divide the span.
        let l = spaced(0, 180000, Some(333), 541, 1000.0);
        assert_eq!(l[540], 180.0);
        assert_eq!(l[3], 1.0);
    }
}
