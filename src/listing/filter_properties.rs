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
    "complete_time",
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
        ("complete_time", TimeField::CompleteTime),
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

/// Whole microseconds near one instant, so that generated tasks and literals meet.
const BASE_US: i64 = 1_798_761_600_000_000; // 2027-01-01T00:00:00Z

fn micros_near() -> impl Strategy<Value = i64> {
    (0i64..6).prop_map(|n| BASE_US + n)
}

/// A literal near [`BASE_US`], to the nanosecond, often between two microseconds.
fn literal_near() -> impl Strategy<Value = DateTime<Utc>> {
    (-1_000i64..7_000).prop_map(|ns| DateTime::from_timestamp_nanos(BASE_US * 1000 + ns))
}

fn holds(cmp: Cmp, ordering: std::cmp::Ordering) -> bool {
    use std::cmp::Ordering::{Equal, Greater, Less};
    match cmp {
        Cmp::Eq => ordering == Equal,
        Cmp::Ne => ordering != Equal,
        Cmp::Lt => ordering == Less,
        Cmp::Le => ordering != Greater,
        Cmp::Gt => ordering == Greater,
        Cmp::Ge => ordering != Less,
    }
}

fn nanos(time: DateTime<Utc>) -> i128 {
    i128::from(time.timestamp()) * 1_000_000_000 + i128::from(time.timestamp_subsec_nanos())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    /// A stored microsecond value satisfies the rewritten comparison exactly when it
    /// satisfies the comparison with the literal itself, to the nanosecond.
    #[test]
    fn micros_comparisons_are_exact(
        stored in prop_oneof![micros_near(), any::<i32>().prop_map(|n| BASE_US + i64::from(n))],
        literal in prop_oneof![
            literal_near(),
            (-62_135_596_800i64..253_402_300_799, 0u32..1_000_000_000)
                .prop_map(|(s, ns)| DateTime::from_timestamp(s, ns).unwrap_or_default()),
        ],
        (cmp, _) in cmp(),
    ) {
        let expected = holds(cmp, (i128::from(stored) * 1000).cmp(&nanos(literal)));
        let got = match super::filter::micros_cmp(cmp, literal) {
            super::filter::MicrosCmp::Cmp(cmp, bound) => holds(cmp, stored.cmp(&bound)),
            super::filter::MicrosCmp::Never => false,
            super::filter::MicrosCmp::Always => true,
        };
        prop_assert_eq!(got, expected, "{} {:?} {}", stored, cmp, literal.to_rfc3339());
    }
}

/// Filters run by the store against a reference evaluation, on an in-memory SQLite database.
mod store {
    use std::collections::BTreeSet;

    use chrono::{DateTime, Utc};
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::{MAX_FILTER_LEN, cmp, holds, literal_near, micros_near, nanos};
    use crate::domain::{Description, Priority, Tags, Task, TaskFields, TaskId, Title, UserId};
    use crate::listing::{Filter, OrderBy, Term, TextField, TimeField};
    use crate::store::{Database, from_micros, tasks};

    /// Letters whose case folding is one lower-case letter on every backend, and LIKE's and
    /// regular expressions' special characters.
    const ALPHABET: &[char] = &[
        'a', 'B', 'ü', 'Ü', 'σ', 'Σ', 'д', 'Д', ' ', '%', '_', '.', '*',
    ];
    const TAGS: &[&str] = &["home", "work", "ü"];

