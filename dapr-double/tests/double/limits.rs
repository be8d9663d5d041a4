//! daprd's `max-body-size`: a larger request message is refused as grpc-go refuses it.

use dapr::dapr::proto::runtime::v1::{
    BulkPublishRequest, BulkPublishRequestEntry, PublishEventRequest,
};
use dapr_double::DaprDoubleConfig;
use prost::Message as _;
use tonic::Code;
use tonic::metadata::MetadataValue;

use crate::app::AppOptions;
use crate::{client, fast, publish_request, start};

/// A text publish whose encoded request is exactly `size` bytes long.
fn publish_of_size(size: usize) -> PublishEventRequest {
    let mut request = publish_request("tasks", "text/plain", Vec::new(), &[]);
    let mut data_len = size.saturating_sub(request.encoded_len());
    loop {
        request.data = vec![b'x'; data_len];
        match request.encoded_len() {
            len if len == size => return request,
            len if len > size => data_len -= 1,
            _ => data_len += 1,
        }
    }
}

#[tokio::test]
async fn a_request_over_the_default_4_mib_is_resource_exhausted() {
    let config = DaprDoubleConfig::default();
    assert_eq!(config.max_body_size, 4 * 1024 * 1024);
    let (double, _app) = start(config, AppOptions::default()).await;
    let mut client = client(&double).await;

    let request = publish_of_size(4 * 1024 * 1024 + 1);
    let status = client.publish_event(request).await.expect_err("too large");
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(
        status.message(),
        "grpc: received message larger than max (4194305 vs. 4194304)"
    );
    client
        .publish_event(publish_of_size(4 * 1024 * 1024))
        .await
        .expect("exactly the limit passes");
    assert_eq!(double.published().len(), 1);
}

#[tokio::test]
async fn the_limit_applies_to_every_call_and_before_the_token_check() {
    let config = DaprDoubleConfig {
        max_body_size: 1000,
        dapr_api_token: Some("dapr-secret".to_owned()),
        ..fast()
    };
    let (double, _app) = start(config, AppOptions::default()).await;
    let mut client = client(&double).await;

    // grpc-go receives the message before the interceptors run, so an oversized call without
    // the token is refused for its size.
    let status = client
        .publish_event(publish_of_size(1001))
        .await
        .expect_err("too large");
    assert_eq!(
        (status.code(), status.message()),
        (
            Code::ResourceExhausted,
            "grpc: received message larger than max (1001 vs. 1000)"
        )
    );
    let status = client
        .publish_event(publish_of_size(1000))
        .await
        .expect_err("no token");
    assert_eq!(status.code(), Code::Unauthenticated);

    let bulk = BulkPublishRequest {
        pubsub_name: "kafka-pubsub".to_owned(),
        topic: "tasks".to_owned(),
        entries: (0..20)
            .map(|i| BulkPublishRequestEntry {
                entry_id: i.to_string(),
                event: vec![b'x'; 60],
                content_type: "text/plain".to_owned(),
                metadata: Default::default(),
            })
            .collect(),
        metadata: Default::default(),
    };
    let size = bulk.encoded_len();
    assert!(size > 1000);
    let mut request = tonic::Request::new(bulk);
    request
        .metadata_mut()
        .insert("dapr-api-token", MetadataValue::from_static("dapr-secret"));
    let status = client
        .bulk_publish_event(request)
        .await
        .expect_err("too large");
    assert_eq!(
        (status.code(), status.message().to_owned()),
        (
            Code::ResourceExhausted,
            format!("grpc: received message larger than max ({size} vs. 1000)")
        )
    );
    assert!(double.published().is_empty());
}
