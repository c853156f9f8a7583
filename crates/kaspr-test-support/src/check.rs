//! Assertions on `KasprAppSpec::check`: what it accepts, and what it refuses at which path.

use kaspr_types::{FieldError, ValidationErrors};

use crate::app::spec_with_python_packages;

/// The errors `check` reports for a spec with the `pythonPackages` block `yaml`; panics when
/// it accepts the spec.
#[track_caller]
pub fn errors(python_packages: &str) -> ValidationErrors {
    match spec_with_python_packages(python_packages).check() {
        Ok(_) => panic!("expected a validation error for:\n{python_packages}"),
        Err(errors) => errors,
    }
}

/// The errors at exactly `path`.
pub fn errors_at<'a>(errors: &'a ValidationErrors, path: &str) -> Vec<&'a FieldError> {
    errors.0.iter().filter(|e| e.path == path).collect()
}

/// Asserts exactly one error, at `path`, whose message contains each of `needles`.
#[track_caller]
pub fn assert_rejected(python_packages: &str, path: &str, needles: &[&str]) {
    let errs = errors(python_packages);
    assert_eq!(errs.0.len(), 1, "one error expected, got: {errs}");
    let e = &errs.0[0];
    assert_eq!(e.path, path, "wrong path in: {e}");
    for n in needles {
        assert!(e.message.contains(n), "message {:?} lacks {n:?}", e.message);
    }
}

/// Asserts that `check` accepts a spec with the `pythonPackages` block `yaml`.
#[track_caller]
pub fn assert_valid(python_packages: &str) {
    if let Err(e) = spec_with_python_packages(python_packages).check() {
        panic!("expected valid, got: {e}\n{python_packages}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_their_path() {
        let errs = errors("packages: ['-e .', ok]\nindexUrl: ftp://x\n");
        assert_eq!(errors_at(&errs, "spec.pythonPackages.packages[0]").len(), 1);
        assert_eq!(errors_at(&errs, "spec.pythonPackages.indexUrl").len(), 1);
        assert!(errors_at(&errs, "spec.pythonPackages.packages[1]").is_empty());
        assert_valid("packages: [ok]");
        assert_rejected(
            "packages: [ok, '-e .']",
            "spec.pythonPackages.packages[1]",
            &["installer option"],
        );
    }
}
