//! `order_by`: comma-separated sort fields, each optionally followed by `asc` or `desc`.

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
                    "cannot order by {other:?}; use due_time, priority, create_time, update_time or title"
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
                _ => return Err(format!("{:?} is not `field` or `field desc`", part.trim())),
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
}
