//! Subscription routing (`findMatchingRoute`): rules in order, then `routes.default`; no routes
//! at all means one catch-all rule with path "".
//!
//! daprd evaluates each rule's `match` as CEL over `event`. The double understands a small
//! subset: `true`, `false`, `event.<attr> == "<text>"` and `!=` (single or double quotes),
//! joined by `&&` and `||` (no parentheses; `&&` binds tighter). Anything else is an evaluation
//! error, which daprd answers by sending the event to the dead-letter topic (or handing the
//! error back to Kafka without one).

use dapr::dapr::proto::runtime::v1::TopicSubscription;
use serde_json::{Map, Value};

/// The path of the first matching rule; `Ok(None)` when no rule matches.
pub(crate) fn find_route(
    subscription: &TopicSubscription,
    event: &Map<String, Value>,
) -> Result<Option<String>, String> {
    let Some(routes) = &subscription.routes else {
        return Ok(Some(String::new()));
    };
    for rule in &routes.rules {
        if rule.r#match.trim().is_empty() || eval(&rule.r#match, event)? {
            return Ok(Some(rule.path.clone()));
        }
    }
    if !routes.default.is_empty() || routes.rules.is_empty() {
        return Ok(Some(routes.default.clone()));
    }
    Ok(None)
}

fn eval(expression: &str, event: &Map<String, Value>) -> Result<bool, String> {
    for alternative in expression.split("||") {
        let mut all = true;
        for term in alternative.split("&&") {
            all &= eval_term(term.trim(), event)?;
        }
        if all {
            return Ok(true);
        }
    }
    Ok(false)
}

fn eval_term(term: &str, event: &Map<String, Value>) -> Result<bool, String> {
    match term {
        "true" => return Ok(true),
        "false" => return Ok(false),
        _ => {}
    }
    let unsupported = || format!("the dapr double cannot evaluate the CEL expression `{term}`");
    let (left, right, equal) = if let Some((l, r)) = term.split_once("==") {
        (l, r, true)
    } else if let Some((l, r)) = term.split_once("!=") {
        (l, r, false)
    } else {
        return Err(unsupported());
    };
    let attribute = left.trim().strip_prefix("event.").ok_or_else(unsupported)?;
    let right = right.trim();
    let literal = right
        .strip_prefix('"')
        .and_then(|r| r.strip_suffix('"'))
        .or_else(|| right.strip_prefix('\'').and_then(|r| r.strip_suffix('\'')))
        .ok_or_else(unsupported)?;
    let value = event
        .get(attribute)
        .ok_or_else(|| format!("no such key: {attribute}"))?;
    let matches = value.as_str() == Some(literal);
    Ok(matches == equal)
}

#[cfg(test)]
mod tests {
    use super::*;
    use dapr::dapr::proto::runtime::v1::{TopicRoutes, TopicRule};
    use serde_json::json;

    fn subscription(rules: &[(&str, &str)], default: &str) -> TopicSubscription {
        TopicSubscription {
            routes: Some(TopicRoutes {
                rules: rules
                    .iter()
                    .map(|(m, p)| TopicRule {
                        r#match: (*m).to_owned(),
                        path: (*p).to_owned(),
                    })
                    .collect(),
                default: default.to_owned(),
            }),
            ..Default::default()
        }
    }

    fn event() -> Map<String, Value> {
        match json!({"type": "task.created", "source": "taskflow"}) {
            Value::Object(map) => map,
            _ => Map::new(),
        }
    }

    #[test]
    fn routes() {
        let no_routes = TopicSubscription::default();
        assert_eq!(find_route(&no_routes, &event()), Ok(Some(String::new())));
        let sub = subscription(&[(r#"event.type == "task.deleted""#, "deleted")], "all");
        assert_eq!(find_route(&sub, &event()), Ok(Some("all".to_owned())));
        let sub = subscription(
            &[(
                r#"event.type == 'task.created' && event.source != "x""#,
                "created",
            )],
            "",
        );
        assert_eq!(find_route(&sub, &event()), Ok(Some("created".to_owned())));
        let sub = subscription(&[(r#"event.type == "task.deleted""#, "deleted")], "");
        assert_eq!(find_route(&sub, &event()), Ok(None));
        let sub = subscription(&[("size(event.data) > 2", "big")], "");
        assert!(find_route(&sub, &event()).is_err());
        assert_eq!(
            find_route(&subscription(&[], ""), &event()),
            Ok(Some(String::new()))
        );
    }
}
