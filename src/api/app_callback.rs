//! Dapr's `AppCallback`, `AppCallbackAlpha` and `AppCallbackHealthCheck`, served on their own
//! port for the sidecar: topic subscriptions and deliveries (answered SUCCESS, RETRY or DROP
//! on purpose), and clear refusals for what taskflow does not offer.

use std::sync::Arc;

use dapr::dapr::proto::common::v1::{InvokeRequest, InvokeResponse};
use dapr::dapr::proto::runtime::v1::{
    self as dapr_pb, app_callback_alpha_server::AppCallbackAlpha,
    app_callback_health_check_server::AppCallbackHealthCheck, app_callback_server::AppCallback,
    topic_event_bulk_request_entry::Event as BulkEvent,
    topic_event_response::TopicEventResponseStatus,
};
use tonic::{Request, Response, Status, metadata::MetadataMap};

use prost::Message;

use crate::config::Secret;
use crate::convert::timestamp_in;
use crate::domain::TaskName;
use crate::error::{AppError, excerpt};
use crate::inbox::{DropReason, IncomingEvent, Rejection, Subscriber, Verdict};
use crate::proto::events::v1 as ev;
use crate::reminders::Fired;
use crate::reminders::Trigger;
use crate::reminders::scheduler::{JOB_DATA_TYPE, job_name};

/// The callback service; one `Arc` serves all three gRPC services.
#[derive(Debug)]
pub struct AppCallbackApi {
    subscriber: Arc<Subscriber>,
    app_token: Option<Secret>,
}

impl AppCallbackApi {
    pub fn new(subscriber: Arc<Subscriber>, app_token: Option<Secret>) -> Self {
        Self {
            subscriber,
            app_token,
        }
    }

    /// With `APP_API_TOKEN` set, a callback must carry it as `dapr-api-token`.
    fn authorize(&self, metadata: &MetadataMap) -> Result<(), Status> {
        let Some(expected) = &self.app_token else {
            return Ok(());
        };
        let given = metadata
            .get("dapr-api-token")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if constant_time_eq(given.as_bytes(), expected.expose().as_bytes()) {
            Ok(())
        } else {
            Err(AppError::Unauthenticated("missing or wrong dapr-api-token".into()).into())
        }
    }

    fn subscriptions(&self) -> dapr_pb::ListTopicSubscriptionsResponse {
        let subscriptions = self.subscriber.subscriptions();
        dapr_pb::ListTopicSubscriptionsResponse {
            subscriptions: subscriptions
                .all()
                .iter()
                .map(|s| dapr_pb::TopicSubscription {
                    pubsub_name: subscriptions.pubsub_name.clone(),
                    topic: s.topic.clone(),
                    dead_letter_topic: s.dead_letter_topic.clone().unwrap_or_default(),
                    ..Default::default()
                })
                .collect(),
        }
    }

    async fn bulk(
        &self,
        request: Request<dapr_pb::TopicEventBulkRequest>,
    ) -> Result<Response<dapr_pb::TopicEventBulkResponse>, Status> {
        self.authorize(request.metadata())?;
        let bulk = request.into_inner();
        let mut statuses = Vec::with_capacity(bulk.entries.len());
        for entry in bulk.entries {
            let verdict = match entry.event {
                Some(BulkEvent::CloudEvent(ce)) => {
                    let event = IncomingEvent {
                        id: ce.id,
                        event_type: ce.r#type,
                        topic: bulk.topic.clone(),
                        data_content_type: ce.data_content_type,
                        partition_key: key_of(&entry.metadata),
                        traceparent: extension(ce.extensions.as_ref(), "traceparent"),
                        subject: extension(ce.extensions.as_ref(), "subject"),
                        attributes: attributes(
                            [("source", &ce.source), ("specversion", &ce.spec_version)],
                            ce.extensions.as_ref(),
                        ),
                        data: ce.data,
                    };
                    self.subscriber.handle(&event).await
                }
                Some(BulkEvent::Bytes(_)) => self.subscriber.refuse(Rejection::new(
                    DropReason::UnsupportedContentType,
                    "raw payloads are not supported",
                )),
                None => self.subscriber.refuse(Rejection::new(
                    DropReason::MissingField,
                    "the entry carries no event",
                )),
            };
            statuses.push(dapr_pb::TopicEventBulkResponseEntry {
                entry_id: entry.entry_id,
                status: status_of(&verdict) as i32,
            });
        }
        Ok(Response::new(dapr_pb::TopicEventBulkResponse { statuses }))
    }
}

