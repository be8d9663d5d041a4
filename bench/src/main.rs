//! taskflow's load generator: every figure of bench/README.md in one run. `bench/run` builds
//! it and the server, creates the database and calls `taskflow-bench run`.

#![recursion_limit = "256"]

mod client;
mod create_ratio;
mod events;
mod history;
mod jwks;
mod load;
mod machine;
mod otel;
mod pg;
mod pgbench;
mod profile;
mod reminders;
mod replicas;
mod report;
mod rpc;
mod server;
mod watch;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand};
use dapr_double::DaprDouble;

use crate::load::{RssSampler, Until};
use crate::profile::Profile;
use crate::report::Table;
use crate::server::Server;

pub type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Parser)]
#[command(about = "Load and figures for taskflow (run it through bench/run)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs every load and writes the figures.
    Run(RunArgs),
    /// Checks that a results.json holds every figure as a number > 0.
    Check { path: PathBuf },
}

#[derive(clap::Args)]
struct RunArgs {
    /// The short profile (CI): fewer callers, seconds instead of tens of seconds.
    #[arg(long)]
    quick: bool,
    /// The release `taskflow` binary.
    #[arg(long)]
    server: PathBuf,
    /// A freshly created, empty PostgreSQL database.
    #[arg(long)]
    database_url: String,
    /// The pgbench binary.
    #[arg(long, default_value = "pgbench")]
    pgbench: PathBuf,
    /// A scratch directory (SQLite database, pgbench script).
    #[arg(long)]
    work_dir: PathBuf,
    /// Where to write results.json.
    #[arg(long)]
    out: PathBuf,
    /// Overrides the profile's number of concurrent callers.
    #[arg(long)]
    callers: Option<usize>,
    /// Runs only the tracing figures and prints them (writes no results.json): for trying a
    /// change to the span path without the whole run.
    #[arg(long)]
    only_tracing: bool,
    /// Runs only the history figures (ListActivities, GetInsights) and prints them.
    #[arg(long, conflicts_with = "only_tracing")]
    only_history: bool,
    /// Runs only the embedded SQLite figures and prints them.
    #[arg(long, conflicts_with_all = ["only_tracing", "only_history"])]
    only_sqlite: bool,
    /// Runs only CreateTask on PostgreSQL with the Dapr sidecar double against pgbench, in
    /// alternating rounds, and prints them with their ratio: for trying a change to the write
    /// path.
    #[arg(long, conflicts_with_all = ["only_tracing", "only_history", "only_sqlite"])]
    only_create: bool,
    /// Runs only the three-replica figures, creating at this many tasks per second in all,
    /// and prints them: for trying a change to the relay across replicas.
    #[arg(long, value_name = "CREATES_PER_SECOND", conflicts_with_all = ["only_tracing", "only_history", "only_sqlite", "only_create"])]
    only_replicas: Option<f64>,
    /// Runs only the memory figures of open WatchNotifications streams (a fresh server, the
    /// profile's number of streams) and prints them: for trying a change to what a stream holds.
    #[arg(long, conflicts_with_all = ["only_tracing", "only_history", "only_sqlite", "only_create", "only_replicas"])]
    only_watch: bool,
}

#[tokio::main]
async fn main() {
    let outcome = match Cli::parse().command {
        Command::Run(args) => run(args).await,
        Command::Check { path } => report::check(&path),
    };
    if let Err(err) = outcome {
        eprintln!("taskflow-bench: {err}");
        std::process::exit(1);
    }
}

fn step(what: &str) {
    eprintln!("--> {what}");
}

