//! A minimal fake app: the three callback services, scripted answers, and records of every
//! call with its metadata.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use dapr::dapr::proto::common::v1::{InvokeRequest, InvokeResponse};
use dapr::dapr::proto::runtime::v1::app_callback_alpha_server::{
    AppCallbackAlpha, AppCallbackAlphaServer,
};
use dapr::dapr::proto::runtime::v1::app_callback_health_check_server::{
    AppCallbackHealthCheck, AppCallbackHealthCheckServer,
};
use dapr::dapr::proto::runtime::v1::app_callback_server::{AppCallback, AppCallbackServer};
use dapr::dapr::proto::runtime::v1::topic_event_response::TopicEventResponseStatus;
use dapr::dapr::proto::runtime::v1::{
    BindingEventRequest, BindingEventResponse, HealthCheckResponse, JobEventRequest,
    JobEventResponse, ListInputBindingsResponse, ListTopicSubscriptionsResponse,
    TopicEventBulkRequest, TopicEventBulkResponse, TopicEventBulkResponseEntry, TopicEventRequest,
    TopicEventResponse, TopicSubscription,
};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio_stream::wrappers::TcpListenerStream;
use tonic::metadata::MetadataMap;
use tonic::{Code, Request, Response, Status};

pub const WAIT: Duration = Duration::from_secs(10);

/// How the fake app answers one `OnTopicEvent`.
#[derive(Debug, Clone, Copy)]
pub enum Answer {
    Status(TopicEventResponseStatus),
    Error(Code),
}

/// One call the app received.
#[derive(Debug, Clone)]
pub struct Call<T> {
    pub request: T,
    pub metadata: HashMap<String, String>,
}

impl<T> Call<T> {
    pub fn token(&self) -> Option<&str> {
        self.metadata.get("dapr-api-token").map(String::as_str)
    }
}

/// A list that wakes waiters when it grows.
pub struct Calls<T> {
    items: Mutex<Vec<Call<T>>>,
    len: watch::Sender<usize>,
}

impl<T: Clone> Calls<T> {
    fn new() -> Self {
        Self {
            items: Mutex::new(Vec::new()),
            len: watch::Sender::new(0),
        }
    }

    fn push(&self, request: T, metadata: &MetadataMap) {
        let metadata = metadata
            .iter()
            .filter_map(|entry| match entry {
                tonic::metadata::KeyAndValueRef::Ascii(key, value) => {
                    Some((key.as_str().to_owned(), value.to_str().ok()?.to_owned()))
                }
                tonic::metadata::KeyAndValueRef::Binary(..) => None,
            })
            .collect();
        let len = {
            let mut items = lock(&self.items);
            items.push(Call { request, metadata });
            items.len()
        };
        self.len.send_replace(len);
    }

    pub fn all(&self) -> Vec<Call<T>> {
        lock(&self.items).clone()
    }

    pub fn len(&self) -> usize {
        lock(&self.items).len()
    }

