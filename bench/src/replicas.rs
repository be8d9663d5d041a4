//! Several replicas on one PostgreSQL, each with a sidecar double of its own (as each pod has its
//! own daprd): commit → sidecar for events written on any replica, each user's order across
//! replicas, and the relay's fail-over when the replica that runs it is killed.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use dapr_double::{DaprDouble, Published};
use hdrhistogram::Histogram;
use tokio::time::MissedTickBehavior;

use crate::Error;
use crate::client::{self, Tasks, as_user};
use crate::events;
use crate::load::{histogram, micros};
use crate::pg;
use crate::report::{self, Table};
use crate::server::Server;

/// One replica: the server process and its own sidecar.
struct Replica {
    server: Server,
    double: DaprDouble,
    clients: Vec<Tasks>,
}

/// What the replicas measured.
pub struct ReplicaFigures {
    pub replicas: usize,
    /// Creates per second achieved while paced.
    pub rate: f64,
    /// Commit → sidecar, per replica that wrote the event (µs).
    pub by_writer: Vec<Histogram<u64>>,
    /// Commit → sidecar, all events (µs).
    pub all: Histogram<u64>,
    /// Users whose events reached the sidecars out of their commit order (must be 0).
    pub users: usize,
    pub events: usize,
    /// Kill of the relay's replica → first event stored by another replica's sidecar.
    pub takeover: Duration,
    /// The longest commit → sidecar of the events written after the kill.
    pub after_kill_max: Duration,
    pub events_after_kill: usize,
}

impl ReplicaFigures {
    /// Commit → sidecar p99 in ms, per replica that wrote the events.
    pub fn p99_ms_by_writer(&self) -> Vec<f64> {
        self.by_writer.iter().map(|h| report::ms(h, 0.99)).collect()
    }

    /// The worst p99 over the replicas that wrote events, in ms.
    pub fn worst_p99_ms(&self) -> f64 {
        self.p99_ms_by_writer().into_iter().fold(0.0, f64::max)
    }
}

/// The replica figures' rows of the table.
pub fn tabulate(figures: &ReplicaFigures, table: &mut Table) {
    const B: &str = "postgres x3";
    for (i, latency) in figures.by_writer.iter().enumerate() {
        table.latency(
            B,
            &format!("commit -> sidecar, written on replica {}", i + 1),
            latency,
            &format!("{} events", latency.len()),
        );
    }
    table.latency(
        B,
        "commit -> sidecar, all replicas",
        &figures.all,
        &format!(
            "{} events of {} users at {:.0} creates/s, each user's creates round the {} \
             replicas; order kept",
            figures.events, figures.users, figures.rate, figures.replicas
        ),
    );
    table.figure(
        B,
        "relay fail-over",
        format!("{:.0} ms", figures.takeover.as_secs_f64() * 1000.0),
        &format!(
            "SIGKILL of the relay's replica -> another's sidecar stores an event; {} events \
             written after the kill, the slowest {:.0} ms commit -> sidecar",
            figures.events_after_kill,
            figures.after_kill_max.as_secs_f64() * 1000.0
        ),
    );
}

/// A create the load sent: who, which of the user's creates, through which replica, and when.
#[derive(Clone)]
struct Sent {
    user: String,
    seq: u64,
    writer: usize,
}

