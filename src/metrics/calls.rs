//! The labels of a gRPC call (its method, a served one or `other`; its status as gRPC spells
//! it) and where a finished call is counted.

use std::collections::HashSet;
use std::sync::LazyLock;

use prost::Message;

use super::{MethodLabels, RpcLabels, metrics};

/// The method label of calls to anything the API port does not serve.
const OTHER_METHOD: &str = "other";

/// Every method the API port serves, as `package.Service/Method`: read from the descriptor
/// sets of the services it registers (taskflow's own, health, reflection v1 and v1alpha), so
/// that the list follows the protos.
static KNOWN_METHODS: LazyLock<HashSet<String>> = LazyLock::new(|| {
    [
        crate::proto::FILE_DESCRIPTOR_SET,
        tonic_health::pb::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1::FILE_DESCRIPTOR_SET,
        tonic_reflection::pb::v1alpha::FILE_DESCRIPTOR_SET,
    ]
    .into_iter()
    .filter_map(|encoded| prost_types::FileDescriptorSet::decode(encoded).ok())
    .flat_map(|set| set.file)
    .flat_map(|file| {
        let package = file.package().to_owned();
        file.service.into_iter().flat_map(move |service| {
            let prefix = format!("{package}.{}", service.name());
            service
                .method
                .into_iter()
                .map(move |method| format!("{prefix}/{}", method.name()))
        })
    })
    .collect()
});

/// The method label of a request path: a method the server serves, or [`OTHER_METHOD`], so
/// that calls to made-up paths cannot grow the label set.
pub fn method_label(path: &str) -> String {
    match path.strip_prefix('/') {
        Some(method) if KNOWN_METHODS.contains(method) => method.to_owned(),
        _ => OTHER_METHOD.to_owned(),
    }
}

/// A status code as gRPC spells it: `INVALID_ARGUMENT`.
pub fn code_name(code: tonic::Code) -> String {
    let mut name = String::new();
    for (i, c) in format!("{code:?}").chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            name.push('_');
        }
        name.push(c.to_ascii_uppercase());
    }
    name
}

/// Counts a call that ended with `code` after `seconds`.
pub fn record_call(method: &str, code: &str, seconds: f64) {
    let m = metrics();
    m.rpc_seconds
        .get_or_create(&MethodLabels {
            method: method.to_owned(),
        })
        .observe(seconds);
    m.rpcs
        .get_or_create(&RpcLabels {
            method: method.to_owned(),
            code: code.to_owned(),
        })
        .inc();
}

#[cfg(test)]
mod tests {
    #[test]
    fn labels_are_bounded_and_codes_spelled_as_grpc_does() {
        assert_eq!(
            super::method_label("/taskflow.v1.TaskService/GetTask"),
            "taskflow.v1.TaskService/GetTask"
        );
        assert_eq!(super::method_label("/evil/random-123"), "other");
        assert_eq!(
            super::code_name(tonic::Code::InvalidArgument),
            "INVALID_ARGUMENT"
        );
        assert_eq!(super::code_name(tonic::Code::Ok), "OK");
        assert_eq!(super::code_name(tonic::Code::NotFound), "NOT_FOUND");
    }

    #[test]
    fn every_served_method_has_its_label_and_nothing_else_does() {
        for served in [
            "taskflow.v1.TaskService/CreateTask",
            "taskflow.v1.TaskService/GetTask",
            "taskflow.v1.TaskService/ListTasks",
            "taskflow.v1.TaskService/UpdateTask",
            "taskflow.v1.TaskService/CompleteTask",
            "taskflow.v1.TaskService/ReopenTask",
            "taskflow.v1.TaskService/DeleteTask",
            "taskflow.v1.NotificationService/ListNotifications",
            "taskflow.v1.NotificationService/MarkNotificationRead",
            "taskflow.v1.NotificationService/WatchNotifications",
            "grpc.health.v1.Health/Check",
            "grpc.health.v1.Health/Watch",
            "grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            assert_eq!(super::method_label(&format!("/{served}")), served);
        }
        for junk in [
            "/taskflow.v1.TaskService/Nope",
            "/taskflow.v1.TaskService/",
            "/taskflow.v1.TaskService/CreateTask/x",
            "/taskflow.x1.Svc/M",
            "/taskflow.v1.Task",
            "/grpc.health.v1.Health/Nope",
            "/grpc.x/y",
            "taskflow.v1.TaskService/GetTask",
            "/",
            "",
        ] {
            assert_eq!(super::method_label(junk), "other", "{junk}");
        }
    }
}
