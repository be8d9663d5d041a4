//! A subset of AIP-160 filters over tasks: comparisons joined with `AND` (or juxtaposed),
//! each optionally negated with `NOT` or `-`.
//!
//! ```text
//! completed = true AND priority >= HIGH AND tags:"work"
//! due_time < "2027-01-01T00:00:00Z" title:"milk" NOT description:"later" due_time:*
//! ```
//!
//! What the terms mean, on SQLite and PostgreSQL alike:
//!
//! - Every term is true or false for every task, never unknown, so `NOT t` (or `-t`) selects
//!   exactly the tasks `t` does not, and `NOT NOT t` is `t`. A comparison of `due_time` (or
//!   `complete_time`) holds only for a task that has one (`!=` too):
//!   `due_time < "2027-01-01T00:00:00Z"` leaves out the tasks without a due time, and
//!   `NOT due_time < "2027-01-01T00:00:00Z"` includes them.
//! - Times are stored to the microsecond, and a time literal is compared exactly, whatever
//!   its precision: a literal with digits below the microsecond falls between two stored
//!   values, so `<` and `<=` mean "at or before the microsecond below it", `>` and `>=` "at
//!   or after the microsecond above it", `=` holds for no task and `!=` for every task with
//!   that time ([`micros_cmp`]).
//! - `title:"…"` and `description:"…"` are case-insensitive substring tests over all of
//!   Unicode (`"über"` finds "ÜBER", `"αθήνα"` finds "ΑΘΉΝΑ", `"москва"` finds "МОСКВА"),
//!   character by character: PostgreSQL compares with `ILIKE` (lower case of both sides,
//!   per the database's `LC_CTYPE`, which must be a UTF-8 locale such as `C.UTF-8` or
//!   `en_US.UTF-8`; the plain `C` locale folds ASCII only), SQLite with a regular expression
//!   under Unicode simple case folding. Neither normalises (a precomposed "é" does not match
//!   "e" + U+0301) nor expands ("ß" does not match "ss"). Where lower case depends on the
//!   language, the default mapping applies: `"i"` does not find the Turkish dotted "İ" on
//!   SQLite, while PostgreSQL's `lower('İ')` is "i"; and only SQLite treats the final sigma
//!   "ς" as "σ".

use chrono::{DateTime, Utc};

use crate::domain::{ListName, Priority, TaskName, UserId};
use crate::error::excerpt;

/// The longest filter accepted, in bytes.
pub const MAX_FILTER_LEN: usize = 2000;
/// The most negations (`NOT`, `-`) one term may be wrapped in.
pub const MAX_NEGATIONS: usize = 8;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

/// A time comparison at the store's precision, whole microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MicrosCmp {
    /// The stored value compared with this microsecond.
    Cmp(Cmp, i64),
    /// No stored value satisfies it (`=` a time between two microseconds).
    Never,
    /// Every stored value satisfies it (`!=` a time between two microseconds).
    Always,
}

