//! The daprd release lines the double can behave as, and what differs between them: which
//! `Dapr` RPCs exist, whether callbacks carry the app token, and which callback RPCs daprd calls.

use std::fmt;

/// A daprd release line, with the patch-level differences that matter to an app.
///
/// Pick one with [`DaprDoubleConfig::version`](crate::DaprDoubleConfig::version) or
/// [`DaprDoubleConfig::with_version`](crate::DaprDoubleConfig::with_version); the default is
/// [`DaprVersion::V1_18`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum DaprVersion {
    /// daprd 1.16.0 and 1.16.1: as [`V1_16`](Self::V1_16), but deliveries, bulk deliveries and
    /// job callbacks carry no `dapr-api-token` (`pkg/runtime/subscription/postman/grpc/grpc.go`
    /// and `pkg/channel/grpc/grpc_channel.go` at v1.16.1 never add the app token).
    V1_16_0,
    /// daprd 1.16.2 and later 1.16 patches (reference: v1.16.19).
    V1_16,
    /// daprd 1.17 (reference: v1.17.13).
    V1_17,
    /// daprd 1.18 (reference: v1.18.3).
    #[default]
    V1_18,
}

/// The `dapr.proto.runtime.v1.Dapr` methods of daprd 1.16 (`pkg/proto/runtime/v1/dapr_grpc.pb.go`
/// at v1.16.0 and v1.16.19 list the same 60 methods).
const METHODS_1_16: [&str; 60] = [
    "BulkPublishEventAlpha1",
    "ConverseAlpha1",
    "ConverseAlpha2",
    "DecryptAlpha1",
    "DeleteBulkState",
    "DeleteJobAlpha1",
    "DeleteState",
    "EncryptAlpha1",
    "ExecuteActorStateTransaction",
    "ExecuteStateTransaction",
    "GetActorState",
    "GetBulkSecret",
    "GetBulkState",
    "GetConfiguration",
    "GetConfigurationAlpha1",
    "GetJobAlpha1",
    "GetMetadata",
    "GetSecret",
    "GetState",
    "GetWorkflowAlpha1",
    "GetWorkflowBeta1",
    "InvokeActor",
    "InvokeBinding",
    "InvokeService",
    "PauseWorkflowAlpha1",
    "PauseWorkflowBeta1",
    "PublishEvent",
    "PurgeWorkflowAlpha1",
    "PurgeWorkflowBeta1",
    "QueryStateAlpha1",
    "RaiseEventWorkflowAlpha1",
    "RaiseEventWorkflowBeta1",
    "RegisterActorReminder",
    "RegisterActorTimer",
    "ResumeWorkflowAlpha1",
    "ResumeWorkflowBeta1",
    "SaveState",
    "ScheduleJobAlpha1",
    "SetMetadata",
    "Shutdown",
    "StartWorkflowAlpha1",
    "StartWorkflowBeta1",
    "SubscribeConfiguration",
    "SubscribeConfigurationAlpha1",
    "SubscribeTopicEventsAlpha1",
    "SubtleDecryptAlpha1",
    "SubtleEncryptAlpha1",
    "SubtleGetKeyAlpha1",
    "SubtleSignAlpha1",
    "SubtleUnwrapKeyAlpha1",
    "SubtleVerifyAlpha1",
    "SubtleWrapKeyAlpha1",
    "TerminateWorkflowAlpha1",
    "TerminateWorkflowBeta1",
    "TryLockAlpha1",
    "UnlockAlpha1",
    "UnregisterActorReminder",
    "UnregisterActorTimer",
    "UnsubscribeConfiguration",
    "UnsubscribeConfigurationAlpha1",
];

/// Methods daprd 1.17 adds (`dapr_grpc.pb.go` at v1.17.13): the stable bulk publish, and more
/// Alpha1 job and actor reminder calls.
const METHODS_ADDED_1_17: [&str; 6] = [
    "BulkPublishEvent",
    "DeleteJobsByPrefixAlpha1",
    "GetActorReminder",
    "ListActorReminders",
    "ListJobsAlpha1",
    "UnregisterActorRemindersByType",
];

/// Methods daprd 1.18 adds (`dapr_grpc.pb.go` at v1.18.3): the stable Jobs API.
const METHODS_ADDED_1_18: [&str; 6] = [
    "DeleteJob",
    "DeleteJobsByPrefix",
    "GetJob",
    "ListJobs",
    "ScheduleJob",
    "SubscribeActorEventsAlpha1",
];

impl DaprVersion {
    /// Every supported line, oldest first (for running one scenario on each).
    pub const ALL: [DaprVersion; 4] = [Self::V1_16_0, Self::V1_16, Self::V1_17, Self::V1_18];

    /// The profile for a daprd version as people write it: a line (`1.17`, `v1.18`) or a
    /// release (`1.16.1`, `1.17.13`). `None` for a version outside the supported lines.
    pub fn parse(version: &str) -> Option<Self> {
        let version = version.trim().trim_start_matches('v');
        // A pre-release or build suffix (`-rc.1`, `+meta`) belongs to its release.
        let release = version.split(['-', '+']).next()?;
        let mut parts = release.split('.');
        let (major, minor) = (parts.next()?, parts.next()?);
        let patch: Option<u32> = match parts.next() {
            Some(patch) => Some(patch.parse().ok()?),
            None => None,
        };
        if parts.next().is_some() || major != "1" {
            return None;
        }
        match (minor, patch) {
            ("16", Some(0 | 1)) => Some(Self::V1_16_0),
            ("16", _) => Some(Self::V1_16),
            ("17", _) => Some(Self::V1_17),
            ("18", _) => Some(Self::V1_18),
            _ => None,
        }
    }

