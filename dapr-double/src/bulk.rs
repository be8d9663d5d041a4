//! Bulk delivery: `OnBulkTopicEvent` / `OnBulkTopicEventAlpha1` (`postman/grpc/grpc.go:DeliverBulk`).

use std::collections::HashMap;
use std::time::SystemTime;

use dapr::dapr::proto::runtime::v1::topic_event_bulk_request_entry::Event;
use dapr::dapr::proto::runtime::v1::topic_event_response::TopicEventResponseStatus;
use dapr::dapr::proto::runtime::v1::{
    TopicEventBulkRequest, TopicEventBulkRequestEntry, TopicEventCeRequest,
};
use serde_json::Value;

use crate::DaprDouble;
use crate::delivery::millis;
use crate::envelope::{self, BULK_TYPE};
use crate::error::DoubleError;
use crate::record::BulkDelivery;

impl DaprDouble {
    /// Delivers envelopes as one bulk batch: `AppCallback/OnBulkTopicEvent`, falling back to
    /// `AppCallbackAlpha/OnBulkTopicEventAlpha1` on `Unimplemented`. Entries are numbered from
    /// "0"; each carries a `TopicEventCERequest` whose `data` **ignores `data_base64`** (binary
    /// payloads arrive empty, as with daprd). Non-object envelopes become empty CloudEvents.
    /// `path` is the subscription's default route (CEL rules are not evaluated here). A
    /// call-level error comes back as `DoubleError::App` (daprd drops the batch on
    /// `Unimplemented` and redelivers it on anything else); no dead-lettering is done here.
    pub async fn deliver_bulk(
        &self,
        topic: &str,
        envelopes: &[Value],
    ) -> Result<BulkDelivery, DoubleError> {
        let shared = &self.shared;
        if shared.app.addr().is_none() {
            return Err(DoubleError::NoAppAddr);
        }
        let subscription = shared
            .subscription_for(topic)
            .await
            .ok_or_else(|| DoubleError::NotSubscribed(topic.to_owned()))?;
        let pubsub = shared.config.pubsub_name.clone();
        let partition = shared.broker.partition(None, shared.config.partitions);
        let base_offset = shared
            .broker
            .reserve_offsets(topic, partition, envelopes.len() as u64);
        let now = millis(SystemTime::now());
        let entries: Vec<TopicEventBulkRequestEntry> = envelopes
            .iter()
            .enumerate()
            .map(|(index, envelope)| {
                let event = envelope.as_object().cloned().unwrap_or_default();
                let cloud_event = envelope::bulk_cloud_event(&event)
                    .unwrap_or_else(|_| TopicEventCeRequest::default());
                let metadata = HashMap::from([
                    (
                        "__offset".to_owned(),
                        (base_offset + index as u64).to_string(),
                    ),
                    ("__topic".to_owned(), topic.to_owned()),
                    ("__timestamp".to_owned(), now.to_string()),
                    ("__partition".to_owned(), partition.to_string()),
                    ("pubsubName".to_owned(), pubsub.clone()),
                ]);
                TopicEventBulkRequestEntry {
                    entry_id: index.to_string(),
                    content_type: "application/cloudevents+json".to_owned(),
                    metadata,
                    event: Some(Event::CloudEvent(cloud_event)),
                }
            })
            .collect();
        let ids: Vec<String> = entries.iter().map(|e| e.entry_id.clone()).collect();
        let request = TopicEventBulkRequest {
            id: uuid::Uuid::new_v4().to_string(),
            entries,
            metadata: HashMap::from([("pubsubName".to_owned(), pubsub.clone())]),
            topic: topic.to_owned(),
            pubsub_name: pubsub,
            r#type: BULK_TYPE.to_owned(),
            path: subscription.routes.map(|r| r.default).unwrap_or_default(),
        };
        let (method, response) = shared.call_bulk(request).await.map_err(DoubleError::App)?;
        let statuses = ids
            .into_iter()
            .map(|id| {
                let status = response
                    .statuses
                    .iter()
                    .find(|s| s.entry_id == id)
                    .map_or(TopicEventResponseStatus::Retry as i32, |s| s.status);
                (id, status)
            })
            .collect();
        Ok(BulkDelivery { method, statuses })
    }
}
