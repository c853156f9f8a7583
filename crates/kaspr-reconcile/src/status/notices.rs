//! The Normal events a change of an app's status calls for, so `kubectl describe` tells the
//! story and not only the failures: a new generation applied (`Updated`), the packages of a new
//! hash installed (`Installed`), and Ready again after a failure (`Recovered`). Pure: the
//! previous and the new status in, the events out.

use kaspr_types::{KasprAppStatus, PackagesState};

use super::Blocked;

/// One Normal event: its reason and note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub reason: &'static str,
    pub note: String,
}

fn ready(status: &KasprAppStatus) -> Option<(bool, &str)> {
    status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .map(|c| (c.status == "True", c.reason.as_str()))
}

/// What changed from `previous` (the status as last written; None: the first) to `next`.
pub fn notices(previous: Option<&KasprAppStatus>, next: &KasprAppStatus) -> Vec<Notice> {
    let mut out = Vec::new();
    let blocked = |s: &KasprAppStatus| {
        ready(s).is_some_and(|(ok, reason)| !ok && Blocked::REASONS.contains(&reason))
    };
    if let (Some(prev), Some(generation)) = (previous, next.observed_generation)
        && prev.observed_generation.is_some_and(|g| g < generation)
        && !blocked(next)
    {
        out.push(Notice {
            reason: "Updated",
            note: format!("generation {generation} applied"),
        });
    }
    let packages = |s: Option<&KasprAppStatus>| {
        s.and_then(|s| s.python_packages.as_ref())
            .filter(|p| p.state == Some(PackagesState::Ready))
            .and_then(|p| p.hash.clone())
    };
    if let Some(hash) = packages(Some(next))
        && packages(previous).as_ref() != Some(&hash)
        && let Some(p) = next.python_packages.as_ref()
    {
        let by = match (&p.installed_by, &p.install_duration) {
            (Some(by), Some(d)) => format!(" by {by} in {d}"),
            _ => String::new(),
        };
        out.push(Notice {
            reason: "Installed",
            note: format!("{} packages installed{by} (hash {hash})", p.installed.len()),
        });
    }
    if let Some(prev) = previous
        && blocked(prev)
        && ready(next).is_some_and(|(ok, _)| ok)
    {
        let after = ready(prev).map(|(_, r)| r).unwrap_or_default();
        out.push(Notice {
            reason: "Recovered",
            note: format!("Ready again after {after}"),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn status(value: serde_json::Value) -> KasprAppStatus {
        serde_json::from_value(value).expect("status")
    }

    fn ready_cond(ok: bool, reason: &str) -> serde_json::Value {
        json!({"type": "Ready", "status": if ok {"True"} else {"False"}, "reason": reason,
            "message": "", "lastTransitionTime": "2026-11-30T00:00:00Z"})
    }

    #[test]
    fn a_new_generation_new_packages_and_a_recovery_are_told() {
        let before = status(
            json!({"observedGeneration": 1, "conditions": [ready_cond(false, "ApplyFailed")],
            "pythonPackages": {"state": "Ready", "hash": "aaaa"}}),
        );
        let after = status(
            json!({"observedGeneration": 2, "conditions": [ready_cond(true, "AllReplicasReady")],
            "pythonPackages": {"state": "Ready", "hash": "bbbb", "installed": ["x==1"],
                "installedBy": "orders-app-0", "installDuration": "45s"}}),
        );
        let reasons: Vec<&str> = notices(Some(&before), &after)
            .iter()
            .map(|n| n.reason)
            .collect();
        assert_eq!(reasons, ["Updated", "Installed", "Recovered"]);
        let installed = &notices(Some(&before), &after)[1];
        assert_eq!(
            installed.note,
            "1 packages installed by orders-app-0 in 45s (hash bbbb)"
        );
        // Nothing changed: nothing to tell.
        assert!(notices(Some(&after), &after).is_empty());
    }

    #[test]
    fn a_refused_generation_is_not_told_as_updated() {
        let before = status(
            json!({"observedGeneration": 1, "conditions": [ready_cond(true, "AllReplicasReady")]}),
        );
        let after = status(
            json!({"observedGeneration": 2, "conditions": [ready_cond(false, "InvalidSpec")]}),
        );
        assert!(notices(Some(&before), &after).is_empty());
        // Not blocked before: becoming Ready is no recovery.
        let pending =
            status(json!({"observedGeneration": 1, "conditions": [ready_cond(false, "NotReady")]}));
        assert!(notices(Some(&pending), &before).is_empty());
    }
}
