//! Figures: rows of titled panels, each with its own colour bar and, for maps, latitude and
//! longitude ticks.

use std::path::Path;

use super::canvas::{text_width, RgbImage, BLACK, WHITE};
use super::equirect::{EquirectMap, MapExtent};
use crate::colormap::ColorScale;
use crate::error::Result;

/// Space between panels and around the figure, pixels.
const PAD: i64 = 14;
/// Height of the colour bar, pixels.
const BAR_H: i64 = 12;
/// Length of a tick mark, pixels.
const TICK: i64 = 3;
/// Glyph size at scale 1.
const GLYPH: i64 = 8;
/// A dark grey for ticks and frames.
const GREY: [u8; 3] = [60, 60, 60];

/// One picture of a figure: a title above, the image, and optionally a colour bar below and
/// latitude/longitude ticks around a map.
#[derive(Debug, Clone, PartialEq)]
pub struct Panel {
    /// The title above the picture (`truth`, `mean`, `|error|`, …).
    pub title: String,
    /// The picture.
    pub image: RgbImage,
    /// The colour scale of the picture, drawn as a bar with its minimum, middle and maximum
    /// labelled.
    pub colorbar: Option<ColorScale>,
    /// Units written after the colour bar's maximum (`K`); may be empty.
    pub units: String,
    /// For a map: the longitude–latitude box of the picture, drawn as ticks and labels.
    pub extent: Option<MapExtent>,
}

impl Panel {
    /// A panel with a title and a picture, without colour bar or axes.
    pub fn new(title: impl Into<String>, image: RgbImage) -> Self {
        Panel {
            title: title.into(),
            image,
            colorbar: None,
            units: String::new(),
            extent: None,
        }
    }

    /// A map panel: the picture with latitude/longitude ticks and a colour bar.
    pub fn map(
        title: impl Into<String>,
        map: EquirectMap,
        scale: ColorScale,
        units: impl Into<String>,
    ) -> Self {
        Panel {
            title: title.into(),
            image: map.image,
            colorbar: Some(scale),
            units: units.into(),
            extent: Some(map.extent),
        }
    }

    /// Adds a colour bar for `scale`, labelled with `units`.
    pub fn with_colorbar(mut self, scale: ColorScale, units: impl Into<String>) -> Self {
        self.colorbar = Some(scale);
        self.units = units.into();
        self
    }

    /// Margins around the picture: (left, top title block, right, bottom).
    fn margins(&self) -> (i64, i64, i64, i64) {
        let (mut left, mut right, mut bottom) = (0, 0, 0);
        if self.extent.is_some() {
            left = TICK + 2 + 5 * GLYPH; // "45°N" and room for "-"
            right = 3 * GLYPH; // half a longitude label past the right edge
            bottom = TICK + 3 + GLYPH;
        }
        if self.colorbar.is_some() {
            bottom += 8 + BAR_H + 4 + GLYPH;
        }
        (left, self.title_scale() as i64 * GLYPH + 6, right, bottom)
    }

    /// Title glyph scale: 2 if it fits above the picture, else 1.
    fn title_scale(&self) -> u32 {
        if text_width(&self.title, 2) <= self.image.width() + 40 {
            2
        } else {
            1
        }
    }

    /// The panel's size in pixels.
    fn size(&self) -> (i64, i64) {
        let (l, t, r, b) = self.margins();
        (
            l + self.image.width() as i64 + r,
            t + self.image.height() as i64 + b,
        )
    }

