//! The `validate` stage: from the app and what observe read, a [`ValidatedApp`] — the only thing
//! `build` accepts — or every reason the app cannot roll out, each naming its field path.
//!
//! What the CRD schema cannot check (PEP 508, URLs, sizes) is checked by
//! `KasprAppSpec::check`; the packages hash and the canonical requirements are computed here once,
//! so nothing downstream can fail on them. A missing credentials Secret or key does not make the
//! app invalid: the rollout is held (everything but the StatefulSet is applied), so it is carried
//! as data ([`ValidatedApp::secret_problem`]).

use std::collections::BTreeSet;

use kaspr_hash::PackagesHash;
use kaspr_types::{FieldError, KasprApp, PythonPackagesSpec, ValidationErrors};

use crate::observe::SecretKeys;
use crate::settings::{Ramp, Settings};
use crate::status::Blocked;

/// An app that passed validation, with what validation computed.
#[derive(Clone, Debug)]
pub struct ValidatedApp<'a> {
    app: &'a KasprApp,
    /// The image the app runs (version table and registry applied).
    image: String,
    packages: Option<ValidatedPackages<'a>>,
    secret_problem: Option<Blocked>,
    warnings: Vec<String>,
    ramp: Ramp,
}

/// A valid `spec.pythonPackages`, its hash and its requirements in canonical form.
#[derive(Clone, Debug)]
pub struct ValidatedPackages<'a> {
    spec: &'a PythonPackagesSpec,
    hash: PackagesHash,
    requirements: BTreeSet<String>,
}

impl<'a> ValidatedApp<'a> {
    pub fn app(&self) -> &'a KasprApp {
        self.app
    }

    /// How the app's pods are started (the operator's settings).
    pub fn ramp(&self) -> Ramp {
        self.ramp
    }

    /// The image of the kaspr container (and the install init container).
    pub fn image(&self) -> &str {
        &self.image
    }

    /// None without `spec.pythonPackages`.
    pub fn packages(&self) -> Option<&ValidatedPackages<'a>> {
        self.packages.as_ref()
    }

    /// The packages hash the pods carry (None without pythonPackages).
    pub fn hash(&self) -> Option<&str> {
        self.packages.as_ref().map(|p| p.hash.as_str())
    }

    /// Set when the credentials Secret, or one of its keys, is missing: the rollout is held.
    pub fn secret_problem(&self) -> Option<&Blocked> {
        self.secret_problem.as_ref()
    }

    /// What is allowed but probably not meant (for the log and the status).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

impl<'a> ValidatedPackages<'a> {
    pub fn spec(&self) -> &'a PythonPackagesSpec {
        self.spec
    }

    pub fn hash(&self) -> &PackagesHash {
        &self.hash
    }

    /// The requirements as the hash sees them: PEP 508 canonical form, deduplicated, sorted.
    pub fn requirements(&self) -> &BTreeSet<String> {
        &self.requirements
    }
}

/// Validates `app`. `credentials` is the Secret observe read (its key names); None when it was
/// not read — the spec references none, or `render` runs without a cluster — and then no Secret
/// problem can be known. `settings` are the operator's (the image registry).
pub fn validate<'a>(
    app: &'a KasprApp,
    secrets: Option<&[SecretKeys]>,
    settings: &Settings,
) -> Result<ValidatedApp<'a>, ValidationErrors> {
    app.spec.check()?;
    let packages = match &app.spec.python_packages {
        Some(spec) => Some(ValidatedPackages {
            spec,
            hash: kaspr_hash::packages_hash(spec).map_err(packages_error)?,
            requirements: kaspr_hash::canonical_requirements(&spec.packages)
                .map_err(packages_error)?,
        }),
        None => None,
    };
    Ok(ValidatedApp {
        app,
        image: kaspr_types::versions::image(
            app.spec.image.as_deref(),
            app.spec.version.as_deref(),
            settings.image_registry.as_deref(),
        ),
        secret_problem: secrets.and_then(|seen| secret_problem(app, seen)),
        packages,
        warnings: app.spec.warnings(),
        ramp: settings.ramp,
    })
}

