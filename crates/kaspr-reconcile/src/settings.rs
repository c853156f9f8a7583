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
    /// How an app's pods are started: the HorizontalPodAutoscaler's steps and the first size
    /// after `replicas: 0`.
    pub ramp: Ramp,
}

/// The start-up ramp, under upstream's names and with its defaults: an app starts small and the
/// HorizontalPodAutoscaler adds pods step by step, so members join (and rebalance) gradually.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ramp {
    /// Pods an app scaled up from zero starts with, at most (`INITIAL_MAX_REPLICAS`, 1).
    pub initial_max_replicas: i32,
    /// Pods added at most per step (`HPA_SCALE_UP_POLICY_PODS_PER_STEP`, 4); doubling is the
    /// other policy, and the larger of the two applies.
    pub pods_per_step: i32,
    /// Seconds per step (`HPA_SCALE_UP_POLICY_PERIOD_SECONDS`, 60).
    pub period_seconds: i32,
}

impl Default for Ramp {
    fn default() -> Self {
        Self {
            initial_max_replicas: 1,
            pods_per_step: 4,
            period_seconds: 60,
        }
    }
}

/// An operator setting whose value cannot be used: the operator does not start with it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{name}={value:?} is not {expected}; fix or unset it in the operator's environment")]
pub struct SettingError {
    pub name: &'static str,
    pub value: String,
    pub expected: &'static str,
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
            ramp: Ramp::default(),
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
    pub fn from_env() -> Result<Self, SettingError> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// From variables looked up by `var`; unset or blank ones keep their defaults, and a value
    /// that is not a number where one is needed is an error naming the variable.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, SettingError> {
        let var = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let defaults = Self::default();
        let flag = |name: &str, default: bool| var(name).map_or(default, |v| truthy(&v));
        let whole = |name: &'static str, default: i32, min: i32| match var(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<i32>()
                .ok()
                .filter(|n| *n >= min)
                .ok_or(SettingError {
                    name,
                    value: v,
                    expected: if min > 0 {
                        "a whole number of at least 1"
                    } else {
                        "a whole number"
                    },
                }),
        };
        let seconds = |name: &'static str, default: Duration| match var(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|s| s.is_finite() && *s > 0.0)
                .map(Duration::from_secs_f64)
                .ok_or(SettingError {
                    name,
                    value: v,
                    expected: "a number of seconds above 0",
                }),
        };
        let ramp = Ramp {
            initial_max_replicas: whole(
                "INITIAL_MAX_REPLICAS",
                defaults.ramp.initial_max_replicas,
                1,
            )?,
            pods_per_step: whole(
                "HPA_SCALE_UP_POLICY_PODS_PER_STEP",
                defaults.ramp.pods_per_step,
                1,
            )?,
            period_seconds: whole(
                "HPA_SCALE_UP_POLICY_PERIOD_SECONDS",
                defaults.ramp.period_seconds,
                1,
            )?,
        };
        Ok(Self {
            image_registry: var(IMAGE_REGISTRY_ENV),
            members: MemberCheck {
                enabled: flag("CLIENT_STATUS_CHECK_ENABLED", defaults.members.enabled),
                timeout: seconds(
                    "CLIENT_STATUS_CHECK_TIMEOUT_SECONDS",
                    defaults.members.timeout,
                )?,
                ..defaults.members
            },
            hung_members: HungMembers {
                enabled: flag(
                    "HUNG_MEMBER_DETECTION_ENABLED",
                    defaults.hung_members.enabled,
                ),
                threshold: seconds(
                    "HUNG_REBALANCING_THRESHOLD_SECONDS",
                    defaults.hung_members.threshold,
                )?,
            },
            auto_rebalance: flag("AUTO_REBALANCE_ENABLED", defaults.auto_rebalance),
            namespaces: var(WATCH_NAMESPACES_ENV)
                .map(|v| parse_namespaces(&v))
                .unwrap_or_default(),
            ramp,
            ..defaults
        })
    }
}

/// Upstream's reading of a yes/no setting or annotation: `true`, `1`, `yes` (any case).
pub(crate) fn truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "true" | "1" | "yes"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn from(vars: &[(&str, &str)]) -> Result<Settings, SettingError> {
        Settings::from_vars(|name| {
            vars.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        })
    }

    #[test]
    fn upstreams_ramp_variables_are_read_and_default_as_upstream() {
        assert_eq!(from(&[]).expect("defaults").ramp, Ramp::default());
        let ramp = from(&[
            ("INITIAL_MAX_REPLICAS", "3"),
            ("HPA_SCALE_UP_POLICY_PODS_PER_STEP", " 2 "),
            ("HPA_SCALE_UP_POLICY_PERIOD_SECONDS", "30"),
        ])
        .expect("valid")
        .ramp;
        assert_eq!(
            ramp,
            Ramp {
                initial_max_replicas: 3,
                pods_per_step: 2,
                period_seconds: 30
            }
        );
    }

    #[test]
    fn a_value_that_is_no_number_stops_the_start_naming_the_variable() {
        for (name, value) in [
            ("INITIAL_MAX_REPLICAS", "0"),
            ("HPA_SCALE_UP_POLICY_PODS_PER_STEP", "four"),
            ("HPA_SCALE_UP_POLICY_PERIOD_SECONDS", "-1"),
            ("CLIENT_STATUS_CHECK_TIMEOUT_SECONDS", "soon"),
            ("HUNG_REBALANCING_THRESHOLD_SECONDS", "0"),
        ] {
            let error = from(&[(name, value)]).expect_err(name);
            assert_eq!(error.name, name);
            let text = error.to_string();
            assert!(
                text.starts_with(&format!("{name}=\"{value}\" is not ")),
                "{text}"
            );
        }
        // Blank is unset, as before.
        assert_eq!(
            from(&[("INITIAL_MAX_REPLICAS", " ")]).expect("blank").ramp,
            Ramp::default()
        );
    }

    #[test]
    fn every_variable_read_is_in_the_settings_guide() {
        let read = std::cell::RefCell::new(Vec::new());
        Settings::from_vars(|name| {
            read.borrow_mut().push(name.to_owned());
            None
        })
        .expect("defaults");
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/user-guide/operator-settings.md"
        );
        let guide = std::fs::read_to_string(path).expect("the settings guide");
        let read = read.into_inner();
        assert!(read.len() >= 10, "{read:?}");
        for name in read {
            assert!(
                guide.contains(&format!("| `{name}` |")),
                "{name} is not in docs/user-guide/operator-settings.md"
            );
        }
    }
}