/// `stored <cmp> time` for stored values that are whole microseconds, exactly: `time` is not
/// truncated but its bound moved to the microsecond that gives the same answer (up for `<`
/// and `>=`, down for `<=` and `>`).
pub fn micros_cmp(cmp: Cmp, time: DateTime<Utc>) -> MicrosCmp {
    // chrono's micros are floored (the sub-second part is never negative).
    let floor = time.timestamp_micros();
    let exact = time.timestamp_subsec_nanos().is_multiple_of(1000);
    if exact {
        return MicrosCmp::Cmp(cmp, floor);
    }
    // Every DateTime<Utc> is at least a microsecond short of i64::MAX microseconds.
    let ceil = floor.saturating_add(1);
    match cmp {
        Cmp::Lt => MicrosCmp::Cmp(Cmp::Lt, ceil),
        Cmp::Ge => MicrosCmp::Cmp(Cmp::Ge, ceil),
        Cmp::Le | Cmp::Gt => MicrosCmp::Cmp(cmp, floor),
        Cmp::Eq => MicrosCmp::Never,
        Cmp::Ne => MicrosCmp::Always,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeField {
    DueTime,
    CreateTime,
    UpdateTime,
    /// When the task was completed; unset while it is open.
    CompleteTime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextField {
    Title,
    Description,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    Completed(bool),
    Priority(Cmp, Priority),
    /// The task carries this tag (exact, lowercase).
    Tag(String),
    /// A comparison with a time literal, kept to the nanosecond; see [`micros_cmp`].
    Time(TimeField, Cmp, DateTime<Utc>),
    /// The task has a due time (`due_time:*`).
    HasDueTime,
    /// Case-insensitive substring (all of Unicode; see the module documentation).
    Contains(TextField, String),
    /// The task is in this list (`list = "users/u/lists/inbox"`).
    List(ListName),
    /// The task is a subtask of this one (`parent = "users/u/tasks/…"`).
    Parent(TaskName),
    /// The task is a subtask (`parent:*`).
    HasParent,
    Not(Box<Term>),
}

impl Term {
    /// The list or task this term names when it is not `user`'s.
    fn foreign(&self, user: &UserId) -> Option<String> {
        match self {
            Term::List(name) if name.user != *user => Some(name.to_string()),
            Term::Parent(name) if name.user != *user => Some(name.to_string()),
            Term::Not(inner) => inner.foreign(user),
            _ => None,
        }
    }
}

/// Terms that must all hold.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    pub terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(&'static str),
    Star,
    Minus,
}

fn tokenize(input: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = input.char_indices().peekable();
    while let Some(&(at, c)) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '"' => {
                chars.next();
                let mut text = String::new();
                let mut closed = false;
                while let Some((_, c)) = chars.next() {
                    match c {
                        '"' => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some((_, escaped)) => text.push(escaped),
                            None => break,
                        },
                        c => text.push(c),
                    }
                }
                if !closed {
                    return Err(format!("unterminated string starting at offset {at}"));
                }
                if text.contains('\0') {
                    // No task holds one (PostgreSQL cannot even store it): refused on every backend.
                    return Err(format!(
                        "the string at offset {at} contains a NUL character (U+0000)"
                    ));
                }
                tokens.push(Token::Quoted(text));
            }
            '=' | ':' => {
                chars.next();
                tokens.push(Token::Op(if c == '=' { "=" } else { ":" }));
            }
            '!' | '<' | '>' => {
                chars.next();
                let eq = chars.next_if(|&(_, n)| n == '=').is_some();
                tokens.push(Token::Op(match (c, eq) {
                    ('!', true) => "!=",
                    ('<', false) => "<",
                    ('<', true) => "<=",
                    ('>', false) => ">",
                    ('>', true) => ">=",
                    _ => return Err(format!("unexpected '!' at offset {at}; did you mean '!='?")),
                }));
            }
            '*' => {
                chars.next();
                tokens.push(Token::Star);
            }
            '-' => {
                chars.next();
                tokens.push(Token::Minus);
            }
            c if c.is_alphanumeric() || c == '_' => {
                let mut word = String::new();
                while let Some((_, c)) =
                    chars.next_if(|&(_, c)| c.is_alphanumeric() || matches!(c, '_' | '.' | '-'))
                {
                    word.push(c);
                }
                tokens.push(Token::Word(word));
            }
            '(' | ')' => return Err("parentheses are not supported; join terms with AND".into()),
            other => return Err(format!("unexpected {other:?} at offset {at}")),
        }
    }
    Ok(tokens)
}

impl Filter {
    /// Parses a filter; the empty string matches every task.
    pub fn parse(input: &str) -> Result<Self, String> {
        let terms = parse_terms(input, comparison, |term| Term::Not(Box::new(term)))?;
        Ok(Self { terms })
    }

    /// The first list or task named in the filter that is not `user`'s.
    pub fn foreign(&self, user: &UserId) -> Option<String> {
        self.terms.iter().find_map(|term| term.foreign(user))
    }
}

/// A value as written in a filter, for the vocabularies of other resources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Literal<'a> {
    /// A bare word (`HIGH`, `true`).
    Word(&'a str),
    /// A quoted string, unescaped.
    Quoted(&'a str),
    /// `*`.
    Star,
    /// `-`.
    Minus,
}

impl Literal<'_> {
    /// The text of a word or a quoted string.
    pub fn text(&self) -> Option<&str> {
        match self {
            Literal::Word(w) | Literal::Quoted(w) => Some(w),
            _ => None,
        }
    }
}

