//! The double against a fake app, over real gRPC on loopback.

mod app;
mod delivery;
mod escaping;
mod faults;
mod health;
mod job_policies;
mod jobs;
mod limits;
mod publish;
mod redelivery;
mod versions;

use std::collections::HashMap;
use std::time::Duration;

use dapr::dapr::proto::runtime::v1::PublishEventRequest;
use dapr::dapr::proto::runtime::v1::dapr_client::DaprClient;
use dapr_double::{DaprDouble, DaprDoubleConfig};
use tonic::transport::Channel;

use app::{AppOptions, FakeApp};

/// Retry intervals of a few milliseconds.
pub fn fast() -> DaprDoubleConfig {
    DaprDoubleConfig::fast(Duration::from_millis(5))
}

/// A double (with `config`) and a fake app it knows about.
pub async fn start(config: DaprDoubleConfig, options: AppOptions) -> (DaprDouble, FakeApp) {
    let app = FakeApp::start(options).await;
    let double = DaprDouble::start(config).await.expect("start the double");
    double.set_app_addr(app.addr);
    (double, app)
}

/// A Dapr client connected to the double.
pub async fn client(double: &DaprDouble) -> DaprClient<Channel> {
    DaprClient::connect(double.endpoint())
        .await
        .expect("connect to the double")
}

/// A `PublishEventRequest` on `kafka-pubsub`.
pub fn publish_request(
    topic: &str,
    content_type: &str,
    data: Vec<u8>,
    metadata: &[(&str, &str)],
) -> PublishEventRequest {
    PublishEventRequest {
        pubsub_name: "kafka-pubsub".to_owned(),
        topic: topic.to_owned(),
        data,
        data_content_type: content_type.to_owned(),
        metadata: metadata
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<HashMap<_, _>>(),
    }
}

/// A structured CloudEvent as taskflow publishes it: protobuf bytes in `data_base64`.
pub fn task_event(id: &str, bytes: &[u8]) -> Vec<u8> {
    use base64::Engine as _;
    serde_json::json!({
        "specversion": "1.0",
        "id": id,
        "source": "taskflow",
        "type": "task.created",
        "subject": "users/alice/tasks/1",
        "datacontenttype": "application/protobuf",
        "dataschema": "taskflow.v1.Task",
        "data_base64": base64::engine::general_purpose::STANDARD.encode(bytes),
        "partitionkey": "alice",
    })
    .to_string()
    .into_bytes()
}
