//! An 8-bit RGB raster with bitmap text, PNG encoding and decoding.

use std::path::Path;

use crate::error::{Result, ViewerError};

/// An 8-bit sRGB image, rows top to bottom, pixels `RGBRGB…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    width: u32,
    height: u32,
    data: Vec<u8>,
}

/// White, the background of figures.
pub const WHITE: [u8; 3] = [255, 255, 255];
/// Black, the colour of text and frames.
pub const BLACK: [u8; 3] = [0, 0, 0];

impl RgbImage {
    /// A `width × height` image filled with `fill`.
    ///
    /// # Panics
    /// If the image would hold more than 2³¹ bytes (a bug: figures are small).
    pub fn new(width: u32, height: u32, fill: [u8; 3]) -> Self {
        let n = width as usize * height as usize;
        assert!(n * 3 < (1 << 31), "image of {width}x{height} is too large");
        let mut data = Vec::with_capacity(n * 3);
        for _ in 0..n {
            data.extend_from_slice(&fill);
        }
        RgbImage {
            width,
            height,
            data,
        }
    }

    /// An image from raw `RGBRGB…` bytes, rows top to bottom.
    ///
    /// # Errors
    /// [`ViewerError::ShapeMismatch`] if `data.len() != 3 · width · height`.
    pub fn from_raw(width: u32, height: u32, data: Vec<u8>) -> Result<Self> {
        crate::error::check_len(
            "RGB image bytes",
            3 * width as usize * height as usize,
            data.len(),
        )?;
        Ok(RgbImage {
            width,
            height,
            data,
        })
    }

    /// Width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// The raw `RGBRGB…` bytes, rows top to bottom.
    pub fn as_raw(&self) -> &[u8] {
        &self.data
    }

    /// The colour at column `x`, row `y`.
    ///
    /// # Panics
    /// If `(x, y)` lies outside the image.
    pub fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        assert!(
            x < self.width && y < self.height,
            "pixel ({x}, {y}) outside"
        );
        let i = 3 * (y as usize * self.width as usize + x as usize);
        [self.data[i], self.data[i + 1], self.data[i + 2]]
    }

    /// Sets one pixel; coordinates outside the image are ignored (clipping).
    pub fn put(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x < 0 || y < 0 || x >= self.width as i64 || y >= self.height as i64 {
            return;
        }
        let i = 3 * (y as usize * self.width as usize + x as usize);
        self.data[i..i + 3].copy_from_slice(&c);
    }

    /// Fills the rectangle `[x, x + w) × [y, y + h)`, clipped to the image.
    pub fn fill_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: [u8; 3]) {
        for yy in y.max(0)..(y + h).min(self.height as i64) {
            for xx in x.max(0)..(x + w).min(self.width as i64) {
                self.put(xx, yy, c);
            }
        }
    }

    /// Draws the one-pixel outline of the rectangle `[x, x + w) × [y, y + h)`.
    pub fn stroke_rect(&mut self, x: i64, y: i64, w: i64, h: i64, c: [u8; 3]) {
        self.fill_rect(x, y, w, 1, c);
        self.fill_rect(x, y + h - 1, w, 1, c);
        self.fill_rect(x, y, 1, h, c);
        self.fill_rect(x + w - 1, y, 1, h, c);
    }

    /// Copies `src` with its top-left corner at `(x, y)`, clipped to this image.
    pub fn blit(&mut self, src: &RgbImage, x: i64, y: i64) {
        for sy in 0..src.height {
            for sx in 0..src.width {
                self.put(x + sx as i64, y + sy as i64, src.pixel(sx, sy));
            }
        }
    }

    /// Draws `text` in the 8×8 bitmap font magnified `scale` times, top-left corner at
    /// `(x, y)`. ASCII, `°`, `µ`, `σ` and `−` are drawn; other characters show as `?`.
    pub fn draw_text(&mut self, x: i64, y: i64, text: &str, c: [u8; 3], scale: u32) {
        let s = scale.max(1) as i64;
        for (k, ch) in text.chars().enumerate() {
            let glyph = glyph(ch);
            let x0 = x + k as i64 * 8 * s;
            for (row, bits) in glyph.iter().enumerate() {
                for col in 0..8 {
                    if bits & (1 << col) != 0 {
                        self.fill_rect(x0 + col * s, y + row as i64 * s, s, s, c);
                    }
                }
            }
        }
    }

    /// Encodes the image as an 8-bit RGB PNG.
    ///
    /// # Errors
    /// [`ViewerError::Png`] if the encoder fails (an empty image).
    pub fn encode_png(&self) -> Result<Vec<u8>> {
        encode(self, Path::new("<memory>"))
    }

    /// Writes the image as a PNG file, atomically (a reader never sees half a file).
    ///
    /// # Errors
    /// [`ViewerError::Png`] if encoding fails; [`ViewerError::Geometry`] wrapping the I/O
    /// error if the file cannot be written.
    pub fn save_png(&self, path: &Path) -> Result<()> {
        let bytes = encode(self, path)?;
        meshflow_geometry::io::write_atomic(path, &bytes)?;
        Ok(())
    }

    /// Decodes a PNG (8-bit RGB, RGBA, grey or grey+alpha; alpha is dropped).
    ///
    /// # Errors
    /// [`ViewerError::InvalidArgument`] for bytes that are not such a PNG.
    pub fn decode_png(bytes: &[u8]) -> Result<Self> {
        let bad = |e: &dyn std::fmt::Display| ViewerError::InvalidArgument(format!("PNG: {e}"));
        let mut decoder = png::Decoder::new(std::io::Cursor::new(bytes));
        decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
        let mut reader = decoder.read_info().map_err(|e| bad(&e))?;
        let size = reader
            .output_buffer_size()
            .ok_or_else(|| bad(&"image too large"))?;
        let mut buf = vec![0; size];
        let info = reader.next_frame(&mut buf).map_err(|e| bad(&e))?;
        let channels = info.color_type.samples();
        let n = info.width as usize * info.height as usize;
        let mut data = Vec::with_capacity(3 * n);
        for p in buf[..n * channels].chunks_exact(channels) {
            match channels {
                1 | 2 => data.extend_from_slice(&[p[0]; 3]),
                _ => data.extend_from_slice(&p[..3]),
            }
        }
        RgbImage::from_raw(info.width, info.height, data)
    }
}

