//! Generated protobuf and gRPC code, one module per proto package.

/// `taskflow.v1`: the public task API.
pub mod v1 {
    tonic::include_proto!("taskflow.v1");
}

/// `taskflow.events.v1`: the payloads of the events taskflow publishes.
pub mod events {
    pub mod v1 {
        tonic::include_proto!("taskflow.events.v1");
    }
}

/// The encoded descriptor set of every taskflow proto and its imports, for server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("taskflow_descriptor");
