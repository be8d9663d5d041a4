//! The text fields of a task, parsed once at the edge: a value of one of these types is valid
//! by construction, and a refusal is a [`FieldError`] that says what is wrong.

use std::{fmt, str::FromStr};

use chrono_tz::Tz;

use crate::error::excerpt;

pub const TITLE_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 4000;
pub const TAGS_MAX: usize = 20;
pub const TAG_MAX: usize = 50;
/// The longest reminder lead accepted.
pub const REMIND_BEFORE_MAX_DAYS: i64 = 366;

/// Why a field's value was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldError {
    /// Its length (in characters, after trimming where the field trims) is out of range.
    Length { min: usize, max: usize, got: usize },
    /// It contains a control character where none is allowed.
    ControlCharacter,
    /// It contains NUL, which PostgreSQL cannot store in text.
    Nul,
    /// One tag's length is out of range (the tag is quoted in short).
    TagLength { got: usize, tag: String },
    /// One tag contains a control character.
    TagControlCharacter { tag: String },
    /// More distinct tags than allowed.
    TooManyTags { got: usize },
    /// Not an IANA time zone name.
    UnknownTimeZone { name: String },
    /// A reminder lead that is negative or longer than allowed.
    RemindBeforeOutOfRange,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Length { min: 0, max, got } => {
                write!(f, "must be at most {max} characters, got {got}")
            }
            Self::Length { min, max, got } => {
                write!(
                    f,
                    "must be {min} to {max} characters after trimming, got {got}"
                )
            }
            Self::ControlCharacter => f.write_str("must not contain control characters"),
            Self::Nul => f.write_str("must not contain NUL characters (U+0000)"),
            Self::TagLength { got, tag } => write!(
                f,
                "each tag must be 1 to {TAG_MAX} characters, got {got} in {}",
                excerpt(tag)
            ),
            Self::TagControlCharacter { tag } => {
                write!(f, "tag {} contains a control character", excerpt(tag))
            }
            Self::TooManyTags { got } => {
                write!(f, "at most {TAGS_MAX} distinct tags, got {got}")
            }
            Self::UnknownTimeZone { name } => {
                write!(f, "unknown IANA time zone {}", excerpt(name))
            }
            Self::RemindBeforeOutOfRange => write!(
                f,
                "must be between 0 (no reminder) and {REMIND_BEFORE_MAX_DAYS} days"
            ),
        }
    }
}

impl std::error::Error for FieldError {}

/// A title: trimmed, 1 to 200 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Title(String);

