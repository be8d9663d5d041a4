//! `taskflow dead-letters`: the operator's commands over the dead-letter table, printed as a
//! table or JSON.

use std::fmt::Write as _;

use chrono::DateTime;

use crate::config::{DeadLetterAction, DeadLettersArgs};
use crate::inbox::dead_letters::{Replayed, Review, to_json};
use crate::store::dead_letters::{Filter, Status};
use crate::store::entity::dead_letter::Model;
use crate::store::{from_micros, to_micros};

/// How many letters `replay --all` reads at a time.
const REPLAY_PAGE: u64 = 200;

/// Runs one command; what it prints goes to stdout, the error (if any) back to `main`.
pub async fn run(args: &DeadLettersArgs) -> Result<(), String> {
    let review = super::dead_letter_review(&args.serve)
        .await
        .map_err(|e| e.to_string())?;
    match &args.action {
        DeadLetterAction::List {
            event_type,
            user,
            since,
            until,
            status,
            limit,
            format,
        } => {
            let filter = Filter {
                event_type: event_type.clone(),
                user_id: user.clone(),
                status: match status.as_str() {
                    "all" => None,
                    other => Some(Status::parse(other).ok_or_else(|| {
                        format!(
                            "--status must be stored, replayed, discarded or all, not {other:?}"
                        )
                    })?),
                },
                since_us: since.as_deref().map(|t| time("--since", t)).transpose()?,
                until_us: until.as_deref().map(|t| time("--until", t)).transpose()?,
                after_id: None,
                limit: *limit,
            };
            let letters = review.list(&filter).await.map_err(|e| e.to_string())?;
            match format.as_str() {
                "json" => {
                    for letter in &letters {
                        println!("{}", to_json(letter, false));
                    }
                }
                "table" => print!("{}", table(&letters)),
                other => return Err(format!("--format must be table or json, not {other:?}")),
            }
        }
        DeadLetterAction::Show { id } => {
            let letter = review.get(*id).await.map_err(|e| e.to_string())?;
            let json =
                serde_json::to_string_pretty(&to_json(&letter, true)).map_err(|e| e.to_string())?;
            println!("{json}");
        }
        DeadLetterAction::Replay {
            ids,
            all,
            event_type,
        } => {
            let ids = if *all {
                every_stored(&review, event_type.clone()).await?
            } else {
                ids.clone()
            };
            let mut refused = 0;
            for id in ids {
                let outcome = review.replay(id).await.map_err(|e| format!("{id}: {e}"))?;
                match outcome {
                    Replayed::Applied => println!("{id}\tapplied"),
                    Replayed::Refused(reason) => {
                        refused += 1;
                        println!("{id}\trefused\t{reason}");
                    }
                    Replayed::NotStored(status) => {
                        println!("{id}\tskipped\talready {}", status.as_str());
                    }
                }
            }
            if refused > 0 {
                return Err(format!("{refused} dead letters were refused again"));
            }
        }
        DeadLetterAction::Discard { ids } => {
            let discarded = review.discard(ids).await.map_err(|e| e.to_string())?;
            println!("{discarded} of {} discarded", ids.len());
        }
    }
    Ok(())
}

/// The ids of every stored letter (of one type), read in pages.
async fn every_stored(review: &Review, event_type: Option<String>) -> Result<Vec<i64>, String> {
    let mut ids = Vec::new();
    let mut filter = Filter {
        event_type,
        status: Some(Status::Stored),
        limit: REPLAY_PAGE,
        ..Filter::default()
    };
    loop {
        let page = review.list(&filter).await.map_err(|e| e.to_string())?;
        let Some(last) = page.last() else {
            return Ok(ids);
        };
        filter.after_id = Some(last.id);
        ids.extend(page.iter().map(|l| l.id));
    }
}

fn time(flag: &str, text: &str) -> Result<i64, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| to_micros(t.to_utc()))
        .map_err(|e| format!("{flag} must be an RFC 3339 time such as 2026-12-04T10:00:00Z: {e}"))
}

fn table(letters: &[Model]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<8} {:<20} {:<18} {:<24} {:<10} {:>8}  REASON",
        "ID", "RECEIVED", "TYPE", "USER", "STATUS", "ATTEMPTS"
    );
    for l in letters {
        let received = from_micros(l.received_us).format("%Y-%m-%dT%H:%M:%SZ");
        let reason: String = l.reason.chars().take(80).collect();
        let user: String = l.user_id.chars().take(24).collect();
        let _ = writeln!(
            out,
            "{:<8} {:<20} {:<18} {:<24} {:<10} {:>8}  {}",
            l.id, received, l.event_type, user, l.status, l.attempts, reason
        );
    }
    out
}
