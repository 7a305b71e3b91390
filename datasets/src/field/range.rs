//! Python-style field selections: `A:B`, `A:`, `:B`, `:`, `A`, `A:B:S`, negative indices.

use std::str::FromStr;

/// A bad field selection: unparsable text, a zero step, or an index outside the fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct FieldRangeError(String);

/// A selection of fields by Python slice syntax, resolved against a field count by
/// [`FieldRange::resolve`].
///
/// | text | fields (of 10) |
/// |---|---|
/// | `:` | all |
/// | `2:5` | 2, 3, 4 |
/// | `-3:` | 7, 8, 9 |
/// | `:4` | 0, 1, 2, 3 |
/// | `::3` | 0, 3, 6, 9 |
/// | `7` / `-1` | 7 / 9 |
/// | `::-1` | 9, 8, ..., 0 |
///
/// As in Python, slice bounds outside the fields are clipped (`5:100` of 10 is 5..9), while a
/// single index outside them is an error; a step of 0 is an error.
///
/// ```
/// use meshflow_datasets::field::FieldRange;
///
/// let r: FieldRange = "-4::2".parse().unwrap();
/// assert_eq!(r.resolve(10).unwrap(), vec![6, 8]);
/// assert!("5:2:0".parse::<FieldRange>().is_err());
/// assert!("12".parse::<FieldRange>().unwrap().resolve(10).is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FieldRange {
    start: Option<i64>,
    stop: Option<i64>,
    step: Option<i64>,
    /// A single index (`A`), not a slice.
    single: bool,
}

impl FieldRange {
    /// Every field (`:`).
    pub fn all() -> FieldRange {
        FieldRange::default()
    }

    /// One field; negative counts from the end.
    pub fn index(i: i64) -> FieldRange {
        FieldRange {
            start: Some(i),
            single: true,
            ..FieldRange::default()
        }
    }

    /// A slice `start:stop:step` (each `None` = Python's default).
    ///
    /// # Errors
    /// A step of 0.
    pub fn slice(
        start: Option<i64>,
        stop: Option<i64>,
        step: Option<i64>,
    ) -> Result<FieldRange, FieldRangeError> {
        if step == Some(0) {
            return Err(FieldRangeError(
                "the step of a field range must not be zero".into(),
            ));
        }
        Ok(FieldRange {
            start,
            stop,
            step,
            single: false,
        })
    }

    /// The selected field indices among `len` fields, in selection order.
    ///
    /// # Errors
    /// A single index outside `-len..len`.
    pub fn resolve(&self, len: usize) -> Result<Vec<usize>, FieldRangeError> {
        let n = len as i64;
        if self.single {
            let i = self.start.unwrap_or(0);
            let j = if i < 0 { i + n } else { i };
            if !(0..n).contains(&j) {
                return Err(FieldRangeError(format!(
                    "field index {i} is out of range: there are {len} fields (valid indices \
                     {}..={})",
                    -n,
                    n - 1
                )));
            }
            return Ok(vec![j as usize]);
        }
        let step = self.step.unwrap_or(1);
        let norm = |v: i64| if v < 0 { v + n } else { v };
        let mut out = Vec::new();
        if step > 0 {
            let start = self.start.map_or(0, |v| norm(v).clamp(0, n));
            let stop = self.stop.map_or(n, |v| norm(v).clamp(0, n));
            let mut i = start;
            while i < stop {
                out.push(i as usize);
                i += step;
            }
        } else {
            let start = self.start.map_or(n - 1, |v| norm(v).clamp(-1, n - 1));
            let stop = self.stop.map_or(-1, |v| norm(v).clamp(-1, n - 1));
            let mut i = start;
            while i > stop {
                out.push(i as usize);
                i += step;
            }
        }
        Ok(out)
    }
}

