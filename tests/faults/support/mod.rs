//! What the fault scenarios share: the server as a child process, the load generator, a
//! private PostgreSQL cluster, the event ledger and the FIGURES line.

pub mod events;
pub mod figures;
pub mod load;
pub mod pg;
pub mod server;

pub use events::{Ledger, drain, per_key_order, settle, tasks_by_name, unacked_deliveries};
pub use figures::Figures;
pub use load::{Acked, Load, LoadConfig, Mix};
pub use pg::PrivateCluster;
pub use server::{ChildServer, patient_double, shipped_double};
