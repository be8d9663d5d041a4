//! The one client of the Dapr sidecar, shared by the relay and the reminder scheduler: a
//! deadline on every call, the `dapr-api-token` when configured, and a circuit breaker so a
//! dead sidecar costs nothing per call and is logged once.

mod breaker;

use std::{sync::Arc, time::Duration};

use dapr::dapr::proto::runtime::v1::{self as dapr_pb, dapr_client::DaprClient};
use tonic::{Code, Request, Status, metadata::AsciiMetadataValue, transport::Channel};

use crate::config::DaprConfig;
use crate::error::AppError;
use breaker::Breaker;

/// Why a call to the sidecar did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum SidecarError {
    #[error("the sidecar circuit is open after repeated failures")]
    CircuitOpen,
    #[error("the sidecar answered {}: {}", .0.code(), .0.message())]
    Status(Status),
}

impl SidecarError {
    /// Whether the sidecar lacks the RPC (an older daprd): then the caller falls back to the
    /// older call.
    pub fn is_missing_method(&self) -> bool {
        matches!(self, Self::Status(s) if is_missing_method(s))
    }
}

/// How daprd refuses a request larger than its `max-body-size`: grpc-go's receive limit
/// (`ResourceExhausted`, "grpc: received message larger than max"). A refusal of this one
/// request, not an outage: the caller sends smaller ones.
fn is_too_large(status: &Status) -> bool {
    status.code() == Code::ResourceExhausted
        && status
            .message()
            .contains("received message larger than max")
}

/// How daprd answers an RPC it does not have: grpc-go hands an unknown method of the `Dapr`
/// service to daprd's service-invocation proxy (its `UnknownServiceHandler`), which fails with
/// `Unknown` because the call names no app to invoke (dapr `pkg/api/grpc/server.go`,
/// `pkg/messaging/grpc_proxy.go`). A gateway or a plain gRPC server in front answers
/// `Unimplemented` instead. Neither is an outage.
fn is_missing_method(status: &Status) -> bool {
    match status.code() {
        Code::Unimplemented => true,
        Code::Unknown => {
            status.message().contains("failed to proxy request")
                && status.message().contains("dapr-app-id")
        }
        _ => false,
    }
}

#[derive(Debug, Clone)]
pub struct Sidecar {
    client: DaprClient<Channel>,
    token: Option<AsciiMetadataValue>,
    timeout: Duration,
    breaker: Arc<Breaker>,
}

/// Failures that say the sidecar (or what is behind it) is not working, as opposed to a
/// refusal of this one request.
fn is_outage(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable
            | Code::DeadlineExceeded
            | Code::Unknown
            | Code::Internal
            | Code::ResourceExhausted
    )
}

impl Sidecar {
    /// A client that connects on first use and reconnects by itself. After failures its
    /// circuit stays open at most `longest_pause` before a call probes the sidecar again (the
    /// relay's longest back-off, so publishing resumes as soon as the relay would retry).
    pub fn connect_lazy(
        endpoint: &str,
        config: &DaprConfig,
        longest_pause: Duration,
    ) -> Result<Self, AppError> {
        let timeout = Duration::from_millis(config.dapr_timeout_ms.max(1));
        let channel = Channel::from_shared(endpoint.to_owned())
            .map_err(|e| {
                AppError::FailedPrecondition(format!("invalid Dapr endpoint {endpoint:?}: {e}"))
            })?
            .connect_timeout(timeout)
            .timeout(timeout)
            .tcp_nodelay(true)
            .connect_lazy();
        let token = match &config.dapr_api_token {
            Some(secret) => Some(AsciiMetadataValue::try_from(secret.expose()).map_err(|_| {
                AppError::FailedPrecondition("DAPR_API_TOKEN must be printable ASCII".into())
            })?),
            None => None,
        };
        Ok(Self {
            client: DaprClient::new(channel).max_decoding_message_size(16 * 1024 * 1024),
            token,
            timeout,
            breaker: Arc::new(Breaker::new(
                "dapr-sidecar",
                5,
                Duration::from_millis(500),
                longest_pause,
            )),
        })
    }

    fn request<T>(&self, message: T) -> Request<T> {
        let mut request = Request::new(message);
        request.set_timeout(self.timeout);
        if let Some(token) = &self.token {
            request
                .metadata_mut()
                .insert("dapr-api-token", token.clone());
        }
        request
    }

    /// Runs one call through the circuit breaker.
    async fn call<T, F, Fut>(&self, call: F) -> Result<T, SidecarError>
    where
        F: FnOnce(DaprClient<Channel>) -> Fut,
        Fut: Future<Output = Result<tonic::Response<T>, Status>>,
    {
        if !self.breaker.allow() {
            return Err(SidecarError::CircuitOpen);
        }
        match call(self.client.clone()).await {
            Ok(response) => {
                self.breaker.record_success();
                Ok(response.into_inner())
            }
            Err(status) => {
                if is_outage(status.code()) && !is_missing_method(&status) && !is_too_large(&status)
                {
                    self.breaker.record_failure(status.message());
                } else {
                    self.breaker.record_success();
                }
                Err(SidecarError::Status(status))
            }
        }
    }

    /// The daprd version the sidecar reports (`GetMetadata().runtime_version`).
    pub async fn runtime_version(&self) -> Result<String, SidecarError> {
        let request = self.request(dapr_pb::GetMetadataRequest {});
        self.call(|mut c| async move { c.get_metadata(request).await })
            .await
            .map(|metadata| metadata.runtime_version)
    }

