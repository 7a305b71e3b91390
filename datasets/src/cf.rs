//! CF conventions: time decoding with model calendars, packing and missing values, and
//! coordinate detection.
//!
//! Everything here works on plain values and attributes; [`crate::netcdf::NcFile`] applies it
//! to files (`read_cf`, `read_time`, `coordinate_axes`).
//!
//! ```
//! use meshflow_datasets::cf::{Calendar, CfDateTime, TimeAxis};
//!
//! # fn main() -> meshflow_datasets::Result<()> {
//! // A1B_north_america.nc: "hours since 1970-01-01 00:00:00", calendar "360_day".
//! let axis = TimeAxis::new("hours since 1970-01-01 00:00:00", Some("360_day"))?;
//! assert_eq!(axis.calendar, Calendar::Day360);
//! assert_eq!(axis.decode(-946800.0)?, CfDateTime::ymd_hms(1860, 6, 1, 0, 0, 0));
//! // With no calendar attribute the CF default (`standard`) applies; override it when the
//! // file is known to use a model calendar (the TREFHT files step by exactly 365 days).
//! let axis = TimeAxis::new("days since 1870-03-01", None)?.with_calendar(Calendar::NoLeap)?;
//! assert_eq!(axis.decode(7437.5)?.year, 1890);
//! # Ok(()) }
//! ```
//!
//! # Calendars
//! `standard`/`gregorian` is the mixed Julian/Gregorian calendar (Julian before 1582-10-15,
//! the ten days 1582-10-05..14 do not exist); `proleptic_gregorian` and `julian` use one rule
//! throughout; `noleap`/`365_day`, `all_leap`/`366_day` and `360_day` (twelve 30-day months)
//! are the model calendars. `none` and unknown names are errors. Years are astronomical
//! (year 0 exists, -1 is 2 BCE) in every calendar; climate data rarely goes that far back.
//!
//! # Time units
//! `<unit> since <date>[( |T)<time>][ <zone>]` with unit one of microseconds, milliseconds,
//! seconds, minutes, hours, days, weeks (and the usual abbreviations: `us`, `ms`, `s`, `sec`,
//! `min`, `h`, `hr`, `d`, each also singular); date `Y-M-D` (one-digit month/day allowed);
//! time `h:m[:s[.frac]]`; zone `Z`, `UTC`, `+hh:mm`, `-hhmm` or `+h`. `months since` and
//! `years since` are rejected: udunits defines them as fractions of a tropical year, which is
//! never what a model calendar means. Decoded times are rounded to the microsecond and
//! expressed in UTC (the zone offset is removed).

use crate::netcdf::{AttrValue, NcType, Variable};
use crate::{DatasetError, Result};
use std::path::PathBuf;

fn cf_err(location: &str, message: impl Into<String>) -> DatasetError {
    DatasetError::Format {
        path: PathBuf::from("<memory>"),
        location: location.to_string(),
        message: message.into(),
    }
}

// ---------------------------------------------------------------------------------------------
// Calendars and dates.

/// A CF calendar (the `calendar` attribute of a time coordinate).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Calendar {
    /// `standard` / `gregorian`: Julian before 1582-10-15, Gregorian from then on. The CF
    /// default when a time variable has no `calendar` attribute.
    Standard,
    /// `proleptic_gregorian`: Gregorian rules for all dates.
    ProlepticGregorian,
    /// `julian`: Julian rules (a leap year every 4 years) for all dates.
    Julian,
    /// `noleap` / `365_day`: no leap years.
    NoLeap,
    /// `all_leap` / `366_day`: every year is a leap year.
    AllLeap,
    /// `360_day`: twelve months of 30 days.
    Day360,
}

impl Calendar {
    /// Parses a CF calendar name (case-insensitive); `None` for unknown names and `none`.
    pub fn parse(name: &str) -> Option<Calendar> {
        match name.trim().to_ascii_lowercase().as_str() {
            "standard" | "gregorian" => Some(Calendar::Standard),
            "proleptic_gregorian" => Some(Calendar::ProlepticGregorian),
            "julian" => Some(Calendar::Julian),
            "noleap" | "no_leap" | "365_day" => Some(Calendar::NoLeap),
            "all_leap" | "366_day" => Some(Calendar::AllLeap),
            "360_day" => Some(Calendar::Day360),
            _ => None,
        }
    }