/// Parses AIP-160 terms (`field op value`, joined with AND or juxtaposed, each optionally
/// negated, at most [`MAX_NEGATIONS`] times) with `compare` making a term of each comparison
/// and `not` negating one: the grammar every listing shares, whatever its fields.
pub fn parse_terms<T>(
    input: &str,
    compare: impl Fn(&str, &str, Literal<'_>) -> Result<T, String>,
    not: impl Fn(T) -> T,
) -> Result<Vec<T>, String> {
    if input.len() > MAX_FILTER_LEN {
        return Err(format!("must be at most {MAX_FILTER_LEN} bytes"));
    }
    let tokens = tokenize(input)?;
    let mut rest = tokens.as_slice();
    let mut terms = Vec::new();
    while !rest.is_empty() {
        if !terms.is_empty()
            && let [Token::Word(w), tail @ ..] = rest
            && w == "AND"
        {
            rest = tail;
            if rest.is_empty() {
                return Err("AND must be followed by a term".into());
            }
        }
        // Negations are counted, not recursed into, so that no input can exhaust the stack.
        let mut negations = 0;
        while let [first, tail @ ..] = rest
            && is_negation(first)
        {
            negations += 1;
            if negations > MAX_NEGATIONS {
                return Err(format!(
                    "a term may be negated at most {MAX_NEGATIONS} times (NOT, -)"
                ));
            }
            rest = tail;
        }
        let (mut term, tail) = parse_comparison(rest, &compare)?;
        for _ in 0..negations {
            term = not(term);
        }
        terms.push(term);
        rest = tail;
    }
    Ok(terms)
}

fn is_negation(token: &Token) -> bool {
    matches!(token, Token::Minus) || matches!(token, Token::Word(w) if w == "NOT")
}

fn parse_comparison<'t, T>(
    tokens: &'t [Token],
    compare: &impl Fn(&str, &str, Literal<'_>) -> Result<T, String>,
) -> Result<(T, &'t [Token]), String> {
    match tokens {
        [Token::Word(w), ..] if w == "OR" => Err("OR is not supported; join terms with AND".into()),
        [Token::Word(field), Token::Op(op), value, rest @ ..] => {
            let literal = match value {
                Token::Word(w) => Literal::Word(w),
                Token::Quoted(q) => Literal::Quoted(q),
                Token::Star => Literal::Star,
                Token::Minus => Literal::Minus,
                Token::Op(other) => {
                    return Err(format!("expected a value after {op}, found {other}"));
                }
            };
            Ok((compare(field, op, literal)?, rest))
        }
        [Token::Word(field), ..] => Err(format!(
            "expected an operator after {} (=, !=, <, <=, >, >=, :)",
            excerpt(field)
        )),
        [] => Err("expected a term".into()),
        [other, ..] => Err(format!("expected a field name, found {}", show(other))),
    }
}

/// A literal as quoted in an error message.
pub fn show_literal(value: Literal<'_>) -> String {
    match value {
        Literal::Word(w) | Literal::Quoted(w) => excerpt(w),
        Literal::Star => "*".into(),
        Literal::Minus => "-".into(),
    }
}

fn show(token: &Token) -> String {
    match token {
        Token::Word(w) => excerpt(w),
        Token::Quoted(q) => excerpt(q),
        Token::Op(op) => (*op).to_owned(),
        Token::Star => "*".into(),
        Token::Minus => "-".into(),
    }
}

/// The comparison operator `op` (`=`, `!=`, `<`, `<=`, `>`, `>=`).
pub fn cmp(op: &str) -> Option<Cmp> {
    Some(match op {
        "=" => Cmp::Eq,
        "!=" => Cmp::Ne,
        "<" => Cmp::Lt,
        "<=" => Cmp::Le,
        ">" => Cmp::Gt,
        ">=" => Cmp::Ge,
        _ => return None,
    })
}

/// An RFC 3339 time literal.
pub fn time_literal(raw: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(raw)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| {
            format!(
                "{} is not an RFC 3339 time such as \"2027-01-01T00:00:00Z\"",
                excerpt(raw)
            )
        })
}