    pub async fn publish_event(
        &self,
        message: dapr_pb::PublishEventRequest,
    ) -> Result<(), SidecarError> {
        let request = self.request(message);
        self.call(|mut c| async move { c.publish_event(request).await })
            .await
    }

    /// Bulk publish through the stable RPC, or the `Alpha1` one on older sidecars.
    pub async fn bulk_publish(
        &self,
        message: dapr_pb::BulkPublishRequest,
        alpha: bool,
    ) -> Result<dapr_pb::BulkPublishResponse, SidecarError> {
        let request = self.request(message);
        if alpha {
            // Deprecated upstream, and still the only bulk call of daprd 1.16.
            #[allow(deprecated)]
            self.call(|mut c| async move { c.bulk_publish_event_alpha1(request).await })
                .await
        } else {
            self.call(|mut c| async move { c.bulk_publish_event(request).await })
                .await
        }
    }

    /// `ScheduleJob`, or `ScheduleJobAlpha1` on sidecars older than 1.18.
    pub async fn schedule_job(
        &self,
        message: dapr_pb::ScheduleJobRequest,
        alpha: bool,
    ) -> Result<(), SidecarError> {
        let request = self.request(message);
        if alpha {
            // Deprecated upstream, and the only Jobs API of daprd 1.16 and 1.17.
            #[allow(deprecated)]
            self.call(|mut c| async move { c.schedule_job_alpha1(request).await })
                .await
                .map(|_| ())
        } else {
            self.call(|mut c| async move { c.schedule_job(request).await })
                .await
                .map(|_| ())
        }
    }

    /// `DeleteJob`, or `DeleteJobAlpha1` on sidecars older than 1.18.
    pub async fn delete_job(
        &self,
        message: dapr_pb::DeleteJobRequest,
        alpha: bool,
    ) -> Result<(), SidecarError> {
        let request = self.request(message);
        if alpha {
            #[allow(deprecated)]
            self.call(|mut c| async move { c.delete_job_alpha1(request).await })
                .await
                .map(|_| ())
        } else {
            self.call(|mut c| async move { c.delete_job(request).await })
                .await
                .map(|_| ())
        }
    }
}

/// The oldest daprd taskflow supports: 1.16.0 and 1.16.1 send no app token on deliveries and
/// job triggers (dapr `pkg/runtime/subscription/postman/grpc/grpc.go` from 1.16.2), so with
/// `APP_API_TOKEN` set every delivery would be refused.
pub const OLDEST_SUPPORTED: (u64, u64, u64) = (1, 16, 2);

/// Whether a reported `runtime_version` (`1.16.2`, `1.17.0-rc.1`, `edge`) is older than
/// [`OLDEST_SUPPORTED`]; `None` when it is no release number.
pub fn is_older_than_supported(version: &str) -> Option<bool> {
    let release = version.trim().trim_start_matches('v');
    let release = release.split(['-', '+']).next()?;
    let mut parts = release.split('.').map(|p| p.parse::<u64>().ok());
    let (major, minor, patch) = (parts.next()??, parts.next()??, parts.next()??);
    Some((major, minor, patch) < OLDEST_SUPPORTED)
}

/// Asks the sidecar for its version once it answers, and says in the log whether taskflow
/// supports it. Gives up quietly when `stop` turns true first.
pub async fn check_version(sidecar: Sidecar, mut stop: tokio::sync::watch::Receiver<bool>) {
    let mut pause = Duration::from_millis(200);
    loop {
        match sidecar.runtime_version().await {
            Ok(version) => {
                match is_older_than_supported(&version) {
                    Some(true) => tracing::error!(
                        daprd = %version,
                        "this daprd is older than 1.16.2, the oldest taskflow supports: it sends \
                         no app token on deliveries, so with APP_API_TOKEN set every event is \
                         refused; upgrade the Dapr control plane"
                    ),
                    Some(false) => tracing::info!(daprd = %version, "the Dapr sidecar's version"),
                    None => {
                        tracing::warn!(daprd = %version, "the Dapr sidecar reports no release version")
                    }
                }
                return;
            }
            Err(err) if err.is_missing_method() => return,
            Err(_) => {}
        }
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = stop.changed() => return,
        }
        pause = (pause * 2).min(Duration::from_secs(30));
    }
}

#[cfg(test)]
mod tests {
    use tonic::{Code, Status};

    #[test]
    fn versions_older_than_1_16_2_are_told_apart() {
        for (version, older) in [
            ("1.16.0", Some(true)),
            ("1.16.1", Some(true)),
            ("1.15.13", Some(true)),
            ("1.16.2", Some(false)),
            ("v1.17.13", Some(false)),
            ("1.18.0-rc.2", Some(false)),
            ("1.16.1+build", Some(true)),
            ("edge", None),
            ("", None),
        ] {
            assert_eq!(super::is_older_than_supported(version), older, "{version}");
        }
    }

    #[test]
    fn daprd_s_answer_for_a_missing_rpc_is_recognised() {
        let daprd = Status::new(
            Code::Unknown,
            "failed to proxy request: required metadata dapr-callee-app-id or dapr-app-id not found",
        );
        assert!(super::is_missing_method(&daprd));
        assert!(super::is_missing_method(&Status::unimplemented("")));
        assert!(!super::is_missing_method(&Status::unknown(
            "broker said no"
        )));
        assert!(!super::is_missing_method(&Status::unavailable("")));
    }
}