async fn run(args: RunArgs) -> Result<(), Error> {
    let mut profile = if args.quick {
        Profile::quick()
    } else {
        Profile::full()
    };
    if let Some(callers) = args.callers {
        profile.callers = callers.max(1);
    }
    let started = Instant::now();
    let machine = machine::describe();
    let mut table = Table::default();
    if args.only_tracing {
        let tracing =
            otel::overhead(&args.server, &args.database_url, &profile, profile.callers).await?;
        tracing_figures(&tracing, &mut table);
        print!("{}", table.render());
        return Ok(());
    }
    if args.only_sqlite {
        embedded_sqlite(&args, &profile, &mut table).await?;
        print!("{}", table.render());
        return Ok(());
    }
    if args.only_create {
        only_create(&args, &profile, &mut table).await?;
        print!("{}", table.render());
        return Ok(());
    }
    if args.only_watch {
        let server = Server::start(
            &args.server,
            &[("TASKFLOW_DATABASE_URL", args.database_url.clone())],
        )
        .await?;
        watch::memory(&server, profile.watch_streams, &mut table).await?;
        server.stop().await?;
        print!("{}", table.render());
        return Ok(());
    }
    if let Some(rate) = args.only_replicas {
        let replicas = replicas::run(
            &args.server,
            &args.database_url,
            3,
            profile.callers,
            rate,
            profile.publish,
        )
        .await?;
        replicas::tabulate(&replicas, &mut table);
        print!("{}", table.render());
        return Ok(());
    }
    if args.only_history {
        let server = Server::start(
            &args.server,
            &[("TASKFLOW_DATABASE_URL", args.database_url.clone())],
        )
        .await?;
        history_figures(&args.database_url, &server, &profile, &mut table).await?;
        server.stop().await?;
        print!("{}", table.render());
        return Ok(());
    }
    let pg = dapr_postgres(&args, &profile, &mut table).await?;
    let create_ratio = pg.create_ratio;
    step("postgres + dapr: three replicas, creates spread over all, then the relay's one killed");
    let replicas = replicas::run(
        &args.server,
        &args.database_url,
        3,
        profile.callers,
        pg.publish_rate,
        profile.publish,
    )
    .await?;
    replicas::tabulate(&replicas, &mut table);
    step("postgres: CreateTask with spans off, kept in the process, exported over OTLP");
    let tracing =
        otel::overhead(&args.server, &args.database_url, &profile, profile.callers).await?;
    let (kept_ratio, exported_ratio) = tracing_figures(&tracing, &mut table);
    step("postgres: CreateTask with HS256 tokens and with RS256 tokens from a JWKS");
    let tokens = jwks::cost(&args.server, &args.database_url, &profile, profile.callers).await?;
    let jwks_ratio = tokens.jwks_tps / tokens.hs256_tps;
    table.figure(
        "postgres",
        "CreateTask, RS256 (JWKS) / HS256 tokens",
        format!("{:.0} %", jwks_ratio * 100.0),
        &format!(
            "{:.0} vs {:.0} tx/s; {} key fetches during the loads (one at each start)",
            tokens.jwks_tps, tokens.hs256_tps, tokens.fetches_during_loads
        ),
    );
    step("postgres embedded: reminders due in the same minute, fired by the local scheduler");
    let reminded = reminders::run(&args.server, &args.database_url, profile.reminders).await?;
    reminders::tabulate(&reminded, &mut table)?;
    let sqlite = embedded_sqlite(&args, &profile, &mut table).await?;
    let results = serde_json::json!({
        "profile": profile.name,
        "callers": profile.callers,
        "create_tps": pg.create_tps,
        "pgbench_tps": pg.pgbench_tps,
        "create_ratio": create_ratio,
        "create_ratio_rounds": profile.ratio_rounds,
        "server_cpu_per_create_us": pg.server_cpu_per_create_us,
        "create_with_deliveries_per_s": pg.deliveries.sustained_per_s,
        "deliveries_drain_per_s": pg.deliveries.drain_per_s,
        "topic_partitions": events::TOPIC_PARTITIONS,
        "publish_p50_ms": pg.publish_p50_ms,
        "publish_p99_ms": pg.publish_p99_ms,
        "publish_measured_from": pg.publish_measured_from,
        "publish_from_create_time_p99_ms": pg.publish_from_create_time_p99_ms,
        "publish_from_send_p99_ms": pg.publish_from_send_p99_ms,
        "publish_after_response_p99_ms": pg.publish_after_response_p99_ms,
        "publish_rate": pg.publish_rate,
        "drain_events_per_s": pg.drain_events_per_s,
        "replicas": replicas.replicas,
        "replicas_create_rate": replicas.rate,
        "replicas_publish_p99_ms": replicas.worst_p99_ms(),
        "replicas_publish_p99_ms_by_writer": replicas.p99_ms_by_writer(),
        "replicas_takeover_ms": replicas.takeover.as_secs_f64() * 1000.0,
        "replicas_after_kill_max_ms": replicas.after_kill_max.as_secs_f64() * 1000.0,
        "next_instance_p99_ms": pg.next_instance_p99_ms,
        "rss_idle_mb": pg.rss_idle_mb,
        "rss_load_mb": pg.rss_load_mb,
        "rss_watch_mb": pg.rss_watch_mb,
        "watch_streams": profile.watch_streams,
        "fan_out_cpu_ms": pg.fan_out_cpu_ms,
        "fan_out_p99_ms": pg.fan_out_p99_ms,
        "list_by_list_p99_ms": pg.list_by_list_p99_ms,
        "list_by_list_16_p99_ms": pg.list_by_list_16_p99_ms,
        "history_list_p99_ms": pg.history_list_p99_ms,
        "history_filtered_p99_ms": pg.history_filtered_p99_ms,
        "insights_p99_ms": pg.insights_p99_ms,
        "otel_kept_ratio": kept_ratio,
        "otel_exported_ratio": exported_ratio,
        "otel_spans_exported": tracing.spans_exported,
        "otel_cpu_us": {
            "off": tracing.disabled_cpu_us,
            "kept": tracing.kept_cpu_us,
            "exported": tracing.exported_cpu_us,
        },
        "jwks_create_tps": tokens.jwks_tps,
        "hs256_create_tps": tokens.hs256_tps,
        "jwks_vs_hs256": jwks_ratio,
        "jwks_fetches_during_loads": tokens.fetches_during_loads,
        "reminders_due_in_one_minute": reminded.reminders,
        "reminders_p50_late_ms": report::ms(&reminded.lateness, 0.5),
        "reminders_p99_late_ms": report::ms(&reminded.lateness, 0.99),
        "reminders_max_late_ms": reminded.max_late_ms,
        "reminders_duplicates": reminded.duplicates,
        "sqlite_create_tps": sqlite.create_tps,
        "sqlite_next_instance_p99_ms": sqlite.next_instance_p99_ms,
        "sqlite_rss_idle_mb": sqlite.rss_idle_mb,
        "sqlite_rss_load_mb": sqlite.rss_load_mb,
        "machine": machine,
        "seconds": started.elapsed().as_secs_f64(),
    });
    if let Some(dir) = args.out.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::write(&args.out, serde_json::to_string_pretty(&results)? + "\n")?;
    println!(
        "\ntaskflow bench ({} profile, {} callers, {} cores, {})\n",
        profile.name,
        profile.callers,
        results["machine"]["nproc"],
        results["machine"]["cpu"].as_str().unwrap_or("?")
    );
    print!("{}", table.render());
    println!(
        "\n{} in {:.0} s",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    report::check(&args.out)
}

/// The headline figures of the PostgreSQL + Dapr run.
struct PgFigures {
    create_tps: f64,
    /// The creates' deliveries: their drain once the creates stopped, and the creates a
    /// second counting the wait for the last one.
    deliveries: events::DeliveryFigures,
    pgbench_tps: f64,
    /// The median of the alternating rounds' CreateTask / pgbench.
    create_ratio: f64,
    /// The call, its event published and its delivery handled.
    server_cpu_per_create_us: f64,
    publish_rate: f64,
    publish_p50_ms: f64,
    publish_p99_ms: f64,
    /// What `publish_p50/p99_ms` are measured from: "commit_timestamp" (exact) or
    /// "create_time" (an upper bound, when PostgreSQL keeps no commit timestamps).
    publish_measured_from: &'static str,
    publish_from_create_time_p99_ms: f64,
    publish_from_send_p99_ms: f64,
    publish_after_response_p99_ms: f64,
    drain_events_per_s: f64,
    next_instance_p99_ms: f64,
    rss_idle_mb: f64,
    rss_load_mb: f64,
    rss_watch_mb: f64,
    /// Server CPU per notification with every watch stream open.
    fan_out_cpu_ms: f64,
    fan_out_p99_ms: f64,
    list_by_list_p99_ms: f64,
    list_by_list_16_p99_ms: f64,
    history_list_p99_ms: f64,
    history_filtered_p99_ms: f64,
    insights_p99_ms: f64,
}

/// Callers of the history loads (the figure's goal is set at 16).
const HISTORY_CALLERS: usize = 16;
/// The lists the list load's tasks are spread over (`ListTasks by list`).
const LISTS: u64 = 4;

/// The history loads' calls.
struct HistoryFigures {
    list: load::Measured,
    filtered: load::Measured,
    insights: load::Measured,
}

/// Seeds the history into `url` (the database `server` uses) and runs its loads: the first
/// page of `ListActivities`, a filtered page, and `GetInsights` over a year.
async fn history_figures(
    url: &str,
    server: &Server,
    profile: &Profile,
    table: &mut Table,
) -> Result<HistoryFigures, Error> {
    const B: &str = "postgres";
    step("postgres: ListActivities and GetInsights over a large history");
    history::seed(url, profile.history_mine, profile.history_total).await?;
    let history_clients: Vec<history::History> =
        client::channels(&server.endpoint(), HISTORY_CALLERS.div_ceil(8))
            .await?
            .into_iter()
            .map(history::History::new)
            .collect();
    let seeded = format!(
        "{} of {} entries, {HISTORY_CALLERS} callers",
        profile.history_mine, profile.history_total
    );
    let list = history::list(
        &history_clients,
        HISTORY_CALLERS,
        profile.read,
        String::new(),
    )
    .await?;
    table.calls(
        B,
        "ListActivities",
        &list,
        &format!("first page of 50, {seeded}"),
    );
    let filtered = history::list(
        &history_clients,
        HISTORY_CALLERS,
        profile.read,
        history::completed_lately(),
    )
    .await?;
    table.calls(
        B,
        "ListActivities filtered",
        &filtered,
        &format!("completions of the last half year, page of 50, {seeded}"),
    );
    let insights = history::insights(&history_clients, HISTORY_CALLERS, profile.read).await?;
    table.calls(
        B,
        "GetInsights",
        &insights,
        &format!("a year in Berlin days, {seeded}"),
    );
    Ok(HistoryFigures {
        list,
        filtered,
        insights,
    })
}

/// The tracing figures' rows; returns the kept / off and exported / kept ratios.
fn tracing_figures(tracing: &otel::Overhead, table: &mut Table) -> (f64, f64) {
    let kept_ratio = tracing.kept_tps / tracing.disabled_tps;
    let exported_ratio = tracing.exported_tps / tracing.kept_tps;
    table.figure(
        "postgres",
        "CreateTask, spans kept / off",
        format!("{:.0} %", kept_ratio * 100.0),
        &format!(
            "{:.0} vs {:.0} tx/s (no collector vs OTEL_SDK_DISABLED)",
            tracing.kept_tps, tracing.disabled_tps
        ),
    );
    table.figure(
        "postgres",
        "server CPU per CreateTask, spans off / kept / exported",
        format!(
            "{:.0} / {:.0} / {:.0} µs",
            tracing.disabled_cpu_us, tracing.kept_cpu_us, tracing.exported_cpu_us
        ),
        &format!(
            "kept costs {:+.1} % CPU; the call, its event relayed and handled",
            (tracing.kept_cpu_us / tracing.disabled_cpu_us - 1.0) * 100.0
        ),
    );
    table.figure(
        "postgres",
        "CreateTask, spans exported / kept",
        format!("{:.0} %", exported_ratio * 100.0),
        &format!(
            "{:.0} tx/s, every call sampled, {} spans to an OTLP collector",
            tracing.exported_tps, tracing.spans_exported
        ),
    );
    (kept_ratio, exported_ratio)
}

/// Where CreateTask and pgbench run against each other: this server, its clients and double,
/// the run's database and pgbench.
fn ratio_setup<'a>(
    args: &'a RunArgs,
    clients: &'a [client::Tasks],
    double: &'a DaprDouble,
    server: &Server,
) -> create_ratio::Setup<'a> {
    create_ratio::Setup {
        clients,
        double,
        server_pid: server.pid(),
        url: &args.database_url,
        pgbench: &args.pgbench,
        work_dir: &args.work_dir,
    }
}