fn encode(img: &RgbImage, path: &Path) -> Result<Vec<u8>> {
    let err = |e: png::EncodingError| ViewerError::Png {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    if img.width == 0 || img.height == 0 {
        return Err(ViewerError::Png {
            path: path.to_path_buf(),
            message: format!("empty image {}x{}", img.width, img.height),
        });
    }
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, img.width, img.height);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(err)?;
        writer.write_image_data(&img.data).map_err(err)?;
        writer.finish().map_err(err)?;
    }
    Ok(out)
}

/// The 8×8 bitmap of a character (bit `k` of row `r` is pixel `(k, r)`).
fn glyph(ch: char) -> [u8; 8] {
    use font8x8::legacy::{BASIC_LEGACY, GREEK_LEGACY, LATIN_LEGACY};
    let c = ch as u32;
    match c {
        0x20..=0x7e => BASIC_LEGACY[c as usize],
        0xa0..=0xff => LATIN_LEGACY[(c - 0xa0) as usize],
        0x390..=0x3c9 => GREEK_LEGACY[(c - 0x390) as usize],
        0x2212 => BASIC_LEGACY[b'-' as usize],
        _ => BASIC_LEGACY[b'?' as usize],
    }
}

/// The width in pixels of `text` drawn at `scale`.
pub fn text_width(text: &str, scale: u32) -> u32 {
    text.chars().count() as u32 * 8 * scale.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trips_with_size_and_pixels() {
        let mut img = RgbImage::new(37, 21, WHITE);
        img.put(3, 4, [10, 20, 30]);
        img.fill_rect(30, 15, 100, 100, [200, 0, 0]);
        img.draw_text(1, 10, "T=1°", BLACK, 1);
        let bytes = img.encode_png().unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        let back = RgbImage::decode_png(&bytes).unwrap();
        assert_eq!((back.width(), back.height()), (37, 21));
        assert_eq!(back, img);
        assert_eq!(back.pixel(36, 20), [200, 0, 0]);
        assert!(RgbImage::decode_png(b"not a png").is_err());
        assert!(RgbImage::new(0, 3, WHITE).encode_png().is_err());
    }

    #[test]
    fn text_sets_pixels_inside_its_box_only() {
        let mut img = RgbImage::new(40, 20, WHITE);
        img.draw_text(2, 3, "H1", BLACK, 2);
        let mut inside = 0;
        for y in 0..20 {
            for x in 0..40 {
                if img.pixel(x, y) == BLACK {
                    assert!((2..2 + 32).contains(&x) && (3..3 + 16).contains(&y));
                    inside += 1;
                }
            }
        }
        assert!(inside > 20);
        assert_eq!(text_width("H1", 2), 32);
    }

    #[test]
    fn saving_is_atomic_and_readable() {
        let dir = std::env::temp_dir().join(format!("meshflow-viewers-png-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.png");
        let img = RgbImage::new(5, 6, [1, 2, 3]);
        img.save_png(&p).unwrap();
        let back = RgbImage::decode_png(&std::fs::read(&p).unwrap()).unwrap();
        assert_eq!(back, img);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
