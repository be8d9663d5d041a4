//! `ListTopicSubscriptions`: asked once per start (`processor/subscriber/subscriber.go`,
//! `pubsub/subscriptions.go:GetSubscriptionsGRPC`) and cached.

use std::time::Duration;

use dapr::dapr::proto::runtime::v1::TopicSubscription;
use tonic::Code;

use crate::DaprDouble;
use crate::double::Shared;
use crate::error::DoubleError;

impl Shared {
    /// The app's subscriptions, asked once (with daprd's start-up retries) and then cached,
    /// errors included, until the next `restart`. `Unimplemented` means none. Like daprd's
    /// `blockUntilAppIsReady`, it first waits until the app's port accepts a TCP connection.
    pub(crate) async fn cached_subscriptions(&self) -> Vec<TopicSubscription> {
        let mut cache = self.delivery.subscriptions.lock().await;
        if let Some(subscriptions) = cache.as_ref() {
            return subscriptions.clone();
        }
        self.wait_app_listening().await;
        let policy = self.config.init_retry;
        let mut retry = 0;
        let subscriptions = loop {
            match self.call_list_subscriptions().await {
                Ok(response) => break response.subscriptions,
                Err(status) if status.code() == Code::Unimplemented => break Vec::new(),
                Err(status) if retry < policy.max_retries => {
                    tracing::debug!(%status, "dapr double: ListTopicSubscriptions failed, retrying");
                    tokio::time::sleep(policy.backoff(retry)).await;
                    retry += 1;
                }
                Err(status) => {
                    tracing::warn!(%status, "dapr double: ListTopicSubscriptions failed; no subscriptions until restart");
                    break Vec::new();
                }
            }
        };
        *cache = Some(subscriptions.clone());
        subscriptions
    }

    /// daprd dials the app port every 100 ms until it connects.
    async fn wait_app_listening(&self) {
        loop {
            let addr = self.app.wait_addr().await;
            let dial = tokio::time::timeout(
                Duration::from_millis(500),
                tokio::net::TcpStream::connect(addr),
            );
            if let Ok(Ok(_)) = dial.await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub(crate) async fn subscription_for(&self, topic: &str) -> Option<TopicSubscription> {
        self.cached_subscriptions()
            .await
            .into_iter()
            .find(|s| s.pubsub_name == self.config.pubsub_name && s.topic == topic)
    }
}

impl DaprDouble {
    /// The app's subscriptions: `ListTopicSubscriptions` is called once (with daprd's start-up
    /// retries) and the answer is cached until `restart`, even if it was an error or empty —
    /// daprd never asks again (dapr/dapr#9034). `Unimplemented` means no subscriptions. The
    /// first call waits until the app's port accepts connections (wrap it in a timeout if the
    /// app may never listen).
    pub async fn subscriptions(&self) -> Result<Vec<TopicSubscription>, DoubleError> {
        if self.shared.app.addr().is_none() {
            return Err(DoubleError::NoAppAddr);
        }
        Ok(self.shared.cached_subscriptions().await)
    }
}
