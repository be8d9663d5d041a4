//! Opaque keyset page tokens (AIP-158): the sort values of the last item of a page, tied to
//! the request they were made for, encrypted and authenticated with a key of the server's.
//!
//! A token is, in unpadded URL-safe base64:
//!
//! ```text
//! version (1 byte) | nonce (24 bytes) | XChaCha20-Poly1305 ciphertext of the body | tag (16 bytes)
//! body = fingerprint of the request (16 bytes) | last id (16 bytes) | sort values
//! sort value = 0x00 | i64, little-endian   or   0x01 | length (u32, little-endian) | UTF-8
//! ```
//!
//! A client can read nothing from a token (not the title of the task it points after, not
//! its id), and can make none: a token changed in any byte, cut short, made with another key
//! or for another request is refused. The nonce is random for each token (192 bits, so that
//! random nonces never repeat in practice), and the version byte is authenticated too.

use std::fmt;
use std::sync::Arc;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chacha20poly1305::{
    KeyInit, XChaCha20Poly1305, XNonce,
    aead::{Aead, AeadCore, OsRng, Payload},
};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// One sort value of the last row of a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CursorValue {
    Int(i64),
    Text(String),
}

/// Where the next page starts: strictly after this position in the sort order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    /// One value per sort key, in order.
    pub values: Vec<CursorValue>,
    /// The id that breaks ties.
    pub id: Uuid,
}

/// The shortest configured key, in bytes: the key is not stretched, so it must be hard to
/// guess on its own.
pub const MIN_KEY_LEN: usize = 32;

/// The server's key for page tokens. Its `Debug` never shows it.
#[derive(Clone)]
pub struct PageTokenKey {
    cipher: Arc<XChaCha20Poly1305>,
}

impl fmt::Debug for PageTokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PageTokenKey(***)")
    }
}

/// Separates the page-token key from any other key derived from the same secret (HKDF info).
const KEY_INFO: &[u8] = b"taskflow page tokens v1";

impl PageTokenKey {
    /// The key derived from a configured secret (HKDF-SHA256, RFC 5869): every server given
    /// the same secret reads the others' tokens.
    pub fn derive(secret: &[u8]) -> Self {
        let mut key = chacha20poly1305::Key::default();
        // 32 bytes is far below HKDF-SHA256's limit of 255 × 32: expanding cannot fail.
        let _ = hkdf::Hkdf::<Sha256>::new(None, secret).expand(KEY_INFO, &mut key);
        Self {
            cipher: Arc::new(XChaCha20Poly1305::new(&key)),
        }
    }

