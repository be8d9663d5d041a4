//! A stand-in for the Dapr sidecar in tests.
