//! `taskflow.v1.ActivityService`: the history of the caller's tasks.

use tonic::{Request, Response, Status};

use super::tasks::owned_parent;
use crate::auth::caller;
use crate::clock::now;
use crate::convert::activity_out;
use crate::convert::timestamp_in;
use crate::domain::{Insights, TimeZone, offset_spans, summarise, window_dates};
use crate::error::{AppError, Violations};
use crate::listing::{
    ActivityFilter, PageToken, PageTokenKey, fit_page, page_size, parse_activity_order,
};
use crate::proto::v1::{self as pb, activity_service_server::ActivityService};
use crate::store::Database;
use crate::store::activities::{ActivityQuery, cursor_of, list};
use crate::store::day_counts::{completion_days, day_counts};
use crate::store::{tasks, to_micros};

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

/// The longest insights window.
const MAX_WINDOW_DAYS: i64 = 400;
/// The earliest start of an insights window (days are counted from the epoch).
const EARLIEST: chrono::DateTime<chrono::Utc> =
    chrono::DateTime::from_timestamp_nanos(86_400_000_000_000);
/// The window when none is given: the last 30 days.
const DEFAULT_WINDOW_DAYS: i64 = 30;

fn insights_out(insights: &Insights, time_zone: &str) -> pb::Insights {
    let count = |n: i64| i32::try_from(n).unwrap_or(i32::MAX);
    pb::Insights {
        days: insights
            .days
            .iter()
            .map(|d| pb::DayInsights {
                date: d.date.to_string(),
                created: count(d.created),
                completed: count(d.completed),
            })
            .collect(),
        created: count(insights.created),
        completed: count(insights.completed),
        completed_on_time: count(insights.completed_on_time),
        completed_late: count(insights.completed_late),
        completed_without_due_time: count(insights.completed_without_due_time),
        overdue: count(insights.overdue),
        current_streak_days: count(insights.current_streak_days),
        longest_streak_days: count(insights.longest_streak_days),
        busiest_weekday: insights
            .busiest_weekday
            .map_or(0, |day| day.number_from_monday() as i32),
        time_zone: time_zone.to_owned(),
    }
}

#[tonic::async_trait]
impl ActivityService for ActivityApi {
    async fn get_insights(
        &self,
        request: Request<pb::GetInsightsRequest>,
    ) -> Result<Response<pb::Insights>, Status> {
        let caller = caller(&request)?;
        let req = request.into_inner();
        let user = owned_parent(&caller, &req.parent, "parent")?;
        let mut v = Violations::default();
        let zone = v.check("time_zone", TimeZone::parse(&req.time_zone));
        let end = match &req.end_time {
            Some(t) => v.check("end_time", timestamp_in(t)),
            None => Some(now()),
        };
        let start = match (&req.start_time, end) {
            (Some(t), _) => v.check("start_time", timestamp_in(t)),
            (None, Some(end)) => Some(end - chrono::Duration::days(DEFAULT_WINDOW_DAYS)),
            (None, None) => None,
        };
        if let (Some(start), Some(end)) = (start, end) {
            if start < EARLIEST {
                v.add("start_time", "must be after 1970-01-02T00:00:00Z");
            } else if start >= end {
                v.add("start_time", "must be before end_time");
            } else if end - start > chrono::Duration::days(MAX_WINDOW_DAYS) {
                v.add(
                    "end_time",
                    format!("must be at most {MAX_WINDOW_DAYS} days after start_time"),
                );
            }
        }
        v.finish(())?;
        let (Some(zone), Some(start), Some(end)) = (zone, start, end) else {
            return Err(AppError::Internal("insights arguments were not checked".into()).into());
        };
        let conn = self.db.conn();
        let tz = zone.tz();
        let (start_us, end_us) = (to_micros(start), to_micros(end));
        let spans = offset_spans(tz, start, end);
        let rows = day_counts(conn, &user, start_us, end_us, &spans).await?;
        let overdue = tasks::overdue(conn, &user, to_micros(now())).await?;
        let overdue = i64::try_from(overdue).unwrap_or(i64::MAX);
        let mut insights = summarise(&rows, &[], start, end, tz, overdue);
        // A current streak that reaches the window's first day may go on before it.
        let (first, last) = window_dates(tz, start, end);
        let reach = (last - first).num_days() + 1;
        if insights.current_streak_days >= reach - 1 && insights.current_streak_days > 0 {
            let before = start - chrono::Duration::days(MAX_WINDOW_DAYS);
            let spans = offset_spans(tz, before, start);
            let earlier = completion_days(conn, &user, to_micros(before), start_us, &spans).await?;
            insights = summarise(&rows, &earlier, start, end, tz, overdue);
        }
        Ok(Response::new(insights_out(&insights, zone.as_str())))
    }

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
        // A page of large entries (long descriptions changed) ends early.
        fit_page(&mut out, &entries, &mut next, cursor_of);
        Ok(Response::new(pb::ListActivitiesResponse {
            activities: out,
            next_page_token: next
                .map(|cursor| PageToken::new(cursor, &fingerprint).encode(&self.page_tokens))
                .unwrap_or_default(),
        }))
    }
}