impl Title {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let title = raw.trim();
        let got = title.chars().count();
        if got == 0 || got > TITLE_MAX {
            return Err(FieldError::Length {
                min: 1,
                max: TITLE_MAX,
                got,
            });
        }
        if title.chars().any(char::is_control) {
            return Err(FieldError::ControlCharacter);
        }
        Ok(Self(title.to_owned()))
    }

    /// A title read back from storage, where only parsed titles are written.
    pub fn from_stored(title: String) -> Self {
        Self(title)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Title {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A description: at most 4000 characters, kept exactly as given (line breaks, tabs and other
/// control characters included) except NUL, which PostgreSQL cannot store in text.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Description(String);

impl Description {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let got = raw.chars().count();
        if got > DESCRIPTION_MAX {
            return Err(FieldError::Length {
                min: 0,
                max: DESCRIPTION_MAX,
                got,
            });
        }
        if raw.contains('\0') {
            return Err(FieldError::Nul);
        }
        Ok(Self(raw.to_owned()))
    }

    /// A description read back from storage, where only parsed descriptions are written.
    pub fn from_stored(description: String) -> Self {
        Self(description)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Tags: each trimmed and lowercased, 1 to 50 characters; duplicates removed; at most 20;
/// kept sorted.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Tags(Vec<String>);

impl Tags {
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, FieldError> {
        let mut tags = Vec::with_capacity(raw.len());
        for tag in raw {
            let tag = tag.as_ref().trim().to_lowercase();
            let got = tag.chars().count();
            if got == 0 || got > TAG_MAX {
                return Err(FieldError::TagLength { got, tag });
            }
            if tag.chars().any(char::is_control) {
                return Err(FieldError::TagControlCharacter { tag });
            }
            tags.push(tag);
        }
        tags.sort();
        tags.dedup();
        if tags.len() > TAGS_MAX {
            return Err(FieldError::TooManyTags { got: tags.len() });
        }
        Ok(Self(tags))
    }

    /// Tags read back from storage (each one parsed when it was written), in any order.
    pub fn from_stored(mut tags: Vec<String>) -> Self {
        tags.sort();
        tags.dedup();
        Self(tags)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A time zone: UTC (written as the empty name) or an IANA zone such as `Europe/Berlin`,
/// kept under its canonical name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct TimeZone(String);

impl TimeZone {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        if raw.is_empty() {
            return Ok(Self::default());
        }
        Tz::from_str(raw)
            .map(|tz| Self(tz.name().to_owned()))
            .map_err(|_| FieldError::UnknownTimeZone {
                name: raw.to_owned(),
            })
    }

    /// A name read back from storage: it was an IANA name when it was written, but the
    /// time-zone database may have dropped it since, so it is kept as it is and [`TimeZone::tz`]
    /// falls back to UTC for it rather than failing the read.
    pub fn from_stored(name: String) -> Self {
        Self(name)
    }

    /// The name as written: empty for UTC.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The zone the task's wall-clock times are in.
    pub fn tz(&self) -> Tz {
        super::zone(&self.0)
    }
}

/// A reminder lead: zero (no reminder) up to a year.
pub fn parse_remind_before(lead: chrono::Duration) -> Result<chrono::Duration, FieldError> {
    if lead < chrono::Duration::zero() || lead > chrono::Duration::days(REMIND_BEFORE_MAX_DAYS) {
        return Err(FieldError::RemindBeforeOutOfRange);
    }
    Ok(lead)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(Title::parse("  milk  ").map(|t| t.0), Ok("milk".to_owned()));
        assert!(Title::parse("   ").is_err());
        assert!(Title::parse(&"é".repeat(200)).is_ok());
        assert_eq!(
            Title::parse(&"é".repeat(201)),
            Err(FieldError::Length {
                min: 1,
                max: 200,
                got: 201
            })
        );
        assert_eq!(Title::parse("a\u{0}b"), Err(FieldError::ControlCharacter));
    }

    #[test]
    fn descriptions_keep_control_characters_but_not_nul() {
        let raw = "line one\r\n\tline two \u{1b}[31m \u{7f}";
        assert_eq!(Description::parse(raw).map(|d| d.0), Ok(raw.to_owned()));
        assert_eq!(Description::parse("a\u{0}b"), Err(FieldError::Nul));
        assert!(
            Description::parse(&"x".repeat(4001))
                .expect_err("too long")
                .to_string()
                .starts_with("must be at most 4000 characters")
        );
    }

    #[test]
    fn tags_are_lowercased_deduplicated_and_bounded() {
        assert_eq!(
            Tags::parse(&["Work", " work ", "Home"]).map(|t| t.0),
            Ok(vec!["home".to_owned(), "work".to_owned()])
        );
        assert!(Tags::parse(&[""]).is_err());
        assert!(Tags::parse(&["x".repeat(51)]).is_err());
        let many: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
        assert_eq!(Tags::parse(&many), Err(FieldError::TooManyTags { got: 21 }));
        let dup: Vec<String> = (0..25).map(|i| format!("t{}", i % 20)).collect();
        assert_eq!(Tags::parse(&dup).map(|t| t.0.len()), Ok(20));
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(
            TimeZone::parse("Europe/Berlin").map(|z| z.0),
            Ok("Europe/Berlin".to_owned())
        );
        assert_eq!(TimeZone::parse(""), Ok(TimeZone::default()));
        assert_eq!(TimeZone::parse("").map(|z| z.tz()), Ok(Tz::UTC));
        assert!(TimeZone::parse("Mars/Olympus").is_err());
    }

    #[test]
    fn refusals_quote_a_short_excerpt_of_long_input() {
        let long = "Ä".repeat(5000);
        for err in [
            TimeZone::parse(&long).map(|_| ()),
            Tags::parse(std::slice::from_ref(&long)).map(|_| ()),
        ] {
            let err = err.expect_err("refused").to_string();
            assert!(err.len() < 400, "{} bytes: {err}", err.len());
            assert!(err.contains('\u{2026}'), "{err}");
        }
    }

    #[test]
    fn reminder_leads_are_bounded() {
        assert!(parse_remind_before(chrono::Duration::zero()).is_ok());
        assert!(parse_remind_before(chrono::Duration::days(366)).is_ok());
        assert_eq!(
            parse_remind_before(chrono::Duration::days(367)),
            Err(FieldError::RemindBeforeOutOfRange)
        );
        assert!(parse_remind_before(chrono::Duration::seconds(-1)).is_err());
    }
}
