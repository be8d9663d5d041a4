//! Opaque keyset page tokens: the sort values of the last task returned, tied to the user,
//! filter and order they were made for.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One sort value of the last row of a page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum CursorValue {
    Int(i64),
    Text(String),
}

/// Where the next page starts: strictly after this position in the sort order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// One value per sort key, in order.
    #[serde(rename = "v")]
    pub values: Vec<CursorValue>,
    /// The task id that breaks ties.
    #[serde(rename = "i")]
    pub id: Uuid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageToken {
    /// A fingerprint of the request the token belongs to (user, filter, order).
    #[serde(rename = "f")]
    fingerprint: u64,
    #[serde(rename = "c")]
    pub cursor: Cursor,
}

/// FNV-1a: a fingerprint that is stable across builds and versions.
fn fingerprint(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0xff)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

impl PageToken {
    pub fn new(cursor: Cursor, request: &[&str]) -> Self {
        Self {
            fingerprint: fingerprint(request),
            cursor,
        }
    }

    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a token and checks it belongs to this request.
    pub fn decode(raw: &str, request: &[&str]) -> Result<Self, String> {
        let invalid = || "is not a page token issued by this service".to_owned();
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let token: Self = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
        if token.fingerprint != fingerprint(request) {
            return Err("belongs to a different request: keep parent, filter and order_by unchanged between pages".into());
        }
        Ok(token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cursor() -> Cursor {
        Cursor {
            values: vec![CursorValue::Int(42), CursorValue::Text("milk".into())],
            id: Uuid::nil(),
        }
    }

    #[test]
    fn round_trips_for_the_same_request() {
        let token = PageToken::new(cursor(), &["bob", "completed = true", "title"]);
        let decoded =
            PageToken::decode(&token.encode(), &["bob", "completed = true", "title"]).expect("ok");
        assert_eq!(decoded.cursor, cursor());
    }

    #[test]
    fn rejects_garbage_and_other_requests() {
        let token = PageToken::new(cursor(), &["bob", "", ""]).encode();
        assert!(PageToken::decode(&token, &["alice", "", ""]).is_err());
        assert!(PageToken::decode(&token, &["bob", "completed = true", ""]).is_err());
        assert!(PageToken::decode("!!!", &["bob", "", ""]).is_err());
        assert!(PageToken::decode("e30", &["bob", "", ""]).is_err());
    }
}
