//! The gRPC metadata daprd puts on `OnTopicEvent` (`messaging/v1/util.go:WithCustomGRPCMetadata`)
//! and the Kafka header escaping (`escapeHeaders`).

use std::collections::HashMap;

use tonic::metadata::{AsciiMetadataKey, BinaryMetadataKey, MetadataValue};
use tonic::{Code, Request};

use crate::record::AppAnswer;

/// Go's `url.QueryEscape` (`net/url`: space → `+`, `A-Za-z0-9-_.~` kept, every other byte
/// `%XX` in upper case), which the Kafka component applies with `escapeHeaders: "true"`
/// (`contrib:common/component/kafka/consumer.go` `GetEventMetadata`).
pub(crate) fn query_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// gRPC metadata keys grpc-go refuses to send from user metadata (it skips them).
const RESERVED_HEADERS: [&str; 9] = [
    "content-type",
    "content-length",
    "user-agent",
    "grpc-message-type",
    "grpc-encoding",
    "grpc-message",
    "grpc-status",
    "grpc-timeout",
    "te",
];

/// `WithCustomGRPCMetadata`: every message metadata key, lowercased, minus content-type and
/// content-length. Keys or values grpc-go would refuse (values must be printable ASCII) fail the
/// call with `Internal`, as they do in daprd.
pub(crate) fn add_message_metadata<T>(
    request: &mut Request<T>,
    metadata: &HashMap<String, String>,
) -> Result<(), AppAnswer> {
    let refuse = |what: String| AppAnswer::Grpc {
        code: Code::Internal,
        message: what,
    };
    for (key, value) in metadata {
        let key = key.to_ascii_lowercase();
        if RESERVED_HEADERS.contains(&key.as_str()) || key.starts_with(':') {
            continue;
        }
        if key.ends_with("-bin") {
            let key = BinaryMetadataKey::from_bytes(key.as_bytes())
                .map_err(|_| refuse(format!("header key {key:?} contains illegal characters")))?;
            request
                .metadata_mut()
                .insert_bin(key, MetadataValue::from_bytes(value.as_bytes()));
            continue;
        }
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        {
            return Err(refuse(format!(
                "header key {key:?} contains illegal characters"
            )));
        }
        if !value.bytes().all(|b| (0x20..=0x7e).contains(&b)) {
            return Err(refuse(format!(
                "header key {key:?} contains value with non-printable ASCII characters"
            )));
        }
        let name = AsciiMetadataKey::from_bytes(key.as_bytes())
            .map_err(|_| refuse(format!("header key {key:?} contains illegal characters")))?;
        let value = value
            .parse()
            .map_err(|_| refuse(format!("header key {key:?} has an invalid value")))?;
        request.metadata_mut().insert(name, value);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_go() {
        assert_eq!(query_escape("alice"), "alice");
        assert_eq!(query_escape("a@b:c d/é"), "a%40b%3Ac+d%2F%C3%A9");
    }

    #[test]
    fn refuses_non_ascii_metadata() {
        let mut request = Request::new(());
        let bad = HashMap::from([("partitionKey".to_owned(), "é".to_owned())]);
        assert!(matches!(
            add_message_metadata(&mut request, &bad),
            Err(AppAnswer::Grpc {
                code: Code::Internal,
                ..
            })
        ));
        let good = HashMap::from([
            ("partitionKey".to_owned(), "alice".to_owned()),
            ("Content-Type".to_owned(), "x".to_owned()),
        ]);
        assert!(add_message_metadata(&mut request, &good).is_ok());
        assert!(request.metadata().get("partitionkey").is_some());
        assert!(request.metadata().get("content-type").is_none());
    }
}
