//! A load generator: concurrent clients, one user each (or several per user), calling the API
//! in a loop and recording every call (when, how long, which status) and every acknowledged
//! write, in the order each client saw it.

use std::collections::HashSet;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use taskflow::proto::v1 as pb;
use tonic::{Code, Response, Status};

use super::server::ChildServer;
use crate::helpers::{Client, eventually_within, titled};

/// What each client does in its loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mix {
    /// Plain creates.
    Creates,
    /// Every third create is completed right after.
    CreatesAndCompletes,
    /// A plain create, then a daily recurring task created and completed, and again.
    Recurring,
    /// Create, read it back, list a page; every fourth task is completed.
    ReadWrite,
    /// As `Recurring`, but every task is due [`DUE_AHEAD`] after its creation, so each gets a
    /// reminder (the default lead is 24 h): a plain task, then a daily recurring task created
    /// and completed (its next occurrence is due a day later, with a reminder of its own).
    RecurringWithDue,
}

/// How far ahead the tasks of [`Mix::RecurringWithDue`] are due.
pub const DUE_AHEAD: Duration = Duration::from_secs(3 * 24 * 3600);

#[derive(Debug, Clone)]
pub struct LoadConfig {
    pub users: Vec<String>,
    pub clients_per_user: usize,
    pub mix: Mix,
    /// Retry a failed call (a create with the same `request_id`) until it is acknowledged;
    /// otherwise a failed operation is given up.
    pub retry: bool,
    /// A pause after each operation, to keep the load steady rather than flat out.
    pub pace: Duration,
}

impl LoadConfig {
    pub fn new(users: usize, mix: Mix) -> Self {
        Self {
            users: (0..users).map(|u| format!("user{u}")).collect(),
            clients_per_user: 1,
            mix,
            retry: false,
            pace: Duration::ZERO,
        }
    }
}

/// A write the server acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acked {
    Created { name: String, recurring: bool },
    Completed { name: String },
}

/// One call: when it started, how long it took, and its status (`None` = OK).
#[derive(Debug, Clone, Copy)]
pub struct Call {
    pub started: Instant,
    pub latency: Duration,
    pub error: Option<Code>,
}

impl Call {
    pub fn ended(&self) -> Instant {
        self.started + self.latency
    }
}

/// What one client acknowledged, in order.
#[derive(Debug, Clone)]
pub struct ClientLog {
    pub user: String,
    pub acked: Vec<Acked>,
}

#[derive(Default)]
struct Shared {
    stop: AtomicBool,
    acked: AtomicUsize,
    calls: Mutex<Vec<Call>>,
}

/// A running load.
pub struct Load {
    shared: Arc<Shared>,
    clients: Vec<tokio::task::JoinHandle<ClientLog>>,
}

/// Everything a finished load saw.
pub struct LoadReport {
    pub clients: Vec<ClientLog>,
    pub calls: Vec<Call>,
}

impl Load {
    pub fn start(server: &ChildServer, config: &LoadConfig) -> Self {
        let shared = Arc::new(Shared::default());
        let mut clients = Vec::new();
        for user in &config.users {
            for n in 0..config.clients_per_user {
                let worker = Worker {
                    client: server.user(user),
                    user: user.clone(),
                    tag: format!("{user}/{n}"),
                    config: config.clone(),
                    shared: shared.clone(),
                    acked: Vec::new(),
                };
                clients.push(tokio::spawn(worker.run()));
            }
        }
        Self { shared, clients }
    }

    /// Writes acknowledged so far.
    pub fn acked(&self) -> usize {
        self.shared.acked.load(Ordering::SeqCst)
    }

    /// Waits until `more` writes beyond those acknowledged now are acknowledged.
    pub async fn wait_more(&self, more: usize, timeout: Duration) {
        let target = self.acked() + more;
        eventually_within(
            &format!("{target} acknowledged writes"),
            timeout,
            || async { (self.acked() >= target).then_some(()) },
        )
        .await;
    }

    /// Every call made so far.
    pub fn calls(&self) -> Vec<Call> {
        lock(&self.shared.calls).clone()
    }

    /// Stops the clients (each finishes or gives up its operation) and collects the logs.
    pub async fn finish(self) -> LoadReport {
        self.shared.stop.store(true, Ordering::SeqCst);
        let mut clients = Vec::new();
        for client in self.clients {
            clients.push(client.await.expect("a load client ends"));
        }
        let calls = lock(&self.shared.calls).clone();
        LoadReport { clients, calls }
    }
}

impl LoadReport {
    /// Failed calls.
    pub fn errors(&self) -> Vec<Call> {
        self.calls
            .iter()
            .filter(|c| c.error.is_some())
            .copied()
            .collect()
    }

    /// Every acknowledged create as `(user, name, recurring)`.
    pub fn created(&self) -> Vec<(String, String, bool)> {
        let mut created = Vec::new();
        for client in &self.clients {
            for acked in &client.acked {
                if let Acked::Created { name, recurring } = acked {
                    created.push((client.user.clone(), name.clone(), *recurring));
                }
            }
        }
        created
    }