    /// What `GetMetadata` reports as `runtime_version` (daprd's `buildinfo.Version()`, the
    /// release version without the `v`): the last 1.16 patch without the app token on
    /// callbacks, the first with it, and the reference tags of 1.17 and 1.18.
    pub fn runtime_version(self) -> &'static str {
        match self {
            Self::V1_16_0 => "1.16.1",
            Self::V1_16 => "1.16.2",
            Self::V1_17 => "1.17.13",
            Self::V1_18 => "1.18.3",
        }
    }

    /// Whether this daprd serves `method` of `dapr.proto.runtime.v1.Dapr`
    /// (`pkg/proto/runtime/v1/dapr_grpc.pb.go` at the line's tag). Any other method goes to
    /// daprd's service-invocation proxy, which refuses it with `Unknown`.
    pub fn has_method(self, method: &str) -> bool {
        METHODS_1_16.contains(&method)
            || (self >= Self::V1_17 && METHODS_ADDED_1_17.contains(&method))
            || (self >= Self::V1_18 && METHODS_ADDED_1_18.contains(&method))
    }

    /// daprd adds `dapr-api-token` (its `APP_API_TOKEN`) to `OnTopicEvent`, bulk deliveries and
    /// job callbacks only from 1.16.2 (`postman/grpc/grpc.go` `Deliver`/`DeliverBulk` and
    /// `grpc_channel.go` `sendJob` call `AddAppTokenToContext` from v1.16.2 on).
    pub(crate) fn sends_app_token_on_callbacks(self) -> bool {
        self >= Self::V1_16
    }

    /// daprd 1.18 calls `AppCallback/OnJobEvent` first and falls back to
    /// `AppCallbackAlpha/OnJobEventAlpha1` on `Unimplemented`; 1.16 and 1.17 call only the
    /// Alpha1 RPC (`pkg/channel/grpc/grpc_channel.go` `sendJob` per tag).
    pub(crate) fn calls_stable_job_event(self) -> bool {
        self >= Self::V1_18
    }

    /// daprd 1.17+ calls `AppCallback/OnBulkTopicEvent` first and falls back to
    /// `AppCallbackAlpha/OnBulkTopicEventAlpha1` on `Unimplemented`; 1.16 calls only the Alpha1
    /// RPC (`pkg/runtime/subscription/postman/grpc/grpc.go` `DeliverBulk` per tag).
    pub(crate) fn calls_stable_bulk_event(self) -> bool {
        self >= Self::V1_17
    }
}

impl fmt::Display for DaprVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.runtime_version())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_to_their_line() {
        assert_eq!(DaprVersion::parse("1.16.0"), Some(DaprVersion::V1_16_0));
        assert_eq!(DaprVersion::parse("v1.16.1"), Some(DaprVersion::V1_16_0));
        assert_eq!(DaprVersion::parse("1.16.2"), Some(DaprVersion::V1_16));
        assert_eq!(DaprVersion::parse("1.16"), Some(DaprVersion::V1_16));
        assert_eq!(DaprVersion::parse("1.17.13"), Some(DaprVersion::V1_17));
        assert_eq!(DaprVersion::parse("1.18.0-rc.1"), Some(DaprVersion::V1_18));
        assert_eq!(DaprVersion::parse("1.18"), Some(DaprVersion::V1_18));
        for unsupported in ["1.15.9", "2.0", "1", "", "1.17.x", "1.17.1.2"] {
            assert_eq!(DaprVersion::parse(unsupported), None, "{unsupported}");
        }
        for version in DaprVersion::ALL {
            assert_eq!(DaprVersion::parse(version.runtime_version()), Some(version));
        }
    }

    #[test]
    fn methods_per_line() {
        for version in DaprVersion::ALL {
            assert!(version.has_method("PublishEvent"));
            assert!(version.has_method("BulkPublishEventAlpha1"));
            assert!(version.has_method("ScheduleJobAlpha1"));
            assert!(version.has_method("GetMetadata"));
            assert!(!version.has_method("NoSuchMethod"));
            // In the crate's protos but in no daprd line of these.
            assert!(!version.has_method("UpsertVectorsAlpha1"));
        }
        assert!(!DaprVersion::V1_16.has_method("BulkPublishEvent"));
        assert!(DaprVersion::V1_17.has_method("BulkPublishEvent"));
        assert!(!DaprVersion::V1_17.has_method("ScheduleJob"));
        assert!(!DaprVersion::V1_17.has_method("DeleteJob"));
        assert!(DaprVersion::V1_18.has_method("ScheduleJob"));
        assert!(DaprVersion::V1_18.has_method("DeleteJob"));
        assert_eq!(DaprVersion::default(), DaprVersion::V1_18);
    }
}