    /// Draws the panel with its top-left corner at `(x, y)`.
    fn draw(&self, canvas: &mut RgbImage, x: i64, y: i64) {
        let (l, t, _, _) = self.margins();
        let (iw, ih) = (self.image.width() as i64, self.image.height() as i64);
        let (ix, iy) = (x + l, y + t);
        // Title, centred over the picture.
        let ts = self.title_scale();
        let tw = text_width(&self.title, ts) as i64;
        canvas.draw_text(ix + (iw - tw) / 2, y, &self.title, BLACK, ts);
        canvas.blit(&self.image, ix, iy);
        let mut below = iy + ih;
        if let Some(e) = &self.extent {
            canvas.stroke_rect(ix - 1, iy - 1, iw + 2, ih + 2, GREY);
            for (lat, label) in ticks(e.lat_min, e.lat_max, 5, lat_label) {
                let py =
                    iy + ((e.lat_max - lat) / (e.lat_max - e.lat_min) * ih as f64).round() as i64;
                let py = py.min(iy + ih - 1);
                canvas.fill_rect(ix - 1 - TICK, py, TICK, 1, GREY);
                let w = text_width(&label, 1) as i64;
                canvas.draw_text(ix - 2 - TICK - w, py - GLYPH / 2, &label, BLACK, 1);
            }
            for (lon, label) in ticks(e.lon_min, e.lon_max, 7, lon_label) {
                let px =
                    ix + ((lon - e.lon_min) / (e.lon_max - e.lon_min) * iw as f64).round() as i64;
                let px = px.min(ix + iw - 1);
                canvas.fill_rect(px, iy + ih + 1, 1, TICK, GREY);
                let w = text_width(&label, 1) as i64;
                canvas.draw_text(px - w / 2, iy + ih + 2 + TICK, &label, BLACK, 1);
            }
            below += TICK + 3 + GLYPH;
        }
        if let Some(scale) = &self.colorbar {
            let by = below + 8;
            let bw = iw;
            for k in 0..bw {
                let t = (k as f32 + 0.5) / bw as f32;
                canvas.fill_rect(ix + k, by, 1, BAR_H, scale.map.sample(t));
            }
            canvas.stroke_rect(ix - 1, by - 1, bw + 2, BAR_H + 2, GREY);
            let span = scale.vmax - scale.vmin;
            let lo = format_value(scale.vmin, span);
            let mut hi = format_value(scale.vmax, span);
            if !self.units.is_empty() {
                hi = format!("{hi} {}", self.units);
            }
            let mid = format_value(0.5 * (scale.vmin + scale.vmax), span);
            let ly = by + BAR_H + 4;
            let (lw, hw, mw) = (
                text_width(&lo, 1) as i64,
                text_width(&hi, 1) as i64,
                text_width(&mid, 1) as i64,
            );
            for k in [0, bw / 2, bw - 1] {
                canvas.fill_rect(ix + k, by + BAR_H, 1, 3, GREY);
            }
            canvas.draw_text(ix, ly, &lo, BLACK, 1);
            canvas.draw_text(ix + bw - hw, ly, &hi, BLACK, 1);
            let mx = ix + (bw - mw) / 2;
            if mx > ix + lw + GLYPH && mx + mw + GLYPH < ix + bw - hw {
                canvas.draw_text(mx, ly, &mid, BLACK, 1);
            }
        }
    }
}

/// A figure: an optional title over rows of panels.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Figure {
    /// The title over the whole figure; empty for none.
    pub title: String,
    /// The rows of panels, top to bottom, each left to right.
    pub rows: Vec<Vec<Panel>>,
}

impl Figure {
    /// An empty figure with a title (may be empty).
    pub fn new(title: impl Into<String>) -> Self {
        Figure {
            title: title.into(),
            rows: Vec::new(),
        }
    }

    /// Adds a row of panels below the others (an empty row is skipped).
    pub fn push_row(&mut self, panels: Vec<Panel>) {
        if !panels.is_empty() {
            self.rows.push(panels);
        }
    }

    /// Lays the panels out on a white canvas: every panel in a cell as wide as the widest and
    /// as tall as the tallest, so the pictures line up in columns.
    pub fn render(&self) -> RgbImage {
        let cells = self.rows.iter().flatten().map(Panel::size);
        let (cw, ch) = cells.fold((0, 0), |(w, h), (a, b)| (w.max(a), h.max(b)));
        let ncols = self.rows.iter().map(Vec::len).max().unwrap_or(0) as i64;
        let title_h = if self.title.is_empty() {
            0
        } else {
            2 * GLYPH + PAD
        };
        let title_scale = if text_width(&self.title, 2) as i64 <= ncols * (cw + PAD) {
            2
        } else {
            1
        };
        let width =
            (PAD + ncols * (cw + PAD)).max(PAD * 2 + text_width(&self.title, title_scale) as i64);
        let height = PAD + title_h + self.rows.len() as i64 * (ch + PAD);
        let mut canvas = RgbImage::new(width as u32, height as u32, WHITE);
        if !self.title.is_empty() {
            let tw = text_width(&self.title, title_scale) as i64;
            canvas.draw_text((width - tw) / 2, PAD, &self.title, BLACK, title_scale);
        }
        for (r, row) in self.rows.iter().enumerate() {
            for (c, panel) in row.iter().enumerate() {
                let (pw, _) = panel.size();
                let x = PAD + c as i64 * (cw + PAD) + (cw - pw) / 2;
                let y = PAD + title_h + r as i64 * (ch + PAD);
                panel.draw(&mut canvas, x, y);
            }
        }
        canvas
    }

    /// Renders the figure and writes it as a PNG, atomically.
    ///
    /// # Errors
    /// As [`RgbImage::save_png`].
    pub fn save_png(&self, path: &Path) -> Result<()> {
        self.render().save_png(path)
    }
}

