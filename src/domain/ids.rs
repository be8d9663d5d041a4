//! User and task identities, and the resource names that carry them.

use std::fmt;

use uuid::Uuid;

use crate::error::excerpt;

/// A user id: 1 to 128 printable ASCII characters from `[A-Za-z0-9._@:-]`, so that it is
/// safe as a Kafka key, in gRPC metadata and inside a resource name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserId(String);

impl UserId {
    pub const MAX_LEN: usize = 128;

    pub fn parse(raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > Self::MAX_LEN {
            return Err(format!(
                "a user id must be 1 to {} characters",
                Self::MAX_LEN
            ));
        }
        if let Some(bad) = raw
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '@' | ':' | '-')))
        {
            return Err(format!(
                "a user id may contain only letters, digits and . _ @ : - (found {bad:?})"
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The collection name `users/{user}`.
    pub fn to_parent(&self) -> String {
        format!("users/{}", self.0)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A task id: a UUID (version 7, time-ordered, when the server assigns it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TaskId(Uuid);

impl TaskId {
    pub fn new_v7() -> Self {
        Self(Uuid::now_v7())
    }

    pub fn from_uuid(id: Uuid) -> Self {
        Self(id)
    }

    pub fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// `users/{user}/tasks/{task}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskName {
    pub user: UserId,
    pub task: TaskId,
}

impl TaskName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (user, task) = parse_user_resource(raw, "tasks", "task")?;
        Ok(Self {
            user,
            task: TaskId(task),
        })
    }
}

/// A resource id in its one canonical spelling: a UUID in lowercase hyphenated form
/// (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`), as the service writes every id. Other spellings
/// of the same UUID (uppercase, without hyphens, braced, `urn:uuid:`) are refused, so that
/// one resource has one name (AIP-122).
pub fn parse_canonical_uuid(raw: &str) -> Option<Uuid> {
    let id = Uuid::try_parse(raw).ok()?;
    let mut canonical = Uuid::encode_buffer();
    (id.hyphenated().encode_lower(&mut canonical) == raw).then_some(id)
}

/// Parses `users/{user}/{collection}/{uuid}`; `singular` names the id in messages.
pub fn parse_user_resource(
    raw: &str,
    collection: &str,
    singular: &str,
) -> Result<(UserId, Uuid), String> {
    let shape = || {
        format!(
            "must look like users/{{user}}/{collection}/{{{singular}}}, got {}",
            excerpt(raw)
        )
    };
    let mut parts = raw.split('/');
    let (Some("users"), Some(user), Some(found), Some(id), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(shape());
    };
    if found != collection {
        return Err(shape());
    }
    let user = UserId::parse(user)?;
    let id = parse_canonical_uuid(id).ok_or_else(|| {
        format!(
            "the {singular} id in {} is not a UUID in lowercase hyphenated form \
             (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
            excerpt(raw)
        )
    })?;
    Ok((user, id))
}

impl fmt::Display for TaskName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "users/{}/tasks/{}", self.user, self.task)
    }
}

/// Parses a collection parent `users/{user}`.
pub fn parse_parent(raw: &str) -> Result<UserId, String> {
    match raw.split_once('/') {
        Some(("users", user)) if !user.contains('/') => UserId::parse(user),
        _ => Err(format!(
            "must look like users/{{user}}, got {}",
            excerpt(raw)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_ids_are_printable_ascii_of_bounded_length() {
        assert!(UserId::parse("alice@example.com").is_ok());
        assert!(UserId::parse("auth0:abc-123_x.y").is_ok());
        assert!(UserId::parse("").is_err());
        assert!(UserId::parse(&"a".repeat(129)).is_err());
        assert!(UserId::parse(&"a".repeat(128)).is_ok());
        assert!(UserId::parse("a b").is_err());
        assert!(UserId::parse("a/b").is_err());
        assert!(UserId::parse("jürgen").is_err());
    }

    #[test]
    fn task_names_round_trip_and_reject_other_shapes() {
        let name = TaskName::parse("users/bob/tasks/0190f3a5-6c1e-7f00-8000-000000000001")
            .expect("valid name");
        assert_eq!(name.user.as_str(), "bob");
        assert_eq!(
            name.to_string(),
            "users/bob/tasks/0190f3a5-6c1e-7f00-8000-000000000001"
        );
        for bad in [
            "",
            "users/bob",
            "users/bob/tasks",
            "users/bob/tasks/not-a-uuid",
            "users/bob/tasks/0190f3a5-6c1e-7f00-8000-000000000001/x",
            "people/bob/tasks/0190f3a5-6c1e-7f00-8000-000000000001",
        ] {
            assert!(TaskName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn task_ids_have_one_spelling() {
        let canonical = "0190f3a5-6c1e-7f00-8000-00000000abcd";
        let id = TaskName::parse(&format!("users/bob/tasks/{canonical}"))
            .expect("the canonical spelling")
            .task;
        assert_eq!(id.to_string(), canonical);
        for alias in [
            "0190F3A5-6C1E-7F00-8000-00000000ABCD",
            "0190f3a5-6c1e-7f00-8000-00000000ABCD",
            "0190f3a56c1e7f00800000000000abcd",
            "{0190f3a5-6c1e-7f00-8000-00000000abcd}",
            "urn:uuid:0190f3a5-6c1e-7f00-8000-00000000abcd",
            " 0190f3a5-6c1e-7f00-8000-00000000abcd",
        ] {
            let err = TaskName::parse(&format!("users/bob/tasks/{alias}"))
                .expect_err("an alias spelling");
            assert!(err.contains("lowercase hyphenated"), "{alias}: {err}");
            assert_eq!(parse_canonical_uuid(alias), None, "{alias}");
        }
    }

    #[test]
    fn ids_the_service_writes_parse_back() {
        for _ in 0..100 {
            let id = TaskId::new_v7();
            assert_eq!(parse_canonical_uuid(&id.to_string()), Some(id.as_uuid()));
            let v4 = Uuid::new_v4();
            assert_eq!(parse_canonical_uuid(&v4.to_string()), Some(v4));
        }
        assert_eq!(
            parse_canonical_uuid(&Uuid::max().to_string()),
            Some(Uuid::max())
        );
        assert_eq!(
            parse_canonical_uuid(&Uuid::nil().to_string()),
            Some(Uuid::nil())
        );
    }

    #[test]
    fn messages_quote_a_short_excerpt_of_a_long_name() {
        let long = format!("users/bob/tasks/{}", "x".repeat(5000));
        let err = TaskName::parse(&long).expect_err("not a UUID");
        assert!(err.len() < 300, "{err}");
        let err = parse_parent(&"y".repeat(5000)).expect_err("not a parent");
        assert!(err.len() < 300, "{err}");
    }

    #[test]
    fn parents_name_one_user() {
        assert_eq!(
            parse_parent("users/bob").map(|u| u.to_string()),
            Ok("bob".into())
        );
        assert!(parse_parent("users/").is_err());
        assert!(parse_parent("users/bob/tasks").is_err());
        assert!(parse_parent("bob").is_err());
    }
}