    /// The canonical CF name (`standard`, `proleptic_gregorian`, `julian`, `noleap`,
    /// `all_leap`, `360_day`).
    pub fn name(self) -> &'static str {
        match self {
            Calendar::Standard => "standard",
            Calendar::ProlepticGregorian => "proleptic_gregorian",
            Calendar::Julian => "julian",
            Calendar::NoLeap => "noleap",
            Calendar::AllLeap => "all_leap",
            Calendar::Day360 => "360_day",
        }
    }

    /// Whether `year` is a leap year in this calendar.
    pub fn is_leap(self, year: i64) -> bool {
        let julian = year.rem_euclid(4) == 0;
        let gregorian = julian && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0);
        match self {
            Calendar::Standard => {
                if year < 1582 {
                    julian
                } else {
                    gregorian
                }
            }
            Calendar::ProlepticGregorian => gregorian,
            Calendar::Julian => julian,
            Calendar::NoLeap | Calendar::Day360 => false,
            Calendar::AllLeap => true,
        }
    }

    /// Number of days in a month (1..=12) of a year.
    pub fn days_in_month(self, year: i64, month: u8) -> u8 {
        if self == Calendar::Day360 {
            return 30;
        }
        match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            _ => {
                if self.is_leap(year) {
                    29
                } else {
                    28
                }
            }
        }
    }

    /// Whether a date exists in this calendar (including the 1582 gap of `standard`).
    pub fn is_valid_date(self, year: i64, month: u8, day: u8) -> bool {
        if !(1..=12).contains(&month) || day == 0 || day > self.days_in_month(year, month) {
            return false;
        }
        !(self == Calendar::Standard && year == 1582 && month == 10 && (5..15).contains(&day))
    }

    /// A day count for a valid date: consecutive days get consecutive numbers (the epoch is
    /// arbitrary but fixed per calendar).
    fn day_number(self, y: i64, m: u8, d: u8) -> i64 {
        let (m, d) = (i64::from(m), i64::from(d));
        match self {
            Calendar::ProlepticGregorian => gregorian_jdn(y, m, d),
            Calendar::Julian => julian_jdn(y, m, d),
            Calendar::Standard => {
                if (y, m, d) >= (1582, 10, 15) {
                    gregorian_jdn(y, m, d)
                } else {
                    julian_jdn(y, m, d)
                }
            }
            Calendar::NoLeap => 365 * y + CUM_DAYS[(m - 1) as usize] + d - 1,
            Calendar::AllLeap => {
                let leap = i64::from(m > 2);
                366 * y + CUM_DAYS[(m - 1) as usize] + leap + d - 1
            }
            Calendar::Day360 => 360 * y + 30 * (m - 1) + d - 1,
        }
    }

    /// The date of a day number (inverse of `day_number`).
    fn date_of(self, n: i64) -> (i64, u8, u8) {
        match self {
            Calendar::ProlepticGregorian => gregorian_from_jdn(n),
            Calendar::Julian => julian_from_jdn(n),
            Calendar::Standard => {
                if n >= GREGORIAN_START_JDN {
                    gregorian_from_jdn(n)
                } else {
                    julian_from_jdn(n)
                }
            }
            Calendar::NoLeap | Calendar::AllLeap => {
                let len = if self == Calendar::NoLeap { 365 } else { 366 };
                let y = n.div_euclid(len);
                let mut doy = n.rem_euclid(len);
                let mut m = 1u8;
                loop {
                    let dim = i64::from(self.days_in_month(y, m));
                    if doy < dim || m == 12 {
                        return (y, m, (doy + 1) as u8);
                    }
                    doy -= dim;
                    m += 1;
                }
            }
            Calendar::Day360 => {
                let y = n.div_euclid(360);
                let doy = n.rem_euclid(360);
                (y, (doy / 30 + 1) as u8, (doy % 30 + 1) as u8)
            }
        }
    }
}

/// Days before each month in a non-leap year.
const CUM_DAYS: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
/// Julian day number of 1582-10-15 (Gregorian), the first Gregorian day of `standard`.
const GREGORIAN_START_JDN: i64 = 2_299_161;

fn march_based(y: i64, m: i64) -> (i64, i64) {
    let a = (14 - m) / 12;
    (y + 4800 - a, m + 12 * a - 3)
}

fn gregorian_jdn(y: i64, m: i64, d: i64) -> i64 {
    let (y, m) = march_based(y, m);
    d + (153 * m + 2) / 5 + 365 * y + y.div_euclid(4) - y.div_euclid(100) + y.div_euclid(400)
        - 32045
}

fn julian_jdn(y: i64, m: i64, d: i64) -> i64 {
    let (y, m) = march_based(y, m);
    d + (153 * m + 2) / 5 + 365 * y + y.div_euclid(4) - 32083
}

fn from_march_based(c: i64, dd: i64) -> (i64, u8, u8) {
    let m5 = (5 * dd + 2) / 153;
    let day = dd - (153 * m5 + 2) / 5 + 1;
    let month = m5 + 3 - 12 * (m5 / 10);
    (c + m5 / 10, month as u8, day as u8)
}

fn gregorian_from_jdn(n: i64) -> (i64, u8, u8) {
    let a = n + 32044;
    let b = (4 * a + 3).div_euclid(146_097);
    let c = a - (146_097 * b).div_euclid(4);
    let d = (4 * c + 3).div_euclid(1461);
    let e = c - (1461 * d).div_euclid(4);
    let (y, m, day) = from_march_based(0, e);
    (100 * b + d - 4800 + y, m, day)
}

fn julian_from_jdn(n: i64) -> (i64, u8, u8) {
    let c = n + 32082;
    let d = (4 * c + 3).div_euclid(1461);
    let e = c - (1461 * d).div_euclid(4);
    let (y, m, day) = from_march_based(0, e);
    (d - 4800 + y, m, day)
}

/// A calendar date and time of day, in the calendar it was decoded with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CfDateTime {
    /// Astronomical year (0 exists).
    pub year: i64,
    /// 1..=12.
    pub month: u8,
    /// 1..=31 (1..=30 in `360_day`).
    pub day: u8,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59.
    pub second: u8,
    /// 0..=999_999.
    pub microsecond: u32,
}

impl CfDateTime {
    /// A date-time with whole seconds (fields are not validated; see
    /// [`Calendar::is_valid_date`]).
    pub fn ymd_hms(year: i64, month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Self {
        CfDateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            microsecond: 0,
        }
    }
}

impl std::fmt::Display for CfDateTime {
    /// ISO-8601-like: `1890-07-16T12:00:00` (with `.ffffff` when there are microseconds).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            self.year, self.month, self.day, self.hour, self.minute, self.second
        )?;
        if self.microsecond != 0 {
            write!(f, ".{:06}", self.microsecond)?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// Time units.

/// The unit of a CF time coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// 1e-6 s.
    Microseconds,
    /// 1e-3 s.
    Milliseconds,
    /// 1 s.
    Seconds,
    /// 60 s.
    Minutes,
    /// 3600 s.
    Hours,
    /// 86400 s.
    Days,
    /// 7 days.
    Weeks,
}

