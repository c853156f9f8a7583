use thiserror::Error;

/// Why a reconcile failed. Each variant is retried with backoff by the error policy.
#[derive(Debug, Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("rendering the install script: {0}")]
    Render(#[from] askama::Error),
    #[error("computing the packages hash: {0}")]
    Hash(#[from] kaspr_hash::HashError),
    #[error("KasprApp has no namespace")]
    NoNamespace,
}

impl Error {
    /// A short label for metrics and logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kube",
            Error::Render(_) => "render",
            Error::Hash(_) => "hash",
            Error::NoNamespace => "namespace",
        }
    }
}
