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
