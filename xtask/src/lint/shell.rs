//! The `shell` step: shellcheck on every rendered variant of the install script and on the CI
//! script, with findings mapped back to the template's lines.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::variants::write_variants;
use super::{OUT_DIR, Outcome, TEMPLATES, status, which};

/// shellcheck on every variant of the install script: the knobs that change its text are the
/// installer, the cache mode, the failure policy and the image-packages policy; the paths are
/// the operator's layout, and once odd ones (a space, a quote) to check their quoting.
/// Findings are reported once, against the line of `templates/install.sh`, with the dialects
/// and the number of variants that have them.
pub(super) fn shell(root: &Path) -> Result<Outcome> {
    let Some(shellcheck) = which("shellcheck") else {
        return Ok(Outcome::Skipped(
            "shellcheck is not installed (apt-get install shellcheck; .ci/run does this)".into(),
        ));
    };
    let files = write_variants(root)?;
    let template = std::fs::read_to_string(root.join(TEMPLATES).join("install.sh"))?;
    // Where (template line, column), what (code, message) -> in which dialects, how many files.
    let mut findings: BTreeMap<Finding, (Vec<&str>, usize)> = BTreeMap::new();
    // The script runs with `/bin/sh -c`: dash, bash or busybox ash, whichever the image has
    // (shellcheck has no busybox dialect; `sh` is the strict POSIX one). One process each, at once.
    let dialects = ["sh", "dash", "bash"];
    let outputs = std::thread::scope(|scope| {
        let runs: Vec<_> = dialects
            .iter()
            .map(|dialect| {
                let mut cmd = Command::new(&shellcheck);
                cmd.args([
                    "--shell",
                    dialect,
                    "--severity",
                    "style",
                    "--format",
                    "json1",
                ])
                .args(["--enable", OPTIONAL_CHECKS])
                .args(files.iter().map(|(f, _)| f));
                scope.spawn(move || cmd.output())
            })
            .collect();
        runs.into_iter()
            .map(|run| run.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect::<std::io::Result<Vec<_>>>()
    })
    .context("running shellcheck")?;
    for (dialect, out) in dialects.into_iter().zip(outputs) {
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).with_context(|| {
            format!(
                "shellcheck output: {}",
                String::from_utf8_lossy(&out.stderr)
            )
        })?;
        if !out.status.success() && report["comments"].as_array().is_none_or(Vec::is_empty) {
            bail!(
                "shellcheck failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        for c in report["comments"].as_array().into_iter().flatten() {
            let file = c["file"].as_str().unwrap_or_default();
            let Some((_, script)) = files.iter().find(|(f, _)| f.as_os_str() == file) else {
                bail!("shellcheck names an unknown file {file}");
            };
            let line = c["line"].as_u64().unwrap_or_default() as usize;
            let key = (
                template_line(&template, script, line),
                c["column"].as_u64().unwrap_or_default() as usize,
                c["code"].as_u64().unwrap_or_default(),
                format!(
                    "{}: {}",
                    c["level"].as_str().unwrap_or_default(),
                    c["message"].as_str().unwrap_or_default()
                ),
            );
            let entry = findings.entry(key).or_default();
            if !entry.0.contains(&dialect) {
                entry.0.push(dialect);
            }
            entry.1 += 1;
        }
    }
    eprintln!(
        "xtask lint: shellcheck (sh, dash, bash) on {} rendered variants in {OUT_DIR}/",
        files.len()
    );
    let lines: Vec<&str> = template.lines().collect();
    for ((line, column, code, message), (dialects, hits)) in &findings {
        eprintln!(
            "{TEMPLATES}/install.sh:{line}:{column}: SC{code} {message} [{}; {} of {} variants]\n    {}",
            dialects.join(", "),
            hits / dialects.len(),
            files.len(),
            lines.get(line.saturating_sub(1)).unwrap_or(&"").trim()
        );
    }
    // The CI script itself (bash, by its shebang).
    let ci = status(
        Command::new(&shellcheck).current_dir(root).args([
            "--severity",
            "style",
            "--enable",
            OPTIONAL_CHECKS,
            CI_SCRIPT,
        ]),
        "shellcheck .ci/run",
    )?;
    Ok(if findings.is_empty() && matches!(ci, Outcome::Passed) {
        Outcome::Passed
    } else {
        Outcome::Failed
    })
}

/// shellcheck's optional checks that fit scripts of `set -u` and uppercase globals: an
/// uppercase name used but never assigned is a typo or an environment variable without a
/// default, and either aborts the script.
const OPTIONAL_CHECKS: &str =
    "check-unassigned-uppercase,avoid-nullary-conditions,deprecate-which,quote-safe-variables";
const CI_SCRIPT: &str = ".ci/run";

type Finding = (usize, usize, u64, String);

/// The line of `install.sh` that line `line` of a rendered script comes from: the lines match
/// one to one, except that the four include lines of `KASPR_PY` become the whole program.
fn template_line(template: &str, script: &str, line: usize) -> usize {
    let opening = |text: &str| text.lines().position(|l| l.starts_with("KASPR_PY='"));
    let closing = |text: &str, from: usize| {
        text.lines()
            .enumerate()
            .skip(from + 1)
            .find(|(_, l)| l.contains('\''))
            .map(|(i, _)| i)
    };
    let (Some(open), Some(open_t)) = (opening(script), opening(template)) else {
        return line;
    };
    let (Some(close), Some(close_t)) = (closing(script, open), closing(template, open_t)) else {
        return line;
    };
    // 1-based `line` against 0-based positions.
    if line <= open + 1 {
        line
    } else if line <= close + 1 {
        open_t + 1
    } else {
        line - close + close_t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn script_lines_map_to_the_template() {
        let template = "A=1\nKASPR_PY='{% include a %}\n{% include b %}'\n\nB=2\n";
        let script = "A=1\nKASPR_PY='x\ny\nz\nw'\n\nB=2\n";
        assert_eq!(template_line(template, script, 1), 1);
        assert_eq!(template_line(template, script, 2), 2);
        assert_eq!(template_line(template, script, 4), 2);
        assert_eq!(template_line(template, script, 7), 5);
    }
}
