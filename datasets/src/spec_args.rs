//! Parsing of the numeric arguments of spec strings (`mask:0.3`, `correlated:0.1:0.2`),
//! shared by degradation and noise specs.

/// Parses every argument as a finite `f64` (surrounding whitespace ignored); on failure
/// returns the first offending argument so the caller can name it in its error.
pub(crate) fn finite_numbers<'a>(args: &[&'a str]) -> Result<Vec<f64>, &'a str> {
    args.iter()
        .map(|&a| {
            a.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite())
                .ok_or(a)
        })
        .collect()
}