impl TimeUnit {
    /// Parses a unit name (plural, singular or abbreviated; case-insensitive).
    pub fn parse(s: &str) -> Option<TimeUnit> {
        Some(match s.to_ascii_lowercase().as_str() {
            "microseconds" | "microsecond" | "microsec" | "microsecs" | "us" | "usec" => {
                TimeUnit::Microseconds
            }
            "milliseconds" | "millisecond" | "millisec" | "millisecs" | "ms" | "msec" => {
                TimeUnit::Milliseconds
            }
            "seconds" | "second" | "secs" | "sec" | "s" => TimeUnit::Seconds,
            "minutes" | "minute" | "mins" | "min" => TimeUnit::Minutes,
            "hours" | "hour" | "hrs" | "hr" | "h" => TimeUnit::Hours,
            "days" | "day" | "d" => TimeUnit::Days,
            "weeks" | "week" => TimeUnit::Weeks,
            _ => return None,
        })
    }

    /// Length in microseconds.
    pub fn micros(self) -> i64 {
        match self {
            TimeUnit::Microseconds => 1,
            TimeUnit::Milliseconds => 1_000,
            TimeUnit::Seconds => 1_000_000,
            TimeUnit::Minutes => 60_000_000,
            TimeUnit::Hours => 3_600_000_000,
            TimeUnit::Days => 86_400_000_000,
            TimeUnit::Weeks => 604_800_000_000,
        }
    }

    /// The plural CF name (`"days"`, `"hours"`, ...).
    pub fn name(self) -> &'static str {
        match self {
            TimeUnit::Microseconds => "microseconds",
            TimeUnit::Milliseconds => "milliseconds",
            TimeUnit::Seconds => "seconds",
            TimeUnit::Minutes => "minutes",
            TimeUnit::Hours => "hours",
            TimeUnit::Days => "days",
            TimeUnit::Weeks => "weeks",
        }
    }
}

/// Parsed `<unit> since <reference>` time units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeUnits {
    /// The unit of the stored numbers.
    pub unit: TimeUnit,
    /// The reference date and time, as written (local to `utc_offset_minutes`).
    pub reference: CfDateTime,
    /// The time zone of the reference, in minutes east of UTC (0 when none is given).
    pub utc_offset_minutes: i32,
}

impl TimeUnits {
    /// Whether a units string looks like CF time units (`<unit> since ...`).
    pub fn is_time_units(units: &str) -> bool {
        let lower = units.to_ascii_lowercase();
        match lower.split_once(" since ") {
            Some((u, _)) => TimeUnit::parse(u.trim()).is_some(),
            None => false,
        }
    }

    /// Parses `<unit> since <date>[( |T)<time>][ <zone>]`. The reference date is checked
    /// against `calendar` by [`TimeAxis::new`], not here.
    pub fn parse(units: &str) -> Result<TimeUnits> {
        let loc = "time units";
        let bad = |why: &str| {
            cf_err(
                loc,
                format!(
                    "cannot parse time units `{units}`: {why} (expected e.g. \
                     `days since 1850-01-01 00:00:00`)"
                ),
            )
        };
        let trimmed = units.trim();
        let lower = trimmed.to_ascii_lowercase();
        let (unit_s, rest) = lower
            .split_once(" since ")
            .ok_or_else(|| bad("no `since`"))?;
        let unit_s = unit_s.trim();
        let unit = match TimeUnit::parse(unit_s) {
            Some(u) => u,
            None if matches!(
                unit_s,
                "months" | "month" | "years" | "year" | "yr" | "common_years"
            ) =>
            {
                return Err(DatasetError::Unsupported {
                    path: PathBuf::from("<memory>"),
                    location: loc.into(),
                    feature: format!(
                        "time unit `{unit_s}` in `{units}` (udunits defines months and years \
                         as fractions of a tropical year; convert to days)"
                    ),
                });
            }
            None => return Err(bad(&format!("unknown unit `{unit_s}`"))),
        };
        let rest = rest.trim();
        // Split date from the rest at 'T' or whitespace.
        let (date_s, mut tail) = match rest.find(|c: char| c == 't' || c.is_whitespace()) {
            // A leading sign belongs to the year; 't' can only follow the date.
            Some(i) if i > 0 => (&rest[..i], rest[i + 1..].trim_start()),
            _ => (rest, ""),
        };
        let (year, month, day) = parse_date(date_s).ok_or_else(|| bad("bad date"))?;
        let (mut hour, mut minute, mut second, mut micro) = (0u8, 0u8, 0u8, 0u32);
        if !tail.is_empty() && tail.as_bytes()[0].is_ascii_digit() {
            // Time of day, possibly followed directly by a zone (`12:00:00Z`, `00:00+01:00`).
            let end = tail
                .find(|c: char| !(c.is_ascii_digit() || c == ':' || c == '.'))
                .unwrap_or(tail.len());
            let (h, m, s, us) = parse_time(&tail[..end]).ok_or_else(|| bad("bad time"))?;
            (hour, minute, second, micro) = (h, m, s, us);
            tail = tail[end..].trim_start();
        }
        let offset = parse_zone(tail).ok_or_else(|| bad("bad time zone"))?;
        Ok(TimeUnits {
            unit,
            reference: CfDateTime {
                year,
                month,
                day,
                hour,
                minute,
                second,
                microsecond: micro,
            },
            utc_offset_minutes: offset,
        })
    }
}

impl std::fmt::Display for TimeUnits {
    /// `<unit> since YYYY-MM-DD hh:mm:ss` (zone appended when non-zero), as CF writes it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = &self.reference;
        write!(
            f,
            "{} since {:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.unit.name(),
            r.year,
            r.month,
            r.day,
            r.hour,
            r.minute,
            r.second
        )?;
        if r.microsecond != 0 {
            write!(f, ".{:06}", r.microsecond)?;
        }
        if self.utc_offset_minutes != 0 {
            let o = self.utc_offset_minutes;
            let sign = if o < 0 { '-' } else { '+' };
            write!(f, " {sign}{:02}:{:02}", o.abs() / 60, o.abs() % 60)?;
        }
        Ok(())
    }
}

