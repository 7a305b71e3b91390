//! Perceptual colormaps and colour scales: how a scalar per vertex becomes a colour.
//!
//! rerun has no scalar colormap on meshes, and the PNG figures need one too, so values are
//! mapped to sRGB bytes here: [`Colormap::Viridis`] for fields, [`Colormap::Magma`] for
//! uncertainties and absolute errors (both sequential, with luminance increasing from low to
//! high), and [`Colormap::RdBu`] (blue – white – red, diverging) for signed errors, centred at 0
//! by [`ColorScale::symmetric`]. A NaN, infinite or masked value gets [`MISSING_COLOR`], a mid
//! grey that none of the maps contains.
//!
//! ```
//! use meshflow_viewers::colormap::{ColorScale, Colormap, MISSING_COLOR};
//!
//! let values = [1.0, 2.0, f32::NAN, 3.0];
//! let observed = [true, true, true, false];
//! let scale = ColorScale::fit(Colormap::Viridis, &values, Some(&observed));
//! assert_eq!((scale.vmin, scale.vmax), (1.0, 2.0)); // NaN and the masked 3.0 are ignored
//! let colors = scale.colors(&values, Some(&observed));
//! assert_eq!(colors[2], MISSING_COLOR);
//! assert_eq!(colors[3], MISSING_COLOR);
//! ```

mod tables;

/// The colour of a vertex without a value (NaN, infinite or masked out): mid grey.
pub const MISSING_COLOR: [u8; 3] = [128, 128, 128];

/// A colormap from `[0, 1]` to sRGB bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Colormap {
    /// Sequential, perceptually uniform, dark blue → green → yellow (matplotlib's default).
    Viridis,
    /// Sequential, perceptually uniform, black → purple → orange → pale yellow.
    Magma,
    /// Diverging, dark blue → white → dark red (ColorBrewer RdBu, reversed so high is red).
    RdBu,
}

impl Colormap {
    /// The map's table of evenly spaced samples.
    fn table(self) -> &'static [[u8; 3]] {
        match self {
            Colormap::Viridis => &tables::VIRIDIS,
            Colormap::Magma => &tables::MAGMA,
            Colormap::RdBu => &tables::RDBU_R,
        }
    }

    /// The lower-case name (`viridis`, `magma`, `rdbu`).
    pub fn name(self) -> &'static str {
        match self {
            Colormap::Viridis => "viridis",
            Colormap::Magma => "magma",
            Colormap::RdBu => "rdbu",
        }
    }

    /// Whether the map is diverging (meant for values centred at 0).
    pub fn is_diverging(self) -> bool {
        matches!(self, Colormap::RdBu)
    }

    /// The colour at `t ∈ [0, 1]` (clamped), interpolating linearly between table entries.
    /// A NaN `t` gives [`MISSING_COLOR`].
    pub fn sample(self, t: f32) -> [u8; 3] {
        if t.is_nan() {
            return MISSING_COLOR;
        }
        let table = self.table();
        let x = t.clamp(0.0, 1.0) * (table.len() - 1) as f32;
        let i = (x.floor() as usize).min(table.len() - 2);
        let f = x - i as f32;
        let (a, b) = (table[i], table[i + 1]);
        std::array::from_fn(|c| (a[c] as f32 + f * (b[c] as f32 - a[c] as f32)).round() as u8)
    }
}

/// A colormap with the value range it spans: `vmin` maps to the map's first colour, `vmax` to
/// its last, values outside are clamped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ColorScale {
    /// The colormap.
    pub map: Colormap,
    /// The value at the low end.
    pub vmin: f32,
    /// The value at the high end (`> vmin`).
    pub vmax: f32,
}

impl ColorScale {
    /// A scale over `[vmin, vmax]`. A degenerate or inverted range is widened to a valid one
    /// around its midpoint (see [`ColorScale::fit`]); non-finite bounds give `[0, 1]`.
    pub fn new(map: Colormap, vmin: f32, vmax: f32) -> Self {
        let (lo, hi) = if vmin.is_finite() && vmax.is_finite() {
            (vmin.min(vmax), vmin.max(vmax))
        } else {
            (0.0, 1.0)
        };
        let (lo, hi) = widen(lo, hi);
        ColorScale {
            map,
            vmin: lo,
            vmax: hi,
        }
    }

    /// The scale spanning the finite values of `values` that `mask` marks as observed (`true`;
    /// all values when `mask` is `None`): their minimum and maximum. A constant field gets a
    /// small range around its value; a field without any finite observed value gets `[0, 1]`.
    ///
    /// # Panics
    /// If `mask` is given with a length other than `values.len()` (a bug in the caller).
    pub fn fit(map: Colormap, values: &[f32], mask: Option<&[bool]>) -> Self {
        Self::fit_many(map, &[values], mask)
    }