impl FromStr for FieldRange {
    type Err = FieldRangeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        let bad = |why: &str| {
            FieldRangeError(format!(
                "invalid field range `{s}`: {why}; expected START:STOP[:STEP] or a single index \
                 (Python slice syntax: 0:10, -5:, :8, ::2, 7, -1)"
            ))
        };
        let parts: Vec<&str> = text.split(':').map(str::trim).collect();
        let num = |p: &str, what: &str| -> Result<Option<i64>, FieldRangeError> {
            if p.is_empty() {
                Ok(None)
            } else {
                p.parse::<i64>()
                    .map(Some)
                    .map_err(|_| bad(&format!("{what} `{p}` is not an integer")))
            }
        };
        match parts.as_slice() {
            [one] => match num(one, "index")? {
                Some(i) => Ok(FieldRange::index(i)),
                None => Err(bad("it is empty")),
            },
            [a, b] => FieldRange::slice(num(a, "start")?, num(b, "stop")?, None),
            [a, b, c] => {
                let step = num(c, "step")?;
                if step == Some(0) {
                    return Err(bad("the step must not be zero"));
                }
                FieldRange::slice(num(a, "start")?, num(b, "stop")?, step)
            }
            _ => Err(bad("too many `:`")),
        }
    }
}

impl std::fmt::Display for FieldRange {
    /// The canonical text, which parses back to the same range.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let opt = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        if self.single {
            return write!(f, "{}", self.start.unwrap_or(0));
        }
        write!(f, "{}:{}", opt(self.start), opt(self.stop))?;
        if let Some(s) = self.step {
            write!(f, ":{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sel(s: &str, n: usize) -> Vec<usize> {
        s.parse::<FieldRange>().unwrap().resolve(n).unwrap()
    }

    #[test]
    fn python_slice_semantics() {
        assert_eq!(sel(":", 4), vec![0, 1, 2, 3]);
        assert_eq!(sel("1:3", 10), vec![1, 2]);
        assert_eq!(sel("8:", 10), vec![8, 9]);
        assert_eq!(sel(":2", 10), vec![0, 1]);
        assert_eq!(sel("-2:", 10), vec![8, 9]);
        assert_eq!(sel(":-8", 10), vec![0, 1]);
        assert_eq!(sel("5:100", 7), vec![5, 6]);
        assert_eq!(sel("-100:2", 7), vec![0, 1]);
        assert_eq!(sel("5:2", 10), Vec::<usize>::new());
        assert_eq!(sel("1:8:3", 10), vec![1, 4, 7]);
        assert_eq!(sel("::-1", 4), vec![3, 2, 1, 0]);
        assert_eq!(sel("5:2:-1", 10), vec![5, 4, 3]);
        assert_eq!(sel("-1::-4", 10), vec![9, 5, 1]);
        assert_eq!(sel(" 3 ", 10), vec![3]);
        assert_eq!(sel("-1", 10), vec![9]);
        assert_eq!(sel(":", 0), Vec::<usize>::new());
    }

    #[test]
    fn bad_ranges_say_what_is_wrong() {
        for (s, needle) in [
            ("5:2:0", "step must not be zero"),
            ("", "empty"),
            ("a:3", "start `a`"),
            ("1:2:3:4", "too many"),
            ("1.5", "index `1.5`"),
        ] {
            let e = s.parse::<FieldRange>().unwrap_err().to_string();
            assert!(e.contains(needle), "{s}: {e}");
        }
        let e = sel_err("10", 10);
        assert!(e.contains("out of range") && e.contains("10 fields"), "{e}");
        assert!(FieldRange::slice(None, None, Some(0)).is_err());
    }

    fn sel_err(s: &str, n: usize) -> String {
        s.parse::<FieldRange>()
            .unwrap()
            .resolve(n)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn display_round_trips() {
        for s in [":", "1:", ":-2", "1:9:2", "::-1", "-3"] {
            let r: FieldRange = s.parse().unwrap();
            assert_eq!(r.to_string(), s);
            assert_eq!(r.to_string().parse::<FieldRange>().unwrap(), r);
        }
    }
}
