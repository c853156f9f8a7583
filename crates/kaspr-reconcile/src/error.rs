use thiserror::Error;

/// Why a reconcile failed: one variant per API call, so a log line or a metric says which call
/// broke. Each variant is retried with backoff by the error policy.
#[derive(Debug, Error)]
pub enum Error {
    #[error("getting StatefulSet {name}: {source}")]
    GetStatefulSet {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("getting PersistentVolumeClaim {name}: {source}")]
    GetPvc {
        name: String,
        #[source]
        source: kube::Error,
    },
    #[error("listing the app's pods: {0}")]
    ListPods(#[source] kube::Error),
    #[error("getting Secret {name}: {source}")]
    GetSecret {
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
    #[error("patching the KasprApp status: {0}")]
    PatchStatus(#[source] kube::Error),
    #[error("rendering the install script: {0}")]
    Render(#[from] askama::Error),
    #[error("computing the packages hash: {0}")]
    Hash(#[from] kaspr_hash::HashError),
    #[error("KasprApp has no namespace")]
    NoNamespace,
}

impl Error {
    /// A short, fixed label for the `error` label of `kasprop_reconcile_errors_total` and for
    /// logs (a fixed set, so the metric's cardinality stays bounded).
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::GetStatefulSet { .. } => "get_statefulset",
            Error::GetPvc { .. } => "get_pvc",
            Error::ListPods(_) => "list_pods",
            Error::GetSecret { .. } => "get_secret",
            Error::Apply { .. } => "apply",
            Error::PatchStatus(_) => "patch_status",
            Error::Render(_) => "render",
            Error::Hash(_) => "hash",
            Error::NoNamespace => "no_namespace",
        }
    }
}

impl Error {
    /// For a failed read: what was read (e.g. `StatefulSet orders-app`) and the API error.
    pub fn failed_read(&self) -> Option<(String, &kube::Error)> {
        match self {
            Error::GetStatefulSet { name, source } => Some((format!("StatefulSet {name}"), source)),
            Error::GetPvc { name, source } => {
                Some((format!("PersistentVolumeClaim {name}"), source))
            }
            Error::ListPods(source) => Some(("the app's pods".to_owned(), source)),
            Error::GetSecret { name, source } => Some((format!("Secret {name}"), source)),
            _ => None,
        }
    }
}

/// What a user should read about a failed API call: the API server's own message (e.g. the
/// field a 422 refused), else the client's error. Neither carries Secret values: the operator
/// never sends any (Secrets are referenced with `secretKeyRef`).
pub fn api_message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}