/// CreateTask on PostgreSQL with the Dapr sidecar double against pgbench, in alternating
/// rounds (as in the full run).
async fn only_create(args: &RunArgs, profile: &Profile, table: &mut Table) -> Result<(), Error> {
    let url = args.database_url.as_str();
    let double = DaprDouble::start(events::double_config()).await?;
    let server = Server::start(
        &args.server,
        &[
            ("TASKFLOW_DATABASE_URL", url.to_owned()),
            ("TASKFLOW_EVENT_SINK", "dapr".to_owned()),
            ("DAPR_GRPC_ENDPOINT", double.endpoint()),
        ],
    )
    .await?;
    double.set_app_addr(server.callback_addr);
    let clients = client::task_clients(&server.endpoint(), profile.callers).await?;
    if !profile.warmup.is_zero() {
        rpc::create(
            &clients,
            profile.callers,
            Until::Elapsed(profile.warmup),
            false,
        )
        .await?;
    }
    events::settle(&double, url, Duration::from_secs(120)).await?;
    create_ratio::measure(
        &ratio_setup(args, &clients, &double, &server),
        profile,
        table,
    )
    .await?;
    drop(clients);
    server.stop().await?;
    Ok(())
}

async fn dapr_postgres(
    args: &RunArgs,
    profile: &Profile,
    table: &mut Table,
) -> Result<PgFigures, Error> {
    const B: &str = "postgres";
    let url = args.database_url.as_str();
    let callers = profile.callers;
    let double = DaprDouble::start(events::double_config()).await?;
    step("postgres + dapr: starting the server");
    let server = Server::start(
        &args.server,
        &[
            ("TASKFLOW_DATABASE_URL", url.to_owned()),
            ("TASKFLOW_EVENT_SINK", "dapr".to_owned()),
            ("DAPR_GRPC_ENDPOINT", double.endpoint()),
            // After the drain test's outage the relay retries within 250 ms, not 30 s.
            ("TASKFLOW_RELAY_BACKOFF_MAX_MS", "250".to_owned()),
        ],
    )
    .await?;
    double.set_app_addr(server.callback_addr);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle_mb = server.rss_mb()?;
    table.figure(
        B,
        "RSS idle",
        format!("{rss_idle_mb:.1} MiB"),
        "VmRSS after start",
    );

    let clients = client::task_clients(&server.endpoint(), callers).await?;
    let sampler = RssSampler::start(server.pid());
    if !profile.warmup.is_zero() {
        rpc::create(&clients, callers, Until::Elapsed(profile.warmup), false).await?;
    }
    // The warm-up's deliveries finish before the load starts, as in `--only-create`.
    events::settle(&double, url, Duration::from_secs(120)).await?;
    let mut ratio = create_ratio::measure(
        &ratio_setup(args, &clients, &double, &server),
        profile,
        table,
    )
    .await?;
    let created = std::mem::take(&mut ratio.created);
    let create = &ratio.create;
    step("postgres + dapr: GetTask");
    let get = rpc::get(&clients, callers, profile.read, created).await?;
    table.calls(B, "GetTask", &get, "");
    step("postgres + dapr: ListTasks");
    rpc::seed(&clients, rpc::LIST_USER, 1).await?;
    pg::clone_tasks(url, rpc::LIST_USER, profile.list_tasks_pg).await?;
    let list = rpc::list(
        &clients,
        callers,
        profile.read,
        rpc::LIST_USER,
        client::LIST_FILTER,
    )
    .await?;
    table.calls(
        B,
        "ListTasks",
        &list,
        &format!(
            "page of 50, filtered, over {} tasks",
            profile.list_tasks_pg + 1
        ),
    );
    step("postgres + dapr: ListTasks by list");
    let one_list = pg::spread_over_lists(url, rpc::LIST_USER, LISTS).await?;
    let by_list = rpc::list(
        &clients,
        callers,
        profile.read,
        rpc::LIST_USER,
        &format!("list = \"{one_list}\""),
    )
    .await?;
    table.calls(
        B,
        "ListTasks by list",
        &by_list,
        &format!(
            "page of 50, `list = …`, one of {LISTS} lists over {} tasks",
            profile.list_tasks_pg + 1
        ),
    );
    // The same page at the concurrency the read goals are set at (the history loads' too).
    let by_list_16 = rpc::list(
        &clients,
        HISTORY_CALLERS.min(callers),
        profile.read,
        rpc::LIST_USER,
        &format!("list = \"{one_list}\""),
    )
    .await?;
    table.calls(
        B,
        "ListTasks by list, 16 callers",
        &by_list_16,
        &format!("as above, {} callers", HISTORY_CALLERS.min(callers)),
    );
    step("postgres + dapr: CompleteTask");
    let (_, recurring) =
        rpc::create(&clients, callers, Until::Calls(profile.recurring), true).await?;
    let complete = rpc::complete(&clients, callers, recurring).await?;
    table.calls(B, "CompleteTask", &complete, "recurring (daily)");
    let rss_load_mb = sampler.peak_mb().await;
    table.figure(
        B,
        "RSS under load",
        format!("{rss_load_mb:.1} MiB"),
        "peak VmRSS during the four loads",
    );

    step("postgres + dapr: commit -> sidecar at ~50 % load");
    events::settle(&double, url, Duration::from_secs(120)).await?;
    let publish = events::publish_latency(
        &double,
        url,
        &clients,
        callers,
        create.per_second() * 0.5,
        profile.publish,
    )
    .await?;
    // The exact figure when PostgreSQL keeps commit timestamps, else the tightest upper bound.
    let (publish_exact, publish_measured_from) = match &publish.from_commit {
        Some(from_commit) => (from_commit, "commit_timestamp"),
        None => (&publish.from_create_time, "create_time"),
    };
    let (publish_p50_ms, publish_p99_ms) = (
        report::ms(publish_exact, 0.5),
        report::ms(publish_exact, 0.99),
    );
    if let Some(from_commit) = &publish.from_commit {
        table.latency(
            B,
            "commit -> sidecar",
            from_commit,
            &format!(
                "at {:.0} creates/s; PostgreSQL's commit timestamp -> double stored",
                publish.rate
            ),
        );
    }
    table.latency(
        B,
        "commit -> sidecar (from send)",
        &publish.from_send,
        "upper bound: CreateTask sent -> double stored",
    );
    table.latency(
        B,
        "commit -> sidecar (from create_time)",
        &publish.from_create_time,
        "upper bound: the task's create_time (server clock, before its commit) -> double stored",
    );
    table.latency(
        B,
        "commit -> sidecar (from response)",
        &publish.from_response,
        "lower bound: CreateTask answered -> double stored",
    );
    table.calls(B, "CreateTask at ~50 %", &publish.create, "paced");

    step("postgres + dapr: complete -> next occurrence");
    events::seed_next_instance(&clients, profile.next_samples, 4).await?;
    events::settle(&double, url, Duration::from_secs(120)).await?;
    let next = events::next_instance(&clients, profile.next_samples, 4).await?;
    table.latency(
        B,
        "complete -> next visible",
        &next,
        &format!(
            "{} samples, 4 at a time; CompleteTask sent -> ListTasks shows it",
            profile.next_samples
        ),
    );

    step("postgres + dapr: outbox drain");
    let drain = events::drain(&double, &clients, callers, profile.drain_events, url).await?;
    table.figure(
        B,
        "outbox drain",
        format!("{:.0} events/s", drain.per_second()),
        &format!(
            "{} events, first -> last {:.2} s, restart -> last {:.2} s",
            drain.events,
            drain.first_to_last.as_secs_f64(),
            drain.restart_to_last.as_secs_f64()
        ),
    );

    step("postgres + dapr: WatchNotifications streams");
    events::settle(&double, url, Duration::from_secs(120)).await?;
    let (rss_watch_mb, streams) = watch::memory(&server, profile.watch_streams, table).await?;
    step("postgres + dapr: notifications fanned out to the watch streams");
    let mut streams = streams;
    let fan_out = watch::fan_out(
        &mut streams,
        url,
        server.pid(),
        profile.fan_out_notifications,
        10,
    )
    .await?;
    table.latency(
        B,
        "notification -> its watcher",
        &fan_out.latency,
        &format!(
            "{} notifications, 10 per statement, {} streams open; server CPU {:.2} ms each",
            fan_out.notifications,
            streams.len(),
            fan_out.cpu_per_notification.as_secs_f64() * 1000.0
        ),
    );
    drop(streams);

    // The history loads run last, so that the entries they seed weigh on no other figure.
    let history = history_figures(url, &server, profile, table).await?;
    drop(clients);
    server.stop().await?;
    Ok(PgFigures {
        deliveries: ratio.deliveries,
        create_tps: ratio.create.per_second(),
        pgbench_tps: ratio.pgbench_tps,
        create_ratio: ratio.ratio,
        server_cpu_per_create_us: ratio.server_cpu_per_create.as_secs_f64() * 1e6,
        publish_rate: publish.rate,
        publish_p50_ms,
        publish_p99_ms,
        publish_measured_from,
        publish_from_create_time_p99_ms: report::ms(&publish.from_create_time, 0.99),
        publish_from_send_p99_ms: report::ms(&publish.from_send, 0.99),
        publish_after_response_p99_ms: report::ms(&publish.from_response, 0.99),
        drain_events_per_s: drain.per_second(),
        next_instance_p99_ms: report::ms(&next, 0.99),
        rss_idle_mb,
        rss_load_mb,
        rss_watch_mb,
        fan_out_cpu_ms: fan_out.cpu_per_notification.as_secs_f64() * 1000.0,
        fan_out_p99_ms: report::ms(&fan_out.latency, 0.99),
        list_by_list_p99_ms: by_list.ms(0.99),
        list_by_list_16_p99_ms: by_list_16.ms(0.99),
        history_list_p99_ms: history.list.ms(0.99),
        history_filtered_p99_ms: history.filtered.ms(0.99),
        insights_p99_ms: history.insights.ms(0.99),
    })
}

