//! `taskflow.v1.TaskService`.

use tonic::{Request, Response, Status};

use crate::app::{ListQuery, Tasks, cursor_of};
use crate::auth::{caller, ensure_owner};
use crate::convert::{mask_fields, patch_in, populated_fields, task_out};
use crate::domain::{Etag, TaskField, TaskName, UserId, parse_parent};
use crate::error::{AppError, Violations};
use crate::listing::{Filter, OrderBy, PageToken, PageTokenKey, fit_page, page_size};
use crate::proto::v1::{self as pb, task_service_server::TaskService};

/// The gRPC face of the task use cases.
#[derive(Debug, Clone)]
pub struct TaskApi {
    tasks: Tasks,
    page_tokens: PageTokenKey,
}

impl TaskApi {
    /// Serves `tasks`, with page tokens sealed by `page_tokens`.
    pub fn new(tasks: Tasks, page_tokens: PageTokenKey) -> Self {
        Self { tasks, page_tokens }
    }
}

const MAX_REQUEST_ID_LEN: usize = 64;

/// Parses `users/{user}/tasks/{task}` in `field` and checks the caller owns it.
fn owned_name(caller: &UserId, raw: &str, field: &str) -> Result<TaskName, AppError> {
    let name = TaskName::parse(raw).map_err(|e| AppError::invalid(field, e))?;
    ensure_owner(caller, &name.user)?;
    Ok(name)
}

/// Parses `users/{user}` in `field` and checks it is the caller.
pub(super) fn owned_parent(caller: &UserId, raw: &str, field: &str) -> Result<UserId, AppError> {
    let user = parse_parent(raw).map_err(|e| AppError::invalid(field, e))?;
    ensure_owner(caller, &user)?;
    Ok(user)
}

pub(super) fn etag_in(raw: &str, field: &str) -> Result<Option<Etag>, AppError> {
    if raw.is_empty() {
        return Ok(None);
    }
    Etag::parse(raw)
        .map(Some)
        .map_err(|e| AppError::invalid(field, e))
}

pub(super) fn request_id_in(raw: &str) -> Result<Option<&str>, AppError> {
    if raw.is_empty() {
        return Ok(None);
    }
    if raw.len() > MAX_REQUEST_ID_LEN || !raw.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::invalid(
            "request_id",
            format!(
                "must be 1 to {MAX_REQUEST_ID_LEN} printable ASCII characters (a UUID is best)"
            ),
        ));
    }
    Ok(Some(raw))
}

