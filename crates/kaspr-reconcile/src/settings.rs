//! The operator's own settings: what applies to every app it manages, read once at start.

use std::time::Duration;

use crate::members::MemberCheck;

/// Environment variable of the image registry put in front of every app's image, as upstream
/// names it (e.g. `registry.example.com/mirror` turns `kasprio/kaspr:0.11.19` into
/// `registry.example.com/mirror/kasprio/kaspr:0.11.19`).
pub const IMAGE_REGISTRY_ENV: &str = "KASPR_IMAGE_REGISTRY";

/// Operator-wide settings that shape the children it builds and what it asks members.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Registry prefix for every app's image (`KASPR_IMAGE_REGISTRY`); None or empty: none.
    pub image_registry: Option<String>,
    /// The members' web API calls (`CLIENT_STATUS_CHECK_ENABLED`,
    /// `CLIENT_STATUS_CHECK_TIMEOUT_SECONDS`, as upstream names them).
    pub members: MemberCheck,
    /// Hung-member recovery (`HUNG_MEMBER_DETECTION_ENABLED`,
    /// `HUNG_REBALANCING_THRESHOLD_SECONDS`); an app's annotations override both.
    pub hung_members: HungMembers,
    /// How soon an app held by a missing Secret (or key) is looked at again. Secrets are read
    /// by name only, never watched (a watch needs list/watch on every Secret in the cluster), so
    /// this is how a Secret created later resumes the rollout.
    pub blocked_requeue: Duration,
    /// Ask the leader to rebalance when `status.rebalanceRequired` (`AUTO_REBALANCE_ENABLED`, as
    /// upstream names it; default on); an app's `kaspr.io/auto-rebalance` overrides it.
    pub auto_rebalance: bool,
    /// The namespaces watched (`KASPR_WATCH_NAMESPACES`, comma-separated); empty: all of them.
    /// With a list, the operator needs Roles in those namespaces only, no ClusterRole.
    pub namespaces: Vec<String>,
}

/// The variable naming the watched namespaces (comma-separated; unset or empty: all).
pub const WATCH_NAMESPACES_ENV: &str = "KASPR_WATCH_NAMESPACES";

impl Default for Settings {
    fn default() -> Self {
        Self {
            image_registry: None,
            members: MemberCheck::default(),
            hung_members: HungMembers::default(),
            blocked_requeue: Duration::from_secs(15),
            auto_rebalance: true,
            namespaces: Vec::new(),
        }
    }
}

/// `a, b,,c` → `[a, b, c]`: each namespace once, in order.
pub fn parse_namespaces(list: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for ns in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        if !out.iter().any(|o| o == ns) {
            out.push(ns.to_owned());
        }
    }
    out
}

/// When a member stuck in a rebalance is restarted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HungMembers {
    pub enabled: bool,
    /// How long a member may rebalance (not recovering) before it counts as hung.
    pub threshold: Duration,
}

impl Default for HungMembers {
    fn default() -> Self {
        Self {
            enabled: true,
            threshold: Duration::from_secs(300),
        }
    }
}

impl Settings {
    /// From the process environment (what `run` and `render` use).
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let defaults = Self::default();
        Self {
            image_registry: var(IMAGE_REGISTRY_ENV),
            members: MemberCheck {
                enabled: var("CLIENT_STATUS_CHECK_ENABLED")
                    .map_or(defaults.members.enabled, |v| truthy(&v)),
                timeout: var("CLIENT_STATUS_CHECK_TIMEOUT_SECONDS")
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map_or(defaults.members.timeout, Duration::from_secs_f64),
                ..defaults.members
            },
            hung_members: HungMembers {
                enabled: var("HUNG_MEMBER_DETECTION_ENABLED")
                    .map_or(defaults.hung_members.enabled, |v| truthy(&v)),
                threshold: var("HUNG_REBALANCING_THRESHOLD_SECONDS")
                    .and_then(|v| v.trim().parse::<u64>().ok())
                    .map_or(defaults.hung_members.threshold, Duration::from_secs),
            },
            auto_rebalance: var("AUTO_REBALANCE_ENABLED")
                .map_or(defaults.auto_rebalance, |v| truthy(&v)),
            namespaces: var(WATCH_NAMESPACES_ENV)
                .map(|v| parse_namespaces(&v))
                .unwrap_or_default(),
            ..defaults
        }
    }
}

/// Upstream's reading of a yes/no setting or annotation: `true`, `1`, `yes` (any case).
pub(crate) fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes"
    )
}
