//! The occurrence after a completed one, with its position in the series: for a rule that
//! skips missed occurrences, the first one after the completion.

use chrono::{DateTime, Days, Utc};
use chrono_tz::Tz;

use super::{Plan, SeriesPosition, Step, next_kept, past_the_end, resolve, to_local};
use crate::domain::{Anchor, Missed, Recurrence};

/// How many occurrences a late completion may skip, at most; more than a daily series has
/// between the years 1 and 9999.
const MAX_SKIPPED: usize = 4_000_000;

/// The occurrence that follows a completed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextOccurrence {
    pub due: DateTime<Utc>,
    /// Its 1-based position in the series: one past the completed occurrence, plus the
    /// occurrences a late completion skipped.
    pub occurrence: u32,
}

/// The occurrence after `position` in a series following `rule` (see [`super::next_due`]).
///
/// A due-anchored occurrence completed after its due time, in a series whose rule says
/// [`Missed::Skip`], is followed by the first occurrence of the series due after the
/// completion. The occurrences between are skipped but keep their positions: they count
/// toward `rule.count`, as they do in RFC 5545's expansion of the rule, so a series of 10
/// ends on the same date other calendar software shows as its tenth. With [`Missed::Keep`],
/// an early or on-time completion, a completion-anchored series or an occurrence without a due
/// time, it is the occurrence right after the completed one.
pub fn next_occurrence(
    rule: &Recurrence,
    time_zone: Tz,
    position: &SeriesPosition,
) -> Option<NextOccurrence> {
    let late_due = position
        .due
        .filter(|due| position.completed_at > *due && rule.anchor == Anchor::Due);
    match late_due {
        Some(due) if rule.missed == Missed::Skip => skip_missed(rule, time_zone, position, due),
        _ => Some(NextOccurrence {
            due: next_kept(rule, time_zone, position)?,
            occurrence: position.occurrence.saturating_add(1),
        }),
    }
}

/// Steps the series on from `due` past `position.completed_at`, counting every occurrence.
fn skip_missed(
    rule: &Recurrence,
    tz: Tz,
    position: &SeriesPosition,
    due: DateTime<Utc>,
) -> Option<NextOccurrence> {
    if rule.count.is_some_and(|count| position.occurrence >= count) {
        return None;
    }
    let plan = Plan::from_due(rule, tz, position.anchor.unwrap_or(due), due)?;
    let mut date = plan.start;
    let mut last = due;
    let mut occurrence = position.occurrence;
    // A fixed step of days: leap to a step at least two days before the
    // completion's date (a gap that crosses midnight moves an occurrence by up to a day).
    if let Step::Days(days) = plan.step {
        let done = to_local(tz, position.completed_at)?.date();
        let whole = ((done - date).num_days() / i64::try_from(days).ok()?.max(1)) - 2;
        if whole > 0 {
            let whole = u64::try_from(whole).ok()?;
            date = date.checked_add_days(Days::new(whole.checked_mul(days)?))?;
            occurrence = occurrence.checked_add(u32::try_from(whole).ok()?)?;
            last = resolve(tz, date.and_time(plan.time))?.min(position.completed_at);
        }
    }
    for _ in 0..MAX_SKIPPED {
        date = plan.step.next(date)?;
        let instant = resolve(tz, date.and_time(plan.time))?;
        if instant <= last {
            continue;
        }
        occurrence = occurrence.checked_add(1)?;
        if rule.count.is_some_and(|count| occurrence > count) || past_the_end(rule, instant) {
            return None;
        }
        if instant > position.completed_at {
            return Some(NextOccurrence {
                due: instant,
                occurrence,
            });
        }
        last = instant;
    }
    None
}
