//! Integration tests: a real server over loopback gRPC, on SQLite and on PostgreSQL.

mod helpers;

mod auth;
mod create_get;
mod grpcurl;
mod listing;
mod server;
mod update;
mod validation;
