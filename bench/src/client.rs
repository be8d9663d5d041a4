//! gRPC clients for the load: a few HTTP/2 connections shared by the callers, and requests
//! that name their user in `x-user-id` (the server runs in development mode).

use std::time::{Duration, SystemTime};

use taskflow::proto::v1 as pb;
use tonic::Request;
use tonic::metadata::MetadataValue;
use tonic::transport::{Channel, Endpoint};

use crate::Error;

pub type Tasks = pb::task_service_client::TaskServiceClient<Channel>;
pub type Notifications = pb::notification_service_client::NotificationServiceClient<Channel>;

/// `count` separate connections to `endpoint`.
pub async fn channels(endpoint: &str, count: usize) -> Result<Vec<Channel>, Error> {
    let mut channels = Vec::with_capacity(count);
    for _ in 0..count.max(1) {
        let channel = Endpoint::from_shared(endpoint.to_owned())?
            .connect_timeout(Duration::from_secs(5))
            .tcp_nodelay(true)
            .connect()
            .await?;
        channels.push(channel);
    }
    Ok(channels)
}

/// One connection per eight callers, as a pool of clients would spread them.
pub async fn task_clients(endpoint: &str, callers: usize) -> Result<Vec<Tasks>, Error> {
    Ok(channels(endpoint, callers.div_ceil(8))
        .await?
        .into_iter()
        .map(Tasks::new)
        .collect())
}

/// `message` as a request from `user`.
pub fn as_user<T>(user: &str, message: T) -> Request<T> {
    let mut request = Request::new(message);
    if let Ok(value) = MetadataValue::try_from(user) {
        request.metadata_mut().insert("x-user-id", value);
    }
    request
}

/// A plain task, as most creates are: a title and a priority, no tags or due time, so one
/// create is one task row and one outbox row.
pub fn create_request(user: &str, n: u64) -> pb::CreateTaskRequest {
    pb::CreateTaskRequest {
        parent: format!("users/{user}"),
        task: Some(pb::Task {
            title: format!("bench task {n}"),
            priority: i32::try_from(n % 5).unwrap_or(0),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

/// A daily task due tomorrow, whose completion creates the next occurrence.
pub fn recurring_request(user: &str, n: u64) -> pb::CreateTaskRequest {
    let due = SystemTime::now() + Duration::from_secs(86_400);
    pb::CreateTaskRequest {
        parent: format!("users/{user}"),
        task: Some(pb::Task {
            title: format!("bench recurring {n}"),
            due_time: Some(prost_types::Timestamp::from(due)),
            time_zone: "UTC".into(),
            recurrence: Some(pb::Recurrence {
                frequency: pb::Frequency::Daily as i32,
                ..Default::default()
            }),
            ..Default::default()
        }),
        request_id: String::new(),
    }
}

/// The filter of the list load's page.
pub const LIST_FILTER: &str = "completed = false AND priority >= HIGH";

/// A first page of 50 of `user`'s tasks that `filter` selects.
pub fn list_request(user: &str, filter: &str) -> pb::ListTasksRequest {
    pb::ListTasksRequest {
        parent: format!("users/{user}"),
        page_size: 50,
        page_token: String::new(),
        filter: filter.into(),
        order_by: String::new(),
        show_deleted: false,
    }
}