    /// A random key, for a server whose tokens need not outlive it.
    pub fn random() -> Self {
        Self {
            cipher: Arc::new(XChaCha20Poly1305::new(&XChaCha20Poly1305::generate_key(
                &mut OsRng,
            ))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageToken {
    /// A fingerprint of the request the token belongs to (user, filter, order…).
    fingerprint: [u8; FINGERPRINT_LEN],
    pub cursor: Cursor,
}

/// The longest page token accepted, in bytes (the longest one issued, ordered by an
/// 800-byte title, is about 1,200).
pub const MAX_PAGE_TOKEN_LEN: usize = 4096;

const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const FINGERPRINT_LEN: usize = 16;
const INT: u8 = 0;
const TEXT: u8 = 1;

/// A fingerprint of the request a token belongs to: SHA-256 of its parts, each ended by a
/// byte that UTF-8 never uses, so that no two lists of parts share it.
fn fingerprint(parts: &[&str]) -> [u8; FINGERPRINT_LEN] {
    let mut hash = Sha256::new();
    for part in parts {
        hash.update(part.as_bytes());
        hash.update([0xff]);
    }
    let mut out = [0; FINGERPRINT_LEN];
    out.copy_from_slice(&hash.finalize()[..FINGERPRINT_LEN]);
    out
}

fn invalid() -> String {
    "is not a page token issued by this service".to_owned()
}

impl PageToken {
    pub fn new(cursor: Cursor, request: &[&str]) -> Self {
        Self {
            fingerprint: fingerprint(request),
            cursor,
        }
    }

    fn body(&self) -> Vec<u8> {
        let mut body = Vec::with_capacity(FINGERPRINT_LEN + 16 + 9 * self.cursor.values.len());
        body.extend_from_slice(&self.fingerprint);
        body.extend_from_slice(self.cursor.id.as_bytes());
        for value in &self.cursor.values {
            match value {
                CursorValue::Int(n) => {
                    body.push(INT);
                    body.extend_from_slice(&n.to_le_bytes());
                }
                CursorValue::Text(text) => {
                    body.push(TEXT);
                    // Sort values are titles, far shorter than 4 GiB.
                    let len = u32::try_from(text.len()).unwrap_or(u32::MAX);
                    body.extend_from_slice(&len.to_le_bytes());
                    body.extend_from_slice(text.as_bytes());
                }
            }
        }
        body
    }

    fn from_body(body: &[u8]) -> Option<Self> {
        let (fingerprint, rest) = body.split_first_chunk::<FINGERPRINT_LEN>()?;
        let (id, mut rest) = rest.split_first_chunk::<16>()?;
        let mut values = Vec::new();
        while let Some((kind, tail)) = rest.split_first() {
            match *kind {
                INT => {
                    let (n, tail) = tail.split_first_chunk::<8>()?;
                    values.push(CursorValue::Int(i64::from_le_bytes(*n)));
                    rest = tail;
                }
                TEXT => {
                    let (len, tail) = tail.split_first_chunk::<4>()?;
                    let len = usize::try_from(u32::from_le_bytes(*len)).ok()?;
                    let (text, tail) = tail.split_at_checked(len)?;
                    values.push(CursorValue::Text(
                        std::str::from_utf8(text).ok()?.to_owned(),
                    ));
                    rest = tail;
                }
                _ => return None,
            }
        }
        Some(Self {
            fingerprint: *fingerprint,
            cursor: Cursor {
                values,
                id: Uuid::from_bytes(*id),
            },
        })
    }

    /// The token's text, encrypted under `key` with a fresh nonce.
    pub fn encode(&self, key: &PageTokenKey) -> String {
        let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
        let body = self.body();
        let sealed = key
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: &body,
                    aad: &[VERSION],
                },
            )
            // Encryption fails only for messages of 256 GiB and more.
            .unwrap_or_default();
        let mut bytes = Vec::with_capacity(1 + NONCE_LEN + sealed.len());
        bytes.push(VERSION);
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a token and checks it was made with `key` and belongs to this request.
    pub fn decode(raw: &str, request: &[&str], key: &PageTokenKey) -> Result<Self, String> {
        if raw.len() > MAX_PAGE_TOKEN_LEN {
            return Err(format!(
                "must be at most {MAX_PAGE_TOKEN_LEN} bytes; pass next_page_token unchanged"
            ));
        }
        let bytes = URL_SAFE_NO_PAD.decode(raw).map_err(|_| invalid())?;
        let (version, rest) = bytes.split_first().ok_or_else(invalid)?;
        let (nonce, sealed) = rest.split_first_chunk::<NONCE_LEN>().ok_or_else(invalid)?;
        if *version != VERSION || sealed.len() < TAG_LEN {
            return Err(invalid());
        }
        let body = key
            .cipher
            .decrypt(
                &XNonce::from(*nonce),
                Payload {
                    msg: sealed,
                    aad: &[VERSION],
                },
            )
            .map_err(|_| invalid())?;
        let token = Self::from_body(&body).ok_or_else(invalid)?;
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

    fn key() -> PageTokenKey {
        PageTokenKey::derive(b"a page token key of at least 32 bytes")
    }

    #[test]
    fn round_trips_for_the_same_request_and_key() {
        let token = PageToken::new(cursor(), &["bob", "completed = true", "title"]);
        let text = token.encode(&key());
        let decoded =
            PageToken::decode(&text, &["bob", "completed = true", "title"], &key()).expect("ok");
        assert_eq!(decoded.cursor, cursor());
    }

    #[test]
    fn rejects_garbage_and_other_requests() {
        let token = PageToken::new(cursor(), &["bob", "", ""]).encode(&key());
        assert!(PageToken::decode(&token, &["alice", "", ""], &key()).is_err());
        assert!(PageToken::decode(&token, &["bob", "completed = true", ""], &key()).is_err());
        assert!(PageToken::decode("!!!", &["bob", "", ""], &key()).is_err());
        assert!(PageToken::decode("e30", &["bob", "", ""], &key()).is_err());
        assert!(PageToken::decode("", &["bob", "", ""], &key()).is_err());
    }

    #[test]
    fn tokens_of_another_key_are_refused() {
        let token = PageToken::new(cursor(), &["bob", "", ""]).encode(&key());
        let other = PageTokenKey::derive(b"another page token key, 32 bytes+");
        let message = PageToken::decode(&token, &["bob", "", ""], &other).expect_err("other key");
        assert_eq!(message, invalid());
        assert!(PageToken::decode(&token, &["bob", "", ""], &PageTokenKey::random()).is_err());
    }

    #[test]
    fn the_same_secret_gives_the_same_key() {
        let token = PageToken::new(cursor(), &["bob"]).encode(&key());
        let again = key();
        assert_eq!(
            PageToken::decode(&token, &["bob"], &again).map(|t| t.cursor),
            Ok(cursor())
        );
    }

    #[test]
    fn an_unknown_version_is_refused() {
        let token = PageToken::new(cursor(), &["bob"]).encode(&key());
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).expect("base64");
        bytes[0] = VERSION + 1;
        let token = URL_SAFE_NO_PAD.encode(bytes);
        assert!(PageToken::decode(&token, &["bob"], &key()).is_err());
    }

    #[test]
    fn over_long_tokens_are_refused_before_decoding() {
        let message = PageToken::decode(
            &"A".repeat(MAX_PAGE_TOKEN_LEN + 1),
            &["bob", "", ""],
            &key(),
        )
        .expect_err("too long");
        assert!(message.contains("at most 4096 bytes"), "{message}");
    }

    #[test]
    fn keys_do_not_show_in_debug() {
        assert_eq!(format!("{:?}", key()), "PageTokenKey(***)");
    }

    #[test]
    fn tokens_stay_short() {
        // A create_time cursor: the default order.
        let token = PageToken::new(
            Cursor {
                values: vec![CursorValue::Int(i64::MAX)],
                id: Uuid::max(),
            },
            &["alice", "completed = false", "create_time"],
        )
        .encode(&key());
        assert!(token.len() <= 120, "{} bytes", token.len());
    }
}

#[cfg(test)]
mod properties {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    use proptest::prelude::*;
    use uuid::Uuid;

    use super::{Cursor, CursorValue, MAX_PAGE_TOKEN_LEN, PageToken, PageTokenKey};

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

    fn key() -> PageTokenKey {
        PageTokenKey::derive(b"the key of the page token properties")
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// A token decodes, for the request it was made for, to the cursor it was made from.
        #[test]
        fn tokens_round_trip(cursor in cursor(), request in request()) {
            let token = PageToken::new(cursor.clone(), &parts(&request)).encode(&key());
            prop_assert!(token.len() <= MAX_PAGE_TOKEN_LEN, "{} bytes", token.len());
            let decoded = PageToken::decode(&token, &parts(&request), &key());
            prop_assert_eq!(decoded.map(|t| t.cursor), Ok(cursor));
        }

        /// Neither the token nor its bytes show the sort values or the id; two tokens of the
        /// same position differ.
        #[test]
        fn tokens_show_nothing(
            text in "[A-Za-z0-9 ]{8,60}",
            n in any::<i64>(),
            id in any::<u128>(),
            request in request(),
        ) {
            let cursor = Cursor {
                values: vec![CursorValue::Text(text.clone()), CursorValue::Int(n)],
                id: Uuid::from_u128(id),
            };
            let token = PageToken::new(cursor.clone(), &parts(&request)).encode(&key());
            let bytes = URL_SAFE_NO_PAD.decode(&token).expect("our own token");
            for shown in [&bytes[..], token.as_bytes()] {
                prop_assert!(!contains(shown, text.as_bytes()));
                prop_assert!(!contains(shown, &n.to_le_bytes()));
                prop_assert!(!contains(shown, Uuid::from_u128(id).as_bytes()));
            }
            let again = PageToken::new(cursor, &parts(&request)).encode(&key());
            prop_assert_ne!(token, again);
        }

        /// Changing any one byte of a token's content, or cutting it short, is detected.
        #[test]
        fn tampered_bytes_and_truncations_are_refused(
            cursor in cursor(),
            request in request(),
            at in any::<prop::sample::Index>(),
            flip in 1u8..=255,
        ) {
            let token = PageToken::new(cursor, &parts(&request)).encode(&key());
            let mut bytes = URL_SAFE_NO_PAD.decode(&token).expect("our own token");
            let i = at.index(bytes.len());
            bytes[i] ^= flip;
            let tampered = URL_SAFE_NO_PAD.encode(&bytes);
            prop_assert!(PageToken::decode(&tampered, &parts(&request), &key()).is_err());
            let cut = at.index(token.len());
            prop_assert!(PageToken::decode(&token[..cut], &parts(&request), &key()).is_err());
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
            let token = PageToken::new(cursor, &parts(&request)).encode(&key());
            let mut chars: Vec<char> = token.chars().collect();
            let i = at.index(chars.len());
            prop_assume!(chars[i] != replacement);
            chars[i] = replacement;
            let tampered: String = chars.into_iter().collect();
            prop_assert!(PageToken::decode(&tampered, &parts(&request), &key()).is_err());
        }

        /// A token is refused for any other user, filter or order.
        #[test]
        fn tokens_of_other_requests_are_refused(
            cursor in cursor(),
            request in request(),
            other in request(),
        ) {
            prop_assume!(request != other);
            let token = PageToken::new(cursor, &parts(&request)).encode(&key());
            let message = PageToken::decode(&token, &parts(&other), &key()).expect_err("other request");
            prop_assert!(message.contains("different request"), "{}", message);
        }

        /// Arbitrary text is refused with a message, never a panic.
        #[test]
        fn arbitrary_text_is_refused(raw in prop_oneof![
            "\\PC{0,300}",
            "[A-Za-z0-9_-]{0,600}",
            "[A-Za-z0-9_-]{4090,4200}",
        ]) {
            let message = PageToken::decode(&raw, &["alice", "", ""], &key()).expect_err("not a token");
            prop_assert!(!message.is_empty());
        }
    }
}
