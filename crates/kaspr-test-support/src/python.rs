//! What a python3 says about itself, computed here independently of the install helper.

use std::path::Path;
use std::process::Command;

/// Runs `python -c code` and returns its trimmed stdout; panics when it fails.
fn ask(python: &Path, code: &str) -> String {
    let out = Command::new(python)
        .args(["-c", code])
        .output()
        .unwrap_or_else(|e| panic!("{} does not run: {e}", python.display()));
    assert!(
        out.status.success(),
        "{} -c {code:?}: {}",
        python.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The abi tag of `python` (the env key's second half): its `SOABI`, e.g.
/// `cpython-311-x86_64-linux-gnu`.
pub fn abi_tag(python: &Path) -> String {
    ask(
        python,
        "import sysconfig; print(sysconfig.get_config_var('SOABI'))",
    )
}

/// The python tag of `python`, as the report's `pythonTag`: e.g. `cp311`.
pub fn python_tag(python: &Path) -> String {
    ask(
        python,
        "import sys; i = {'cpython': 'cp', 'pypy': 'pp'}.get(sys.implementation.name, sys.implementation.name); \
         print('%s%d%d' % (i, sys.version_info[0], sys.version_info[1]))",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_of_the_python3_on_path() {
        let python = Path::new("python3");
        let tag = python_tag(python);
        assert!(tag.starts_with("cp3") || tag.starts_with("pp3"), "{tag}");
        let abi = abi_tag(python);
        let version = &tag[2..];
        assert!(abi.contains(&format!("-{version}")), "{abi} vs {tag}");
    }
}