fn parse_date(s: &str) -> Option<(i64, u8, u8)> {
    let (sign, body) = match s.strip_prefix('-') {
        Some(b) => (-1, b),
        None => (1, s.strip_prefix('+').unwrap_or(s)),
    };
    let mut it = body.split('-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u8 = it.next().map_or(Some(1), |v| v.parse().ok())?;
    let d: u8 = it.next().map_or(Some(1), |v| v.parse().ok())?;
    if it.next().is_some() {
        return None;
    }
    Some((sign * y, m, d))
}

fn parse_time(s: &str) -> Option<(u8, u8, u8, u32)> {
    let mut it = s.split(':');
    let h: u8 = it.next()?.parse().ok()?;
    let m: u8 = it.next().map_or(Some(0), |v| v.parse().ok())?;
    let (sec, micro) = match it.next() {
        None => (0, 0),
        Some(v) => {
            let (whole, frac) = v.split_once('.').unwrap_or((v, ""));
            let sec: u8 = whole.parse().ok()?;
            if !frac.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            let mut digits: String = frac.chars().take(6).collect();
            while digits.len() < 6 {
                digits.push('0');
            }
            (sec, digits.parse().ok()?)
        }
    };
    if it.next().is_some() || h > 23 || m > 59 || sec > 60 {
        return None;
    }
    Some((h, m, sec, micro))
}

/// Minutes east of UTC.
fn parse_zone(s: &str) -> Option<i32> {
    let s = s.trim();
    if s.is_empty() || s.eq_ignore_ascii_case("z") || s.eq_ignore_ascii_case("utc") {
        return Some(0);
    }
    let s = s
        .strip_prefix("UTC")
        .or_else(|| s.strip_prefix("utc"))
        .unwrap_or(s)
        .trim();
    let (sign, body) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => (1, s),
    };
    let (h, m): (i32, i32) = if let Some((h, m)) = body.split_once(':') {
        (h.parse().ok()?, m.parse().ok()?)
    } else if body.len() == 4 {
        (body[..2].parse().ok()?, body[2..].parse().ok()?)
    } else {
        (body.parse().ok()?, 0)
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (60 * h + m))
}

/// A time coordinate's decoding rule: units plus calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeAxis {
    /// Parsed units.
    pub units: TimeUnits,
    /// The calendar in use.
    pub calendar: Calendar,
    /// Day number of the reference date, and the reference's offset into that day in
    /// microseconds (UTC).
    ref_day: i64,
    ref_micros: i64,
}

impl TimeAxis {
    /// From a `units` attribute and an optional `calendar` attribute (missing means
    /// `standard`, the CF default). Unknown calendars and dates that do not exist in the
    /// calendar are errors.
    pub fn new(units: &str, calendar: Option<&str>) -> Result<TimeAxis> {
        let cal = match calendar {
            None => Calendar::Standard,
            Some(name) => Calendar::parse(name).ok_or_else(|| DatasetError::Unsupported {
                path: PathBuf::from("<memory>"),
                location: "calendar attribute".into(),
                feature: format!(
                    "calendar `{name}` (known: standard, gregorian, proleptic_gregorian, \
                     julian, noleap, 365_day, all_leap, 366_day, 360_day)"
                ),
            })?,
        };
        Self::from_units(TimeUnits::parse(units)?, cal)
    }

    /// From parsed units and a calendar.
    pub fn from_units(units: TimeUnits, calendar: Calendar) -> Result<TimeAxis> {
        let r = units.reference;
        if !calendar.is_valid_date(r.year, r.month, r.day) {
            return Err(cf_err(
                "time units",
                format!(
                    "reference date {:04}-{:02}-{:02} does not exist in the {} calendar",
                    r.year,
                    r.month,
                    r.day,
                    calendar.name()
                ),
            ));
        }
        let ref_micros = ((i64::from(r.hour) * 60 + i64::from(r.minute)) * 60
            + i64::from(r.second)
            - i64::from(units.utc_offset_minutes) * 60)
            * 1_000_000
            + i64::from(r.microsecond);
        Ok(TimeAxis {
            units,
            calendar,
            ref_day: calendar.day_number(r.year, r.month, r.day),
            ref_micros,
        })
    }

    /// The same units with another calendar (for files whose calendar attribute is missing
    /// or wrong). Fails if the reference date does not exist in `calendar` (e.g. a 31st in
    /// `360_day`).
    pub fn with_calendar(self, calendar: Calendar) -> Result<TimeAxis> {
        Self::from_units(self.units, calendar)
    }

    /// Decodes one stored value to a date-time (UTC), rounded to the microsecond. NaN,
    /// infinities and values beyond ±(2^62 µs) are errors.
    pub fn decode(&self, value: f64) -> Result<CfDateTime> {
        let micros = value * self.units.unit.micros() as f64;
        if !micros.is_finite() || micros.abs() > 4.6e18 {
            return Err(cf_err(
                "time value",
                format!(
                    "time value {value} {} cannot be decoded",
                    self.units.unit.name()
                ),
            ));
        }
        let total = self.ref_day as i128 * 86_400_000_000
            + self.ref_micros as i128
            + micros.round() as i128;
        let day = total.div_euclid(86_400_000_000);
        let mut rem = total.rem_euclid(86_400_000_000) as i64;
        let day = i64::try_from(day)
            .map_err(|_| cf_err("time value", format!("time value {value} is out of range")))?;
        let (year, month, d) = self.calendar.date_of(day);
        let microsecond = (rem % 1_000_000) as u32;
        rem /= 1_000_000;
        Ok(CfDateTime {
            year,
            month,
            day: d,
            hour: (rem / 3600) as u8,
            minute: (rem / 60 % 60) as u8,
            second: (rem % 60) as u8,
            microsecond,
        })
    }

