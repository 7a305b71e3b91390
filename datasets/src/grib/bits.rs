//! Checked byte and bit readers and GRIB number formats.

/// Big-endian unsigned integer of `n` (1..=8) bytes at `pos`, or `None` past the end.
pub(crate) fn uint(b: &[u8], pos: usize, n: usize) -> Option<u64> {
    let s = b.get(pos..pos.checked_add(n)?)?;
    Some(s.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
}

pub(crate) fn u8_at(b: &[u8], pos: usize) -> Option<u8> {
    b.get(pos).copied()
}

pub(crate) fn u16_at(b: &[u8], pos: usize) -> Option<u16> {
    uint(b, pos, 2).map(|v| v as u16)
}

pub(crate) fn u24_at(b: &[u8], pos: usize) -> Option<u32> {
    uint(b, pos, 3).map(|v| v as u32)
}

pub(crate) fn u32_at(b: &[u8], pos: usize) -> Option<u32> {
    uint(b, pos, 4).map(|v| v as u32)
}

/// GRIB sign-and-magnitude integer of `n` bytes (the top bit is the sign), as used for
/// scale factors and coordinates in both editions.
pub(crate) fn signed(b: &[u8], pos: usize, n: usize) -> Option<i64> {
    let v = uint(b, pos, n)?;
    let sign = 1u64 << (8 * n - 1);
    let mag = (v & (sign - 1)) as i64;
    Some(if v & sign != 0 { -mag } else { mag })
}

/// IBM System/360 single-precision float (GRIB1 reference values): sign bit, 7-bit base-16
/// exponent biased by 64, 24-bit fraction. Exactly representable in `f64`.
pub(crate) fn ibm_f32(b: &[u8], pos: usize) -> Option<f64> {
    let v = u32_at(b, pos)?;
    let sign = if v & 0x8000_0000 != 0 { -1.0 } else { 1.0 };
    let exp = ((v >> 24) & 0x7f) as i32;
    let mant = f64::from(v & 0x00ff_ffff);
    // mant * 16^(exp - 64) / 2^24, a power of two times an integer: exact.
    Some(sign * mant * pow2(4 * (exp - 64) - 24))
}

/// IEEE 754 big-endian single precision (GRIB2 reference values), widened exactly.
pub(crate) fn ieee_f32(b: &[u8], pos: usize) -> Option<f64> {
    u32_at(b, pos).map(|v| f64::from(f32::from_bits(v)))
}

/// 2^e, exact for the whole range used here (|e| < 1100 gives 0 or inf at the extremes).
pub(crate) fn pow2(e: i32) -> f64 {
    codes_power(e, 2.0)
}

/// `base^s` computed as ecCodes' `codes_power` does (repeated multiplication or division),
/// so that decimal scaling rounds exactly like ecCodes: 10^-2 is `1/10/10`, not `0.01`.
pub(crate) fn codes_power(s: i32, base: f64) -> f64 {
    let mut r = 1.0f64;
    if s < 0 {
        for _ in 0..s.unsigned_abs() {
            r /= base;
        }
    } else {
        for _ in 0..s {
            r *= base;
        }
    }
    r
}

/// Calls `f` with each of `n` unsigned integers of `bits` (1..=32) bits packed MSB-first in
/// `data`. Returns `None` (calling `f` for none of them) if `data` is too short.
pub(crate) fn unpack_bits(data: &[u8], n: usize, bits: u32, mut f: impl FnMut(u32)) -> Option<()> {
    debug_assert!((1..=32).contains(&bits));
    let need_bits = (n as u128) * u128::from(bits);
    if need_bits > (data.len() as u128) * 8 {
        return None;
    }
    let need_bytes = need_bits.div_ceil(8) as usize;
    let data = &data[..need_bytes];
    match bits {
        8 => data.iter().for_each(|&x| f(u32::from(x))),
        16 => data
            .chunks_exact(2)
            .for_each(|c| f(u32::from(u16::from_be_bytes([c[0], c[1]])))),
        24 => data
            .chunks_exact(3)
            .for_each(|c| f(u32::from_be_bytes([0, c[0], c[1], c[2]]))),
        32 => data
            .chunks_exact(4)
            .for_each(|c| f(u32::from_be_bytes([c[0], c[1], c[2], c[3]]))),
        _ => {
            let mask = (1u64 << bits) - 1;
            let mut acc = 0u64; // holds `have` valid low bits
            let mut have = 0u32;
            let mut bytes = data.iter();
            for _ in 0..n {
                while have < bits {
                    // Cannot run out: the length was checked above.
                    let byte = bytes.next().copied().unwrap_or(0);
                    acc = (acc << 8) | u64::from(byte);
                    have += 8;
                }
                have -= bits;
                f(((acc >> have) & mask) as u32);
                acc &= (1u64 << have) - 1;
            }
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ibm_floats() {
        // 0x42640000 = 100.0; 0xC276A000 = -118.625; 0x41100000 = 1.0.
        assert_eq!(ibm_f32(&[0x42, 0x64, 0, 0], 0), Some(100.0));
        assert_eq!(ibm_f32(&[0xC2, 0x76, 0xA0, 0], 0), Some(-118.625));
        assert_eq!(ibm_f32(&[0x41, 0x10, 0, 0], 0), Some(1.0));
        assert_eq!(ibm_f32(&[0, 0, 0, 0], 0), Some(0.0));
        assert_eq!(ibm_f32(&[0x41, 0x10, 0], 0), None);
    }

    #[test]
    fn sign_magnitude() {
        assert_eq!(signed(&[0x80, 0x02], 0, 2), Some(-2));
        assert_eq!(signed(&[0x00, 0x02], 0, 2), Some(2));
        assert_eq!(signed(&[0x81, 0x5f, 0x90], 0, 3), Some(-90000));
        assert_eq!(signed(&[0x81], 0, 2), None);
    }

    #[test]
    fn powers_like_eccodes() {
        assert_eq!(codes_power(-2, 10.0), 1.0 / 10.0 / 10.0);
        assert_eq!(codes_power(3, 10.0), 1000.0);
        assert_eq!(pow2(-10), 1.0 / 1024.0);
        assert_eq!(pow2(0), 1.0);
    }

    #[test]
    fn bit_unpacking_all_widths() {
        // Pack a known sequence at every width and unpack it again.
        for bits in 1..=32u32 {
            let n = 37usize;
            let vals: Vec<u32> = (0..n as u64)
                .map(|i| ((i * 2_654_435_761) & ((1u64 << bits) - 1)) as u32)
                .collect();
            let mut out = vec![0u8; (n * bits as usize).div_ceil(8)];
            let mut pos = 0usize;
            for &v in &vals {
                for k in (0..bits).rev() {
                    if (v >> k) & 1 == 1 {
                        out[pos / 8] |= 0x80 >> (pos % 8);
                    }
                    pos += 1;
                }
            }
            let mut got = Vec::new();
            unpack_bits(&out, n, bits, |x| got.push(x)).unwrap();
            assert_eq!(got, vals, "bits {bits}");
            assert!(unpack_bits(&out[..out.len() - 1], n, bits, |_| {}).is_none());
        }
    }
}
