//! Properties of the filter parser: token soups built from the grammar's own pieces are
//! answered Ok or a clear Err, valid filters parse to the terms they were built from, and no
//! nesting, however deep, reaches the stack.

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::filter::{Cmp, Filter, MAX_FILTER_LEN, MAX_NEGATIONS, Term, TextField, TimeField};
use crate::domain::Priority;

/// Pieces of the filter language and near misses: fields, operators, keywords, negations,
/// parentheses, quotes and escapes, times, durations, values.
const PIECES: &[&str] = &[
    "completed",
    "priority",
    "tags",
    "tag",
    "due_time",
    "create_time",
    "update_time",
    "title",
    "description",
    "colour",
    "=",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    ":",
    "!",
    "*",
    "AND",
    "OR",
    "NOT",
    "and",
    "-",
    "(",
    ")",
    "\"",
    "\\",
    "\\\"",
    "\"milk\"",
    "\"say \\\"hi\\\"\"",
    "\"unterminated",
    "\"2027-01-01T00:00:00Z\"",
    "2027-01-01T00:00:00Z",
    "\"2027-13-45T99:00:00Z\"",
    "\"+262143-12-31T23:59:59Z\"",
    "1h",
    "30m",
    "-5d",
    "P1D",
    "true",
    "false",
    "HIGH",
    "PRIORITY_LOW",
    "urgent",
    "0",
    "-1",
    "9223372036854775808",
    "é",
    "\u{0}",
    "\u{202e}",
    ";",
    "'",
    "%",
];

fn soup() -> impl Strategy<Value = String> {
    (
        prop::collection::vec(prop::sample::select(PIECES), 0..40),
        prop::collection::vec(prop::sample::select(&["", " ", "  ", "\t", "\n"][..]), 40),
    )
        .prop_map(|(pieces, gaps)| {
            pieces
                .iter()
                .zip(gaps.iter().cycle())
                .flat_map(|(piece, gap)| [*piece, *gap])
                .collect()
        })
}

fn cmp() -> impl Strategy<Value = (Cmp, &'static str)> {
    prop::sample::select(vec![
        (Cmp::Eq, "="),
        (Cmp::Ne, "!="),
        (Cmp::Lt, "<"),
        (Cmp::Le, "<="),
        (Cmp::Gt, ">"),
        (Cmp::Ge, ">="),
    ])
}

fn time() -> impl Strategy<Value = DateTime<Utc>> {
    // 0001-01-01 to 9999-12-31, whole seconds: every one prints and parses back as RFC 3339.
    (-62_135_596_800i64..253_402_300_799)
        .prop_map(|secs| DateTime::from_timestamp(secs, 0).unwrap_or_default())
}

/// Text as a quoted filter value: quotes and backslashes escaped.
fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// One valid comparison, as text and as the term it must parse to.
fn comparison() -> impl Strategy<Value = (String, Term)> {
    let priorities = prop::sample::select(vec![
        ("LOW", Priority::Low),
        ("MEDIUM", Priority::Medium),
        ("HIGH", Priority::High),
        ("URGENT", Priority::Urgent),
    ]);
    let time_fields = prop::sample::select(vec![
        ("due_time", TimeField::DueTime),
        ("create_time", TimeField::CreateTime),
        ("update_time", TimeField::UpdateTime),
    ]);
    prop_oneof![
        (any::<bool>(), any::<bool>()).prop_map(|(flag, negated_op)| {
            let op = if negated_op { "!=" } else { "=" };
            (
                format!("completed {op} {flag}"),
                Term::Completed(flag != negated_op),
            )
        }),
        (cmp(), priorities).prop_map(|((cmp, op), (text, priority))| {
            (
                format!("priority {op} {text}"),
                Term::Priority(cmp, priority),
            )
        }),
        "[a-z0-9][a-z0-9-]{0,20}"
            .prop_map(|tag| (format!("tags:{}", quoted(&tag)), Term::Tag(tag))),
        (time_fields, cmp(), time()).prop_map(|((name, field), (cmp, op), at)| {
            (
                format!("{name} {op} \"{}\"", at.to_rfc3339()),
                Term::Time(field, cmp, at),
            )
        }),
        Just(("due_time:*".to_owned(), Term::HasDueTime)),
        (any::<bool>(), "\\PC{0,30}").prop_map(|(title, text)| {
            let (name, field) = if title {
                ("title", TextField::Title)
            } else {
                ("description", TextField::Description)
            };
            (
                format!("{name}:{}", quoted(&text)),
                Term::Contains(field, text),
            )
        }),
    ]
}