fn comparison(field: &str, op: &str, value: Literal<'_>) -> Result<Term, String> {
    let bad_value = || format!("{} is not a valid value for {field}", show_literal(value));
    let only = |ops: &str| format!("{field} supports only {ops}, not {op:?}");
    match field {
        "completed" => {
            let flag = match value.text() {
                Some("true") => true,
                Some("false") => false,
                _ => return Err(bad_value()),
            };
            match op {
                "=" => Ok(Term::Completed(flag)),
                "!=" => Ok(Term::Completed(!flag)),
                _ => Err(only("= and !=")),
            }
        }
        "priority" => {
            let cmp = cmp(op).ok_or_else(|| only("=, !=, <, <=, >, >="))?;
            let priority = value.text().ok_or_else(bad_value)?.parse()?;
            Ok(Term::Priority(cmp, priority))
        }
        "tags" | "tag" => match (op, value) {
            (":" | "=", v) => {
                let tag = v.text().ok_or_else(bad_value)?;
                Ok(Term::Tag(tag.trim().to_lowercase()))
            }
            _ => Err(only(":")),
        },
        "due_time" | "create_time" | "update_time" | "complete_time" => {
            let time_field = match field {
                "due_time" => TimeField::DueTime,
                "create_time" => TimeField::CreateTime,
                "update_time" => TimeField::UpdateTime,
                _ => TimeField::CompleteTime,
            };
            if op == ":" {
                return match (time_field, value) {
                    (TimeField::DueTime, Literal::Star) => Ok(Term::HasDueTime),
                    _ => Err(
                        "due_time:* is the only presence test supported (for complete_time, \
                         use completed = true)"
                            .into(),
                    ),
                };
            }
            let cmp = cmp(op).ok_or_else(|| only("=, !=, <, <=, >, >="))?;
            let time = time_literal(value.text().ok_or_else(bad_value)?)?;
            Ok(Term::Time(time_field, cmp, time))
        }
        "title" | "description" => {
            if op != ":" {
                return Err(only(": (contains)"));
            }
            let text = value.text().ok_or_else(bad_value)?;
            let field = if field == "title" {
                TextField::Title
            } else {
                TextField::Description
            };
            Ok(Term::Contains(field, text.to_owned()))
        }
        "list" => match (op, value) {
            ("=", v) => Ok(Term::List(ListName::parse(
                v.text().ok_or_else(bad_value)?,
            )?)),
            _ => Err(only("=")),
        },
        "parent" => match (op, value) {
            (":", Literal::Star) => Ok(Term::HasParent),
            ("=", v) => Ok(Term::Parent(TaskName::parse(
                v.text().ok_or_else(bad_value)?,
            )?)),
            _ => Err(format!("{field} supports only = and :*, not {op:?}")),
        },
        other => Err(format!(
            "unknown field {}; filter on completed, priority, tags, due_time, create_time, update_time, complete_time, title, description, list or parent",
            excerpt(other)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<Vec<Term>, String> {
        Filter::parse(s).map(|f| f.terms)
    }

    #[test]
    fn empty_filter_matches_all() {
        assert_eq!(parse(""), Ok(vec![]));
        assert_eq!(parse("   "), Ok(vec![]));
    }

    #[test]
    fn parses_every_supported_term() {
        let terms = parse(
            r#"completed = true AND priority = HIGH AND tags:"Work" AND due_time < "2027-01-01T00:00:00Z" AND title:"milk""#,
        )
        .expect("valid");
        assert_eq!(terms.len(), 5);
        assert_eq!(terms[0], Term::Completed(true));
        assert_eq!(terms[1], Term::Priority(Cmp::Eq, Priority::High));
        assert_eq!(terms[2], Term::Tag("work".into()));
        assert!(matches!(
            terms[3],
            Term::Time(TimeField::DueTime, Cmp::Lt, _)
        ));
        assert_eq!(terms[4], Term::Contains(TextField::Title, "milk".into()));
    }

    #[test]
    fn negation_and_implicit_and() {
        let terms = parse(r#"NOT completed = true -tags:home due_time:*"#).expect("valid");
        assert_eq!(terms[0], Term::Not(Box::new(Term::Completed(true))));
        assert_eq!(terms[1], Term::Not(Box::new(Term::Tag("home".into()))));
        assert_eq!(terms[2], Term::HasDueTime);
    }

    #[test]
    fn rejects_what_it_does_not_understand() {
        for bad in [
            "colour = red",
            "completed = maybe",
            "completed > true",
            "priority = ENORMOUS",
            "due_time < tomorrow",
            "title = milk",
            "a = 1 OR b = 2",
            "(completed = true)",
            "completed =",
            "completed",
            r#"title:"unterminated"#,
            "completed = true AND",
            "1 = 1; DROP TABLE tasks",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be rejected");
        }
        assert!(parse(&"a".repeat(MAX_FILTER_LEN + 1)).is_err());
    }

    #[test]
    fn nul_characters_are_refused_quoted_or_not() {
        assert!(parse("title:\"a\u{0}b\"").is_err());
        assert!(parse("title:\"a\\\u{0}b\"").is_err());
        assert!(parse("title:a\u{0}b").is_err());
    }

    #[test]
    fn quoted_strings_keep_escapes() {
        assert_eq!(
            parse(r#"title:"say \"hi\"""#),
            Ok(vec![Term::Contains(TextField::Title, "say \"hi\"".into())])
        );
    }
}