/// A value for a colour-bar label, with as many decimals as the bar's `span` needs (three
/// significant digits of the span), or in exponent notation for very large or small numbers.
pub fn format_value(v: f32, span: f32) -> String {
    let v = if v == 0.0 { 0.0 } else { v }; // no "-0"
    let mag = v.abs().max(span.abs());
    if mag >= 1e5 || (mag > 0.0 && mag < 1e-3) {
        return format!("{v:.2e}");
    }
    let decimals = if span > 0.0 {
        (2 - span.log10().floor() as i32).clamp(0, 6) as usize
    } else {
        2
    };
    let s = format!("{v:.decimals$}");
    if s.trim_start_matches('-')
        .chars()
        .all(|c| c == '0' || c == '.')
    {
        format!("{:.decimals$}", 0.0)
    } else {
        s
    }
}

/// Round tick positions in `[lo, hi]`: the smallest "nice" step giving at most `max` ticks.
fn ticks(lo: f64, hi: f64, max: usize, label: fn(f64) -> String) -> Vec<(f64, String)> {
    const STEPS: [f64; 14] = [
        0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0, 90.0, 180.0,
    ];
    let count = |s: f64| ((hi / s + 1e-9).floor() - (lo / s - 1e-9).ceil()) as i64 + 1;
    let step = STEPS
        .iter()
        .copied()
        .find(|&s| count(s) <= max as i64)
        .unwrap_or(180.0);
    let first = (lo / step - 1e-9).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            (v, label(v))
        })
        .collect()
}

fn degrees(x: f64) -> String {
    if (x - x.round()).abs() < 1e-6 {
        format!("{}°", x.round().abs())
    } else {
        format!("{:.2}°", x.abs())
            .replace("0°", "°")
            .replace("0°", "°")
    }
}

fn lat_label(lat: f64) -> String {
    let d = degrees(lat);
    if lat > 1e-9 {
        format!("{d}N")
    } else if lat < -1e-9 {
        format!("{d}S")
    } else {
        d
    }
}

fn lon_label(lon: f64) -> String {
    let l = (lon + 180.0).rem_euclid(360.0) - 180.0;
    let d = degrees(l);
    if l.abs() < 1e-9 || (l.abs() - 180.0).abs() < 1e-9 {
        degrees(l.abs())
    } else if l > 0.0 {
        format!("{d}E")
    } else {
        format!("{d}W")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::colormap::Colormap;

    #[test]
    fn tick_labels_read_like_an_atlas() {
        let lat: Vec<String> = ticks(-90.0, 90.0, 5, lat_label)
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(lat, ["90°S", "45°S", "0°", "45°N", "90°N"]);
        let lon: Vec<String> = ticks(-180.0, 180.0, 7, lon_label)
            .into_iter()
            .map(|t| t.1)
            .collect();
        assert_eq!(
            lon,
            ["180°", "120°W", "60°W", "0°", "60°E", "120°E", "180°"]
        );
        let lon: Vec<(f64, String)> = ticks(350.0, 374.0, 7, lon_label);
        assert_eq!(lon[0], (350.0, "10°W".to_string()));
        assert_eq!(lon.last().unwrap().1, "10°E");
        assert_eq!(lat_label(2.5), "2.5°N");
    }

    #[test]
    fn values_get_the_decimals_their_range_needs() {
        assert_eq!(format_value(240.27, 60.0), "240.3");
        assert_eq!(format_value(0.1234, 0.5), "0.123");
        assert_eq!(format_value(-0.0, 2.0), "0.00");
        assert_eq!(format_value(1.5e6, 1e6), "1.50e6");
        assert_eq!(format_value(3.0, 1000.0), "3");
    }

    #[test]
    fn figure_has_the_size_of_its_cells_and_draws_colour_bars() {
        let scale = ColorScale::new(Colormap::Viridis, 0.0, 1.0);
        let p = Panel::new("a", RgbImage::new(100, 80, [9, 9, 9])).with_colorbar(scale, "K");
        let (pw, ph) = p.size();
        assert_eq!(pw, 100);
        assert_eq!(ph, 16 + 6 + 80 + 8 + BAR_H + 4 + 8);
        let mut fig = Figure::new("");
        fig.push_row(vec![p.clone(), p.clone(), p.clone()]);
        fig.push_row(vec![p]);
        fig.push_row(vec![]);
        let img = fig.render();
        assert_eq!(img.width() as i64, PAD + 3 * (100 + PAD));
        assert_eq!(img.height() as i64, PAD + 2 * (ph + PAD));
        // The first picture and its colour bar (low end on the left).
        let (x0, y0) = (PAD, PAD + 22);
        assert_eq!(img.pixel(x0 as u32 + 50, y0 as u32 + 40), [9, 9, 9]);
        let by = (y0 + 80 + 8 + BAR_H / 2) as u32;
        assert_eq!(
            img.pixel(x0 as u32, by),
            Colormap::Viridis.sample(0.5 / 100.0)
        );
        assert_eq!(
            img.pixel(x0 as u32 + 99, by),
            Colormap::Viridis.sample(99.5 / 100.0)
        );
    }
}
