//! `linkedResources` and `rebalanceRequired`, as upstream keeps them: the components of the app
//! as last seen, and whether the topics its agents read or its tables changed since, which with
//! static group membership (members keep their partitions across restarts) needs a rebalance.
//! Upstream clears the flag on its next status update whether or not the rebalance was asked;
//! here it stays until the leader was asked (see `member_actions::auto_rebalance`).

use std::collections::BTreeSet;

use kaspr_types::{KasprAppStatus, LinkedResources};

/// What the consumer group subscribes to: topic names, topic patterns, table names.
type Subscriptions = (BTreeSet<String>, BTreeSet<String>, BTreeSet<String>);

fn subscriptions(linked: &LinkedResources) -> Subscriptions {
    let names = linked
        .agents
        .iter()
        .filter_map(|a| a.topic_name.as_deref())
        .flat_map(|n| n.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    let patterns = linked
        .agents
        .iter()
        .filter_map(|a| a.topic_pattern.as_deref())
        .map(|p| p.trim().to_owned())
        .collect();
    let tables = linked
        .tables
        .iter()
        .map(|t| t.table_name.clone().unwrap_or_else(|| t.name.clone()))
        .collect();
    (names, patterns, tables)
}

fn is_empty(linked: &LinkedResources) -> bool {
    linked.agents.is_empty()
        && linked.webviews.is_empty()
        && linked.tables.is_empty()
        && linked.tasks.is_empty()
}

/// Whether the group needs a rebalance once the app's components are `linked`: the first
/// time they are tracked (an app new or taken over) never; a change of subscriptions always;
/// otherwise as before (set until the leader was asked).
pub fn rebalance_required(previous: Option<&KasprAppStatus>, linked: &LinkedResources) -> bool {
    let Some(prev) = previous else {
        return false;
    };
    let Some(before) = prev.linked_resources.as_ref().filter(|l| !is_empty(l)) else {
        return false;
    };
    subscriptions(before) != subscriptions(linked) || prev.rebalance_required == Some(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use kaspr_types::{LinkedAgent, LinkedTable};

    fn linked(topics: &[&str], tables: &[&str]) -> LinkedResources {
        LinkedResources {
            agents: topics
                .iter()
                .enumerate()
                .map(|(i, t)| LinkedAgent {
                    name: format!("a{i}"),
                    hash: "h".into(),
                    topic_name: Some((*t).to_owned()),
                    topic_pattern: None,
                })
                .collect(),
            tables: tables
                .iter()
                .map(|t| LinkedTable {
                    name: (*t).to_owned(),
                    hash: "h".into(),
                    table_name: None,
                })
                .collect(),
            ..Default::default()
        }
    }

    fn status(l: LinkedResources, required: Option<bool>) -> KasprAppStatus {
        KasprAppStatus {
            linked_resources: Some(l),
            rebalance_required: required,
            ..Default::default()
        }
    }

    #[test]
    fn only_a_change_of_subscriptions_needs_a_rebalance() {
        let before = status(linked(&["orders"], &["counts"]), None);
        // First tracking (new or taken-over app): no rebalance.
        assert!(!rebalance_required(None, &linked(&["x"], &[])));
        assert!(!rebalance_required(
            Some(&status(LinkedResources::default(), None)),
            &linked(&["x"], &[])
        ));
        // Same topics (another agent on them, a new hash): no rebalance.
        assert!(!rebalance_required(
            Some(&before),
            &linked(&["orders", "orders"], &["counts"])
        ));
        assert!(rebalance_required(
            Some(&before),
            &linked(&["orders,payments"], &["counts"])
        ));
        assert!(rebalance_required(
            Some(&before),
            &linked(&["orders"], &["counts", "totals"])
        ));
        // Set until the leader was asked.
        let pending = status(linked(&["orders"], &["counts"]), Some(true));
        assert!(rebalance_required(
            Some(&pending),
            &linked(&["orders"], &["counts"])
        ));
    }
}