/// Starts `count` replicas on `url`, creates at `rate` per second spread over all of them (each
/// user's creates go round the replicas in turn), then kills the replica whose relay published
/// them and keeps creating on the others.
pub async fn run(
    binary: &Path,
    url: &str,
    count: usize,
    callers: usize,
    rate: f64,
    duration: Duration,
) -> Result<ReplicaFigures, Error> {
    let mut replicas = Vec::with_capacity(count);
    for _ in 0..count {
        let double = DaprDouble::start(events::double_config()).await?;
        let server = Server::start(
            binary,
            &[
                ("TASKFLOW_DATABASE_URL", url.to_owned()),
                ("TASKFLOW_EVENT_SINK", "dapr".to_owned()),
                ("DAPR_GRPC_ENDPOINT", double.endpoint()),
            ],
        )
        .await?;
        double.set_app_addr(server.callback_addr);
        let clients = client::task_clients(&server.endpoint(), callers.div_ceil(count)).await?;
        replicas.push(Replica {
            server,
            double,
            clients,
        });
    }
    let doubles: Vec<&DaprDouble> = replicas.iter().map(|r| &r.double).collect();
    pg::wait_outbox_empty(url, Duration::from_secs(120)).await?;
    for double in &doubles {
        double.clear();
    }

    // Steady load on every replica.
    let started_wall = SystemTime::now() - Duration::from_secs(1);
    let all: Vec<usize> = (0..count).collect();
    let (achieved, steady) = paced(&replicas, &all, callers, rate, duration, "r").await?;
    let steady_published = wait_published(&doubles, &steady).await?;
    let leader = busiest(&steady_published, count).ok_or("no replica published anything")?;
    let commits = pg::commit_times(url, started_wall)
        .await?
        .ok_or("commit timestamps are off: the replica figure needs track_commit_timestamp")?;
    let mut by_writer = vec![histogram()?; count];
    let mut all_latency = histogram()?;
    let order = first_arrivals(&steady_published);
    let mut events = 0;
    for (subject, arrival) in &order.by_subject {
        let (Some(sent), Some(committed)) = (steady.get(subject), commits.get(id_of(subject)))
        else {
            continue;
        };
        let latency = micros(arrival.wall.duration_since(*committed).unwrap_or_default());
        by_writer[sent.writer].saturating_record(latency);
        all_latency.saturating_record(latency);
        events += 1;
    }
    if events < steady.len() {
        return Err(format!(
            "only {events} of {} acknowledged creates reached a sidecar",
            steady.len()
        )
        .into());
    }
    check_order(&steady, &order)?;
    let users = steady
        .values()
        .map(|s| s.user.as_str())
        .collect::<std::collections::HashSet<_>>()
        .len();

    // Fail-over: keep creating on the other replicas, kill the relay's replica (and its sidecar,
    // as when a pod dies) and time how soon another replica's sidecar stores an event.
    pg::wait_outbox_empty(url, Duration::from_secs(120)).await?;
    for double in &doubles {
        double.clear();
    }
    let survivors: Vec<usize> = (0..count).filter(|&i| i != leader).collect();
    let load_for = Duration::from_secs(5);
    let kill_after = Duration::from_secs(1);
    let (killed_at, after) = {
        let load = paced(&replicas, &survivors, callers, rate, load_for, "f");
        let kill = async {
            tokio::time::sleep(kill_after).await;
            let at = Instant::now();
            replicas[leader].server.kill().await?;
            replicas[leader].double.stop().await;
            Ok::<_, Error>((at, SystemTime::now()))
        };
        let (load, kill) = tokio::join!(load, kill);
        (kill?, load?.1)
    };
    let (killed_at, killed_wall) = killed_at;
    let published = wait_published(&doubles, &after).await?;
    let takeover = published
        .iter()
        .filter(|(by, p)| *by != leader && p.received_at > killed_at)
        .map(|(_, p)| p.received_at - killed_at)
        .min()
        .ok_or("no other replica published after the kill")?;
    let commits = pg::commit_times(url, killed_wall - Duration::from_secs(5))
        .await?
        .unwrap_or_default();
    let arrivals = first_arrivals(&published);
    let mut after_kill_max = Duration::ZERO;
    let mut events_after_kill = 0;
    for (subject, arrival) in &arrivals.by_subject {
        let Some(committed) = commits.get(id_of(subject)) else {
            continue;
        };
        if !after.contains_key(subject) || *committed < killed_wall {
            continue;
        }
        events_after_kill += 1;
        after_kill_max = after_kill_max.max(arrival.wall.duration_since(*committed)?);
    }
    check_order(&after, &arrivals)?;
    for replica in replicas {
        replica.server.stop().await?;
    }
    Ok(ReplicaFigures {
        replicas: count,
        rate: achieved,
        by_writer,
        all: all_latency,
        users,
        events,
        takeover,
        after_kill_max,
        events_after_kill,
    })
}

/// Creates at `rate` per second in all from `callers` paced callers (users `<prefix><caller>`),
/// the n-th create of each caller going to `on[n % on.len()]`. Returns the achieved rate and
/// every acknowledged create by task name.
async fn paced(
    replicas: &[Replica],
    on: &[usize],
    callers: usize,
    rate: f64,
    duration: Duration,
    prefix: &str,
) -> Result<(f64, HashMap<String, Sent>), Error> {
    let sent: Arc<Mutex<HashMap<String, Sent>>> = Arc::default();
    let period = Duration::from_secs_f64(callers as f64 / rate.max(1.0));
    let started = Instant::now();
    let mut workers = Vec::with_capacity(callers);
    for caller in 0..callers {
        let targets: Vec<(usize, Tasks)> = on
            .iter()
            .map(|&i| {
                let clients = &replicas[i].clients;
                (i, clients[caller % clients.len()].clone())
            })
            .collect();
        let sent = sent.clone();
        let user = format!("{prefix}{caller}");
        workers.push(tokio::spawn(async move {
            let offset = period.mul_f64(caller as f64 / callers as f64);
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + offset, period);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut seq = 0u64;
            while started.elapsed() < duration {
                ticks.tick().await;
                let (writer, client) = &targets[usize::try_from(seq)? % targets.len()];
                let mut client = client.clone();
                let request = as_user(&user, client::create_request(&user, seq));
                // A create refused while a replica dies is the client's to retry; it is not
                // acknowledged, so nothing is owed for it.
                if let Ok(task) = client.create_task(request).await {
                    let name = task.into_inner().name;
                    let entry = Sent {
                        user: user.clone(),
                        seq,
                        writer: *writer,
                    };
                    sent.lock().map_err(|_| "poisoned")?.insert(name, entry);
                }
                seq += 1;
            }
            Ok::<_, Error>(())
        }));
    }
    for worker in workers {
        worker.await??;
    }
    let elapsed = started.elapsed();
    let sent = std::mem::take(&mut *sent.lock().map_err(|_| "poisoned")?);
    Ok((sent.len() as f64 / elapsed.as_secs_f64(), sent))
}

