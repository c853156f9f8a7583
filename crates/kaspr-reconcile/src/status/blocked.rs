//! Why the operator held the rollout or could not finish a reconcile: the reason and message of
//! the `Ready` (and, for the packages, `PythonPackagesReady`) condition and of the Warning event.

/// Why the operator held the rollout, if it did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Blocked {
    /// The spec failed validation; the message lists every field error.
    InvalidSpec(String),
    /// A referenced Secret does not exist; `field` names the reference.
    SecretMissing { secret: String, field: &'static str },
    /// The Secret exists but lacks a key.
    SecretKeyMissing {
        secret: String,
        key: String,
        field: &'static str,
    },
    /// The API server refused a server-side apply of a child; `message` is the API's own.
    ApplyFailed {
        kind: String,
        name: String,
        message: String,
    },
    /// An object of a child's name exists and is someone else's.
    NameConflict {
        kind: String,
        name: String,
        holder: String,
    },
    /// The API server refused to delete a child the spec no longer asks for.
    DeleteFailed {
        kind: String,
        name: String,
        message: String,
    },
    /// Reading what the app depends on failed (e.g. `StatefulSet orders-app`); `message` is the
    /// API's own.
    ReadFailed { what: String, message: String },
}

impl Blocked {
    /// Every reason a blocked app's Ready condition can carry.
    pub const REASONS: [&'static str; 7] = [
        "InvalidSpec",
        "SecretNotFound",
        "SecretKeyNotFound",
        "ApplyFailed",
        "NameConflict",
        "DeleteFailed",
        "ReadFailed",
    ];

    pub fn reason(&self) -> &'static str {
        match self {
            Blocked::InvalidSpec(_) => "InvalidSpec",
            Blocked::SecretMissing { .. } => "SecretNotFound",
            Blocked::SecretKeyMissing { .. } => "SecretKeyNotFound",
            Blocked::ApplyFailed { .. } => "ApplyFailed",
            Blocked::NameConflict { .. } => "NameConflict",
            Blocked::DeleteFailed { .. } => "DeleteFailed",
            Blocked::ReadFailed { .. } => "ReadFailed",
        }
    }

    /// Whether the block is about the packages (spec or Secret). A refused apply or delete is
    /// not: the packages status still reads what the pods report.
    pub(crate) fn concerns_packages(&self) -> bool {
        match self {
            Blocked::InvalidSpec(_) => true,
            Blocked::SecretMissing { field, .. } | Blocked::SecretKeyMissing { field, .. } => {
                field.starts_with("spec.pythonPackages")
            }
            Blocked::ApplyFailed { .. }
            | Blocked::NameConflict { .. }
            | Blocked::DeleteFailed { .. }
            | Blocked::ReadFailed { .. } => false,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Blocked::InvalidSpec(errors) => {
                format!("The spec is invalid; fix it to continue: {errors}")
            }
            Blocked::SecretMissing { secret, field } => format!(
                "Secret {secret:?} referenced by {field} does not exist; create it in the app's \
                 namespace (the rollout resumes when it appears)"
            ),
            Blocked::SecretKeyMissing { secret, key, field } => format!(
                "Secret {secret:?} has no key {key:?} ({field}); add the key to the Secret or \
                 name an existing key in {field}"
            ),
            Blocked::ApplyFailed {
                kind,
                name,
                message,
            } => format!("Applying {kind} {name} failed: {message}"),
            Blocked::NameConflict { kind, name, holder } => format!(
                "{kind} {name} already exists and is not this app's ({holder}); nothing was \
                 changed. Rename the KasprApp, or delete or rename that {kind} if it is not needed"
            ),
            Blocked::DeleteFailed {
                kind,
                name,
                message,
            } => format!(
                "Deleting {kind} {name}, which the spec no longer asks for, failed: {message}"
            ),
            Blocked::ReadFailed { what, message } => format!("Reading {what} failed: {message}"),
        }
    }
}
