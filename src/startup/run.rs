//! Running a built server: the API and callback ports, the background work, and the orderly
//! shutdown (drain the API, then stop the rest), each in a function of its own.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use dapr::dapr::proto::runtime::v1::{
    app_callback_alpha_server::AppCallbackAlphaServer,
    app_callback_health_check_server::AppCallbackHealthCheckServer,
    app_callback_server::AppCallbackServer,
};
use tokio::task::JoinHandle;
use tonic::transport::Server;
use tonic_health::{ServingStatus, server::HealthReporter};

use super::listen::incoming;
use super::{
    ACTIVITY_SERVICE_NAME, ApiServices, Application, LIST_SERVICE_NAME, NOTIFICATION_SERVICE_NAME,
    Port, Shutdown, StartupError, TASK_SERVICE_NAME,
};
use crate::api::AppCallbackApi;
use crate::notifications::Hub;
use crate::outbox::relay::Relay;
use crate::proto;
use crate::reminders::Reminders;
use crate::store::Database;

impl Application {
    /// Serves until `shutdown` completes, then stops accepting calls, lets the ones in flight
    /// finish (for at most the configured grace period) and stops the background work.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send,
    ) -> Result<(), StartupError> {
        let Application {
            api,
            api_tls,
            callback,
            metrics,
            db,
            grace,
            shutdown: token,
            services,
            callbacks,
            callback_max_message_bytes,
            relay,
            reminders_by_hand,
            sidecar,
            hub,
            reminders,
            retention,
        } = self;
        let mut background = Vec::new();
        if let Some(listener) = hub.listen(token.draining()).await {
            background.push(listener);
        }
        background.push(serve_metrics(metrics, db.clone(), hub, token.clone()));
        background.push(serve_callbacks(
            callback,
            callbacks,
            callback_max_message_bytes,
            token.clone(),
        ));
        let reminders = (!reminders_by_hand).then_some(reminders);
        background.extend(run_background(relay, reminders, &token));
        background.push(tokio::spawn(retention.run(token.stopping())));
        if let Some(sidecar) = sidecar {
            background.push(tokio::spawn(crate::sidecar::check_version(
                sidecar,
                token.stopping(),
            )));
        }

        let (health, health_service) = tonic_health::server::health_reporter();
        set_serving(&health, ServingStatus::Serving).await;
        let server = serve_api(api, api_tls, services, health_service, token.clone())?;
        let mut server = std::pin::pin!(server);
        tokio::select! {
            result = &mut server => {
                token.stop();
                return result.map_err(StartupError::from);
            }
            () = shutdown => {}
        }

        tracing::info!("shutting down: draining in-flight calls");
        set_serving(&health, ServingStatus::NotServing).await;
        health
            .set_service_status("", ServingStatus::NotServing)
            .await;
        // Open watches end now, so that they do not hold up the drain.
        token.drain();
        match tokio::time::timeout(grace, server).await {
            Ok(result) => result?,
            Err(_) => tracing::warn!(?grace, "in-flight calls did not finish in time"),
        }
        token.stop();
        join(background, grace).await;
        if let Err(err) = db.close().await {
            tracing::warn!(%err, "closing the database pool");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

async fn set_serving(health: &HealthReporter, status: ServingStatus) {
    health.set_service_status(TASK_SERVICE_NAME, status).await;
    health
        .set_service_status(NOTIFICATION_SERVICE_NAME, status)
        .await;
    health
        .set_service_status(ACTIVITY_SERVICE_NAME, status)
        .await;
    health.set_service_status(LIST_SERVICE_NAME, status).await;
}

/// The API port: health, reflection and taskflow's services, until draining starts.
fn serve_api(
    api: Port,
    tls: Option<tokio_rustls::TlsAcceptor>,
    services: ApiServices,
    health: tonic_health::pb::health_server::HealthServer<
        impl tonic_health::pb::health_server::Health,
    >,
    token: Shutdown,
) -> Result<ApiServer, StartupError> {
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
    tracing::info!(addr = %api.addr, tls = tls.is_some(), "serving the taskflow API");
    let router = Server::builder()
        .layer(crate::telemetry::RpcLayer)
        .add_service(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(services.tasks)
        .add_service(services.notifications)
        .add_service(services.activities)
        .add_service(services.lists);
    let drained = async move {
        token.drained().await;
    };
    Ok(match tls {
        None => Box::pin(router.serve_with_incoming_shutdown(incoming(api.listener), drained)),
        Some(acceptor) => {
            Box::pin(router.serve_with_incoming_shutdown(
                crate::tls::incoming(api.listener, acceptor),
                drained,
            ))
        }
    })
}

/// The API server's future, plaintext or TLS.
type ApiServer =
    std::pin::Pin<Box<dyn Future<Output = Result<(), tonic::transport::Error>> + Send>>;

/// The callback port the sidecar calls, until the background work stops.
fn serve_callbacks(
    port: Port,
    callbacks: Arc<AppCallbackApi>,
    limit: usize,
    token: Shutdown,
) -> JoinHandle<()> {
    tracing::info!(callback_addr = %port.addr, "serving the Dapr app callback");
    let server = Server::builder()
        .add_service(
            AppCallbackServer::from_arc(callbacks.clone()).max_decoding_message_size(limit),
        )
        .add_service(
            AppCallbackAlphaServer::from_arc(callbacks.clone()).max_decoding_message_size(limit),
        )
        .add_service(AppCallbackHealthCheckServer::from_arc(callbacks))
        .serve_with_incoming_shutdown(incoming(port.listener), async move {
            token.stopped().await;
        });
    tokio::spawn(async move {
        if let Err(err) = server.await {
            tracing::warn!(%err, "the callback server stopped with an error");
        }
    })
}

/// `/metrics`, with the outbox backlog and the open watchers read at each scrape.
fn serve_metrics(port: Port, db: Database, hub: Hub, token: Shutdown) -> JoinHandle<()> {
    let gauges = move || {
        let (db, hub) = (db.clone(), hub.clone());
        async move {
            let (outbox_depth, outbox_oldest_us) = crate::store::outbox::backlog(db.conn())
                .await
                .unwrap_or_default();
            let pool = db.pool_stats();
            crate::metrics::Gauges {
                outbox_depth,
                outbox_oldest_us,
                watchers: hub.receiver_count(),
                pool: crate::metrics::PoolGauges {
                    open: pool.open,
                    idle: pool.idle,
                    max: pool.max,
                },
            }
        }
    };
    tracing::info!(metrics_addr = %port.addr, "serving Prometheus metrics at /metrics");
    tokio::spawn(async move {
        let stopped = async move { token.stopped().await };
        if let Err(err) = crate::metrics::serve(port.listener, gauges, stopped).await {
            tracing::warn!(%err, "the metrics endpoint stopped with an error");
        }
    })
}

/// The outbox relay (unless the caller took it) and the reminders: the in-process loop in
/// embedded mode, the job worker in cluster mode.
fn run_background(
    relay: Option<Relay>,
    reminders: Option<Reminders>,
    token: &Shutdown,
) -> Vec<JoinHandle<()>> {
    let mut tasks = Vec::new();
    if let Some(relay) = relay {
        tasks.push(tokio::spawn(relay.run(token.stopping())));
    }
    if let Some(reminders) = reminders {
        tasks.push(if reminders.fires_locally() {
            tokio::spawn(reminders.run_local(token.stopping()))
        } else {
            tokio::spawn(reminders.run_jobs(token.stopping()))
        });
    }
    tasks
}

/// Waits for the background tasks, for at most `grace`.
async fn join(tasks: Vec<JoinHandle<()>>, grace: Duration) {
    let all = async {
        for task in tasks {
            let _ = task.await;
        }
    };
    if tokio::time::timeout(grace, all).await.is_err() {
        tracing::warn!(?grace, "the background work did not stop in time");
    }
}
