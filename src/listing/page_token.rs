//! Opaque keyset page tokens: the sort values of the last task returned, tied to the user,
//! filter and order they were made for, with a checksum so that a corrupted or hand-edited
//! token is refused rather than read as another position.

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

/// The longest page token accepted, in bytes (the longest one issued is well under half).
pub const MAX_PAGE_TOKEN_LEN: usize = 4096;

/// FNV-1a: stable across builds and versions. A change of any one byte always changes it.
fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A fingerprint of the request a token belongs to.
fn fingerprint(parts: &[&str]) -> u64 {
    fnv1a(
        parts
            .iter()
            .flat_map(|part| part.bytes().chain(std::iter::once(0xff))),
    )
}

const CHECKSUM_LEN: usize = 8;

impl PageToken {
    pub fn new(cursor: Cursor, request: &[&str]) -> Self {
        Self {
            fingerprint: fingerprint(request),
            cursor,
        }
    }

    /// The token's text: its JSON followed by the JSON's checksum, in unpadded URL-safe
    /// base64.
    pub fn encode(&self) -> String {
        let mut bytes = serde_json::to_vec(self).unwrap_or_default();
        let checksum = fnv1a(bytes.iter().copied());
        bytes.extend_from_slice(&checksum.to_le_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a token and checks it is intact and belongs to this request.
    pub fn decode(raw: &str, request: &[&str]) -> Result<Self, String> {
        if raw.len() > MAX_PAGE_TOKEN_LEN {
            return Err(format!(
                "must be at most {MAX_PAGE_TOKEN_LEN} bytes; pass next_page_token unchanged"
            ));
        }
        let invalid = || "is not a page token issued by this service".to_owned();
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let (json, checksum) = bytes
            .split_at_checked(bytes.len().saturating_sub(CHECKSUM_LEN))
            .ok_or_else(invalid)?;
        let checksum = <[u8; CHECKSUM_LEN]>::try_from(checksum).map_err(|_| invalid())?;
        if fnv1a(json.iter().copied()) != u64::from_le_bytes(checksum) {
            return Err(invalid());
        }
        let token: Self = serde_json::from_slice(json).map_err(|_| invalid())?;
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

    #[test]
    fn over_long_tokens_are_refused_before_decoding() {
        let message = PageToken::decode(&"A".repeat(MAX_PAGE_TOKEN_LEN + 1), &["bob", "", ""])
            .expect_err("too long");
        assert!(message.contains("at most 4096 bytes"), "{message}");
    }
}

#[cfg(test)]
mod properties {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::{Cursor, CursorValue, MAX_PAGE_TOKEN_LEN, PageToken};

    fn cursor() -> impl Strategy<Value = Cursor> {
        (
            prop::collection::vec(
                prop_oneof![
                    any::<i64>().prop_map(CursorValue::Int),
                    "\\PC{0,200}".prop_map(CursorValue::Text),
                ],
                0..6,
            ),
            any::<u128>(),
        )
            .prop_map(|(values, id)| Cursor {
                values,
                id: Uuid::from_u128(id),
            })
    }

    fn request() -> impl Strategy<Value = [String; 3]> {
        ["[a-z]{1,12}", "\\PC{0,40}", "[a-z_, ]{0,30}"].prop_map(|[a, b, c]| [a, b, c])
    }

    fn parts(request: &[String; 3]) -> [&str; 3] {
        [&request[0], &request[1], &request[2]]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// A token decodes, for the request it was made for, to the cursor it was made from.
        #[test]
        fn tokens_round_trip(cursor in cursor(), request in request()) {
            let token = PageToken::new(cursor.clone(), &parts(&request)).encode();
            prop_assert!(token.len() <= MAX_PAGE_TOKEN_LEN, "{} bytes", token.len());
            let decoded = PageToken::decode(&token, &parts(&request));
            prop_assert_eq!(decoded.map(|t| t.cursor), Ok(cursor));
        }

        /// Changing any one byte of a token's content, or cutting it short, is detected.
        #[test]
        fn tampered_bytes_and_truncations_are_refused(
            cursor in cursor(),
            request in request(),
            at in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let token = PageToken::new(cursor, &parts(&request)).encode();
            let mut bytes = URL_SAFE_NO_PAD.decode(&token).expect("our own token");
            let i = at.index(bytes.len());
            bytes[i] ^= flip;
            let tampered = URL_SAFE_NO_PAD.encode(&bytes);
            prop_assert!(PageToken::decode(&tampered, &parts(&request)).is_err());
            let cut = at.index(token.len());
            prop_assert!(PageToken::decode(&token[..cut], &parts(&request)).is_err());
        }

        /// Replacing any one character of a token's text is detected.
        #[test]
        fn tampered_text_is_refused(
            cursor in cursor(),
            request in request(),
            at in any::<prop::sample::Index>(),
            replacement in prop_oneof![
                prop::sample::select(
                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
                        .chars()
                        .collect::<Vec<_>>()
                ),
                any::<char>(),
            ],
        ) {
            let token = PageToken::new(cursor, &parts(&request)).encode();
            let mut chars: Vec<char> = token.chars().collect();
            let i = at.index(chars.len());
            prop_assume!(chars[i] != replacement);
            chars[i] = replacement;
            let tampered: String = chars.into_iter().collect();
            prop_assert!(PageToken::decode(&tampered, &parts(&request)).is_err());
        }

        /// A token is refused for any other user, filter or order.
        #[test]
        fn tokens_of_other_requests_are_refused(
            cursor in cursor(),
            request in request(),
            other in request(),
        ) {
            prop_assume!(request != other);
            let token = PageToken::new(cursor, &parts(&request)).encode();
            let message = PageToken::decode(&token, &parts(&other)).expect_err("other request");
            prop_assert!(message.contains("different request"), "{}", message);
        }

        /// Arbitrary text is refused with a message, never a panic.
        #[test]
        fn arbitrary_text_is_refused(raw in prop_oneof![
            "\\PC{0,300}",
            "[A-Za-z0-9_-]{0,600}",
            "[A-Za-z0-9_-]{4090,4200}",
        ]) {
            let message = PageToken::decode(&raw, &["alice", "", ""]).expect_err("not a token");
            prop_assert!(!message.is_empty());
        }
    }
}
