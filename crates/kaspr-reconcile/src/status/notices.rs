//! The events a change of an app's status calls for, so `kubectl describe` tells the story: a
//! new generation applied (`Updated`), the packages of a new hash installed (`Installed`), Ready
//! again after a failure (`Recovered`), all Normal; and an install that failed (`InstallFailed`,
//! Warning, with its error type). Failures of the operator's own calls have their Warning events
//! where they happen (`ApplyFailed`, `ReadFailed`, ...). Pure: the previous and the new status
//! in, the events out.

use kaspr_types::{KasprAppStatus, PackagesState};

use super::Blocked;

/// One event: Warning or Normal, its reason and note.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    pub warning: bool,
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
            warning: false,
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
            warning: false,
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
            warning: false,
            reason: "Recovered",
            note: format!("Ready again after {after}"),
        });
    }
    let failure = |s: Option<&KasprAppStatus>| {
        s.and_then(|s| s.python_packages.as_ref())
            .filter(|p| p.state == Some(PackagesState::Failed))
            .map(|p| (p.hash.clone(), p.error_type, p.error.clone()))
    };
    if let Some((hash, error_type, error)) = failure(Some(next))
        && failure(previous).map(|(h, t, _)| (h, t)) != Some((hash.clone(), error_type))
    {
        let kind = error_type.map_or("unknown", |t| t.as_str());
        out.push(Notice {
            warning: true,
            reason: "InstallFailed",
            note: format!(
                "{kind}: {} (hash {})",
                error.unwrap_or_default(),
                hash.unwrap_or_default()
            ),
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
            json!({"observedGeneration": 2, "conditions": [ready_cond(true, "Healthy")],
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
    fn a_failed_install_is_a_warning_with_its_error_type_once() {
        let installing = status(json!({"pythonPackages": {"state": "Installing", "hash": "aaaa"}}));
        let failed = status(json!({"pythonPackages": {"state": "Failed", "hash": "aaaa",
            "errorType": "authentication", "error": "The index refused the credentials."}}));
        let told = notices(Some(&installing), &failed);
        assert_eq!(told.len(), 1);
        assert!(told[0].warning && told[0].reason == "InstallFailed");
        assert!(
            told[0].note.starts_with("authentication: "),
            "{}",
            told[0].note
        );
        assert!(notices(Some(&failed), &failed).is_empty());
    }

    #[test]
    fn a_refused_generation_is_not_told_as_updated() {
        let before =
            status(json!({"observedGeneration": 1, "conditions": [ready_cond(true, "Healthy")]}));
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
