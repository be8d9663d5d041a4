//! Lists: the groups a user's tasks belong to. Every user has the inbox, the default list of
//! the tasks that name no other; it has no row and cannot be renamed or deleted.

use std::fmt;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::ids::parse_canonical_uuid;
use super::{Title, UserId};
use crate::error::excerpt;

/// The id the inbox goes by in names (`users/{user}/lists/inbox`).
pub const INBOX: &str = "inbox";
/// The inbox's title.
pub const INBOX_TITLE: &str = "Inbox";

/// Which list: the inbox or one the user created (a UUID the server assigned).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ListId {
    #[default]
    Inbox,
    Id(Uuid),
}

impl ListId {
    pub fn new_v7() -> Self {
        Self::Id(Uuid::now_v7())
    }

    /// The stored form: NULL for the inbox.
    pub fn as_uuid(self) -> Option<Uuid> {
        match self {
            Self::Inbox => None,
            Self::Id(id) => Some(id),
        }
    }

    pub fn from_stored(id: Option<Uuid>) -> Self {
        id.map_or(Self::Inbox, Self::Id)
    }
}

impl fmt::Display for ListId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Inbox => f.write_str(INBOX),
            Self::Id(id) => id.hyphenated().fmt(f),
        }
    }
}

/// `users/{user}/lists/{list}`, `{list}` being `inbox` or a UUID in lowercase hyphenated form.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ListName {
    pub user: UserId,
    pub list: ListId,
}

impl ListName {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let shape = || {
            format!(
                "must look like users/{{user}}/lists/{{list}}, got {}",
                excerpt(raw)
            )
        };
        let mut parts = raw.split('/');
        let (Some("users"), Some(user), Some("lists"), Some(id), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Err(shape());
        };
        let user = UserId::parse(user)?;
        let list = if id == INBOX {
            ListId::Inbox
        } else {
            ListId::Id(parse_canonical_uuid(id).ok_or_else(|| {
                format!(
                    "the list id in {} is neither `inbox` nor a UUID in lowercase hyphenated \
                     form (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)",
                    excerpt(raw)
                )
            })?)
        };
        Ok(Self { user, list })
    }
}

impl fmt::Display for ListName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "users/{}/lists/{}", self.user, self.list)
    }
}

/// A list as stored (the inbox is made up on the fly: [`TaskList::inbox`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskList {
    pub user: UserId,
    pub id: ListId,
    pub title: Title,
    pub version: i64,
    /// `None` for the inbox, which always existed.
    pub create_time: Option<DateTime<Utc>>,
    pub update_time: Option<DateTime<Utc>>,
}

impl TaskList {
    pub fn inbox(user: UserId) -> Self {
        Self {
            user,
            id: ListId::Inbox,
            title: Title::from_stored(INBOX_TITLE.to_owned()),
            version: 1,
            create_time: None,
            update_time: None,
        }
    }

    pub fn name(&self) -> ListName {
        ListName {
            user: self.user.clone(),
            list: self.id,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_refuse_other_spellings() {
        for raw in [
            "users/u/lists/inbox",
            "users/a.b@c/lists/0190f1c2-7a3b-7c4d-8e5f-123456789abc",
        ] {
            assert_eq!(ListName::parse(raw).map(|n| n.to_string()), Ok(raw.into()));
        }
        for raw in [
            "users/u/lists/INBOX",
            "users/u/lists/0190F1C2-7A3B-7C4D-8E5F-123456789ABC",
            "users/u/lists/",
            "users/u/tasks/inbox",
            "users/u/lists/inbox/x",
            "lists/inbox",
        ] {
            assert!(ListName::parse(raw).is_err(), "{raw}");
        }
    }
}