/// Waits until every create of `sent` has its `task.created` event stored by one of the
/// doubles (the relay may send some twice around a fail-over) and returns every stored event
/// with the index of the double that stored it.
async fn wait_published(
    doubles: &[&DaprDouble],
    sent: &HashMap<String, Sent>,
) -> Result<Vec<(usize, Published)>, Error> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let published: Vec<(usize, Published)> = doubles
            .iter()
            .enumerate()
            .flat_map(|(i, d)| d.published().into_iter().map(move |p| (i, p)))
            .collect();
        let arrived = first_arrivals(&published);
        let missing = sent
            .keys()
            .filter(|name| !arrived.by_subject.contains_key(*name))
            .count();
        if missing == 0 {
            return Ok(published);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "{missing} of {} acknowledged creates never reached a sidecar",
                sent.len()
            )
            .into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The double that stored the most events: the one whose replica runs the relay.
fn busiest(published: &[(usize, Published)], replicas: usize) -> Option<usize> {
    let mut counts = vec![0usize; replicas];
    for (i, _) in published {
        counts[*i] += 1;
    }
    counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .max_by_key(|(_, n)| **n)
        .map(|(i, _)| i)
}

/// When an event first reached a sidecar.
struct Arrival {
    wall: SystemTime,
}

/// Each `task.created` subject's first arrival, in arrival order.
struct Arrivals {
    by_subject: HashMap<String, Arrival>,
    in_order: Vec<String>,
}

fn first_arrivals(published: &[(usize, Published)]) -> Arrivals {
    let (anchor, anchor_wall) = (Instant::now(), SystemTime::now());
    let mut created: Vec<(Instant, usize, &str)> = published
        .iter()
        .enumerate()
        .filter_map(|(i, (_, p))| {
            let kind = p.cloud_event.get("type")?.as_str()?;
            if kind != "task.created" && !kind.ends_with(".task.created") {
                return None;
            }
            let subject = p.cloud_event.get("subject")?.as_str()?;
            Some((p.received_at, i, subject))
        })
        .collect();
    // Arrival order across the doubles; one double's own order breaks ties.
    created.sort_by_key(|(at, i, _)| (*at, *i));
    let mut arrivals = Arrivals {
        by_subject: HashMap::new(),
        in_order: Vec::new(),
    };
    for (at, _, subject) in created {
        if arrivals.by_subject.contains_key(subject) {
            continue;
        }
        let wall = anchor_wall - anchor.saturating_duration_since(at);
        arrivals
            .by_subject
            .insert(subject.to_owned(), Arrival { wall });
        arrivals.in_order.push(subject.to_owned());
    }
    arrivals
}

/// Each user's creates are sequential (each waits for the previous one's answer), so their
/// commit order is their sequence: their events must first reach a sidecar in that order.
fn check_order(sent: &HashMap<String, Sent>, arrivals: &Arrivals) -> Result<(), Error> {
    let mut last: HashMap<&str, u64> = HashMap::new();
    let mut out_of_order = 0usize;
    for subject in &arrivals.in_order {
        let Some(s) = sent.get(subject) else {
            continue;
        };
        if let Some(previous) = last.insert(&s.user, s.seq)
            && previous > s.seq
        {
            out_of_order += 1;
        }
    }
    if out_of_order > 0 {
        return Err(format!(
            "{out_of_order} events reached a sidecar before an earlier one of the same user"
        )
        .into());
    }
    Ok(())
}

/// The task id at the end of a subject (`users/u/tasks/<id>`).
fn id_of(subject: &str) -> &str {
    subject.rsplit('/').next().unwrap_or_default()
}
