//! The `filter`, `order_by` and `page_token` languages of list calls: parsed here into plain
//! values, so that the store never sees user text and a bad input is an `InvalidArgument`.

mod activity_filter;
mod filter;
#[cfg(test)]
mod filter_properties;
mod order_by;
mod page_token;

pub use activity_filter::{ActivityFilter, ActivityTerm, parse_activity_order};
pub use filter::{
    Cmp, Filter, Literal, MicrosCmp, Term, TextField, TimeField, cmp, micros_cmp, parse_terms,
    show_literal, time_literal,
};
pub use order_by::{OrderBy, SortField, SortKey};
pub use page_token::{Cursor, CursorValue, MIN_KEY_LEN, PageToken, PageTokenKey};

/// Page size when the request leaves it at 0.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// Larger page sizes are coerced down to this.
pub const MAX_PAGE_SIZE: u64 = 500;

/// The most bytes the items of one page take, encoded: a page ends before it would pass
/// this, so that the response stays under the 4 MiB that gRPC clients accept by default
/// (grpc-go, grpc-java, grpc-js, grpcio, tonic), with room for `next_page_token` (at most
/// 4096 bytes) and the message framing.
pub const MAX_PAGE_BYTES: usize = 3 * 1024 * 1024 + 512 * 1024;

/// How many of a page's items, given their encoded sizes as entries of the response's
/// repeated field, fit in `budget` bytes: at least one, so that every page makes progress.
pub fn fitting(sizes: impl IntoIterator<Item = usize>, budget: usize) -> usize {
    let mut total = 0usize;
    let mut count = 0;
    for size in sizes {
        total = total.saturating_add(size);
        if count > 0 && total > budget {
            break;
        }
        count += 1;
    }
    count
}

/// Ends a page before its items pass [`MAX_PAGE_BYTES`] encoded, so that it fits a client's
/// default receive limit: cuts `out` (the encoded items, one per entry of `items`) to what
/// fits and, when it cut, sets `next` to the position of the last item kept, so that the next
/// page continues right after it.
pub fn fit_page<M: prost::Message, I, P>(
    out: &mut Vec<M>,
    items: &[I],
    next: &mut Option<P>,
    position: impl Fn(&I) -> P,
) {
    let fit = fitting(
        out.iter()
            .map(|item| prost::encoding::message::encoded_len(1, item)),
        MAX_PAGE_BYTES,
    );
    if fit < out.len() {
        out.truncate(fit);
        *next = fit.checked_sub(1).and_then(|i| items.get(i)).map(position);
    }
}

/// Validates `page_size` per AIP-158: negative is an error, 0 the default, above the maximum
/// the maximum.
pub fn page_size(raw: i32) -> Result<u64, String> {
    match raw {
        n if n < 0 => Err(format!("must not be negative, got {n}")),
        0 => Ok(DEFAULT_PAGE_SIZE),
        n => Ok(u64::try_from(n).unwrap_or(MAX_PAGE_SIZE).min(MAX_PAGE_SIZE)),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn page_sizes_follow_aip_158() {
        assert_eq!(super::page_size(0), Ok(50));
        assert_eq!(super::page_size(7), Ok(7));
        assert_eq!(super::page_size(100_000), Ok(500));
        assert!(super::page_size(-1).is_err());
    }

    #[test]
    fn pages_end_before_their_budget() {
        use super::fitting;
        assert_eq!(fitting([], 10), 0);
        assert_eq!(fitting([3, 3, 3], 10), 3);
        assert_eq!(fitting([3, 3, 3, 3], 10), 3);
        assert_eq!(fitting([5, 5, 1], 10), 2);
        assert_eq!(fitting([11, 1], 10), 1, "one item however large");
        assert_eq!(fitting([usize::MAX, usize::MAX], 10), 1);
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::{Filter, OrderBy, PageToken, PageTokenKey};

    proptest! {
        /// Whatever a caller sends, parsing answers Ok or Err and never panics.
        #[test]
        fn parsers_never_panic(input in ".{0,300}") {
            let _ = Filter::parse(&input);
            let _ = OrderBy::parse(&input);
            let _ = PageToken::decode(&input, &["alice", "", ""], &PageTokenKey::random());
        }

        #[test]
        fn filters_built_from_the_grammar_parse(
            field in prop::sample::select(vec!["priority", "due_time", "create_time", "update_time", "complete_time"]),
            op in prop::sample::select(vec!["=", "!=", "<", "<=", ">", ">="]),
            negate in any::<bool>(),
        ) {
            let value = if field == "priority" { "HIGH" } else { "\"2027-01-01T00:00:00Z\"" };
            let filter = format!("{}{field} {op} {value} AND completed = false", if negate { "NOT " } else { "" });
            prop_assert!(Filter::parse(&filter).is_ok(), "{}", filter);
        }
    }
}