impl AppCallbackApi {
    /// A reminder job's trigger. `NotFound` tells the scheduler the job is done for good (its
    /// task is gone, or it is no job of ours); `Unavailable` makes it retry.
    async fn job(&self, job: dapr_pb::JobEventRequest) -> Result<(), Status> {
        let gone = |why: &str| {
            tracing::warn!(job = %job.name, why, "job trigger ignored");
            Status::not_found(format!("job {}: {why}", excerpt(&job.name)))
        };
        let data = job
            .data
            .as_ref()
            .ok_or_else(|| gone("it carries no data"))?;
        if data.type_url != JOB_DATA_TYPE {
            return Err(gone("it is not a taskflow reminder"));
        }
        let scheduled = ev::ReminderScheduled::decode(data.value.as_slice())
            .map_err(|_| gone("its data is not a ReminderScheduled message"))?;
        let name = TaskName::parse(&scheduled.task).map_err(|_| gone("it names no task"))?;
        if job_name(&name, &scheduled.reminder_id) != job.name {
            return Err(gone("its name does not match its task"));
        }
        let time = |t: &Option<prost_types::Timestamp>| {
            t.as_ref()
                .and_then(|t| timestamp_in(t).ok())
                .ok_or_else(|| gone("its times are missing"))
        };
        let fire_at = time(&scheduled.fire_time)?;
        let due_at = match &scheduled.due_time {
            Some(_) => Some(time(&scheduled.due_time)?),
            None => None,
        };
        let trigger = Trigger {
            task: name.clone(),
            reminder: scheduled.reminder_id.clone(),
            due_at,
            fire_at,
        };
        match self.subscriber.reminders().fire_trigger(trigger).await {
            Ok(Fired::TaskGone) => Err(Status::not_found(format!("task {name} no longer exists"))),
            Ok(_) => Ok(()),
            Err(err) => Err(Status::from(err)),
        }
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The message key of a delivery: `partitionkey` (our own metadata, lowercased by daprd)
/// or Kafka's `__key`, percent-decoded (see [`unescape_key`]).
fn key_of<'a>(
    metadata: impl IntoIterator<Item = (&'a String, &'a String)> + Copy,
) -> Option<String> {
    let find = |wanted: &str| {
        metadata
            .into_iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(wanted))
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    find("partitionkey")
        .or_else(|| find("__key"))
        .map(unescape_key)
}

fn key_from_grpc(metadata: &MetadataMap) -> Option<String> {
    ["partitionkey", "__key"].into_iter().find_map(|k| {
        metadata
            .get(k)
            .and_then(|v| v.to_str().ok())
            .filter(|v| !v.is_empty())
            .map(unescape_key)
    })
}

/// A message key as the app knows it. With `escapeHeaders: "true"` the Kafka component
/// applies Go's `url.QueryEscape` to the key and every header before daprd forwards them
/// (components-contrib `common/component/kafka/consumer.go`, `GetEventMetadata`), so user
/// `alice@example.com` arrives as `alice%40example.com`. This undoes it by Go's
/// `QueryUnescape` rules (`+` is a space, `%XX` a byte). A user id never holds `%` or `+`, so
/// an unescaped key passes unchanged; one that does not decode is kept as it came (and then
/// names no user, which the checks report).
fn unescape_key(raw: &str) -> String {
    if !raw.contains(['%', '+']) {
        return raw.to_owned();
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(byte) = hex else {
                    return raw.to_owned();
                };
                out.push(byte);
                i += 2;
            }
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap_or_else(|_| raw.to_owned())
}

/// A string attribute of a delivered CloudEvent's extensions.
fn extension(extensions: Option<&prost_types::Struct>, name: &str) -> Option<String> {
    match extensions?.fields.get(name)?.kind.as_ref()? {
        prost_types::value::Kind::StringValue(value) if !value.is_empty() => Some(value.clone()),
        _ => None,
    }
}

/// The delivered CloudEvent's string attributes: the named fields, then every string extension
/// (each value cut to 500 characters; at most 64 of them).
fn attributes<'a>(
    fields: impl IntoIterator<Item = (&'static str, &'a String)>,
    extensions: Option<&prost_types::Struct>,
) -> Vec<(String, String)> {
    let cut = |value: &str| value.chars().take(500).collect::<String>();
    let mut out: Vec<(String, String)> = fields
        .into_iter()
        .filter(|(_, value)| !value.is_empty())
        .map(|(name, value)| (name.to_owned(), cut(value)))
        .collect();
    if let Some(extensions) = extensions {
        for (name, value) in &extensions.fields {
            if let Some(prost_types::value::Kind::StringValue(value)) = &value.kind
                && out.len() < 64
                && !out.iter().any(|(key, _)| key == name)
            {
                out.push((name.chars().take(100).collect(), cut(value)));
            }
        }
    }
    out
}

fn status_of(verdict: &Verdict) -> TopicEventResponseStatus {
    match verdict {
        Verdict::Success => TopicEventResponseStatus::Success,
        Verdict::Retry(_) => TopicEventResponseStatus::Retry,
        Verdict::Drop(_) => TopicEventResponseStatus::Drop,
    }
}

#[tonic::async_trait]
impl AppCallback for AppCallbackApi {
    async fn on_invoke(
        &self,
        request: Request<InvokeRequest>,
    ) -> Result<Response<InvokeResponse>, Status> {
        self.authorize(request.metadata())?;
        Err(Status::unimplemented(format!(
            "taskflow offers no service invocation (method {}); use the TaskService API",
            excerpt(&request.get_ref().method)
        )))
    }

    async fn list_topic_subscriptions(
        &self,
        _: Request<()>,
    ) -> Result<Response<dapr_pb::ListTopicSubscriptionsResponse>, Status> {
        Ok(Response::new(self.subscriptions()))
    }