#[tonic::async_trait]
impl TaskService for TaskApi {
    async fn create_task(
        &self,
        request: Request<pb::CreateTaskRequest>,
    ) -> Result<Response<pb::Task>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let user = owned_parent(&caller, &req.parent, "parent")?;
        let request_id = request_id_in(&req.request_id)?;
        let mut v = Violations::default();
        let patch = match &req.task {
            Some(task) => patch_in(task, &TaskField::ALL, "task", &mut v),
            None => {
                v.add("task", "required");
                Default::default()
            }
        };
        let patch = v.finish(patch)?;
        let task = self.tasks.create(&user, patch, request_id).await?;
        Ok(Response::new(task_out(&task)))
    }

    async fn get_task(
        &self,
        request: Request<pb::GetTaskRequest>,
    ) -> Result<Response<pb::Task>, Status> {
        let caller = caller(&request)?;
        let name = owned_name(&caller, &request.get_ref().name, "name")?;
        let task = self.tasks.get(&name).await?;
        Ok(Response::new(task_out(&task)))
    }

    async fn list_tasks(
        &self,
        request: Request<pb::ListTasksRequest>,
    ) -> Result<Response<pb::ListTasksResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let user = owned_parent(&caller, &req.parent, "parent")?;
        let mut v = Violations::default();
        let limit = v.check("page_size", page_size(req.page_size));
        let filter = v.check("filter", Filter::parse(&req.filter));
        let order = v.check("order_by", OrderBy::parse(&req.order_by));
        v.finish(())?;
        let (Some(limit), Some(filter), Some(order)) = (limit, filter, order) else {
            return Err(AppError::Internal("list arguments were not checked".into()).into());
        };
        if let Some(name) = filter.foreign(&user) {
            return Err(AppError::PermissionDenied(format!(
                "filter names {name}, which belongs to another user"
            ))
            .into());
        }
        let canonical_order = order.canonical();
        // A token is bound to the request; `show_deleted` joins the binding only when set, so
        // tokens of requests without it stay as they were.
        let mut fingerprint = vec![user.as_str(), req.filter.trim(), canonical_order.as_str()];
        if req.show_deleted {
            fingerprint.push("show_deleted");
        }
        let after = if req.page_token.is_empty() {
            None
        } else {
            let token = PageToken::decode(&req.page_token, &fingerprint, &self.page_tokens)
                .map_err(|e| AppError::invalid("page_token", e))?;
            Some(token.cursor)
        };
        let query = ListQuery {
            user: user.clone(),
            filter,
            order,
            after,
            limit,
            show_deleted: req.show_deleted,
        };
        let (tasks, mut next) = self.tasks.list(&query).await?;
        let mut out: Vec<pb::Task> = tasks.iter().map(task_out).collect();
        // A page of large tasks ends early.
        fit_page(&mut out, &tasks, &mut next, |last| {
            cursor_of(&query.order, last)
        });
        Ok(Response::new(pb::ListTasksResponse {
            tasks: out,
            next_page_token: next
                .map(|cursor| PageToken::new(cursor, &fingerprint).encode(&self.page_tokens))
                .unwrap_or_default(),
        }))
    }

    async fn update_task(
        &self,
        request: Request<pb::UpdateTaskRequest>,
    ) -> Result<Response<pb::Task>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let Some(task) = req.task else {
            return Err(AppError::invalid("task", "required").into());
        };
        let name = owned_name(&caller, &task.name, "task.name")?;
        let etag = etag_in(&task.etag, "task.etag")?;
        let mut v = Violations::default();
        // AIP-134: without a mask, the fields populated in `task` change. A mask that is
        // present but names no path counts as absent: many clients (proto3 JSON, where the
        // mask is a string, and REST query parameters) cannot tell the two apart.
        let paths = match &req.update_mask {
            Some(mask) if !mask.paths.is_empty() => mask_fields(&mask.paths, &mut v),
            _ => populated_fields(&task),
        };
        let patch = patch_in(&task, &paths, "task", &mut v);
        let patch = v.finish(patch)?;
        let task = self.tasks.update(&name, etag, patch).await?;
        Ok(Response::new(task_out(&task)))
    }

    async fn complete_task(
        &self,
        request: Request<pb::CompleteTaskRequest>,
    ) -> Result<Response<pb::Task>, Status> {
        let caller = caller(&request)?;
        let name = owned_name(&caller, &request.get_ref().name, "name")?;
        let task = self.tasks.complete(&name).await?;
        Ok(Response::new(task_out(&task)))
    }

    async fn reopen_task(
        &self,
        request: Request<pb::ReopenTaskRequest>,
    ) -> Result<Response<pb::Task>, Status> {
        let caller = caller(&request)?;
        let name = owned_name(&caller, &request.get_ref().name, "name")?;
        let task = self.tasks.reopen(&name).await?;
        Ok(Response::new(task_out(&task)))
    }

    async fn delete_task(
        &self,
        request: Request<pb::DeleteTaskRequest>,
    ) -> Result<Response<pb::Task>, Status> {
        let caller = caller(&request)?;
        let req = request.get_ref();
        let name = owned_name(&caller, &req.name, "name")?;
        let etag = etag_in(&req.etag, "etag")?;
        let task = self.tasks.delete(&name, etag).await?;
        Ok(Response::new(task_out(&task)))
    }

    async fn undelete_task(
        &self,
        request: Request<pb::UndeleteTaskRequest>,
    ) -> Result<Response<pb::Task>, Status> {
        let caller = caller(&request)?;
        let req = request.get_ref();
        let name = owned_name(&caller, &req.name, "name")?;
        let etag = etag_in(&req.etag, "etag")?;
        let task = self.tasks.undelete(&name, etag).await?;
        Ok(Response::new(task_out(&task)))
    }
}
