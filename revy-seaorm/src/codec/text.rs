//! The journal's text forms of chrono values, written and read by hand so
//! that both directions are strict and exact.
//!
//! * date: `YYYY-MM-DD`; years outside `0000..=9999` carry a sign and may
//!   have up to six digits (`+10000`, `-0001`), as chrono prints them;
//! * time: `HH:MM:SS` and, when the nanoseconds are not zero, a fraction of
//!   3, 6 or 9 digits; a leap second is second `60`;
//! * date-time: date `T` time;
//! * zoned date-time: the local date-time, then the offset `+HH:MM`, or
//!   `+HH:MM:SS` when the offset has seconds.
//!
//! The reader also takes a fraction of any length from 1 to 9 digits, `t` or
//! a space between date and time, and `Z` for a zero offset. Anything else,
//! including a tenth fraction digit, is refused rather than cut short.

use chrono::{
    DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Timelike,
};

const NANOS_PER_SECOND: u32 = 1_000_000_000;

pub(super) fn format_date(date: &NaiveDate) -> String {
    let year = date.year();
    let year = if (0..=9999).contains(&year) {
        format!("{year:04}")
    } else if year > 9999 {
        format!("+{year}")
    } else {
        format!("-{:04}", year.unsigned_abs())
    };
    format!("{year}-{:02}-{:02}", date.month(), date.day())
}

pub(super) fn format_time(time: &NaiveTime) -> String {
    let mut second = time.second();
    let mut nanos = time.nanosecond();
    if nanos >= NANOS_PER_SECOND {
        // chrono keeps a leap second as second 59 with 1e9 extra nanoseconds.
        second += 1;
        nanos -= NANOS_PER_SECOND;
    }
    let fraction = if nanos == 0 {
        String::new()
    } else if nanos.is_multiple_of(1_000_000) {
        format!(".{:03}", nanos / 1_000_000)
    } else if nanos.is_multiple_of(1_000) {
        format!(".{:06}", nanos / 1_000)
    } else {
        format!(".{nanos:09}")
    };
    format!(
        "{:02}:{:02}:{second:02}{fraction}",
        time.hour(),
        time.minute()
    )
}

pub(super) fn format_datetime(datetime: &NaiveDateTime) -> String {
    format!(
        "{}T{}",
        format_date(&datetime.date()),
        format_time(&datetime.time())
    )
}

/// The local time of `utc` at `offset`, followed by the offset; `None`
/// when that local time is beyond chrono's range.
pub(super) fn format_zoned(utc: &NaiveDateTime, offset: FixedOffset) -> Option<String> {
    let local = utc.checked_add_offset(offset)?;
    let seconds = offset.local_minus_utc();
    let sign = if seconds < 0 { '-' } else { '+' };
    let seconds = seconds.unsigned_abs();
    let (hours, minutes, seconds) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    let mut text = format!("{}{sign}{hours:02}:{minutes:02}", format_datetime(&local));
    if seconds != 0 {
        text.push_str(&format!(":{seconds:02}"));
    }
    Some(text)
}

pub(super) fn parse_date(text: &str) -> Option<NaiveDate> {
    let mut cursor = Cursor::new(text);
    let date = cursor.date()?;
    cursor.end()?;
    Some(date)
}

pub(super) fn parse_time(text: &str) -> Option<NaiveTime> {
    let mut cursor = Cursor::new(text);
    let time = cursor.time()?;
    cursor.end()?;
    Some(time)
}

pub(super) fn parse_datetime(text: &str) -> Option<NaiveDateTime> {
    let mut cursor = Cursor::new(text);
    let datetime = cursor.datetime()?;
    cursor.end()?;
    Some(datetime)
}

pub(super) fn parse_zoned(text: &str) -> Option<DateTime<FixedOffset>> {
    let mut cursor = Cursor::new(text);
    let local = cursor.datetime()?;
    let offset = cursor.offset()?;
    cursor.end()?;
    offset.from_local_datetime(&local).single()
}

/// Reads the text forms from left to right; every step gives `None` when
/// the text does not continue as expected.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Cursor {
            rest: text.as_bytes(),
        }
    }

    fn end(&self) -> Option<()> {
        self.rest.is_empty().then_some(())
    }

    /// Consumes the next byte if it is one of `choices`.
    fn one_of(&mut self, choices: &[u8]) -> Option<u8> {
        let (&first, rest) = self.rest.split_first()?;
        if !choices.contains(&first) {
            return None;
        }
        self.rest = rest;
        Some(first)
    }

    fn byte(&mut self, expected: u8) -> Option<()> {
        self.one_of(&[expected]).map(drop)
    }

    /// Reads `min..=max` decimal digits (`max` <= 9, so no overflow); returns
    /// their value and how many there were.
    fn digits(&mut self, min: usize, max: usize) -> Option<(u32, usize)> {
        let mut value = 0u32;
        let mut count = 0;
        while count < max {
            match self.rest.split_first() {
                Some((&digit, rest)) if digit.is_ascii_digit() => {
                    value = value * 10 + u32::from(digit - b'0');
                    count += 1;
                    self.rest = rest;
                }
                _ => break,
            }
        }
        (count >= min).then_some((value, count))
    }

    fn two_digits(&mut self) -> Option<u32> {
        self.digits(2, 2).map(|(value, _)| value)
    }

    fn date(&mut self) -> Option<NaiveDate> {
        let year = match self.one_of(b"+-") {
            None => i32::try_from(self.digits(4, 4)?.0).ok()?,
            Some(sign) => {
                let magnitude = i32::try_from(self.digits(4, 6)?.0).ok()?;
                if sign == b'-' { -magnitude } else { magnitude }
            }
        };
        self.byte(b'-')?;
        let month = self.two_digits()?;
        self.byte(b'-')?;
        let day = self.two_digits()?;
        NaiveDate::from_ymd_opt(year, month, day)
    }

    fn time(&mut self) -> Option<NaiveTime> {
        let hour = self.two_digits()?;
        self.byte(b':')?;
        let minute = self.two_digits()?;
        self.byte(b':')?;
        let mut second = self.two_digits()?;
        let mut nanos = 0;
        if self.byte(b'.').is_some() {
            let (value, count) = self.digits(1, 9)?;
            nanos = (count..9).fold(value, |n, _| n * 10);
        }
        if second == 60 {
            second = 59;
            nanos += NANOS_PER_SECOND;
        }
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos)
    }

    fn datetime(&mut self) -> Option<NaiveDateTime> {
        let date = self.date()?;
        self.one_of(b"Tt ")?;
        let time = self.time()?;
        Some(date.and_time(time))
    }

    fn offset(&mut self) -> Option<FixedOffset> {
        if self.one_of(b"Zz").is_some() {
            return FixedOffset::east_opt(0);
        }
        let sign = self.one_of(b"+-")?;
        let hours = self.two_digits()?;
        self.byte(b':')?;
        let minutes = self.two_digits()?;
        let seconds = match self.byte(b':') {
            Some(()) => self.two_digits()?,
            None => 0,
        };
        if minutes >= 60 || seconds >= 60 {
            return None;
        }
        let total = i32::try_from(hours * 3600 + minutes * 60 + seconds).ok()?;
        FixedOffset::east_opt(if sign == b'-' { -total } else { total })
    }
}
