//! `users/{user}/notifications/{notification}`: the resource name of a notification.

use std::fmt;

use uuid::Uuid;

use super::{UserId, parse_user_resource};

/// A parsed notification name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NotificationName {
    pub user: UserId,
    pub id: Uuid,
}

impl NotificationName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let (user, id) = parse_user_resource(raw, "notifications", "notification")?;
        Ok(Self { user, id })
    }
}

impl fmt::Display for NotificationName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "users/{}/notifications/{}",
            self.user,
            self.id.hyphenated()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::NotificationName;

    #[test]
    fn names_round_trip_and_reject_other_shapes() {
        let raw = "users/bob/notifications/0190f3a5-6c1e-7f00-8000-000000000001";
        let name = NotificationName::parse(raw).expect("a valid name");
        assert_eq!(name.user.as_str(), "bob");
        assert_eq!(name.to_string(), raw);
        for bad in [
            "",
            "users/bob",
            "users/bob/notifications",
            "users/bob/notifications/not-a-uuid",
            "users/bob/tasks/0190f3a5-6c1e-7f00-8000-000000000001",
            "users/bob/notifications/0190f3a5-6c1e-7f00-8000-000000000001/x",
            "users/b b/notifications/0190f3a5-6c1e-7f00-8000-000000000001",
        ] {
            assert!(NotificationName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn only_the_canonical_spelling_of_the_id_names_a_notification() {
        let canonical = "users/bob/notifications/0190f3a5-6c1e-7f00-8000-00000000abcd";
        assert_eq!(
            NotificationName::parse(canonical).map(|n| n.to_string()),
            Ok(canonical.to_owned())
        );
        for alias in [
            "0190F3A5-6C1E-7F00-8000-00000000ABCD",
            "0190f3a5-6c1e-7f00-8000-00000000abcD",
            "0190f3a56c1e7f00800000000000abcd",
            "{0190f3a5-6c1e-7f00-8000-00000000abcd}",
            "urn:uuid:0190f3a5-6c1e-7f00-8000-00000000abcd",
        ] {
            let err = NotificationName::parse(&format!("users/bob/notifications/{alias}"))
                .expect_err("an alias spelling");
            assert!(err.contains("lowercase hyphenated"), "{alias}: {err}");
        }
    }
}