    /// The names of every acknowledged completion.
    pub fn completed(&self) -> HashSet<String> {
        self.clients
            .iter()
            .flat_map(|c| &c.acked)
            .filter_map(|a| match a {
                Acked::Completed { name } => Some(name.clone()),
                Acked::Created { .. } => None,
            })
            .collect()
    }

    /// The latency of the successful calls at percentile `p` (0–100).
    pub fn ok_percentile(&self, p: f64) -> Duration {
        let latencies: Vec<Duration> = self
            .calls
            .iter()
            .filter(|c| c.error.is_none())
            .map(|c| c.latency)
            .collect();
        super::figures::percentile(latencies, p)
    }
}

struct Worker {
    client: Client,
    user: String,
    tag: String,
    config: LoadConfig,
    shared: Arc<Shared>,
    acked: Vec<Acked>,
}

impl Worker {
    async fn run(mut self) -> ClientLog {
        let mut i = 0usize;
        while !self.stopped() {
            match self.config.mix {
                Mix::Creates => {
                    self.create(i, false).await;
                }
                Mix::CreatesAndCompletes => {
                    if let Some(name) = self.create(i, false).await
                        && i.is_multiple_of(3)
                    {
                        self.complete(&name).await;
                    }
                }
                Mix::Recurring => {
                    if let Some(name) = self.create(i, i % 2 == 1).await
                        && i % 2 == 1
                    {
                        self.complete(&name).await;
                    }
                }
                Mix::RecurringWithDue => {
                    let recurring = i % 2 == 1;
                    if let Some(name) = self.create_due(i, recurring, Some(DUE_AHEAD)).await
                        && recurring
                    {
                        self.complete(&name).await;
                    }
                }
                Mix::ReadWrite => {
                    if let Some(name) = self.create(i, false).await {
                        self.read(&name).await;
                        if i.is_multiple_of(4) {
                            self.complete(&name).await;
                        }
                    }
                }
            }
            i += 1;
            if !self.config.pace.is_zero() {
                tokio::time::sleep(self.config.pace).await;
            }
        }
        ClientLog {
            user: self.user,
            acked: self.acked,
        }
    }

    fn stopped(&self) -> bool {
        self.shared.stop.load(Ordering::SeqCst)
    }

    fn ack(&mut self, acked: Acked) {
        self.acked.push(acked);
        self.shared.acked.fetch_add(1, Ordering::SeqCst);
    }

    /// Calls `call` until it succeeds; once, or until the load stops, if it fails.
    async fn call<T, F, Fut>(&self, mut call: F) -> Option<T>
    where
        F: FnMut(Client) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        loop {
            let started = Instant::now();
            let result = call(self.client.clone()).await;
            let record = Call {
                started,
                latency: started.elapsed(),
                error: result.as_ref().err().map(Status::code),
            };
            lock(&self.shared.calls).push(record);
            match result {
                Ok(response) => return Some(response.into_inner()),
                Err(_) if self.config.retry && !self.stopped() => {
                    // A short pause before the retry, as a client backs off.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                Err(_) => return None,
            }
        }
    }

    async fn create(&mut self, i: usize, recurring: bool) -> Option<String> {
        self.create_due(i, recurring, None).await
    }

    /// A create whose task is due `due_in` from now (whole seconds), if given.
    async fn create_due(
        &mut self,
        i: usize,
        recurring: bool,
        due_in: Option<Duration>,
    ) -> Option<String> {
        let due_time = due_in.map(|ahead| {
            let at = std::time::SystemTime::now() + ahead;
            let seconds = at
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default();
            prost_types::Timestamp {
                seconds: i64::try_from(seconds).unwrap_or(i64::MAX),
                nanos: 0,
            }
        });
        let request = pb::CreateTaskRequest {
            parent: format!("users/{}", self.user),
            task: Some(pb::Task {
                recurrence: recurring.then(|| pb::Recurrence {
                    frequency: pb::Frequency::Daily as i32,
                    ..Default::default()
                }),
                due_time,
                ..titled(&format!("{} #{i}", self.tag))
            }),
            request_id: uuid::Uuid::new_v4().to_string(),
        };
        let task = self
            .call(|mut client| {
                let request = request.clone();
                async move { client.create_task(request).await }
            })
            .await?;
        self.ack(Acked::Created {
            name: task.name.clone(),
            recurring,
        });
        Some(task.name)
    }

    async fn complete(&mut self, name: &str) {
        let request = pb::CompleteTaskRequest { name: name.into() };
        let done = self
            .call(|mut client| {
                let request = request.clone();
                async move { client.complete_task(request).await }
            })
            .await;
        if done.is_some() {
            self.ack(Acked::Completed { name: name.into() });
        }
    }

    async fn read(&mut self, name: &str) {
        let get = pb::GetTaskRequest { name: name.into() };
        self.call(|mut client| {
            let get = get.clone();
            async move { client.get_task(get).await }
        })
        .await;
        let list = pb::ListTasksRequest {
            parent: format!("users/{}", self.user),
            page_size: 20,
            ..Default::default()
        };
        self.call(|mut client| {
            let list = list.clone();
            async move { client.list_tasks(list).await }
        })
        .await;
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
