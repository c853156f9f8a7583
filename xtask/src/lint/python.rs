//! The `python` step: ruff on the Python program the install script embeds and on the test
//! fixtures, with findings mapped back to the template files.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use super::variants::{render, variant_specs};
use super::{OUT_DIR, Outcome, TEMPLATES};
use crate::test::prepare_venv;

/// The templates the script embeds, in the order `install.sh` includes them.
const EMBEDDED: [&str; 6] = [
    "helper.py",
    "classify.py",
    "image.py",
    "space.py",
    "gcs.py",
    "main.py",
];
const FIXTURES: [&str; 2] = [
    "crates/kaspr-script/tests/support/fixtures.py",
    "crates/kaspr-script/tests/support/gcs_fixtures.py",
];
const RUFF_CONFIG: &str = "xtask/ruff.toml";

/// ruff on the Python program the script runs (taken out of a rendered script, so the names
/// one template uses from another resolve) and on the test fixtures. Findings in the extracted
/// program are reported against the template file and line.
pub(super) fn python(root: &Path) -> Result<Outcome> {
    let venv = prepare_venv(root)?;
    let ruff = venv.join("bin/ruff");
    if !ruff.is_file() {
        bail!("{} is missing after preparing the venv", ruff.display());
    }
    let (_, yaml) = variant_specs().swap_remove(0);
    let script = render(&yaml, &kaspr_script::Paths::default())?;
    let program = embedded_python(&script)?;
    let starts = template_starts(root, &program)?;
    let dir = root.join(OUT_DIR);
    std::fs::create_dir_all(&dir)?;
    let extracted = dir.join("kaspr_py.py");
    // The closing quote follows the last line directly; a file ends with a newline.
    std::fs::write(&extracted, format!("{program}\n"))?;

    let out = Command::new(&ruff)
        .current_dir(root)
        .args([
            "check",
            "--no-cache",
            "--output-format",
            "concise",
            "--config",
        ])
        .arg(root.join(RUFF_CONFIG))
        .arg(&extracted)
        .args(FIXTURES.map(|f| root.join(f)))
        .output()
        .context("running ruff")?;
    let text = String::from_utf8_lossy(&out.stdout);
    for line in text.lines() {
        eprintln!("{}", relocate(line, &extracted, &starts));
    }
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    Ok(if out.status.success() {
        Outcome::Passed
    } else {
        Outcome::Failed
    })
}

/// The text between `KASPR_PY='` and the closing quote (the helper never holds a `'`).
fn embedded_python(script: &str) -> Result<String> {
    let start = script
        .find("KASPR_PY='")
        .context("no KASPR_PY= in the rendered script")?
        + "KASPR_PY='".len();
    let len = script[start..]
        .find('\'')
        .context("KASPR_PY is not closed")?;
    Ok(script[start..start + len].to_owned())
}

/// The line (1-based) of the extracted program at which each embedded template starts.
fn template_starts(root: &Path, program: &str) -> Result<Vec<(usize, &'static str)>> {
    let mut starts = Vec::new();
    let mut from = 0;
    for name in EMBEDDED {
        let text = std::fs::read_to_string(root.join(TEMPLATES).join(name))?;
        let head = text.lines().next().unwrap_or_default();
        let at = program[from..]
            .find(head)
            .map(|i| from + i)
            .with_context(|| format!("{name} is not in the embedded program"))?;
        starts.push((program[..at].lines().count() + 1, name));
        from = at + head.len();
    }
    Ok(starts)
}

/// `target/lint/kaspr_py.py:LINE:COL: ...` → `crates/kaspr-script/templates/NAME:LINE:COL: ...`.
fn relocate(line: &str, extracted: &Path, starts: &[(usize, &str)]) -> String {
    let prefix = format!("{}:", extracted.display());
    let relative = format!("{OUT_DIR}/kaspr_py.py:");
    let Some(rest) = line
        .strip_prefix(&prefix)
        .or_else(|| line.strip_prefix(&relative))
    else {
        return line.to_owned();
    };
    let Some((number, rest)) = rest.split_once(':') else {
        return line.to_owned();
    };
    let Ok(number) = number.parse::<usize>() else {
        return line.to_owned();
    };
    match starts.iter().rev().find(|(start, _)| *start <= number) {
        Some((start, name)) => format!("{TEMPLATES}/{name}:{}:{rest}", number - start + 1),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn findings_point_at_the_template() {
        let starts = [(1, "helper.py"), (563, "image.py")];
        let extracted = Path::new("/w/target/lint/kaspr_py.py");
        assert_eq!(
            relocate(
                "/w/target/lint/kaspr_py.py:570:5: F401 unused",
                extracted,
                &starts
            ),
            "crates/kaspr-script/templates/image.py:8:5: F401 unused"
        );
        assert_eq!(
            relocate("Found 1 error.", extracted, &starts),
            "Found 1 error."
        );
    }

    #[test]
    fn the_embedded_program_is_found() {
        let script = "A=1\nKASPR_PY='import os\nprint(1)'\nkpy() { :; }\n";
        assert_eq!(
            embedded_python(script).ok().as_deref(),
            Some("import os\nprint(1)")
        );
    }
}
