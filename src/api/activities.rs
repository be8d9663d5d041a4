//! `taskflow.v1.ActivityService`: the history of the caller's tasks.

use tonic::{Request, Response, Status};

use super::tasks::owned_parent;
use crate::auth::caller;
use crate::convert::activity_out;
use crate::error::{AppError, Violations};
use crate::listing::{
    ActivityFilter, MAX_PAGE_BYTES, PageToken, PageTokenKey, fitting, page_size,
    parse_activity_order,
};
use crate::proto::v1::{self as pb, activity_service_server::ActivityService};
use crate::store::Database;
use crate::store::activities::{ActivityQuery, cursor_of, list};

#[derive(Debug, Clone)]
pub struct ActivityApi {
    db: Database,
    page_tokens: PageTokenKey,
}

impl ActivityApi {
    pub fn new(db: Database, page_tokens: PageTokenKey) -> Self {
        Self { db, page_tokens }
    }
}

#[tonic::async_trait]
impl ActivityService for ActivityApi {
    #[tracing::instrument(skip_all)]
    async fn list_activities(
        &self,
        request: Request<pb::ListActivitiesRequest>,
    ) -> Result<Response<pb::ListActivitiesResponse>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let user = owned_parent(&caller, &req.parent, "parent")?;
        let mut v = Violations::default();
        let limit = v.check("page_size", page_size(req.page_size));
        let filter = v.check("filter", ActivityFilter::parse(&req.filter));
        let descending = v.check("order_by", parse_activity_order(&req.order_by));
        v.finish(())?;
        let (Some(limit), Some(filter), Some(descending)) = (limit, filter, descending) else {
            return Err(AppError::Internal("list arguments were not checked".into()).into());
        };
        let order = if descending { "desc" } else { "asc" };
        let fingerprint = ["activities", user.as_str(), req.filter.trim(), order];
        let after = if req.page_token.is_empty() {
            None
        } else {
            let token = PageToken::decode(&req.page_token, &fingerprint, &self.page_tokens)
                .map_err(|e| AppError::invalid("page_token", e))?;
            Some(token.cursor)
        };
        let query = ActivityQuery {
            user: user.clone(),
            terms: filter.terms,
            descending,
            after,
            limit,
        };
        let (entries, mut next) = list(self.db.conn(), &query).await?;
        let mut out: Vec<pb::Activity> = entries.iter().map(activity_out).collect();
        // A page of large entries (long descriptions changed) ends early, to fit a client's
        // default receive limit; the token continues right after the last one returned.
        let fit = fitting(
            out.iter()
                .map(|entry| prost::encoding::message::encoded_len(1, entry)),
            MAX_PAGE_BYTES,
        );
        if fit < out.len() {
            out.truncate(fit);
            next = fit
                .checked_sub(1)
                .and_then(|i| entries.get(i))
                .map(cursor_of);
        }
        Ok(Response::new(pb::ListActivitiesResponse {
            activities: out,
            next_page_token: next
                .map(|cursor| PageToken::new(cursor, &fingerprint).encode(&self.page_tokens))
                .unwrap_or_default(),
        }))
    }
}
