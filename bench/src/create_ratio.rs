//! CreateTask against its limit, pgbench running the same SQL, in alternating rounds.
//!
//! On a machine whose speed drifts between runs (pgbench moves ±15 % from one minute to the
//! next on a shared 2-core VM), one CreateTask load followed by one pgbench load compares two
//! different minutes. Here each round runs the creates (and waits for their deliveries), then
//! pgbench, each from a checkpoint; the figure is the median of the rounds' ratios, and every
//! round is shown.

use std::time::Duration;

use dapr_double::DaprDouble;

use crate::Error;
use crate::client::Tasks;
use crate::events::{self, TOPIC_PARTITIONS};
use crate::load::{Measured, Until};
use crate::pg;
use crate::pgbench;
use crate::profile::Profile;
use crate::report::Table;
use crate::rpc;
use crate::server;

/// How long one round's creates have to settle their deliveries.
const SETTLE_WITHIN: Duration = Duration::from_secs(120);

/// What the rounds measured.
pub struct CreateRatio {
    /// Every round's creates together.
    pub create: Measured,
    /// The tasks created: (user, name).
    pub created: Vec<(String, String)>,
    /// pgbench's transactions a second, over all its rounds.
    pub pgbench_tps: f64,
    /// The median of the rounds' CreateTask / pgbench.
    pub ratio: f64,
    pub deliveries: events::DeliveryFigures,
    /// The server's CPU per create: the call, its event published and its delivery handled.
    pub server_cpu_per_create: Duration,
}

/// Where the loads run: the server (its pid for the CPU read), its clients, its double, the
/// database and pgbench.
pub struct Setup<'a> {
    pub clients: &'a [Tasks],
    pub double: &'a DaprDouble,
    pub server_pid: u32,
    pub url: &'a str,
    pub pgbench: &'a std::path::Path,
    pub work_dir: &'a std::path::Path,
}

/// Runs the profile's CreateTask and pgbench time, split into its alternating rounds (the
/// creates' deliveries settled after each), and adds the rows: CreateTask, its deliveries, the
/// server's CPU per create, pgbench and the ratio.
pub async fn measure(
    setup: &Setup<'_>,
    profile: &Profile,
    table: &mut Table,
) -> Result<CreateRatio, Error> {
    const B: &str = "postgres";
    let (rounds, callers) = (profile.ratio_rounds.max(1), profile.callers);
    let create = profile.create / rounds;
    // pgbench counts whole seconds.
    let pgbench_for = Duration::from_secs((profile.pgbench.as_secs() / u64::from(rounds)).max(1));
    let mut creates: Option<Measured> = None;
    let mut created = Vec::new();
    let mut backlog = Backlog::default();
    let mut cpu = Duration::ZERO;
    // The server's CPU while pgbench runs beside it (its relay and timers, idle).
    let mut idle = Duration::ZERO;
    let mut per_round = Vec::with_capacity(rounds as usize);
    for round in 1..=rounds {
        pg::psql(setup.url, "CHECKPOINT;").await?;
        crate::step(&format!(
            "postgres + dapr: CreateTask, round {round} of {rounds}"
        ));
        let cpu_before = server::cpu_time(setup.server_pid)?;
        let (measured, mut tasks) =
            rpc::create(setup.clients, callers, Until::Elapsed(create), false).await?;
        backlog.add(&Backlog::settle(setup.double, setup.url).await?);
        cpu += server::cpu_time(setup.server_pid)?.saturating_sub(cpu_before);
        pg::psql(setup.url, "CHECKPOINT;").await?;
        crate::step(&format!(
            "postgres: pgbench (the limit), round {round} of {rounds}"
        ));
        let idle_before = server::cpu_time(setup.server_pid)?;
        let tps = pgbench::run(
            setup.pgbench,
            setup.url,
            setup.work_dir,
            callers,
            pgbench_for,
        )
        .await?;
        idle += server::cpu_time(setup.server_pid)?.saturating_sub(idle_before);
        per_round.push((measured.per_second(), tps));
        created.append(&mut tasks);
        creates = Some(match creates {
            None => measured,
            Some(sum) => merge(sum, &measured)?,
        });
    }
    let create = creates.ok_or("no CreateTask round ran")?;
    // Every round runs pgbench for as long: the mean of the rounds is the rate over all.
    let pgbench_tps = per_round.iter().map(|(_, p)| p).sum::<f64>() / per_round.len() as f64;
    let pgbench_secs = pgbench_for.as_secs_f64() * f64::from(rounds);
    let ratio = median(per_round.iter().map(|(c, p)| c / p.max(1e-9)).collect());
    table.calls(B, "CreateTask", &create, "task + outbox row");
    let deliveries = backlog.tabulate(table, B, &create);
    let server_cpu_per_create = cpu / u32::try_from(create.ok.max(1)).unwrap_or(u32::MAX);
    table.figure(
        B,
        "server CPU per CreateTask",
        format!("{:.1} µs", server_cpu_per_create.as_secs_f64() * 1e6),
        "the call, its event published and its delivery handled",
    );
    table.figure(
        B,
        "pgbench CreateTask SQL",
        format!("{pgbench_tps:.0} tx/s"),
        &format!(
            "the task and outbox inserts in one transaction, the limit; the idle server beside it used {:.2} % of a core",
            idle.as_secs_f64() / pgbench_secs * 100.0
        ),
    );
    let rounds_note = per_round
        .iter()
        .map(|(c, p)| format!("{:.0} % ({c:.0} vs {p:.0})", c / p.max(1e-9) * 100.0))
        .collect::<Vec<_>>()
        .join(", ");
    table.figure(
        B,
        "CreateTask / pgbench",
        format!("{:.0} %", ratio * 100.0),
        &format!("median of {rounds} alternating rounds at {callers} callers: {rounds_note}"),
    );
    Ok(CreateRatio {
        create,
        created,
        pgbench_tps,
        ratio,
        deliveries,
        server_cpu_per_create,
    })
}

