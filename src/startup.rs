//! Builds the server from its configuration and runs it until shutdown.

use std::{future::Future, io, net::SocketAddr, time::Duration};

use tokio::net::TcpListener;
use tokio_stream::{StreamExt, wrappers::TcpListenerStream};
use tonic::transport::Server;
use tonic_health::ServingStatus;

use crate::api::TaskApi;
use crate::app::Tasks;
use crate::auth::Authenticator;
use crate::config::ServeConfig;
use crate::error::AppError;
use crate::proto::{self, v1::task_service_server::TaskServiceServer};
use crate::store::Database;

/// The fully qualified name of the task service, as health checks know it.
pub const TASK_SERVICE_NAME: &str = "taskflow.v1.TaskService";

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("database: {0}")]
    Database(#[from] AppError),
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: String, source: io::Error },
    #[error(
        "refusing to serve on {0} without TASKFLOW_JWT_SECRET: development mode trusts the \
         x-user-id header, so it only listens on loopback (127.0.0.1 or ::1). Set \
         TASKFLOW_JWT_SECRET or listen on a loopback address."
    )]
    InsecureListen(SocketAddr),
    #[error("reflection: {0}")]
    Reflection(String),
    #[error("server: {0}")]
    Serve(#[from] tonic::transport::Error),
}

/// A bound, migrated, ready-to-run server.
pub struct Application {
    listener: TcpListener,
    addr: SocketAddr,
    db: Database,
    auth: Authenticator,
    grace: Duration,
}

impl Application {
    /// Connects to the database, applies migrations and binds the API port (port 0 picks a
    /// free one; [`Application::api_addr`] tells which).
    pub async fn build(config: &ServeConfig) -> Result<Self, StartupError> {
        let auth = match &config.jwt_secret {
            Some(secret) => Authenticator::jwt(
                secret,
                config.jwt_issuer.as_deref(),
                config.jwt_audience.as_deref(),
            ),
            None => Authenticator::development(),
        };
        let listen_error = |source| StartupError::Listen {
            addr: config.listen.clone(),
            source,
        };
        let addrs: Vec<SocketAddr> = tokio::net::lookup_host(&config.listen)
            .await
            .map_err(listen_error)?
            .collect();
        if auth.is_development()
            && let Some(public) = addrs.iter().find(|a| !a.ip().is_loopback())
        {
            return Err(StartupError::InsecureListen(*public));
        }
        let listener = TcpListener::bind(addrs.as_slice())
            .await
            .map_err(listen_error)?;
        let addr = listener.local_addr().map_err(listen_error)?;

        let db = Database::connect(
            config.database.database_url.expose(),
            config.database.database_max_connections,
        )
        .await?;
        db.migrate().await?;
        Ok(Self {
            listener,
            addr,
            db,
            auth,
            grace: Duration::from_secs(config.shutdown_grace_seconds),
        })
    }

    pub fn api_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn database(&self) -> &Database {
        &self.db
    }

    /// Serves until `shutdown` completes, then stops accepting calls and lets the ones in
    /// flight finish (for at most the configured grace period).
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), StartupError> {
        let (health, health_service) = tonic_health::server::health_reporter();
        health
            .set_service_status(TASK_SERVICE_NAME, ServingStatus::Serving)
            .await;
        let reflection = |builder: tonic_reflection::server::Builder<'static>| {
            builder
                .register_encoded_file_descriptor_set(proto::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
                .register_encoded_file_descriptor_set(tonic_types::pb::FILE_DESCRIPTOR_SET)
        };
        let reflection_v1 = reflection(tonic_reflection::server::Builder::configure())
            .build_v1()
            .map_err(|e| StartupError::Reflection(e.to_string()))?;
        let reflection_v1alpha = reflection(tonic_reflection::server::Builder::configure())
            .build_v1alpha()
            .map_err(|e| StartupError::Reflection(e.to_string()))?;

        let tasks = TaskServiceServer::with_interceptor(
            TaskApi::new(Tasks::new(self.db.clone())),
            self.auth.interceptor(),
        );

        // tonic does not apply TCP_NODELAY to sockets from a caller's listener: set it here.
        let incoming = TcpListenerStream::new(self.listener).map(|conn| {
            conn.inspect(|stream| {
                if let Err(err) = stream.set_nodelay(true) {
                    tracing::debug!(%err, "could not set TCP_NODELAY");
                }
            })
        });

        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let grace = self.grace;
        let server = Server::builder()
            .add_service(health_service)
            .add_service(reflection_v1)
            .add_service(reflection_v1alpha)
            .add_service(tasks)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stop_rx.await;
            });
        tracing::info!(addr = %self.addr, "serving the taskflow API");
        let mut server = std::pin::pin!(server);
        tokio::select! {
            result = &mut server => return result.map_err(StartupError::from),
            () = shutdown => {}
        }
        tracing::info!("shutting down: draining in-flight calls");
        health
            .set_service_status(TASK_SERVICE_NAME, ServingStatus::NotServing)
            .await;
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        let _ = stop_tx.send(());
        match tokio::time::timeout(grace, server).await {
            Ok(result) => result?,
            Err(_) => tracing::warn!(?grace, "in-flight calls did not finish in time"),
        }
        if let Err(err) = self.db.close().await {
            tracing::warn!(%err, "closing the database pool");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::warn!(%err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(err) => {
                tracing::warn!(%err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