/// A requirement `check` accepted but the hash cannot parse (they parse with the same crate, so
/// this is a bug, reported as the invalid field rather than a crash).
fn packages_error(error: kaspr_hash::HashError) -> ValidationErrors {
    ValidationErrors(vec![FieldError {
        path: "spec.pythonPackages.packages".to_owned(),
        message: error.to_string(),
    }])
}

/// The first problem with a referenced Secret, if any. A Secret that was not read (not in
/// `seen`) is no known problem.
fn secret_problem(app: &KasprApp, seen: &[SecretKeys]) -> Option<Blocked> {
    app.spec.secret_references().into_iter().find_map(|r| {
        let read = seen.iter().find(|s| s.name == r.name)?;
        let Some(keys) = &read.keys else {
            return Some(Blocked::SecretMissing {
                secret: r.name.clone(),
                field: r.field,
            });
        };
        r.keys
            .iter()
            .find(|k| !keys.contains(*k))
            .map(|k| Blocked::SecretKeyMissing {
                secret: r.name.clone(),
                key: k.clone(),
                field: r.field,
            })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(pp: &str) -> KasprApp {
        serde_yaml::from_str(&format!(
            "apiVersion: kaspr.io/v1alpha1\nkind: KasprApp\nmetadata: {{name: orders, namespace: default}}\nspec:\n  bootstrapServers: k:9092\n{pp}"
        ))
        .expect("app")
    }

    const WITH_SECRET: &str = "  pythonPackages:\n    packages: [Requests==2.31.0, requests==2.31.0]\n    indexUrl: https://pypi.example.com/simple\n    credentials: {secretRef: {name: pypi, passwordKey: token}}\n";

    fn keys(names: &[&str]) -> SecretKeys {
        SecretKeys {
            name: "pypi".into(),
            keys: Some(names.iter().map(|k| (*k).to_owned()).collect()),
        }
    }

    #[test]
    fn a_valid_app_carries_its_hash_and_canonical_requirements() {
        let a = app(WITH_SECRET);
        let v = validate(
            &a,
            Some(&[keys(&["username", "token"])]),
            &Settings::default(),
        )
        .expect("valid");
        let pp = v.packages().expect("packages");
        let spec = a.spec.python_packages.as_ref().expect("pp");
        assert_eq!(pp.hash(), &kaspr_hash::packages_hash(spec).expect("hash"));
        assert_eq!(v.hash(), Some(pp.hash().as_str()));
        assert_eq!(
            pp.requirements().iter().collect::<Vec<_>>(),
            ["requests==2.31.0"]
        );
        assert_eq!(v.secret_problem(), None);
        let plain = app("");
        let v = validate(&plain, None, &Settings::default()).expect("valid");
        assert!(v.packages().is_none() && v.hash().is_none());
    }

    #[test]
    fn a_missing_secret_or_key_is_data_not_invalidity() {
        let a = app(WITH_SECRET);
        let missing = SecretKeys {
            name: "pypi".into(),
            keys: None,
        };
        assert_eq!(
            validate(&a, Some(&[missing]), &Settings::default())
                .expect("valid")
                .secret_problem(),
            Some(&Blocked::SecretMissing {
                secret: "pypi".into(),
                field: "spec.pythonPackages.credentials.secretRef",
            })
        );
        assert_eq!(
            validate(
                &a,
                Some(&[keys(&["username", "password"])]),
                &Settings::default()
            )
            .expect("valid")
            .secret_problem(),
            Some(&Blocked::SecretKeyMissing {
                secret: "pypi".into(),
                key: "token".into(),
                field: "spec.pythonPackages.credentials.secretRef",
            })
        );
        // Not read (render, offline): nothing can be known.
        assert_eq!(
            validate(&a, None, &Settings::default())
                .expect("valid")
                .secret_problem(),
            None
        );
    }

    #[test]
    fn an_invalid_spec_lists_every_field() {
        let a = app(
            "  pythonPackages:\n    packages: ['-e x', 'ok']\n    credentials: {secretRef: {name: pypi}}\n",
        );
        let errors = validate(&a, None, &Settings::default()).expect_err("invalid");
        let paths: Vec<&str> = errors.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "spec.pythonPackages.credentials",
                "spec.pythonPackages.packages[0]"
            ]
        );
    }
}
