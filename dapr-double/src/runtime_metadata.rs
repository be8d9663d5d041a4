//! `GetMetadata`, as daprd's `pkg/api/universal/metadata.go` answers it: the app id, the
//! runtime version (also under the deprecated extended key `daprRuntimeVersion`), the loaded
//! pubsub component and the subscriptions daprd has loaded.

use std::collections::HashMap;
use std::sync::Arc;

use dapr::dapr::proto::runtime::v1::{
    AppConnectionProperties, GetMetadataRequest, GetMetadataResponse, PubsubSubscription,
    PubsubSubscriptionRule, PubsubSubscriptionRules, PubsubSubscriptionType, RegisteredComponents,
};
use tonic::{Request, Response, Status};

use crate::double::Shared;

/// The deprecated extended-metadata key daprd still fills with its version
/// (`daprRuntimeVersionKey` in `pkg/api/universal/metadata.go`).
const RUNTIME_VERSION_KEY: &str = "daprRuntimeVersion";

/// `GetMetadata`.
pub(crate) async fn get_metadata(
    shared: Arc<Shared>,
    _request: Request<GetMetadataRequest>,
) -> Result<Response<GetMetadataResponse>, Status> {
    let version = shared.config.version.runtime_version().to_owned();
    // Only what daprd has loaded: the app's subscriptions once `ListTopicSubscriptions` was
    // answered (`compStore.ListTypedSubscriptions`).
    let subscriptions = shared
        .delivery
        .subscriptions
        .lock()
        .await
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|s| PubsubSubscription {
            pubsub_name: s.pubsub_name,
            topic: s.topic,
            metadata: s.metadata,
            rules: s.routes.map(|routes| PubsubSubscriptionRules {
                rules: routes
                    .rules
                    .into_iter()
                    .map(|rule| PubsubSubscriptionRule {
                        r#match: rule.r#match,
                        path: rule.path,
                    })
                    .chain(
                        (!routes.default.is_empty()).then(|| PubsubSubscriptionRule {
                            r#match: String::new(),
                            path: routes.default,
                        }),
                    )
                    .collect(),
            }),
            dead_letter_topic: s.dead_letter_topic,
            r#type: PubsubSubscriptionType::Programmatic as i32,
        })
        .collect();
    let app_connection_properties = shared.app.addr().map(|addr| AppConnectionProperties {
        port: i32::from(addr.port()),
        protocol: "grpc".to_owned(),
        channel_address: addr.ip().to_string(),
        max_concurrency: 0,
        health: None,
    });
    Ok(Response::new(GetMetadataResponse {
        id: shared.config.app_id.clone(),
        extended_metadata: HashMap::from([(RUNTIME_VERSION_KEY.to_owned(), version.clone())]),
        registered_components: vec![RegisteredComponents {
            name: shared.config.pubsub_name.clone(),
            r#type: "pubsub.kafka".to_owned(),
            version: "v1".to_owned(),
            // The Kafka pubsub's `Features()` (`contrib:pubsub/kafka/kafka.go`), as strings
            // (`contrib:pubsub/feature.go`).
            capabilities: vec!["BULK_PUBSUB".to_owned()],
        }],
        subscriptions,
        app_connection_properties,
        runtime_version: version,
        ..Default::default()
    }))
}