/// Two loads' calls as one: counts and latencies added, times summed.
fn merge(mut sum: Measured, more: &Measured) -> Result<Measured, Error> {
    sum.ok += more.ok;
    sum.errors += more.errors;
    sum.elapsed += more.elapsed;
    sum.latency.add(&more.latency)?;
    if sum.first_error.is_none() {
        sum.first_error.clone_from(&more.first_error);
    }
    Ok(sum)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// The deliveries of the creates: how many the double finished while the creates ran, how
/// many were left when they ended, and how long those took.
#[derive(Debug, Clone, Copy, Default)]
struct Backlog {
    during: usize,
    behind: usize,
    drain: Duration,
}

impl Backlog {
    /// Called as a CreateTask load's calls end: counts the deliveries finished so far and
    /// settles the rest (see [`events::settle`]).
    async fn settle(double: &DaprDouble, url: &str) -> Result<Self, Error> {
        let during = double.delivery_count();
        let settled = events::settle(double, url, SETTLE_WITHIN).await?;
        Ok(Self {
            during,
            behind: settled.deliveries.saturating_sub(during),
            drain: settled.took,
        })
    }

    fn add(&mut self, other: &Self) {
        self.during += other.during;
        self.behind += other.behind;
        self.drain += other.drain;
    }

    /// Adds two rows: the backlog's drain rate, and the creates a second with the wait for
    /// the last delivery included.
    fn tabulate(
        &self,
        table: &mut Table,
        backend: &str,
        create: &Measured,
    ) -> events::DeliveryFigures {
        let drain_secs = self.drain.as_secs_f64();
        let drain_per_s = if self.behind == 0 {
            0.0
        } else {
            self.behind as f64 / drain_secs.max(1e-3)
        };
        table.figure(
            backend,
            "deliveries behind when the creates end",
            format!("{}", self.behind),
            &format!(
                "{} delivered during the load; the rest in {drain_secs:.1} s ({drain_per_s:.0}/s), {TOPIC_PARTITIONS} partitions, one delivery in flight each",
                self.during
            ),
        );
        let sustained = create.ok as f64 / (create.elapsed.as_secs_f64() + drain_secs).max(1e-9);
        table.figure(
            backend,
            "CreateTask, its deliveries included",
            format!("{sustained:.0}/s"),
            "created ÷ (the load + the wait for its last delivery)",
        );
        events::DeliveryFigures {
            drain_per_s,
            sustained_per_s: sustained,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_median_of_odd_and_even_counts() {
        assert_eq!(median(vec![0.9, 0.7, 1.1]), 0.9);
        assert_eq!(median(vec![0.8, 1.0]), 0.9);
        assert_eq!(median(vec![]), 0.0);
    }
}