    /// One scale for several fields on the same vertices (truth, measurement, mean and
    /// baselines share one so that their colours compare): the range of all their finite
    /// values at observed vertices. See [`ColorScale::fit`].
    ///
    /// # Panics
    /// If `mask` is given with a length other than that of a field.
    pub fn fit_many(map: Colormap, fields: &[&[f32]], mask: Option<&[bool]>) -> Self {
        let mut lo = f32::INFINITY;
        let mut hi = f32::NEG_INFINITY;
        for values in fields {
            for_each_valid(values, mask, |v| {
                lo = lo.min(v);
                hi = hi.max(v);
            });
        }
        Self::new(map, lo, hi)
    }

    /// A scale centred at 0 for signed values (errors): `[−a, a]` with `a` the largest finite
    /// observed `|value|`. Meant for a diverging map such as [`Colormap::RdBu`].
    ///
    /// # Panics
    /// If `mask` is given with a length other than `values.len()`.
    pub fn symmetric(map: Colormap, values: &[f32], mask: Option<&[bool]>) -> Self {
        let mut a = 0.0f32;
        for_each_valid(values, mask, |v| a = a.max(v.abs()));
        if a == 0.0 {
            a = 1.0;
        }
        ColorScale {
            map,
            vmin: -a,
            vmax: a,
        }
    }

    /// Where `value` lies on the scale, in `[0, 1]` (clamped); NaN for a non-finite value.
    pub fn normalise(&self, value: f32) -> f32 {
        if !value.is_finite() {
            return f32::NAN;
        }
        ((value - self.vmin) / (self.vmax - self.vmin)).clamp(0.0, 1.0)
    }

    /// The colour of one value ([`MISSING_COLOR`] when it is not finite).
    pub fn color(&self, value: f32) -> [u8; 3] {
        self.map.sample(self.normalise(value))
    }

    /// The colour of every value; vertices that `mask` marks `false` (not observed) and
    /// non-finite values get [`MISSING_COLOR`].
    ///
    /// # Panics
    /// If `mask` is given with a length other than `values.len()`.
    pub fn colors(&self, values: &[f32], mask: Option<&[bool]>) -> Vec<[u8; 3]> {
        if let Some(m) = mask {
            assert_eq!(m.len(), values.len(), "mask and values differ in length");
        }
        values
            .iter()
            .enumerate()
            .map(|(i, &v)| {
                if mask.is_some_and(|m| !m[i]) {
                    MISSING_COLOR
                } else {
                    self.color(v)
                }
            })
            .collect()
    }
}

/// Calls `f` with every finite value that `mask` marks observed.
fn for_each_valid(values: &[f32], mask: Option<&[bool]>, mut f: impl FnMut(f32)) {
    if let Some(m) = mask {
        assert_eq!(m.len(), values.len(), "mask and values differ in length");
    }
    for (i, &v) in values.iter().enumerate() {
        if v.is_finite() && mask.is_none_or(|m| m[i]) {
            f(v);
        }
    }
}