    /// Waits until at least `n` calls arrived (woken on each arrival).
    pub async fn wait_for(&self, n: usize) -> Vec<Call<T>> {
        let mut rx = self.len.subscribe();
        let reached = tokio::time::timeout(WAIT, rx.wait_for(|len| *len >= n)).await;
        assert!(
            matches!(reached, Ok(Ok(_))),
            "waited {WAIT:?} for {n} calls, got {}",
            self.len()
        );
        self.all()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What the fake app does and what it saw.
pub struct AppState {
    pub subscriptions: Mutex<Vec<TopicSubscription>>,
    /// Answers for the next `OnTopicEvent` calls, in order; SUCCESS once empty.
    pub topic_answers: Mutex<VecDeque<Answer>>,
    /// Answers for the next `OnTopicEvent` calls of one event id, before `topic_answers`.
    pub answers_by_id: Mutex<HashMap<String, VecDeque<Answer>>>,
    /// Codes for the next job callbacks, in order; OK once empty.
    pub job_answers: Mutex<VecDeque<Code>>,
    /// The stable `OnBulkTopicEvent`/`OnJobEvent` answer `Unimplemented` (an app that only
    /// serves the Alpha service).
    pub stable_unimplemented: bool,
    /// Required `dapr-api-token` on topic, bulk and job callbacks (not on list and health).
    pub required_token: Option<String>,
    pub list_calls: Calls<()>,
    pub topic_events: Calls<TopicEventRequest>,
    pub bulk_events: Calls<(&'static str, TopicEventBulkRequest)>,
    pub job_events: Calls<(&'static str, JobEventRequest)>,
    pub health_checks: Calls<()>,
    /// Whether `HealthCheck` answers OK (otherwise `Unavailable`).
    pub healthy: std::sync::atomic::AtomicBool,
    /// Calls of the stable `OnJobEvent`/`OnBulkTopicEvent`, also those refused as
    /// `Unimplemented`.
    stable_job_calls: AtomicUsize,
    stable_bulk_calls: AtomicUsize,
}

impl AppState {
    pub fn stable_job_calls(&self) -> usize {
        self.stable_job_calls.load(Ordering::SeqCst)
    }

    pub fn stable_bulk_calls(&self) -> usize {
        self.stable_bulk_calls.load(Ordering::SeqCst)
    }

    fn check_token(&self, metadata: &MetadataMap) -> Result<(), Status> {
        match &self.required_token {
            Some(token)
                if metadata.get("dapr-api-token").and_then(|v| v.to_str().ok())
                    != Some(token.as_str()) =>
            {
                Err(Status::unauthenticated("missing app token"))
            }
            _ => Ok(()),
        }
    }

    fn bulk(
        &self,
        rpc: &'static str,
        request: Request<TopicEventBulkRequest>,
    ) -> Result<Response<TopicEventBulkResponse>, Status> {
        self.check_token(request.metadata())?;
        let metadata = request.metadata().clone();
        let request = request.into_inner();
        let statuses = request
            .entries
            .iter()
            .map(|entry| TopicEventBulkResponseEntry {
                entry_id: entry.entry_id.clone(),
                status: TopicEventResponseStatus::Success as i32,
            })
            .collect();
        self.bulk_events.push((rpc, request), &metadata);
        Ok(Response::new(TopicEventBulkResponse { statuses }))
    }

    fn job(
        &self,
        rpc: &'static str,
        request: Request<JobEventRequest>,
    ) -> Result<Response<JobEventResponse>, Status> {
        self.check_token(request.metadata())?;
        let metadata = request.metadata().clone();
        self.job_events.push((rpc, request.into_inner()), &metadata);
        match lock(&self.job_answers).pop_front().unwrap_or(Code::Ok) {
            Code::Ok => Ok(Response::new(JobEventResponse {})),
            code => Err(Status::new(code, "scripted job failure")),
        }
    }
}

#[derive(Clone)]
struct Service(Arc<AppState>);

#[tonic::async_trait]
impl AppCallback for Service {
    async fn on_invoke(
        &self,
        _request: Request<InvokeRequest>,
    ) -> Result<Response<InvokeResponse>, Status> {
        Err(Status::unimplemented("no invoke"))
    }

    async fn list_topic_subscriptions(
        &self,
        request: Request<()>,
    ) -> Result<Response<ListTopicSubscriptionsResponse>, Status> {
        self.0.list_calls.push((), request.metadata());
        Ok(Response::new(ListTopicSubscriptionsResponse {
            subscriptions: lock(&self.0.subscriptions).clone(),
        }))
    }

    async fn on_topic_event(
        &self,
        request: Request<TopicEventRequest>,
    ) -> Result<Response<TopicEventResponse>, Status> {
        self.0.check_token(request.metadata())?;
        let metadata = request.metadata().clone();
        let request = request.into_inner();
        let scripted = lock(&self.0.answers_by_id)
            .get_mut(&request.id)
            .and_then(VecDeque::pop_front);
        self.0.topic_events.push(request, &metadata);
        match scripted.or_else(|| lock(&self.0.topic_answers).pop_front()) {
            None => Ok(Response::new(TopicEventResponse { status: 0 })),
            Some(Answer::Status(status)) => Ok(Response::new(TopicEventResponse {
                status: status as i32,
            })),
            Some(Answer::Error(code)) => Err(Status::new(code, "scripted failure")),
        }
    }

    async fn list_input_bindings(
        &self,
        _request: Request<()>,
    ) -> Result<Response<ListInputBindingsResponse>, Status> {
        Ok(Response::new(ListInputBindingsResponse::default()))
    }

    async fn on_binding_event(
        &self,
        _request: Request<BindingEventRequest>,
    ) -> Result<Response<BindingEventResponse>, Status> {
        Err(Status::unimplemented("no bindings"))
    }

    async fn on_bulk_topic_event(
        &self,
        request: Request<TopicEventBulkRequest>,
    ) -> Result<Response<TopicEventBulkResponse>, Status> {
        self.0.stable_bulk_calls.fetch_add(1, Ordering::SeqCst);
        if self.0.stable_unimplemented {
            return Err(Status::unimplemented("only alpha"));
        }
        self.0.bulk("OnBulkTopicEvent", request)
    }

    async fn on_job_event(
        &self,
        request: Request<JobEventRequest>,
    ) -> Result<Response<JobEventResponse>, Status> {
        self.0.stable_job_calls.fetch_add(1, Ordering::SeqCst);
        if self.0.stable_unimplemented {
            return Err(Status::unimplemented("only alpha"));
        }
        self.0.job("OnJobEvent", request)
    }
}

#[tonic::async_trait]
impl AppCallbackAlpha for Service {
    async fn on_bulk_topic_event_alpha1(
        &self,
        request: Request<TopicEventBulkRequest>,
    ) -> Result<Response<TopicEventBulkResponse>, Status> {
        self.0.bulk("OnBulkTopicEventAlpha1", request)
    }

    async fn on_job_event_alpha1(
        &self,
        request: Request<JobEventRequest>,
    ) -> Result<Response<JobEventResponse>, Status> {
        self.0.job("OnJobEventAlpha1", request)
    }
}

#[tonic::async_trait]
impl AppCallbackHealthCheck for Service {
    async fn health_check(
        &self,
        request: Request<()>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.0.health_checks.push((), request.metadata());
        if self.0.healthy.load(std::sync::atomic::Ordering::SeqCst) {
            Ok(Response::new(HealthCheckResponse {}))
        } else {
            Err(Status::unavailable("the app is unwell"))
        }
    }
}

/// Options for [`FakeApp::start`].
#[derive(Default)]
pub struct AppOptions {
    pub subscriptions: Vec<TopicSubscription>,
    pub required_token: Option<String>,
    pub stable_unimplemented: bool,
}

/// A running fake app; stops when dropped.
pub struct FakeApp {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    _shutdown: oneshot::Sender<()>,
}

impl FakeApp {
    pub async fn start(options: AppOptions) -> FakeApp {
        let state = Arc::new(AppState {
            subscriptions: Mutex::new(options.subscriptions),
            topic_answers: Mutex::new(VecDeque::new()),
            answers_by_id: Mutex::new(HashMap::new()),
            job_answers: Mutex::new(VecDeque::new()),
            stable_unimplemented: options.stable_unimplemented,
            required_token: options.required_token,
            list_calls: Calls::new(),
            topic_events: Calls::new(),
            bulk_events: Calls::new(),
            job_events: Calls::new(),
            health_checks: Calls::new(),
            healthy: std::sync::atomic::AtomicBool::new(true),
            stable_job_calls: AtomicUsize::new(0),
            stable_bulk_calls: AtomicUsize::new(0),
        });
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the fake app");
        let addr = listener.local_addr().expect("fake app address");
        let (shutdown, signal) = oneshot::channel::<()>();
        let service = Service(state.clone());
        tokio::spawn(async move {
            let _ = tonic::transport::Server::builder()
                .add_service(AppCallbackServer::new(service.clone()))
                .add_service(AppCallbackAlphaServer::new(service.clone()))
                .add_service(AppCallbackHealthCheckServer::new(service))
                .serve_with_incoming_shutdown(TcpListenerStream::new(listener), async {
                    let _ = signal.await;
                })
                .await;
        });
        FakeApp {
            addr,
            state,
            _shutdown: shutdown,
        }
    }

    /// Queues answers for the next `OnTopicEvent` calls.
    pub fn answer(&self, answers: impl IntoIterator<Item = Answer>) {
        lock(&self.state.topic_answers).extend(answers);
    }

    /// Queues answers for the next `OnTopicEvent` calls of the event `id`.
    pub fn answer_for(&self, id: &str, answers: impl IntoIterator<Item = Answer>) {
        lock(&self.state.answers_by_id)
            .entry(id.to_owned())
            .or_default()
            .extend(answers);
    }

    /// Makes `HealthCheck` answer OK or `Unavailable`.
    pub fn set_healthy(&self, healthy: bool) {
        self.state
            .healthy
            .store(healthy, std::sync::atomic::Ordering::SeqCst);
    }

    /// Queues codes for the next job callbacks.
    pub fn answer_jobs(&self, codes: impl IntoIterator<Item = Code>) {
        lock(&self.state.job_answers).extend(codes);
    }
}

/// A subscription to `topic` on `kafka-pubsub`, with an optional dead-letter topic.
pub fn subscription(topic: &str, dead_letter_topic: Option<&str>) -> TopicSubscription {
    TopicSubscription {
        pubsub_name: "kafka-pubsub".to_owned(),
        topic: topic.to_owned(),
        dead_letter_topic: dead_letter_topic.unwrap_or_default().to_owned(),
        ..Default::default()
    }
}
