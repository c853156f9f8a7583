//! Leader election: of the replicas, only the holder of a `coordination.k8s.io/v1` Lease
//! reconciles and writes. Every replica serves `/metrics`, `/healthz` and `/readyz`.
//!
//! The protocol is client-go's: every write of the Lease carries the resourceVersion read, so of
//! two replicas writing at once one gets 409 and re-reads; a holder is replaced only when its
//! record has not changed for a whole lease duration *as this replica observed it* (clocks of
//! different nodes are never compared). kube-lease-manager was tried first: it renews and
//! releases with strategic merge patches without a resourceVersion, which the Lease stand-in of
//! the test API server refuses (415, a CRD takes no strategic merge) and which cannot detect a
//! lost race on renewal.
//!
//! A leader that cannot renew within two thirds of the duration, or finds the lease taken, stops
//! reconciling at once and the process exits non-zero: the kubelet restarts it as a follower with
//! empty caches, rather than a process that may hold stale state running on beside the new
//! leader.

use std::time::{Duration, Instant};

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::Timestamp;
use kube::Client;
use kube::api::{Api, PostParams};

/// Where the lease is and who this replica is.
#[derive(Clone, Debug)]
pub struct LeaseConfig {
    pub name: String,
    pub namespace: String,
    /// This replica: the pod's name, or host and process id outside a cluster.
    pub identity: String,
    /// A leader not heard of for this long is replaced.
    pub duration: Duration,
}

impl LeaseConfig {
    /// How often the leader renews, and a follower looks.
    fn period(&self) -> Duration {
        (self.duration / 3).max(Duration::from_millis(500))
    }

    /// A leader that has not renewed for this long stops (before anyone may take over).
    fn renew_deadline(&self) -> Duration {
        self.duration * 2 / 3
    }
}

/// This replica's identity: `POD_NAME`, else `<hostname>-<pid>`.
pub fn identity() -> String {
    std::env::var("POD_NAME").unwrap_or_else(|_| {
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "kaspr-operator".to_owned());
        format!("{host}-{}", std::process::id())
    })
}

/// What to do with the lease as read.
#[derive(Debug, PartialEq, Eq)]
enum Step {
    /// No lease yet: create it, held by us.
    Create,
    /// Ours: renew it.
    Renew,
    /// Free, or its holder has not renewed for a whole duration: take it.
    Take,
    /// Someone else holds it.
    Wait,
}

/// The record a holder renews; it changing is how a follower knows the holder is alive.
type Record = (Option<String>, Option<MicroTime>);

fn step(lease: Option<&LeaseSpec>, me: &str, unchanged_for: Duration, duration: Duration) -> Step {
    let Some(spec) = lease else {
        return Step::Create;
    };
    match spec.holder_identity.as_deref().filter(|h| !h.is_empty()) {
        Some(holder) if holder == me => Step::Renew,
        None => Step::Take,
        Some(_) if unchanged_for >= duration => Step::Take,
        Some(_) => Step::Wait,
    }
}

/// One replica's side of the election.
pub struct Elector {
    api: Api<Lease>,
    config: LeaseConfig,
    /// The holder's record as last read, and since when it has been that.
    observed: Option<(Record, Instant)>,
    /// When this replica last wrote the lease as its holder.
    renewed: Option<Instant>,
}

impl Elector {
    pub fn new(client: Client, config: LeaseConfig) -> Self {
        Elector {
            api: Api::namespaced(client, &config.namespace),
            config,
            observed: None,
            renewed: None,
        }
    }