struct SqliteFigures {
    create_tps: f64,
    next_instance_p99_ms: f64,
    rss_idle_mb: f64,
    rss_load_mb: f64,
}

async fn embedded_sqlite(
    args: &RunArgs,
    profile: &Profile,
    table: &mut Table,
) -> Result<SqliteFigures, Error> {
    const B: &str = "sqlite";
    let callers = profile.callers;
    let db = args.work_dir.join("embedded.db");
    remove_db(&db);
    step("sqlite embedded: starting the server");
    let db_url = format!("sqlite://{}?mode=rwc", db.display());
    let server = Server::start(
        &args.server,
        &[
            ("TASKFLOW_DATABASE_URL", db_url.clone()),
            ("TASKFLOW_EVENT_SINK", "local".to_owned()),
        ],
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_idle_mb = server.rss_mb()?;
    table.figure(
        B,
        "RSS idle",
        format!("{rss_idle_mb:.1} MiB"),
        "VmRSS after start",
    );
    let clients = client::task_clients(&server.endpoint(), callers).await?;
    let sampler = RssSampler::start(server.pid());
    step("sqlite embedded: CreateTask");
    let (create, created) =
        rpc::create(&clients, callers, Until::Elapsed(profile.create), false).await?;
    table.calls(B, "CreateTask", &create, "task + outbox row");
    step("sqlite embedded: GetTask");
    let get = rpc::get(&clients, callers, profile.read, created).await?;
    table.calls(B, "GetTask", &get, "");
    step("sqlite embedded: ListTasks");
    rpc::seed(&clients, rpc::LIST_USER, profile.list_tasks_sqlite).await?;
    let list = rpc::list(
        &clients,
        callers,
        profile.read,
        rpc::LIST_USER,
        client::LIST_FILTER,
    )
    .await?;
    table.calls(
        B,
        "ListTasks",
        &list,
        &format!(
            "page of 50, filtered, over {} tasks",
            profile.list_tasks_sqlite
        ),
    );
    step("sqlite embedded: CompleteTask");
    let (_, recurring) =
        rpc::create(&clients, callers, Until::Calls(profile.recurring), true).await?;
    let complete = rpc::complete(&clients, callers, recurring).await?;
    table.calls(B, "CompleteTask", &complete, "recurring (daily)");
    let rss_load_mb = sampler.peak_mb().await;
    table.figure(
        B,
        "RSS under load",
        format!("{rss_load_mb:.1} MiB"),
        "peak VmRSS during the four loads",
    );
    step("sqlite embedded: complete -> next occurrence");
    events::seed_next_instance(&clients, profile.next_samples, 4).await?;
    events::settle_embedded(&db_url, Duration::from_secs(120)).await?;
    let next = events::next_instance(&clients, profile.next_samples, 4).await?;
    table.latency(
        B,
        "complete -> next visible",
        &next,
        &format!(
            "{} samples, 4 at a time; CompleteTask sent -> ListTasks shows it (in-process bus)",
            profile.next_samples
        ),
    );
    drop(clients);
    server.stop().await?;
    remove_db(&db);
    Ok(SqliteFigures {
        create_tps: create.per_second(),
        next_instance_p99_ms: report::ms(&next, 0.99),
        rss_idle_mb,
        rss_load_mb,
    })
}

fn remove_db(db: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
}