    fn text(max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(ALPHABET), 0..=max)
            .prop_map(|chars| chars.into_iter().collect())
    }

    fn priority() -> impl Strategy<Value = Priority> {
        prop::sample::select(vec![
            Priority::None,
            Priority::Low,
            Priority::Medium,
            Priority::High,
            Priority::Urgent,
        ])
    }

    fn task() -> impl Strategy<Value = Task> {
        (
            (text(6), text(6), priority()),
            prop::collection::btree_set(prop::sample::select(TAGS), 0..3),
            (
                prop::option::of(micros_near()),
                micros_near(),
                micros_near(),
            ),
            any::<bool>(),
        )
            .prop_map(
                |((title, description, priority), tags, (due, create, update), completed)| {
                    let user = UserId::parse("alice").unwrap_or_else(|_| unreachable!());
                    // Every generated text is a valid title once something non-blank leads it.
                    let title =
                        Title::parse(&format!("t{title}")).unwrap_or_else(|_| unreachable!());
                    let mut fields = TaskFields::titled(title);
                    fields.description =
                        Description::parse(&description).unwrap_or_else(|_| unreachable!());
                    fields.priority = priority;
                    fields.tags = Tags::parse(&tags.into_iter().collect::<Vec<_>>())
                        .unwrap_or_else(|_| unreachable!());
                    fields.due_time = due.map(from_micros);
                    let mut task = Task::new(TaskId::new_v7(), user, fields, from_micros(create));
                    task.completed = completed;
                    task.complete_time = completed.then(|| from_micros(update));
                    task.series = Uuid::now_v7();
                    task.update_time = from_micros(update);
                    task.series_anchor = None;
                    task
                },
            )
    }

    fn comparison() -> impl Strategy<Value = Term> {
        let time_fields = prop::sample::select(vec![
            TimeField::DueTime,
            TimeField::CreateTime,
            TimeField::UpdateTime,
            TimeField::CompleteTime,
        ]);
        prop_oneof![
            any::<bool>().prop_map(Term::Completed),
            (cmp(), priority()).prop_map(|((cmp, _), p)| Term::Priority(cmp, p)),
            prop::sample::select(TAGS).prop_map(|t| Term::Tag(t.to_owned())),
            (time_fields, cmp(), literal_near()).prop_map(|(f, (cmp, _), t)| Term::Time(f, cmp, t)),
            Just(Term::HasDueTime),
            (any::<bool>(), text(3)).prop_map(|(title, text)| {
                Term::Contains(
                    if title {
                        TextField::Title
                    } else {
                        TextField::Description
                    },
                    text,
                )
            }),
        ]
    }

    fn term() -> impl Strategy<Value = Term> {
        (comparison(), 0..3usize).prop_map(|(mut term, negations)| {
            for _ in 0..negations {
                term = Term::Not(Box::new(term));
            }
            term
        })
    }

    fn fold(text: &str) -> String {
        text.chars().flat_map(char::to_lowercase).collect()
    }

    /// What a term means, evaluated in Rust on one task.
    fn reference(term: &Term, task: &Task) -> bool {
        let f = &task.fields;
        match term {
            Term::Completed(flag) => task.completed == *flag,
            Term::Priority(cmp, p) => holds(*cmp, f.priority.rank().cmp(&p.rank())),
            Term::Tag(tag) => f.tags.as_slice().contains(tag),
            Term::Time(field, cmp, literal) => {
                let value: Option<DateTime<Utc>> = match field {
                    TimeField::DueTime => f.due_time,
                    TimeField::CreateTime => Some(task.create_time),
                    TimeField::UpdateTime => Some(task.update_time),
                    TimeField::CompleteTime => task.complete_time,
                };
                value.is_some_and(|v| holds(*cmp, nanos(v).cmp(&nanos(*literal))))
            }
            Term::HasDueTime => f.due_time.is_some(),
            Term::Contains(field, text) => {
                let haystack = match field {
                    TextField::Title => f.title.as_str(),
                    TextField::Description => f.description.as_str(),
                };
                fold(haystack).contains(&fold(text))
            }
            Term::List(name) => f.list == name.list,
            Term::Parent(name) => f.parent == Some(name.task),
            Term::HasParent => f.parent.is_some(),
            Term::Not(inner) => !reference(inner, task),
        }
    }

    async fn listed(db: &Database, terms: Vec<Term>) -> BTreeSet<Uuid> {
        let query = tasks::ListQuery {
            user: UserId::parse("alice").unwrap_or_else(|_| unreachable!()),
            filter: Filter { terms },
            order: OrderBy::parse("").unwrap_or_else(|_| unreachable!()),
            after: None,
            limit: 1000,
            show_deleted: false,
        };
        let (page, next) = tasks::list(db.conn(), &query)
            .await
            .expect("the query runs");
        assert!(next.is_none());
        page.iter().map(|t| t.id.as_uuid()).collect()
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// For random tasks and terms: each term (and each pair joined with AND) selects
        /// exactly the tasks the reference says, so a term and its negation partition the
        /// tasks, and a double negation is the term itself.
        #[test]
        fn the_store_agrees_with_the_reference(
            generated in prop::collection::vec(task(), 0..12),
            terms in prop::collection::vec(term(), 1..8),
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let db = Database::connect("sqlite::memory:", 1).await.expect("a database");
                db.migrate().await.expect("migrated");
                let rows: Vec<(&Task, Option<&str>)> = generated.iter().map(|t| (t, None)).collect();
                tasks::insert_many(db.conn(), &rows).await.expect("inserted");
                let all: BTreeSet<Uuid> = generated.iter().map(|t| t.id.as_uuid()).collect();
                let expect = |terms: &[Term]| -> BTreeSet<Uuid> {
                    generated
                        .iter()
                        .filter(|t| terms.iter().all(|term| reference(term, t)))
                        .map(|t| t.id.as_uuid())
                        .collect()
                };
                for pair in terms.windows(2).chain(terms.chunks(1)) {
                    assert_eq!(listed(&db, pair.to_vec()).await, expect(pair), "{pair:?}");
                }
                for term in &terms {
                    let positive = listed(&db, vec![term.clone()]).await;
                    let negative = listed(&db, vec![Term::Not(Box::new(term.clone()))]).await;
                    assert!(positive.is_disjoint(&negative), "{term:?}");
                    assert_eq!(&positive | &negative, all.clone(), "{term:?}");
                    let twice = Term::Not(Box::new(Term::Not(Box::new(term.clone()))));
                    assert_eq!(listed(&db, vec![twice]).await, positive, "{term:?}");
                }
            });
        }
    }

    /// The longest text term compiles and runs (SQLite's REGEXP compiles it per query).
    #[tokio::test]
    async fn the_longest_text_terms_run() {
        let db = Database::connect("sqlite::memory:", 1)
            .await
            .expect("a database");
        db.migrate().await.expect("migrated");
        for c in ['k', 'ǅ', 'ß', 'ς', '😀', '\\', '%', '(', '['] {
            let longest = c.to_string().repeat(MAX_FILTER_LEN / c.len_utf8());
            let _ = listed(&db, vec![Term::Contains(TextField::Title, longest)]).await;
        }
    }
}