    /// One round: read the lease, and take or renew it when that is the step. Whether this
    /// replica holds it afterwards.
    async fn round(&mut self) -> Result<bool, kube::Error> {
        let lease = self.api.get_opt(&self.config.name).await?;
        let spec = lease.as_ref().and_then(|l| l.spec.as_ref());
        let record: Record = (
            spec.and_then(|s| s.holder_identity.clone()),
            spec.and_then(|s| s.renew_time.clone()),
        );
        let since = match &self.observed {
            Some((seen, since)) if *seen == record => *since,
            _ => Instant::now(),
        };
        self.observed = Some((record, since));
        let now = MicroTime(Timestamp::now());
        let seconds = i32::try_from(self.config.duration.as_secs()).unwrap_or(i32::MAX);
        let me = self.config.identity.clone();
        let result = match step(spec, &me, since.elapsed(), self.config.duration) {
            Step::Wait => return Ok(false),
            Step::Create => {
                let lease = Lease {
                    metadata: ObjectMeta {
                        name: Some(self.config.name.clone()),
                        namespace: Some(self.config.namespace.clone()),
                        ..Default::default()
                    },
                    spec: Some(LeaseSpec {
                        holder_identity: Some(me),
                        lease_duration_seconds: Some(seconds),
                        acquire_time: Some(now.clone()),
                        renew_time: Some(now),
                        lease_transitions: Some(0),
                        ..Default::default()
                    }),
                };
                self.api.create(&PostParams::default(), &lease).await
            }
            step @ (Step::Renew | Step::Take) => {
                let mut lease = lease.unwrap_or_default();
                let spec = lease.spec.get_or_insert_with(Default::default);
                if step == Step::Take {
                    spec.holder_identity = Some(me);
                    spec.acquire_time = Some(now.clone());
                    spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
                }
                spec.renew_time = Some(now);
                spec.lease_duration_seconds = Some(seconds);
                // The resourceVersion read goes with it: a concurrent write makes this one 409.
                self.api
                    .replace(&self.config.name, &PostParams::default(), &lease)
                    .await
            }
        };
        match result {
            Ok(_) => {
                self.renewed = Some(Instant::now());
                Ok(true)
            }
            Err(kube::Error::Api(e)) if e.code == 409 => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Waits until this replica holds the lease.
    pub async fn acquire(&mut self) {
        let c = &self.config;
        tracing::info!(lease = %c.name, namespace = %c.namespace, identity = %c.identity, "waiting to lead");
        loop {
            match self.round().await {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(error = %e, lease = %self.config.name, "reading or taking the lease failed")
                }
            }
            tokio::time::sleep(self.config.period()).await;
        }
        let c = &self.config;
        tracing::info!(lease = %c.name, identity = %c.identity, "leading: reconciling");
    }

    /// Renews the lease while this replica leads; returns why it stopped leading.
    pub async fn hold(&mut self) -> String {
        loop {
            tokio::time::sleep(self.config.period()).await;
            match self.round().await {
                Ok(true) => {}
                Ok(false) => return "another replica holds the lease".to_owned(),
                Err(e) => {
                    let since = self.renewed.map(|r| r.elapsed()).unwrap_or_default();
                    tracing::warn!(error = %e, "renewing the lease failed");
                    if since >= self.config.renew_deadline() {
                        return format!("the lease was not renewed for {since:?}: {e}");
                    }
                }
            }
        }
    }

    /// Frees the lease for the next replica at once (on a graceful stop).
    pub async fn release(&mut self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.config.name).await else {
            return;
        };
        let Some(spec) = lease.spec.as_mut() else {
            return;
        };
        if spec.holder_identity.as_deref() != Some(self.config.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        spec.renew_time = None;
        spec.acquire_time = None;
        match self
            .api
            .replace(&self.config.name, &PostParams::default(), &lease)
            .await
        {
            Ok(_) => tracing::info!(lease = %self.config.name, "released the lease"),
            Err(e) => {
                tracing::warn!(error = %e, "releasing the lease failed; it expires on its own")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held_by(holder: &str) -> LeaseSpec {
        LeaseSpec {
            holder_identity: Some(holder.to_owned()),
            ..Default::default()
        }
    }

    #[test]
    fn a_holder_is_replaced_only_after_a_whole_duration_unchanged() {
        let d = Duration::from_secs(15);
        assert_eq!(step(None, "a", Duration::ZERO, d), Step::Create);
        assert_eq!(
            step(Some(&held_by("a")), "a", Duration::from_secs(99), d),
            Step::Renew
        );
        assert_eq!(
            step(Some(&held_by("b")), "a", Duration::from_secs(14), d),
            Step::Wait
        );
        assert_eq!(step(Some(&held_by("b")), "a", d, d), Step::Take);
        assert_eq!(step(Some(&held_by("")), "a", Duration::ZERO, d), Step::Take);
        assert_eq!(
            step(Some(&LeaseSpec::default()), "a", Duration::ZERO, d),
            Step::Take
        );
    }

    #[test]
    fn the_leader_stops_before_a_follower_may_take_over() {
        let c = LeaseConfig {
            name: "l".into(),
            namespace: "n".into(),
            identity: "a".into(),
            duration: Duration::from_secs(15),
        };
        assert!(c.renew_deadline() < c.duration);
        assert!(c.period() < c.renew_deadline());
    }
}
