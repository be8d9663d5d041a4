//! Many open `WatchNotifications` streams, one per user, a hundred per connection.

use taskflow::proto::v1 as pb;
use tonic::Streaming;

use crate::Error;
use crate::client::{self, Notifications, as_user};

const STREAMS_PER_CONNECTION: usize = 100;

/// Opens `count` streams and returns them (they stay open while held).
pub async fn open(endpoint: &str, count: usize) -> Result<Vec<Streaming<pb::Notification>>, Error> {
    let channels = client::channels(endpoint, count.div_ceil(STREAMS_PER_CONNECTION)).await?;
    let mut openers = Vec::new();
    for (c, channel) in channels.into_iter().enumerate() {
        let first = c * STREAMS_PER_CONNECTION;
        let last = (first + STREAMS_PER_CONNECTION).min(count);
        openers.push(tokio::spawn(async move {
            let mut client = Notifications::new(channel);
            let mut streams = Vec::with_capacity(last - first);
            for i in first..last {
                let user = format!("w{i}");
                let request = pb::WatchNotificationsRequest {
                    parent: format!("users/{user}"),
                    since: None,
                };
                streams.push(
                    client
                        .watch_notifications(as_user(&user, request))
                        .await?
                        .into_inner(),
                );
            }
            Ok::<_, tonic::Status>(streams)
        }));
    }
    let mut streams = Vec::with_capacity(count);
    for opener in openers {
        streams.extend(opener.await??);
    }
    Ok(streams)
}