/// A comparison wrapped in up to `MAX_NEGATIONS` negations, spelled `NOT ` or `-`.
fn term() -> impl Strategy<Value = (String, Term)> {
    (
        comparison(),
        prop::collection::vec(any::<bool>(), 0..=MAX_NEGATIONS),
    )
        .prop_map(|((mut text, mut term), negations)| {
            for spelled_not in negations.into_iter().rev() {
                text = format!("{}{text}", if spelled_not { "NOT " } else { "-" });
                term = Term::Not(Box::new(term));
            }
            (text, term)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Any mix of the grammar's pieces is parsed or refused with a message; never a panic.
    #[test]
    fn token_soups_get_an_answer(input in soup()) {
        if let Err(message) = Filter::parse(&input) {
            prop_assert!(!message.is_empty(), "empty message for {:?}", input);
        }
    }

    /// Arbitrary text, up to past the length limit, is parsed or refused with a message.
    #[test]
    fn arbitrary_text_gets_an_answer(input in "\\PC{0,2100}") {
        match Filter::parse(&input) {
            Ok(_) => prop_assert!(input.len() <= MAX_FILTER_LEN),
            Err(message) => prop_assert!(!message.is_empty()),
        }
    }

    /// Terms joined by AND or juxtaposed parse to exactly the terms they were built from.
    #[test]
    fn generated_valid_filters_parse_to_their_terms(
        terms in prop::collection::vec(term(), 1..6),
        joiners in prop::collection::vec(any::<bool>(), 6),
    ) {
        let mut text = String::new();
        for (i, ((piece, _), and)) in terms.iter().zip(&joiners).enumerate() {
            if i > 0 {
                text.push_str(if *and { " AND " } else { " " });
            }
            text.push_str(piece);
        }
        prop_assume!(text.len() <= MAX_FILTER_LEN);
        let expected: Vec<Term> = terms.into_iter().map(|(_, term)| term).collect();
        prop_assert_eq!(Filter::parse(&text).map(|f| f.terms), Ok(expected), "{}", text);
    }
}

fn refused(input: &str, expected: &str) {
    let message = Filter::parse(input).expect_err("refused");
    assert!(
        message.contains(expected),
        "{message:?} for {} bytes",
        input.len()
    );
}

#[test]
fn deep_nesting_is_refused_with_a_clear_message() {
    refused(
        &"(".repeat(100_000),
        &format!("at most {MAX_FILTER_LEN} bytes"),
    );
    refused(
        &"NOT ".repeat(100_000),
        &format!("at most {MAX_FILTER_LEN} bytes"),
    );
    refused(
        &"-".repeat(100_000),
        &format!("at most {MAX_FILTER_LEN} bytes"),
    );
    // Within the length limit: as deep as the length allows, in every spelling.
    let deepest = MAX_FILTER_LEN - "completed = true".len();
    refused(
        &format!("{}completed = true", "-".repeat(deepest)),
        &format!("at most {MAX_NEGATIONS} times"),
    );
    refused(
        &format!("{}completed = true", "NOT ".repeat(deepest / 4)),
        &format!("at most {MAX_NEGATIONS} times"),
    );
    refused(
        &format!("{}completed = true", "NOT -".repeat(deepest / 5)),
        &format!("at most {MAX_NEGATIONS} times"),
    );
    refused(&"(".repeat(MAX_FILTER_LEN), "parentheses are not supported");
    refused(
        &format!("{}\"", "\"\\".repeat(MAX_FILTER_LEN / 2 - 1)),
        "unterminated",
    );
}

#[test]
fn the_deepest_allowed_filter_parses_on_a_small_stack() {
    let worst = std::thread::Builder::new()
        .stack_size(64 * 1024)
        .spawn(|| {
            let text = format!(
                "{}completed = true AND -tags:x",
                "NOT ".repeat(MAX_NEGATIONS)
            );
            let refused_text = format!("{}completed = true", "-".repeat(MAX_FILTER_LEN - 16));
            (Filter::parse(&text), Filter::parse(&refused_text).is_err())
        })
        .expect("a thread")
        .join()
        .expect("no stack overflow");
    let (parsed, refused) = worst;
    let terms = parsed.expect("valid").terms;
    let mut depth = 0;
    let mut term = &terms[0];
    while let Term::Not(inner) = term {
        depth += 1;
        term = inner;
    }
    assert_eq!(depth, MAX_NEGATIONS);
    assert_eq!(term, &Term::Completed(true));
    assert!(refused);
}