    async fn on_topic_event(
        &self,
        request: Request<dapr_pb::TopicEventRequest>,
    ) -> Result<Response<dapr_pb::TopicEventResponse>, Status> {
        self.authorize(request.metadata())?;
        let partition_key = key_from_grpc(request.metadata());
        let header_trace = request
            .metadata()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let req = request.into_inner();
        let event = IncomingEvent {
            traceparent: extension(req.extensions.as_ref(), "traceparent").or(header_trace),
            subject: extension(req.extensions.as_ref(), "subject"),
            attributes: attributes(
                [
                    ("source", &req.source),
                    ("specversion", &req.spec_version),
                    ("pubsubname", &req.pubsub_name),
                ],
                req.extensions.as_ref(),
            ),
            id: req.id,
            event_type: req.r#type,
            topic: req.topic,
            data_content_type: req.data_content_type,
            data: req.data,
            partition_key,
        };
        let verdict = self.subscriber.handle(&event).await;
        Ok(Response::new(dapr_pb::TopicEventResponse {
            status: status_of(&verdict) as i32,
        }))
    }

    async fn list_input_bindings(
        &self,
        _: Request<()>,
    ) -> Result<Response<dapr_pb::ListInputBindingsResponse>, Status> {
        Ok(Response::new(dapr_pb::ListInputBindingsResponse::default()))
    }

    async fn on_binding_event(
        &self,
        request: Request<dapr_pb::BindingEventRequest>,
    ) -> Result<Response<dapr_pb::BindingEventResponse>, Status> {
        self.authorize(request.metadata())?;
        Err(Status::unimplemented(format!(
            "taskflow declares no input bindings (got {})",
            excerpt(&request.get_ref().name)
        )))
    }

    async fn on_bulk_topic_event(
        &self,
        request: Request<dapr_pb::TopicEventBulkRequest>,
    ) -> Result<Response<dapr_pb::TopicEventBulkResponse>, Status> {
        self.bulk(request).await
    }

    async fn on_job_event(
        &self,
        request: Request<dapr_pb::JobEventRequest>,
    ) -> Result<Response<dapr_pb::JobEventResponse>, Status> {
        self.authorize(request.metadata())?;
        self.job(request.into_inner()).await?;
        Ok(Response::new(dapr_pb::JobEventResponse {}))
    }
}

#[tonic::async_trait]
impl AppCallbackAlpha for AppCallbackApi {
    async fn on_bulk_topic_event_alpha1(
        &self,
        request: Request<dapr_pb::TopicEventBulkRequest>,
    ) -> Result<Response<dapr_pb::TopicEventBulkResponse>, Status> {
        self.bulk(request).await
    }

    async fn on_job_event_alpha1(
        &self,
        request: Request<dapr_pb::JobEventRequest>,
    ) -> Result<Response<dapr_pb::JobEventResponse>, Status> {
        AppCallback::on_job_event(self, request).await
    }
}

#[tonic::async_trait]
impl AppCallbackHealthCheck for AppCallbackApi {
    /// daprd's app health probe (`dapr.io/enable-app-health-check`): failing while the database
    /// is unreachable makes daprd pause the app's subscriptions instead of delivering into the
    /// outage (and retrying each event towards the dead-letter topic); it resumes them when the
    /// check passes again.
    async fn health_check(
        &self,
        _: Request<()>,
    ) -> Result<Response<dapr_pb::HealthCheckResponse>, Status> {
        if self.subscriber.ready().await {
            Ok(Response::new(dapr_pb::HealthCheckResponse {}))
        } else {
            Err(Status::unavailable("the database is unreachable"))
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    #[test]
    fn keys_are_unescaped_as_go_s_query_unescape_does() {
        for (raw, key) in [
            ("alice", "alice"),
            ("alice%40example.com", "alice@example.com"),
            ("urn%3Aalice%3A1", "urn:alice:1"),
            ("a%2Bb+c", "a+b c"),
            ("caf%C3%A9", "café"),
            ("100%", "100%"),
            ("bad%zz", "bad%zz"),
            ("%+1", "%+1"),
            ("%FF", "%FF"),
        ] {
            assert_eq!(super::unescape_key(raw), key, "{raw}");
        }
    }

    #[test]
    fn keys_come_from_partitionkey_or_kafka_key() {
        let meta = HashMap::from([("__key".to_owned(), "bob".to_owned())]);
        assert_eq!(super::key_of(&meta), Some("bob".into()));
        let meta = HashMap::from([
            ("partitionKey".to_owned(), "alice".to_owned()),
            ("__key".to_owned(), "bob".to_owned()),
        ]);
        assert_eq!(super::key_of(&meta), Some("alice".into()));
        let escaped = HashMap::from([("__key".to_owned(), "alice%40example.com".to_owned())]);
        assert_eq!(super::key_of(&escaped), Some("alice@example.com".into()));
        assert!(super::constant_time_eq(b"abc", b"abc"));
        assert!(!super::constant_time_eq(b"abc", b"abd"));
        assert!(!super::constant_time_eq(b"abc", b"ab"));
    }
}