    /// Encodes a date-time (UTC, in this calendar) as a value in these units. Invalid dates
    /// are errors.
    pub fn encode(&self, t: &CfDateTime) -> Result<f64> {
        if !self.calendar.is_valid_date(t.year, t.month, t.day)
            || t.hour > 23
            || t.minute > 59
            || t.second > 60
        {
            return Err(cf_err(
                "time value",
                format!(
                    "{t} is not a valid date in the {} calendar",
                    self.calendar.name()
                ),
            ));
        }
        let day = self.calendar.day_number(t.year, t.month, t.day);
        let micros = (day - self.ref_day) as i128 * 86_400_000_000
            + (((i64::from(t.hour) * 60 + i64::from(t.minute)) * 60 + i64::from(t.second))
                * 1_000_000
                + i64::from(t.microsecond)) as i128
            - self.ref_micros as i128;
        let unit = self.units.unit.micros() as i128;
        if micros % unit == 0 {
            Ok((micros / unit) as f64)
        } else {
            Ok(micros as f64 / unit as f64)
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Coordinate detection.

/// What a coordinate variable measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Axis {
    /// Latitude (degrees north).
    Latitude,
    /// Longitude (degrees east).
    Longitude,
    /// A vertical coordinate (pressure level, height, model level, depth).
    Vertical,
    /// Time (`<unit> since <date>`).
    Time,
}

const LAT_UNITS: [&str; 6] = [
    "degrees_north",
    "degree_north",
    "degrees_n",
    "degree_n",
    "degreesn",
    "degreen",
];
const LON_UNITS: [&str; 6] = [
    "degrees_east",
    "degree_east",
    "degrees_e",
    "degree_e",
    "degreese",
    "degreee",
];
const VERTICAL_NAMES: [&str; 10] = [
    "level",
    "lev",
    "plev",
    "isobaricinhpa",
    "pressure",
    "pressure_level",
    "height",
    "depth",
    "altitude",
    "model_level_number",
];
const VERTICAL_STANDARD_NAMES: [&str; 7] = [
    "air_pressure",
    "height",
    "altitude",
    "depth",
    "model_level_number",
    "geopotential_height",
    "atmosphere_hybrid_sigma_pressure_coordinate",
];

/// Detects what a (coordinate) variable measures, from its attributes and name, in this order:
/// time (`units` of the form `<unit> since <date>`, or `standard_name = time`, or `axis = T`);
/// latitude (`units` `degrees_north` and its spellings, `standard_name = latitude`, `axis = Y`
/// unless the units say it is not in degrees, or name `lat`/`latitude`); longitude likewise
/// (`degrees_east`, `longitude`, `X`, `lon`/`long`/`longitude`); vertical (`axis = Z`, a
/// `positive` attribute, a vertical `standard_name`, or a name such as `level`, `lev`,
/// `plev`, `isobaricInhPa`, `height`, `depth`). `None` when nothing matches.
pub fn detect_axis(var: &Variable) -> Option<Axis> {
    let attr = |n: &str| {
        var.attribute(n)
            .and_then(AttrValue::as_str)
            .map(|s| s.trim().to_ascii_lowercase())
    };
    let units = attr("units").unwrap_or_default();
    let standard = attr("standard_name").unwrap_or_default();
    let axis = attr("axis").unwrap_or_default();
    let name = var.name.to_ascii_lowercase();
    let degree_units = units.is_empty() || units.starts_with("degree");

    if TimeUnits::is_time_units(&units) || standard == "time" || axis == "t" {
        return Some(Axis::Time);
    }
    if LAT_UNITS.contains(&units.as_str())
        || standard == "latitude"
        || (axis == "y" && degree_units && !standard.starts_with("projection"))
        || ((name == "lat" || name == "latitude") && degree_units)
    {
        return Some(Axis::Latitude);
    }
    if LON_UNITS.contains(&units.as_str())
        || standard == "longitude"
        || (axis == "x" && degree_units && !standard.starts_with("projection"))
        || ((name == "lon" || name == "long" || name == "longitude") && degree_units)
    {
        return Some(Axis::Longitude);
    }
    if axis == "z"
        || var.attribute("positive").is_some()
        || VERTICAL_STANDARD_NAMES.contains(&standard.as_str())
        || VERTICAL_NAMES.contains(&name.as_str())
    {
        return Some(Axis::Vertical);
    }
    None
}

/// The order of a latitude coordinate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatitudeOrder {
    /// Increasing (south first), as in the TREFHT and A1B files.
    SouthToNorth,
    /// Decreasing (north first), as ERA5/ERA-Interim and GRIB files usually are.
    NorthToSouth,
}

impl LatitudeOrder {
    /// The order of strictly monotonic latitudes; `None` for fewer than two values, NaNs or
    /// non-monotonic values.
    pub fn of(latitudes: &[f64]) -> Option<LatitudeOrder> {
        if latitudes.len() < 2 || latitudes.iter().any(|v| v.is_nan()) {
            return None;
        }
        if latitudes.windows(2).all(|w| w[0] < w[1]) {
            Some(LatitudeOrder::SouthToNorth)
        } else if latitudes.windows(2).all(|w| w[0] > w[1]) {
            Some(LatitudeOrder::NorthToSouth)
        } else {
            None
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Packing and missing values.

/// How [`crate::netcdf::NcFile::read_cf`] turns stored values into physical values, derived
/// from a variable's attributes by [`Packing::of`].
///
/// Rules (they follow netCDF4-python's and xarray's CF decoding; every comparison is on the
/// *stored* value, before scaling):
/// 1. `_Unsigned = "true"` on a signed integer variable reinterprets the stored bits as
///    unsigned (the NetCDF-3 convention for unsigned data).
/// 2. `_FillValue` masks stored values equal to it, **if it can apply**: for an integer
///    variable it must be a finite whole number inside the type's range; a float fill is
///    compared after rounding to the variable's type; a NaN fill on a float variable masks
///    NaNs. A fill that cannot apply is ignored, as netCDF4-python does ("_FillValue not
///    used"): `eraint_uvz.nc` has a NaN float64 `_FillValue` on int16 data, and nothing there
///    is masked.
/// 3. Without a `_FillValue` attribute, the netCDF default fill value of the type is masked
///    (what unwritten data reads as), except for 1-byte types, as netCDF4-python does.
/// 4. `missing_value` (one or several values) masks equal stored values, under the same
///    "can apply" rule.
/// 5. `valid_range`, or `valid_min`/`valid_max`, mask stored values outside them.
/// 6. Unmasked values become `stored * scale_factor + add_offset`, computed in f64 (absent
///    attributes count as 1 and 0; with neither, values are passed through exactly). A
///    negative `scale_factor` is fine.
/// 7. Any value that is NaN after decoding is masked too, so a masked value is always NaN and
///    a NaN is always masked.
#[derive(Debug, Clone, PartialEq)]
pub struct Packing {
    /// `scale_factor`, if present.
    pub scale_factor: Option<f64>,
    /// `add_offset`, if present.
    pub add_offset: Option<f64>,
    /// Stored values that mean "missing" (`_FillValue` / default fill, `missing_value`) that
    /// can apply to this type.
    pub missing: Vec<f64>,
    /// Whether NaN is a declared missing value.
    pub missing_nan: bool,
    /// Valid range of stored values (inclusive).
    pub valid_min: Option<f64>,
    /// See `valid_min`.
    pub valid_max: Option<f64>,
    /// `_Unsigned = "true"` on a signed integer type.
    pub unsigned: bool,
    /// Whether decoded values should be kept as f64 (otherwise f32): f64 when the stored
    /// type is f64 or a 32/64-bit integer, or when a packing attribute is f64.
    pub output_f64: bool,
}

/// The netCDF default fill value of a type (`NC_FILL_*`), as f64.
pub fn default_fill(t: NcType) -> Option<f64> {
    Some(match t {
        NcType::Byte => -127.0,
        NcType::UByte => 255.0,
        NcType::Short => -32767.0,
        NcType::UShort => 65535.0,
        NcType::Int => -2147483647.0,
        NcType::UInt => 4294967295.0,
        NcType::Int64 => -9223372036854775806.0,
        NcType::UInt64 => 18446744073709551614.0,
        NcType::Float => f64::from(9.969_21e36_f32),
        NcType::Double => 9.969_209_968_386_869e36,
        _ => return None,
    })
}

/// The range of an integer type, `None` for non-integers.
fn int_range(t: NcType) -> Option<(f64, f64)> {
    Some(match t {
        NcType::Byte => (-128.0, 127.0),
        NcType::UByte => (0.0, 255.0),
        NcType::Short => (-32768.0, 32767.0),
        NcType::UShort => (0.0, 65535.0),
        NcType::Int => (-2147483648.0, 2147483647.0),
        NcType::UInt => (0.0, 4294967295.0),
        NcType::Int64 => (-9.223372036854776e18, 9.223372036854776e18),
        NcType::UInt64 => (0.0, 1.8446744073709552e19),
        _ => return None,
    })
}

/// The unsigned type with the same width.
fn unsigned_of(t: NcType) -> NcType {
    match t {
        NcType::Byte => NcType::UByte,
        NcType::Short => NcType::UShort,
        NcType::Int => NcType::UInt,
        NcType::Int64 => NcType::UInt64,
        other => other,
    }
}

impl Packing {
    /// Reads the packing and missing-value attributes of a variable (rules in the type docs).
    pub fn of(var: &Variable) -> Packing {
        let num = |n: &str| var.attribute(n).and_then(AttrValue::as_f64s);
        let is_true = |n: &str| {
            var.attribute(n)
                .and_then(AttrValue::as_str)
                .is_some_and(|s| s.trim().eq_ignore_ascii_case("true"))
        };
        let unsigned = is_true("_Unsigned")
            && matches!(
                var.dtype,
                NcType::Byte | NcType::Short | NcType::Int | NcType::Int64
            );
        let stored = if unsigned {
            unsigned_of(var.dtype)
        } else {
            var.dtype
        };
        // With `_Unsigned`, negative attribute values name the same bits as the data.
        let wrap = |v: f64| match (unsigned, var.dtype) {
            (true, NcType::Byte) if v < 0.0 => v + 256.0,
            (true, NcType::Short) if v < 0.0 => v + 65536.0,
            (true, NcType::Int) if v < 0.0 => v + 4294967296.0,
            (true, NcType::Int64) if v < 0.0 => v + 18446744073709551616.0,
            _ => v,
        };
        let num = |n: &str| num(n).map(|v| v.into_iter().map(wrap).collect::<Vec<f64>>());
        let mut missing = Vec::new();
        let mut missing_nan = false;
        let mut add_missing = |v: f64| {
            if v.is_nan() {
                if matches!(stored, NcType::Float | NcType::Double) {
                    missing_nan = true;
                }
            } else if let Some((lo, hi)) = int_range(stored) {
                if v.is_finite() && v.fract() == 0.0 && v >= lo && v <= hi {
                    missing.push(v);
                }
            } else if stored == NcType::Float {
                missing.push(f64::from(v as f32));
            } else if stored == NcType::Double {
                missing.push(v);
            }
        };
        match num("_FillValue") {
            Some(vs) => {
                if let Some(&v) = vs.first() {
                    add_missing(v);
                }
            }
            None => {
                if !matches!(stored, NcType::Byte | NcType::UByte | NcType::Char) {
                    if let Some(v) = default_fill(stored) {
                        add_missing(v);
                    }
                }
            }
        }
        for v in num("missing_value").unwrap_or_default() {
            add_missing(v);
        }
        let (valid_min, valid_max) = match num("valid_range").filter(|r| r.len() == 2) {
            Some(r) => (Some(r[0]), Some(r[1])),
            None => (
                num("valid_min").and_then(|v| v.first().copied()),
                num("valid_max").and_then(|v| v.first().copied()),
            ),
        };
        let attr_f64 = |n: &str| matches!(var.attribute(n), Some(AttrValue::Double(_)));
        let scale_factor = num("scale_factor").and_then(|v| v.first().copied());
        let add_offset = num("add_offset").and_then(|v| v.first().copied());
        let wide_stored = matches!(
            stored,
            NcType::Double | NcType::Int | NcType::UInt | NcType::Int64 | NcType::UInt64
        );
        let output_f64 = if scale_factor.is_some() || add_offset.is_some() {
            attr_f64("scale_factor") || attr_f64("add_offset") || wide_stored
        } else {
            wide_stored
        };
        Packing {
            scale_factor,
            add_offset,
            missing,
            missing_nan,
            valid_min,
            valid_max,
            unsigned,
            output_f64,
        }
    }

    /// Whether a stored value is missing under these rules.
    pub fn is_missing(&self, stored: f64) -> bool {
        if stored.is_nan() {
            return true;
        }
        self.missing.contains(&stored)
            || self.valid_min.is_some_and(|lo| stored < lo)
            || self.valid_max.is_some_and(|hi| stored > hi)
    }

    /// Decodes stored values (already widened to f64, after `_Unsigned`) in place: missing
    /// values become NaN and are flagged in the returned mask (`true` = missing).
    pub fn decode_in_place(&self, values: &mut [f64]) -> Vec<bool> {
        let scale = self.scale_factor.unwrap_or(1.0);
        let offset = self.add_offset.unwrap_or(0.0);
        let packed = self.scale_factor.is_some() || self.add_offset.is_some();
        values
            .iter_mut()
            .map(|v| {
                if self.is_missing(*v) {
                    *v = f64::NAN;
                    return true;
                }
                if packed {
                    *v = *v * scale + offset;
                }
                v.is_nan()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(y: i64, mo: u8, d: u8, h: u8, mi: u8, s: u8) -> CfDateTime {
        CfDateTime::ymd_hms(y, mo, d, h, mi, s)
    }

    #[test]
    fn jdn_known_values() {
        assert_eq!(gregorian_jdn(2000, 1, 1), 2_451_545);
        assert_eq!(julian_jdn(-4712, 1, 1), 0);
        assert_eq!(gregorian_jdn(1582, 10, 15), GREGORIAN_START_JDN);
        assert_eq!(julian_jdn(1582, 10, 4), GREGORIAN_START_JDN - 1);
        for n in [
            -1_000_000i64,
            -1,
            0,
            1,
            1_721_424,
            2_299_160,
            2_299_161,
            2_451_545,
        ] {
            let (y, m, d) = gregorian_from_jdn(n);
            assert_eq!(gregorian_jdn(y, m.into(), d.into()), n, "gregorian {n}");
            let (y, m, d) = julian_from_jdn(n);
            assert_eq!(julian_jdn(y, m.into(), d.into()), n, "julian {n}");
        }
    }

    #[test]
    fn day_numbers_roundtrip_every_calendar() {
        use Calendar::*;
        for cal in [
            Standard,
            ProlepticGregorian,
            Julian,
            NoLeap,
            AllLeap,
            Day360,
        ] {
            let start = cal.day_number(1500, 1, 1);
            let mut prev = cal.date_of(start);
            for n in start + 1..start + 365 * 200 {
                let (y, m, d) = cal.date_of(n);
                assert!(cal.is_valid_date(y, m, d), "{cal:?} {y}-{m}-{d}");
                assert_eq!(cal.day_number(y, m, d), n, "{cal:?} {y}-{m}-{d}");
                assert!((y, m, d) > prev);
                prev = (y, m, d);
            }
        }
    }

    #[test]
    fn standard_calendar_switch() {
        let ax = TimeAxis::new("days since 1582-10-04", None).unwrap();
        assert_eq!(ax.decode(1.0).unwrap(), dt(1582, 10, 15, 0, 0, 0));
        assert!(TimeAxis::new("days since 1582-10-10", Some("gregorian")).is_err());
        let pg = TimeAxis::new("days since 1582-10-04", Some("proleptic_gregorian")).unwrap();
        assert_eq!(pg.decode(1.0).unwrap(), dt(1582, 10, 5, 0, 0, 0));
        // 1900 is a leap year in the Julian part only.
        let j = TimeAxis::new("days since 1900-02-28", Some("julian")).unwrap();
        assert_eq!(j.decode(1.0).unwrap(), dt(1900, 2, 29, 0, 0, 0));
        let s = TimeAxis::new("days since 1900-02-28", None).unwrap();
        assert_eq!(s.decode(1.0).unwrap(), dt(1900, 3, 1, 0, 0, 0));
        // Before the switch `standard` is Julian: 1500 is leap there.
        let s = TimeAxis::new("days since 1500-02-28", Some("standard")).unwrap();
        assert_eq!(s.decode(1.0).unwrap(), dt(1500, 2, 29, 0, 0, 0));
    }

    #[test]
    fn model_calendars() {
        let nl = TimeAxis::new("days since 2000-02-28", Some("365_day")).unwrap();
        assert_eq!(nl.decode(1.0).unwrap(), dt(2000, 3, 1, 0, 0, 0));
        assert_eq!(nl.decode(365.0).unwrap(), dt(2001, 2, 28, 0, 0, 0));
        let al = TimeAxis::new("days since 2001-02-28", Some("all_leap")).unwrap();
        assert_eq!(al.decode(1.0).unwrap(), dt(2001, 2, 29, 0, 0, 0));
        assert_eq!(al.decode(366.0).unwrap(), dt(2002, 2, 28, 0, 0, 0));
        let d360 = TimeAxis::new("days since 2000-01-30", Some("360_day")).unwrap();
        assert_eq!(d360.decode(1.0).unwrap(), dt(2000, 2, 1, 0, 0, 0));
        assert_eq!(d360.decode(29.0).unwrap(), dt(2000, 2, 29, 0, 0, 0));
        assert_eq!(d360.decode(30.0).unwrap(), dt(2000, 2, 30, 0, 0, 0));
        assert_eq!(d360.decode(-30.0).unwrap(), dt(1999, 12, 30, 0, 0, 0));
        assert!(TimeAxis::new("days since 2000-02-30", Some("noleap")).is_err());
        assert!(TimeAxis::new("days since 2000-01-01", Some("lunar")).is_err());
        let std31 = TimeAxis::new("days since 2000-01-31", None).unwrap();
        assert!(std31.with_calendar(Calendar::Day360).is_err());
        let nl = std31.with_calendar(Calendar::NoLeap).unwrap();
        assert_eq!(nl.decode(29.0).unwrap(), dt(2000, 3, 1, 0, 0, 0));
    }

    #[test]
    fn units_parsing() {
        let u = TimeUnits::parse("hours since 1970-01-01 00:00:00").unwrap();
        assert_eq!(
            (u.unit, u.reference),
            (TimeUnit::Hours, dt(1970, 1, 1, 0, 0, 0))
        );
        let u = TimeUnits::parse("seconds since 1970-1-1T12:30:15.25Z").unwrap();
        assert_eq!(u.reference.microsecond, 250_000);
        assert_eq!(u.reference.second, 15);
        let u = TimeUnits::parse("minutes since 2000-01-01 06:00 +01:30").unwrap();
        assert_eq!(u.utc_offset_minutes, 90);
        let u = TimeUnits::parse("Days Since 1850-01-01 -6").unwrap();
        assert_eq!(u.utc_offset_minutes, -360);
        let u = TimeUnits::parse("d since 1850").unwrap();
        assert_eq!(u.reference, dt(1850, 1, 1, 0, 0, 0));
        assert!(TimeUnits::parse("days after 1850-01-01").is_err());
        assert!(TimeUnits::parse("fortnights since 1850-01-01").is_err());
        assert!(matches!(
            TimeUnits::parse("months since 1850-01-01"),
            Err(DatasetError::Unsupported { .. })
        ));
        assert!(TimeUnits::parse("days since 1850-01-01 25:00").is_err());
        assert!(TimeUnits::is_time_units("hours since 1900-01-01"));
        assert!(!TimeUnits::is_time_units("K"));
    }

    #[test]
    fn timezone_and_fractions() {
        // 00:00 at UTC+01:00 is 23:00 UTC the day before.
        let ax = TimeAxis::new("hours since 2000-01-01 00:00 +01:00", None).unwrap();
        assert_eq!(ax.decode(0.0).unwrap(), dt(1999, 12, 31, 23, 0, 0));
        let ax = TimeAxis::new("days since 2000-01-01", Some("noleap")).unwrap();
        let t = ax.decode(0.5).unwrap();
        assert_eq!((t.hour, t.minute), (12, 0));
        let t = ax.decode(-0.25).unwrap();
        assert_eq!(t, dt(1999, 12, 31, 18, 0, 0));
        assert!(ax.decode(f64::NAN).is_err());
        assert!(ax.decode(1e300).is_err());
    }

    #[test]
    fn encode_inverts_decode() {
        for (units, cal) in [
            ("hours since 1970-01-01 00:00:00", "360_day"),
            ("days since 1870-03-01", "noleap"),
            ("minutes since 1582-10-01 06:00", "standard"),
            (
                "seconds since 2000-01-01 00:00 -05:00",
                "proleptic_gregorian",
            ),
        ] {
            let ax = TimeAxis::new(units, Some(cal)).unwrap();
            for v in [-1e6, -12345.0, 0.0, 1.0, 8640.0, 777777.0] {
                let t = ax.decode(v).unwrap();
                assert_eq!(ax.encode(&t).unwrap(), v, "{units} {cal} {v} -> {t}");
            }
        }
    }

    #[test]
    fn default_fills_match_netcdf() {
        // netcdf.h: NC_FILL_FLOAT is 9.9692099683868690e+36f, NC_FILL_DOUBLE the same as a
        // double.
        let fill_double = 9.969_209_968_386_869e36_f64;
        assert_eq!(default_fill(NcType::Double), Some(fill_double));
        assert_eq!(
            default_fill(NcType::Float),
            Some(f64::from(fill_double as f32))
        );
        assert_eq!(default_fill(NcType::Short), Some(-32767.0));
    }

    #[test]
    fn latitude_order() {
        assert_eq!(
            LatitudeOrder::of(&[90.0, 0.0, -90.0]),
            Some(LatitudeOrder::NorthToSouth)
        );
        assert_eq!(
            LatitudeOrder::of(&[-1.0, 1.0]),
            Some(LatitudeOrder::SouthToNorth)
        );
        assert_eq!(LatitudeOrder::of(&[0.0, 1.0, 0.5]), None);
        assert_eq!(LatitudeOrder::of(&[1.0]), None);
    }
}
