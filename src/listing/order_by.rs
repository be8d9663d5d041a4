//! `order_by`: comma-separated sort fields, each optionally followed by `asc` or `desc`.

/// The longest `order_by` accepted, in bytes: every field, each with a direction, fits many
/// times over.
pub const MAX_ORDER_BY_LEN: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    DueTime,
    Priority,
    CreateTime,
    UpdateTime,
    Title,
}

impl SortField {
    fn parse(raw: &str) -> Result<Self, String> {
        Ok(match raw {
            "due_time" => Self::DueTime,
            "priority" => Self::Priority,
            "create_time" => Self::CreateTime,
            "update_time" => Self::UpdateTime,
            "title" => Self::Title,
            other => {
                return Err(format!(
                    "cannot order by {}; use due_time, priority, create_time, update_time or title",
                    crate::error::excerpt(other)
                ));
            }
        })
    }

    fn as_str(self) -> &'static str {
        match self {
            Self::DueTime => "due_time",
            Self::Priority => "priority",
            Self::CreateTime => "create_time",
            Self::UpdateTime => "update_time",
            Self::Title => "title",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub field: SortField,
    pub descending: bool,
}

/// The sort keys of a list call. The task id always breaks ties, in the direction of the
/// last key, so every order is total and pages never overlap.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    pub keys: Vec<SortKey>,
}

impl Default for OrderBy {
    fn default() -> Self {
        Self {
            keys: vec![SortKey {
                field: SortField::CreateTime,
                descending: false,
            }],
        }
    }
}

impl OrderBy {
    pub fn parse(input: &str) -> Result<Self, String> {
        if input.len() > MAX_ORDER_BY_LEN {
            return Err(format!("must be at most {MAX_ORDER_BY_LEN} bytes"));
        }
        if input.trim().is_empty() {
            return Ok(Self::default());
        }
        let mut keys: Vec<SortKey> = Vec::new();
        for part in input.split(',') {
            let words: Vec<&str> = part.split_whitespace().collect();
            let (field, descending) = match words.as_slice() {
                [field] => (SortField::parse(field)?, false),
                [field, dir] if dir.eq_ignore_ascii_case("desc") => {
                    (SortField::parse(field)?, true)
                }
                [field, dir] if dir.eq_ignore_ascii_case("asc") => {
                    (SortField::parse(field)?, false)
                }
                [] => return Err("empty sort field between commas".into()),
                _ => {
                    return Err(format!(
                        "{} is not `field` or `field desc`",
                        crate::error::excerpt(part.trim())
                    ));
                }
            };
            if keys.iter().any(|k| k.field == field) {
                return Err(format!("{} appears twice", field.as_str()));
            }
            keys.push(SortKey { field, descending });
        }
        Ok(Self { keys })
    }

    /// A canonical spelling, used to tie page tokens to the order they were made for.
    pub fn canonical(&self) -> String {
        self.keys
            .iter()
            .map(|k| {
                format!(
                    "{}{}",
                    k.field.as_str(),
                    if k.descending { " desc" } else { "" }
                )
            })
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The direction of the id tie-breaker.
    pub fn tie_break_descending(&self) -> bool {
        self.keys.last().is_some_and(|k| k.descending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_fields_and_directions() {
        let order = OrderBy::parse("due_time desc, priority,title ASC").expect("valid");
        assert_eq!(
            order.keys,
            vec![
                SortKey {
                    field: SortField::DueTime,
                    descending: true
                },
                SortKey {
                    field: SortField::Priority,
                    descending: false
                },
                SortKey {
                    field: SortField::Title,
                    descending: false
                },
            ]
        );
        assert_eq!(order.canonical(), "due_time desc,priority,title");
        assert_eq!(OrderBy::parse(""), Ok(OrderBy::default()));
    }

    #[test]
    fn rejects_unknown_duplicate_and_malformed_keys() {
        for bad in [
            "name",
            "due_time sideways",
            "priority,priority desc",
            "title,",
            "due_time desc desc",
        ] {
            assert!(OrderBy::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn over_long_orders_are_refused() {
        let long = format!("title{}", " ".repeat(MAX_ORDER_BY_LEN));
        let message = OrderBy::parse(&long).expect_err("too long");
        assert!(message.contains("at most 256 bytes"), "{message}");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::{MAX_ORDER_BY_LEN, OrderBy, SortField, SortKey};

    const FIELDS: [SortField; 5] = [
        SortField::DueTime,
        SortField::Priority,
        SortField::CreateTime,
        SortField::UpdateTime,
        SortField::Title,
    ];

    const PIECES: &[&str] = &[
        "due_time",
        "priority",
        "create_time",
        "update_time",
        "title",
        "name",
        "asc",
        "desc",
        "ASC",
        "Desc",
        ",",
        ",,",
        " ",
        "\t",
        "-title",
        "title.desc",
        "\"",
        "(",
        "\u{0}",
    ];

    proptest! {
        /// Any mix of the grammar's pieces is parsed or refused with a message.
        #[test]
        fn token_soups_get_an_answer(pieces in prop::collection::vec(prop::sample::select(PIECES), 0..30)) {
            let input = pieces.join(" ");
            match OrderBy::parse(&input) {
                Ok(order) => prop_assert!(!order.keys.is_empty() && order.keys.len() <= FIELDS.len()),
                Err(message) => prop_assert!(!message.is_empty()),
            }
        }

        /// Distinct fields with any directions parse, and their canonical spelling parses
        /// back to the same order.
        #[test]
        fn generated_orders_parse_and_round_trip(
            order in Just(FIELDS.to_vec()).prop_shuffle(),
            count in 1usize..=5,
            directions in prop::collection::vec(0u8..3, 5),
        ) {
            let keys: Vec<SortKey> = order
                .into_iter()
                .take(count)
                .zip(&directions)
                .map(|(field, d)| SortKey { field, descending: *d == 2 })
                .collect();
            let text = keys
                .iter()
                .zip(&directions)
                .map(|(k, d)| format!("{} {}", k.field.as_str(), ["", "asc", "desc"][usize::from(*d)]))
                .collect::<Vec<_>>()
                .join(" , ");
            prop_assert!(text.len() <= MAX_ORDER_BY_LEN);
            let parsed = OrderBy::parse(&text).expect("valid");
            prop_assert_eq!(&parsed.keys, &keys);
            prop_assert_eq!(OrderBy::parse(&parsed.canonical()), Ok(parsed));
        }
    }
}
