# Everyday recipes; each is a one-liner over cargo and xtask.

# Run every test (prepares the Python tools and the API server first).
test:
    cargo xtask test

# Regenerate crds/*.crd.yaml from the Rust types.
crd:
    cargo xtask crd

# Everything CI checks.
ci:
    bash .ci/run

# fmt, clippy, doc, shellcheck, ruff, cargo-deny, MSRV (see xtask/src/lint.rs); or name steps.
lint *steps:
    cargo xtask lint {{steps}}

# Benchmarks (criterion): warm path vs a pip start; build and status.
bench:
    cargo xtask bench

# Render the Helm chart with the real helm of the test venv (`cargo xtask test` installs it);
# pass values, e.g. `just helm-template --set watchNamespaces={team-a}`.
helm-template *args:
    target/test-venv/bin/helm template kaspr-operator deploy/helm/kaspr-operator --namespace kaspr-system --include-crds {{args}}

# Lint the Helm chart.
helm-lint:
    target/test-venv/bin/helm lint --strict deploy/helm/kaspr-operator