/// Widens an empty or inverted range `[lo, hi]` (`lo ≥ hi`; also `[+∞, −∞]` from no values).
fn widen(lo: f32, hi: f32) -> (f32, f32) {
    if !(lo.is_finite() && hi.is_finite()) {
        return (0.0, 1.0);
    }
    if hi > lo && (hi - lo) > f32::EPSILON * lo.abs().max(hi.abs()) * 4.0 {
        return (lo, hi);
    }
    let mid = 0.5 * (lo + hi);
    let half = (mid.abs() * 1e-3)
        .max(0.5e-6)
        .max(f32::EPSILON * mid.abs() * 8.0);
    (mid - half, mid + half)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relative luminance of an sRGB colour (WCAG).
    fn luminance(c: [u8; 3]) -> f64 {
        let lin = |u: u8| {
            let x = u as f64 / 255.0;
            if x <= 0.04045 {
                x / 12.92
            } else {
                ((x + 0.055) / 1.055).powf(2.4)
            }
        };
        0.2126 * lin(c[0]) + 0.7152 * lin(c[1]) + 0.0722 * lin(c[2])
    }

    #[test]
    fn endpoints_are_the_published_colours() {
        assert_eq!(Colormap::Viridis.sample(0.0), [68, 1, 84]);
        assert_eq!(Colormap::Viridis.sample(1.0), [253, 231, 37]);
        assert_eq!(Colormap::Magma.sample(0.0), [0, 0, 4]);
        assert_eq!(Colormap::Magma.sample(1.0), [252, 253, 191]);
        assert_eq!(Colormap::RdBu.sample(0.0), [5, 48, 97]);
        assert_eq!(Colormap::RdBu.sample(1.0), [103, 0, 31]);
        // Clamped outside [0, 1].
        assert_eq!(
            Colormap::Viridis.sample(-3.0),
            Colormap::Viridis.sample(0.0)
        );
        assert_eq!(Colormap::Viridis.sample(7.0), Colormap::Viridis.sample(1.0));
    }

    #[test]
    fn sequential_maps_have_increasing_luminance() {
        for map in [Colormap::Viridis, Colormap::Magma] {
            let mut last = -1.0;
            for i in 0..=256 {
                let l = luminance(map.sample(i as f32 / 256.0));
                assert!(l >= last - 1e-3, "{} not monotone at {i}", map.name());
                last = l;
            }
            assert!(luminance(map.sample(1.0)) > 10.0 * luminance(map.sample(0.0)));
        }
    }

    #[test]
    fn diverging_map_is_light_in_the_middle_and_dark_at_both_ends() {
        let mid = luminance(Colormap::RdBu.sample(0.5));
        assert!(mid > 0.85, "centre not near white: {mid}");
        assert!(luminance(Colormap::RdBu.sample(0.0)) < 0.1);
        assert!(luminance(Colormap::RdBu.sample(1.0)) < 0.1);
        let [r, _, b] = Colormap::RdBu.sample(0.1);
        assert!(b > r, "low end should be blue");
        let [r, _, b] = Colormap::RdBu.sample(0.9);
        assert!(r > b, "high end should be red");
    }

    #[test]
    fn missing_colour_is_in_no_map() {
        for map in [Colormap::Viridis, Colormap::Magma, Colormap::RdBu] {
            for i in 0..=1000 {
                let c = map.sample(i as f32 / 1000.0);
                let d: i32 = (0..3)
                    .map(|k| (c[k] as i32 - MISSING_COLOR[k] as i32).abs())
                    .sum();
                assert!(d > 20, "{} contains a grey like MISSING_COLOR", map.name());
            }
        }
    }

    #[test]
    fn nan_infinite_and_masked_values_are_missing() {
        let s = ColorScale::new(Colormap::Viridis, 0.0, 1.0);
        assert_eq!(s.color(f32::NAN), MISSING_COLOR);
        assert_eq!(s.color(f32::INFINITY), MISSING_COLOR);
        assert_eq!(Colormap::Magma.sample(f32::NAN), MISSING_COLOR);
        let c = s.colors(&[0.0, 1.0, 0.5], Some(&[true, false, true]));
        assert_eq!(c[0], Colormap::Viridis.sample(0.0));
        assert_eq!(c[1], MISSING_COLOR);
        assert_ne!(c[2], MISSING_COLOR);
    }

    #[test]
    fn fit_ignores_non_finite_and_masked_values() {
        let v = [5.0, -2.0, f32::NAN, f32::INFINITY, 100.0, 3.0];
        let m = [true, true, true, true, false, true];
        let s = ColorScale::fit(Colormap::Viridis, &v, Some(&m));
        assert_eq!((s.vmin, s.vmax), (-2.0, 5.0));
        let s = ColorScale::fit(Colormap::Viridis, &v, None);
        assert_eq!((s.vmin, s.vmax), (-2.0, 100.0));
        let s = ColorScale::fit_many(Colormap::Viridis, &[&[1.0, 2.0], &[-1.0, 0.0]], None);
        assert_eq!((s.vmin, s.vmax), (-1.0, 2.0));
    }

    #[test]
    fn degenerate_ranges_are_widened() {
        let s = ColorScale::fit(Colormap::Viridis, &[273.15; 4], None);
        assert!(s.vmin < 273.15 && s.vmax > 273.15);
        assert_eq!(s.color(273.15), Colormap::Viridis.sample(0.5));
        let s = ColorScale::fit(Colormap::Viridis, &[f32::NAN; 3], None);
        assert_eq!((s.vmin, s.vmax), (0.0, 1.0));
        let s = ColorScale::fit(Colormap::Viridis, &[], None);
        assert_eq!((s.vmin, s.vmax), (0.0, 1.0));
        let s = ColorScale::new(Colormap::Viridis, 3.0, 1.0);
        assert_eq!((s.vmin, s.vmax), (1.0, 3.0));
    }

    #[test]
    fn symmetric_scale_centres_zero_on_the_light_middle() {
        let s = ColorScale::symmetric(Colormap::RdBu, &[-0.5, 2.0, f32::NAN], None);
        assert_eq!((s.vmin, s.vmax), (-2.0, 2.0));
        assert_eq!(s.color(0.0), Colormap::RdBu.sample(0.5));
        let s = ColorScale::symmetric(Colormap::RdBu, &[0.0, 0.0], None);
        assert_eq!((s.vmin, s.vmax), (-1.0, 1.0));
    }
}
