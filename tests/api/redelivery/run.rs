//! One run on a copy of the database: a server resumed on it with a sidecar double of its own
//! (no automatic delivery), fed events through the AppCallback port as daprd would, until no
//! new events appear; then the reminder jobs that are due are triggered the same way.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use dapr::dapr::proto::runtime::v1::{self as dapr_pb, app_callback_client::AppCallbackClient};
use dapr_double::{
    AppAnswer, DaprDouble, JobOutcome, Outcome, Published,
    proto::topic_event_response::TopicEventResponseStatus,
};
use taskflow::clock::{Clock, ManualClock};
use taskflow::store::Database;

use super::orders::{Order, Rng, shuffled_across_users};
use crate::helpers::{TestApp, TestDb, double, published_outbox, wired_to};

/// Rounds of new events a run may take to settle before it counts as never settling.
const MAX_ROUNDS: usize = 10;

/// A sidecar double that delivers only what the test hands it.
pub async fn quiet_double() -> DaprDouble {
    let double = double().await;
    double.set_auto_deliver(false);
    double
}

pub struct Run {
    pub app: TestApp,
    pub db: Database,
    pub double: DaprDouble,
    pub clock: Arc<ManualClock>,
    /// When the run started (wall clock): what handlers create carries a time after this.
    pub started: DateTime<Utc>,
    order: Order,
    rng: Rng,
    /// How many of the double's published events the run has taken already.
    taken: usize,
    /// Second copies waiting until everything else has been delivered.
    held_back: Vec<Published>,
    /// How many deliveries the run made.
    pub deliveries: usize,
}

impl Run {
    /// Resumes a server on `db` at clock time `now`, delivering in `order`.
    pub async fn resume(
        db: TestDb,
        url: String,
        now: DateTime<Utc>,
        order: Order,
        seed: u64,
    ) -> Self {
        let started = taskflow::clock::now();
        let double = quiet_double().await;
        let clock = Arc::new(ManualClock::new(now));
        let app = TestApp::resume_with(db, url, clock.clone(), wired_to(&double)).await;
        double.set_app_addr(app.callback_addr());
        let db = app.db().await;
        Self {
            app,
            db,
            double,
            clock,
            started,
            order,
            rng: Rng::seeded(seed),
            taken: 0,
            held_back: Vec::new(),
            deliveries: 0,
        }
    }

    /// Stops the server; its copy of the database is dropped.
    pub async fn stop(self) {
        let _ = self.db.close().await;
        drop(self.app.stop().await);
    }

    /// Delivers `batch` and everything its handling publishes, in the run's order, until
    /// nothing new appears (second copies the order holds back wait for
    /// [`Run::deliver_held_back`]).
    pub async fn settle(&mut self, batch: &[Published]) {
        let mut batch = batch.to_vec();
        for _ in 0..MAX_ROUNDS {
            if batch.is_empty() {
                return;
            }
            let (now, later) = self.order.arrange(&batch, &mut self.rng);
            self.held_back.extend(later);
            self.deliver_all(&now).await;
            batch = self.published_since_last().await;
        }
        panic!("{:?}: no fixed point after {MAX_ROUNDS} rounds", self.order);
    }

    /// Delivers the second copies held back so far (shuffled across users), then settles
    /// whatever they publish, until none are left.
    pub async fn deliver_held_back(&mut self) {
        for _ in 0..MAX_ROUNDS {
            if self.held_back.is_empty() {
                return;
            }
            let held_back = std::mem::take(&mut self.held_back);
            let tail = shuffled_across_users(&held_back, &mut self.rng);
            self.deliver_all(&tail).await;
            let fresh = self.published_since_last().await;
            self.settle(&fresh).await;
        }
        panic!("{:?}: second copies kept coming back", self.order);
    }

    async fn deliver_all(&mut self, events: &[Published]) {
        for event in events {
            self.deliver(event).await;
        }
    }

    /// Delivers one stored message as daprd would (its Kafka value and headers, on its topic)
    /// and checks that the app acknowledged it at the first attempt.
    async fn deliver(&mut self, event: &Published) {
        let delivery = self
            .double
            .deliver_raw(&event.topic, event.kafka_value(), event.metadata.clone())
            .await
            .expect("the double delivers");
        self.deliveries += 1;
        assert!(
            delivery.outcome == Outcome::Acked
                && delivery.attempts == 1
                && delivery.last_status
                    == Some(AppAnswer::Status(TopicEventResponseStatus::Success)),
            "{:?}: {} {} was not answered SUCCESS at once: {delivery:?}",
            self.order,
            event.cloud_event["type"],
            event.event_id().unwrap_or_default(),
        );
    }

    /// What the server published since the last call, once its outbox is fully published.
    async fn published_since_last(&mut self) -> Vec<Published> {
        published_outbox(&self.db, None).await;
        let published = self.double.published();
        let fresh = published[self.taken..].to_vec();
        self.taken = published.len();
        fresh
    }

    /// Moves the clock on by `by`, triggers every job due by then (earliest name first, or
    /// shuffled; each twice when the order duplicates: the sidecar's trigger, then the same
    /// trigger again straight at the app) and settles what the triggers publish.
    pub async fn fire_due_jobs(&mut self, by: chrono::Duration) {
        self.clock.advance(by);
        let now = self.clock.now();
        let mut due: Vec<dapr_pb::Job> = self
            .double
            .jobs()
            .into_iter()
            .filter(|job| fire_time(job) <= now)
            .collect();
        due.sort_by(|a, b| a.name.cmp(&b.name));
        if self.order.duplicates() {
            for i in (1..due.len()).rev() {
                due.swap(i, self.rng.below(i + 1));
            }
        }
        let mut again = Vec::new();
        for job in due {
            let trigger = self
                .double
                .trigger_job_now(&job.name)
                .await
                .expect("the job exists");
            assert_eq!(trigger.outcome, JobOutcome::Succeeded, "{trigger:?}");
            match self.order {
                Order::Clean => {}
                Order::Interleaved => self.trigger_again(&job).await,
                Order::SecondCopiesLast => again.push(job),
            }
        }
        for job in again {
            self.trigger_again(&job).await;
        }
        let fired = self.published_since_last().await;
        self.settle(&fired).await;
    }

    /// Triggers `job` again straight at the app's `OnJobEvent`, as a sidecar that lost the
    /// acknowledgement would; a repeated trigger is answered OK and changes nothing.
    async fn trigger_again(&self, job: &dapr_pb::Job) {
        let mut client = AppCallbackClient::connect(format!("http://{}", self.app.callback_addr()))
            .await
            .expect("connects to the callback port");
        let mut request = tonic::Request::new(dapr_pb::JobEventRequest {
            name: job.name.clone(),
            data: job.data.clone(),
            method: format!("job/{}", job.name),
            ..Default::default()
        });
        if let Some(token) = &self.double.config().app_api_token {
            request
                .metadata_mut()
                .insert("dapr-api-token", token.parse().expect("an ASCII token"));
        }
        client.on_job_event(request).await.unwrap_or_else(|status| {
            panic!("a repeated trigger of {} failed: {status:?}", job.name)
        });
    }
}

/// When a job is due (its RFC 3339 `due_time`).
pub fn fire_time(job: &dapr_pb::Job) -> DateTime<Utc> {
    let due = job
        .due_time
        .as_deref()
        .expect("a reminder job has a due time");
    DateTime::parse_from_rfc3339(due)
        .expect("an RFC 3339 due time")
        .with_timezone(&Utc)
}
