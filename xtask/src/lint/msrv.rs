//! The `msrv` step: the declared `rust-version` against the toolchain, the editions and every
//! dependency's own.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::Outcome;
use crate::test::cargo_command;

/// What can be checked of the MSRV with one (newer) toolchain and no network:
/// - every workspace member that declares a `rust-version` declares the workspace's;
/// - the edition needs no newer compiler than the MSRV;
/// - the installed rustc is not older than the MSRV;
/// - no dependency in the lockfile (for this platform) declares a `rust-version` above it.
///
/// Not checked: language features and compiler behaviour newer than the MSRV (that needs the
/// MSRV toolchain itself, which rustup would have to download); clippy's `incompatible_msrv`
/// lint covers std APIs.
pub(super) fn msrv(root: &Path) -> Result<Outcome> {
    let host = rustc_host()?;
    let out = cargo_command(root)
        .args(["metadata", "--format-version", "1", "--filter-platform"])
        .arg(&host)
        .output()
        .context("cargo metadata")?;
    if !out.status.success() {
        bail!("cargo metadata: {}", String::from_utf8_lossy(&out.stderr));
    }
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout)?;
    let members: Vec<&str> = meta["workspace_members"]
        .as_array()
        .context("workspace_members")?
        .iter()
        .filter_map(|m| m.as_str())
        .collect();
    let packages = meta["packages"].as_array().context("packages")?;

    let mut declared = BTreeMap::new();
    let mut undeclared = Vec::new();
    for p in packages
        .iter()
        .filter(|p| members.contains(&p["id"].as_str().unwrap_or_default()))
    {
        let name = p["name"].as_str().unwrap_or_default();
        match p["rust_version"].as_str() {
            Some(v) => {
                declared.insert(name, v);
            }
            None => undeclared.push(name),
        }
    }
    let mut problems = Vec::new();
    let msrv = {
        let mut versions: Vec<&str> = declared.values().copied().collect();
        versions.sort_unstable();
        versions.dedup();
        match versions.as_slice() {
            [one] => Version::parse(one)?,
            [] => bail!("no workspace member declares a rust-version"),
            _ => {
                problems.push(format!(
                    "members declare different rust-versions: {declared:?}"
                ));
                Version::parse(versions[0])?
            }
        }
    };
    if !undeclared.is_empty() {
        eprintln!(
            "xtask lint: members without a rust-version (not checked by clippy's incompatible_msrv): {}",
            undeclared.join(", ")
        );
    }

    for p in packages
        .iter()
        .filter(|p| members.contains(&p["id"].as_str().unwrap_or_default()))
    {
        let edition = p["edition"].as_str().unwrap_or("2015");
        let needs = match edition {
            "2024" => Some(Version(1, 85, 0)),
            "2021" => Some(Version(1, 56, 0)),
            "2018" => Some(Version(1, 31, 0)),
            _ => None,
        };
        if let Some(needs) = needs
            && needs > msrv
        {
            problems.push(format!(
                "{}: edition {edition} needs Rust {needs}, above the MSRV {msrv}",
                p["name"].as_str().unwrap_or_default()
            ));
        }
    }

    let rustc = rustc_version()?;
    if rustc < msrv {
        problems.push(format!(
            "the installed rustc {rustc} is older than the MSRV {msrv}"
        ));
    }

    let mut checked = 0;
    for p in packages
        .iter()
        .filter(|p| !members.contains(&p["id"].as_str().unwrap_or_default()))
    {
        let Some(v) = p["rust_version"].as_str() else {
            continue;
        };
        checked += 1;
        if Version::parse(v)? > msrv {
            problems.push(format!(
                "dependency {} {} needs Rust {v}, above the MSRV {msrv}",
                p["name"].as_str().unwrap_or_default(),
                p["version"].as_str().unwrap_or_default()
            ));
        }
    }
    eprintln!(
        "xtask lint: MSRV {msrv}, rustc {rustc}; {checked} of {} dependencies declare a rust-version",
        packages.len() - members.len()
    );
    for problem in &problems {
        eprintln!("xtask lint: msrv: {problem}");
    }
    Ok(if problems.is_empty() {
        Outcome::Passed
    } else {
        Outcome::Failed
    })
}

fn rustc_verbose() -> Result<String> {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .context("rustc -vV")?;
    Ok(String::from_utf8(out.stdout)?)
}

fn rustc_field(name: &str) -> Result<String> {
    rustc_verbose()?
        .lines()
        .find_map(|l| l.strip_prefix(name))
        .map(|v| v.trim().to_owned())
        .with_context(|| format!("rustc -vV has no {name}"))
}

fn rustc_host() -> Result<String> {
    rustc_field("host:")
}

fn rustc_version() -> Result<Version> {
    Version::parse(&rustc_field("release:")?)
}

/// A Rust version: major.minor.patch (a missing patch is 0; pre-release tags are ignored).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Version(u32, u32, u32);

impl Version {
    fn parse(text: &str) -> Result<Self> {
        let core = text.split(['-', '+']).next().unwrap_or_default();
        let mut parts = core.split('.').map(str::parse::<u32>);
        let mut next = |required: bool| -> Result<u32> {
            match parts.next() {
                Some(n) => Ok(n.with_context(|| format!("version {text}"))?),
                None if required => bail!("version {text}"),
                None => Ok(0),
            }
        };
        Ok(Self(next(true)?, next(true)?, next(false)?))
    }
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}.{}", self.0, self.1, self.2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_numerically() {
        assert!(Version::parse("1.89").ok() < Version::parse("1.100.0").ok());
        assert_eq!(
            Version::parse("1.95.0-nightly").ok(),
            Some(Version(1, 95, 0))
        );
        assert!(Version::parse("1").is_err());
    }
}
