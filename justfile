# Everyday recipes; each is a one-liner over cargo and xtask.

# Run every test (prepares the Python tools and the API server first).
test:
    cargo xtask test

# Regenerate crds/kasprapp.crd.yaml from the Rust types.
crd:
    cargo xtask crd

# Everything CI checks.
ci:
    bash .ci/run

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# Benchmarks (criterion): warm path vs a pip start; build and status.
bench:
    cargo xtask bench
