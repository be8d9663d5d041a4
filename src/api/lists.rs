//! `taskflow.v1.ListService`: the lists a user's tasks are grouped in.

use tonic::{Request, Response, Status};
use uuid::Uuid;

use super::tasks::{etag_in, owned_parent, request_id_in};
use crate::app::Lists;
use crate::auth::{caller, ensure_owner};
use crate::convert::task_list_out;
use crate::domain::{ListName, Title, UserId};
use crate::error::{AppError, Violations};
use crate::listing::{Cursor, CursorValue, PageToken, PageTokenKey, page_size};
use crate::proto::v1::{self as pb, list_service_server::ListService};

#[derive(Debug, Clone)]
pub struct ListApi {
    lists: Lists,
    page_tokens: PageTokenKey,
}

impl ListApi {
    pub fn new(lists: Lists, page_tokens: PageTokenKey) -> Self {
        Self { lists, page_tokens }
    }
}

/// Parses `users/{user}/lists/{list}` in `field` and checks the caller owns it.
fn owned_list(caller: &UserId, raw: &str, field: &str) -> Result<ListName, AppError> {
    let name = ListName::parse(raw).map_err(|e| AppError::invalid(field, e))?;
    ensure_owner(caller, &name.user)?;
    Ok(name)
}

fn title_in(raw: &str, field: &str) -> Result<Title, AppError> {
    Title::parse(raw).map_err(|e| AppError::invalid(field, e.to_string()))
}

/// The fingerprint a page token of `ListLists` is bound to.
fn fingerprint(user: &UserId) -> [&str; 2] {
    ["lists", user.as_str()]
}

fn position_in(cursor: &Cursor) -> Result<(i64, Uuid), AppError> {
    match cursor.values.as_slice() {
        [CursorValue::Int(create_us)] => Ok((*create_us, cursor.id)),
        _ => Err(AppError::invalid(
            "page_token",
            "is not a page token issued by this service",
        )),
    }
}

#[tonic::async_trait]
impl ListService for ListApi {
    async fn create_list(
        &self,
        request: Request<pb::CreateListRequest>,
    ) -> Result<Response<pb::TaskList>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let user = owned_parent(&caller, &req.parent, "parent")?;
        let request_id = request_id_in(&req.request_id)?;
        let Some(list) = req.list else {
            return Err(AppError::invalid("list", "required").into());
        };
        let title = title_in(&list.title, "list.title")?;
        let list = self.lists.create(&user, title, request_id).await?;
        Ok(Response::new(task_list_out(&list)))
    }

    async fn get_list(
        &self,
        request: Request<pb::GetListRequest>,
    ) -> Result<Response<pb::TaskList>, Status> {
        let caller = caller(&request)?;
        let name = owned_list(&caller, &request.get_ref().name, "name")?;
        let list = self.lists.get(&name).await?;
        Ok(Response::new(task_list_out(&list)))
    }

    async fn list_lists(
        &self,
        request: Request<pb::ListListsRequest>,
    ) -> Result<Response<pb::ListListsResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let user = owned_parent(&caller, &req.parent, "parent")?;
        let limit = page_size(req.page_size).map_err(|e| AppError::invalid("page_size", e))?;
        let fingerprint = fingerprint(&user);
        let after = if req.page_token.is_empty() {
            None
        } else {
            let token = PageToken::decode(&req.page_token, &fingerprint, &self.page_tokens)
                .map_err(|e| AppError::invalid("page_token", e))?;
            Some(position_in(&token.cursor)?)
        };
        let (page, next) = self.lists.page(&user, after, limit).await?;
        Ok(Response::new(pb::ListListsResponse {
            lists: page.iter().map(task_list_out).collect(),
            next_page_token: next
                .map(|(create_us, id)| {
                    let cursor = Cursor {
                        values: vec![CursorValue::Int(create_us)],
                        id,
                    };
                    PageToken::new(cursor, &fingerprint).encode(&self.page_tokens)
                })
                .unwrap_or_default(),
        }))
    }

    async fn update_list(
        &self,
        request: Request<pb::UpdateListRequest>,
    ) -> Result<Response<pb::TaskList>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let Some(list) = req.list else {
            return Err(AppError::invalid("list", "required").into());
        };
        let name = owned_list(&caller, &list.name, "list.name")?;
        let etag = etag_in(&list.etag, "list.etag")?;
        let mut v = Violations::default();
        let mut title = None;
        let paths = req.update_mask.map(|m| m.paths).unwrap_or_default();
        for path in &paths {
            match path.as_str() {
                "title" | "*" => {}
                "name" | "inbox" | "create_time" | "update_time" | "etag" => {}
                other => v.add(
                    "update_mask",
                    format!(
                        "unknown field {}; updatable: title",
                        crate::error::excerpt(other)
                    ),
                ),
            }
        }
        if paths.is_empty() || paths.iter().any(|p| p == "title" || p == "*") {
            title = v.check(
                "list.title",
                Title::parse(&list.title).map_err(|e| e.to_string()),
            );
        }
        v.finish(())?;
        let list = match title {
            Some(title) => self.lists.rename(&name, etag, title).await?,
            None => self.lists.get(&name).await?,
        };
        Ok(Response::new(task_list_out(&list)))
    }

    async fn delete_list(
        &self,
        request: Request<pb::DeleteListRequest>,
    ) -> Result<Response<()>, Status> {
        let caller = caller(&request)?;
        let req = request.get_ref();
        let name = owned_list(&caller, &req.name, "name")?;
        let etag = etag_in(&req.etag, "etag")?;
        self.lists.delete(&name, etag, req.force).await?;
        Ok(Response::new(()))
    }
}
