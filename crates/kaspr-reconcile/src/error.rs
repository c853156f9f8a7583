use thiserror::Error;

/// Why a reconcile failed: one variant per API call (or per cache observe reads), so a log line
/// or a metric says which one broke. Each is retried with backoff by the error policy.
#[derive(Debug, Error)]
pub enum Error {
    /// A cache kept by the controller's watches has not been filled yet (its watch fails).
    #[error("reading {what} from the operator's cache: {message}")]
    CacheNotSynced {
        /// What was to be read, e.g. `StatefulSet orders-app`.
        what: String,
        /// The watch's last error, or why there is none.
        message: String,
    },
    #[error("getting Secret {name}: {source}")]
    GetSecret {
        name: String,
        #[source]
        source: kube::Error,
    },
    /// Reading the live-set ConfigMap (only when it may be an orphan).
    #[error("getting ConfigMap {name}: {source}")]
    GetLiveSet {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("applying {kind} {name}: {source}")]
    Apply {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    /// An object of a child's name exists and is not this app's (nor upstream's for it).
    #[error("{kind} {name} exists and is not this app's: {holder}")]
    NameConflict {
        kind: &'static str,
        name: String,
        holder: String,
    },
    /// Deleting a child the spec no longer asks for.
    #[error("deleting {kind} {name}: {source}")]
    Delete {
        kind: &'static str,
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("patching the KasprApp status: {0}")]
    PatchStatus(#[source] kube::Error),
    /// Removing the upstream operator's finalizer from a deleted app.
    #[error("removing the upstream operator's finalizer: {0}")]
    PatchFinalizers(#[source] kube::Error),
    /// Rendering the install script (the template engine's message).
    #[error("rendering the install script: {0}")]
    Render(String),
    #[error("KasprApp has no namespace")]
    NoNamespace,
}

impl Error {
    /// Every value [`Error::metric_label`] returns.
    pub const METRIC_LABELS: [&'static str; 10] = [
        "cache_not_synced",
        "get_secret",
        "get_live_set",
        "apply",
        "name_conflict",
        "delete",
        "patch_status",
        "patch_finalizers",
        "render",
        "no_namespace",
    ];

    /// A short, fixed label for the `error` label of `kasprop_reconcile_errors_total` and for
    /// logs (a fixed set, so the metric's cardinality stays bounded).
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::CacheNotSynced { .. } => "cache_not_synced",
            Error::GetSecret { .. } => "get_secret",
            Error::GetLiveSet { .. } => "get_live_set",
            Error::Apply { .. } => "apply",
            Error::NameConflict { .. } => "name_conflict",
            Error::Delete { .. } => "delete",
            Error::PatchStatus(_) => "patch_status",
            Error::PatchFinalizers(_) => "patch_finalizers",
            Error::Render(_) => "render",
            Error::NoNamespace => "no_namespace",
        }
    }

    /// For a failed read: what was read (e.g. `StatefulSet orders-app`) and what the user should
    /// read about it (the API's own message).
    pub(crate) fn failed_read(&self) -> Option<(String, String)> {
        match self {
            Error::CacheNotSynced { what, message } => Some((what.clone(), message.clone())),
            Error::GetSecret { name, source } => {
                Some((format!("Secret {name}"), api_message(source)))
            }
            Error::GetLiveSet { name, source } => {
                Some((format!("ConfigMap {name}"), api_message(source)))
            }
            _ => None,
        }
    }
}

/// What a user should read about a failed API call: the API server's own message (e.g. the
/// field a 422 refused), else the client's error. Neither carries Secret values: the operator
/// never sends any (Secrets are referenced with `secretKeyRef`).
pub(crate) fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

/// The same for a watch that failed: the API's message of the list or watch call underneath.
pub(crate) fn watch_message(error: &kube::runtime::watcher::Error) -> String {
    use kube::runtime::watcher::Error as W;
    match error {
        W::InitialListFailed(e) | W::WatchStartFailed(e) | W::WatchFailed(e) => api_message(e),
        W::WatchError(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}
