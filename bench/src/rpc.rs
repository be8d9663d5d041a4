//! The four RPC loads, the same on both backends: CreateTask, GetTask, a filtered ListTasks
//! page over many tasks, and CompleteTask on recurring tasks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use taskflow::proto::v1 as pb;

use crate::Error;
use crate::client::{self, Tasks, as_user};
use crate::load::{self, Measured, Until};

/// The user the list load reads (its tasks are seeded before the load).
pub const LIST_USER: &str = "lister";

pub fn caller_user(caller: usize) -> String {
    format!("c{caller}")
}

/// Creates tasks from `callers` callers (user `c<caller>`) for `until`; returns the figures and
/// the `(user, name)` of every task created.
pub async fn create(
    clients: &[Tasks],
    callers: usize,
    until: Until,
    recurring: bool,
) -> Result<(Measured, Vec<(String, String)>), Error> {
    let created = Arc::new(Mutex::new(Vec::new()));
    let (clients, sink) = (clients.to_vec(), created.clone());
    let measured = load::closed_loop(callers, until, move |caller, n| {
        let mut client = clients[caller % clients.len()].clone();
        let sink = sink.clone();
        let user = caller_user(caller);
        async move {
            let request = if recurring {
                client::recurring_request(&user, n)
            } else {
                client::create_request(&user, n)
            };
            let task = client
                .create_task(as_user(&user, request))
                .await?
                .into_inner();
            if let Ok(mut created) = sink.lock() {
                created.push((user, task.name));
            }
            Ok(())
        }
    })
    .await?;
    let created = std::mem::take(&mut *created.lock().map_err(|_| "poisoned")?);
    Ok((measured, created))
}

/// Seeds `count` tasks for `user` through the API (priorities spread over all five ranks).
pub async fn seed(clients: &[Tasks], user: &str, count: u64) -> Result<(), Error> {
    let (clients, user) = (clients.to_vec(), user.to_owned());
    load::closed_loop(16, Until::Calls(count), move |caller, n| {
        let mut client = clients[caller % clients.len()].clone();
        let user = user.clone();
        async move {
            client
                .create_task(as_user(&user, client::create_request(&user, n)))
                .await?;
            Ok(())
        }
    })
    .await?;
    Ok(())
}

/// Gets tasks picked round-robin from `tasks`.
pub async fn get(
    clients: &[Tasks],
    callers: usize,
    duration: Duration,
    tasks: Vec<(String, String)>,
) -> Result<Measured, Error> {
    if tasks.is_empty() {
        return Err("no tasks to get".into());
    }
    let (clients, tasks) = (clients.to_vec(), Arc::new(tasks));
    load::closed_loop(callers, Until::Elapsed(duration), move |caller, n| {
        let mut client = clients[caller % clients.len()].clone();
        let index = usize::try_from(n).unwrap_or(0).wrapping_mul(7919) % tasks.len();
        let (user, name) = tasks[index].clone();
        async move {
            client
                .get_task(as_user(&user, pb::GetTaskRequest { name }))
                .await?;
            Ok(())
        }
    })
    .await
}

/// Asks for the first page of 50 of `completed = false AND priority >= HIGH` over `user`'s
/// tasks; fails if a page comes back short.
pub async fn list(
    clients: &[Tasks],
    callers: usize,
    duration: Duration,
    user: &str,
    filter: &str,
) -> Result<Measured, Error> {
    let (clients, user) = (clients.to_vec(), user.to_owned());
    let filter = filter.to_owned();
    load::closed_loop(callers, Until::Elapsed(duration), move |caller, _| {
        let mut client = clients[caller % clients.len()].clone();
        let (user, filter) = (user.clone(), filter.clone());
        async move {
            let page = client
                .list_tasks(as_user(&user, client::list_request(&user, &filter)))
                .await?
                .into_inner();
            if page.tasks.len() < 50 {
                return Err(tonic::Status::internal(format!(
                    "a short page: {} tasks",
                    page.tasks.len()
                )));
            }
            Ok(())
        }
    })
    .await
}

/// Completes each of `tasks` (recurring ones) once.
pub async fn complete(
    clients: &[Tasks],
    callers: usize,
    tasks: Vec<(String, String)>,
) -> Result<Measured, Error> {
    let count = u64::try_from(tasks.len())?;
    let (clients, tasks) = (clients.to_vec(), Arc::new(tasks));
    load::closed_loop(callers, Until::Calls(count), move |caller, n| {
        let mut client = clients[caller % clients.len()].clone();
        let task = usize::try_from(n).ok().and_then(|i| tasks.get(i).cloned());
        async move {
            let (user, name) = task.ok_or_else(|| tonic::Status::internal("out of tasks"))?;
            client
                .complete_task(as_user(&user, pb::CompleteTaskRequest { name }))
                .await?;
            Ok(())
        }
    })
    .await
}
