//! Writes the realistic benchmark into `docs/benchmarks.md` (between its markers, keeping the
//! rest of the page) and its bar chart into `docs/benchmarks/realistic.svg`; `write_section` is
//! the splice every generated section of the page goes through (the operator's too).

use std::fmt::Write as _;
use std::path::Path;

use anyhow::{Context, Result};

use crate::bench_cases::{Bench, Case, Sample};

const PAGE: &str = "docs/benchmarks.md";
const CHART: &str = "docs/benchmarks/realistic.svg";

/// The comments around a generated section of the page.
pub struct Markers {
    pub begin: &'static str,
    pub end: &'static str,
}

/// The realistic benchmark's section.
pub const REALISTIC: Markers = Markers {
    begin: "<!-- cargo xtask bench: begin (generated; edit xtask/src/bench_report.rs) -->",
    end: "<!-- cargo xtask bench: end -->",
};

/// Where the numbers were measured.
pub struct Machine {
    pub date: String,
    pub cores: usize,
    pub cpu: String,
    pub python: String,
    pub rounds: usize,
    /// Where the volumes were, and their filesystem.
    pub volume: String,
}

/// Rewrites the generated part of the page and the chart.
pub fn write(root: &Path, bench: &Bench, machine: &Machine) -> Result<()> {
    write_section(root, &REALISTIC, &section(bench, machine), None)?;
    let chart = root.join(CHART);
    std::fs::create_dir_all(chart.parent().context("chart dir")?)?;
    std::fs::write(&chart, svg(bench))?;
    eprintln!("xtask bench: wrote {PAGE} and {CHART}");
    Ok(())
}

/// Rewrites one generated section of the page, keeping the rest (see `splice`).
pub fn write_section(
    root: &Path,
    markers: &Markers,
    section: &str,
    after: Option<&str>,
) -> Result<()> {
    let page = std::fs::read_to_string(root.join(PAGE)).unwrap_or_else(|_| "# Benchmarks\n".into());
    std::fs::write(root.join(PAGE), splice(&page, markers, section, after))?;
    Ok(())
}

/// The page with `section` between the markers. The first time (no markers yet) the section
/// goes before the first `## ` heading that follows `after` (the page's start when `after` is
/// `None` or not on the page), or at the end.
fn splice(page: &str, markers: &Markers, section: &str, after: Option<&str>) -> String {
    let (begin, end) = (markers.begin, markers.end);
    let block = format!("{begin}\n{section}{end}\n\n");
    if let Some(b) = page.find(begin)
        && let Some(e) = page[b..].find(end).map(|e| b + e)
    {
        return format!(
            "{}{block}{}",
            &page[..b],
            page[e + end.len()..].trim_start_matches('\n')
        );
    }
    let from = after
        .and_then(|a| page.find(a).map(|i| i + a.len()))
        .unwrap_or(0);
    match page[from..].find("\n## ").map(|i| from + i) {
        Some(i) => format!("{}{block}{}", &page[..=i], &page[i + 1..]),
        None => format!("{}\n\n{block}", page.trim_end_matches('\n')),
    }
}

/// The cases in table order.
fn order(bench: &Bench) -> Vec<Case> {
    let mut cases = vec![Case::PlainPip, Case::ColdPip, Case::ColdUv, Case::WarmHit];
    cases.extend(bench.pods.iter().map(|n| Case::Pods(*n)));
    cases.extend([
        Case::AddPip,
        Case::AddUv,
        Case::ImportEnv,
        Case::ImportPlain,
        Case::PythonStart,
    ]);
    cases.retain(|c| bench.results.contains_key(c));
    cases
}

fn median(bench: &Bench, case: Case) -> f64 {
    bench.results.get(&case).map_or(f64::NAN, Sample::median)
}

fn section(bench: &Bench, m: &Machine) -> String {
    let mut s = intro(bench, m);
    s.push_str(&table(bench));
    let _ = writeln!(
        s,
        "\n(\"installer runs\": the most in any round; for the pods at once, of all pods together. \
         The spec change adds `{}` to an env whose volume already holds the set's env and the \
         installer's download cache.)\n",
        bench.wheels.added
    );
    s.push_str(&targets(bench));
    s.push_str("\n![Medians, log scale](benchmarks/realistic.svg)\n\n");
    s
}

fn intro(bench: &Bench, m: &Machine) -> String {
    let w = &bench.wheels;
    format!(
        "## Realistic install against plain pip (`cargo xtask bench`)\n\n\
         Measured on {date} by `cargo xtask bench`: {rounds} round(s), each running every case once \
         (side by side), shown as median and min–max. Machine: {cores} cores ({cpu}), Python \
         {python}, dash. The set: {set} with their dependencies ({files} wheels, {mb:.0} MB \
         with the added package, downloaded once into `target/bench-wheels`), served by pypiserver with Basic \
         authentication on 127.0.0.1 (listed in `trustedHosts`, since pip caches downloads only \
         from HTTPS and trusted hosts; downloads carry `Cache-Control: max-age` as on PyPI), so \
         network time is a loopback's and the installs are bound by unpacking and byte-compiling. \
         The packages volumes and plain pip's target are under {volume}; each cold case starts \
         from an empty volume (no download cache either).\n\n",
        volume = m.volume,
        date = m.date,
        rounds = m.rounds,
        cores = m.cores,
        cpu = m.cpu,
        python = m.python,
        set = w.packages.join(", "),
        files = w.files,
        mb = w.bytes as f64 / 1e6,
    )
}

fn table(bench: &Bench) -> String {
    let mut s =
        "| case | median | min–max | plain pip / case | installer runs |\n|---|---|---|---|---|\n"
            .to_owned();
    let plain = median(bench, Case::PlainPip);
    for case in order(bench) {
        let sample = &bench.results[&case];
        let runs = sample.installer_runs.iter().max().copied().unwrap_or(0);
        let not_install = matches!(
            case,
            Case::ImportEnv | Case::ImportPlain | Case::PythonStart
        );
        let (ratio, runs) = if not_install {
            ("–".to_owned(), "–".to_owned())
        } else {
            (format!("{:.2}×", plain / sample.median()), runs.to_string())
        };
        let _ = writeln!(
            s,
            "| {} | {} | {}–{} | {ratio} | {runs} |",
            case.label(),
            secs(sample.median()),
            secs(sample.min()),
            secs(sample.max()),
        );
    }
    s
}

fn targets(bench: &Bench) -> String {
    let m = |c| median(bench, c);
    let plain = m(Case::PlainPip);
    let mut rows = vec![
        row(
            "warm hit ≥ 300× faster than plain pip",
            plain / m(Case::WarmHit),
            "×",
            |r| r >= 300.0,
        ),
        row(
            "our cold pip path ≤ 1.05× plain pip",
            m(Case::ColdPip) / plain,
            "×",
            |r| r <= 1.05,
        ),
        row(
            "uv cold ≤ 0.4× pip cold",
            m(Case::ColdUv) / m(Case::ColdPip),
            "×",
            |r| r <= 0.4,
        ),
        row(
            "one package added, warm caches, pip ≤ 0.2× plain pip",
            m(Case::AddPip) / plain,
            "×",
            |r| r <= 0.2,
        ),
        row(
            "one package added, warm caches, uv ≤ 0.2× plain pip",
            m(Case::AddUv) / plain,
            "×",
            |r| r <= 0.2,
        ),
    ];
    for n in &bench.pods {
        let runs = bench
            .results
            .get(&Case::Pods(*n))
            .map_or(0, |s| s.installer_runs.iter().max().copied().unwrap_or(0));
        let ratio = m(Case::Pods(*n)) / m(Case::ColdPip);
        let met = ratio <= 1.15 && runs == 1;
        rows.push(format!(
            "| {n} pods at once ≤ 1.15× one cold start, one installer run | {ratio:.2}×, {runs} run(s) | {} |",
            yes(met)
        ));
    }
    if !bench.pods.contains(&32) {
        rows.push(
            "| 32 pods at once ≤ 1.15× one cold start | not measured in this run | – |".into(),
        );
    }
    rows.push(format!(
        "| operator RSS ≤ 64 MiB with 1,000 KasprApps | measured by `cargo xtask bench operator`: \
         [its section below]({}) | – |",
        crate::bench_operator::ANCHOR
    ));
    format!(
        "### Targets (ratios of medians from this run)\n\n| target | measured | met |\n|---|---|---|\n{}\n",
        rows.join("\n")
    )
}

fn row(what: &str, ratio: f64, unit: &str, ok: impl Fn(f64) -> bool) -> String {
    let shown = if ratio >= 10.0 {
        format!("{ratio:.0}{unit}")
    } else {
        format!("{ratio:.2}{unit}")
    };
    format!("| {what} | {shown} | {} |", yes(ok(ratio)))
}

fn yes(met: bool) -> &'static str {
    if met { "yes" } else { "**no**" }
}

fn secs(s: f64) -> String {
    if s < 1.0 {
        format!("{:.0} ms", s * 1000.0)
    } else {
        format!("{s:.2} s")
    }
}

/// The chart's layout: label column, bar length, row height, first row's top.
const LABEL_W: f64 = 380.0;
const BAR_W: f64 = 420.0;
const ROW_H: f64 = 24.0;
const TOP: f64 = 40.0;

/// A horizontal bar chart of the medians on a log scale (10 ms to the slowest case); grey for
/// what runs without the operator, blue for the script with pip, green with uv.
fn svg(bench: &Bench) -> String {
    let cases = order(bench);
    let max = cases.iter().map(|c| median(bench, *c)).fold(0.1, f64::max);
    let height = TOP + ROW_H * cases.len() as f64 + 30.0;
    let width = LABEL_W + BAR_W + 90.0;
    let mut s = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" height=\"{height}\" \
         font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"10\" y=\"20\" font-size=\"14\" font-weight=\"bold\">Median wall time per case \
         (log scale, 10 ms to {})</text>\n",
        secs(max)
    );
    for (i, case) in cases.iter().enumerate() {
        let fraction = (median(bench, *case) / 0.01).log10() / (max / 0.01).log10();
        s.push_str(&bar(
            *case,
            median(bench, *case),
            fraction,
            TOP + ROW_H * i as f64,
        ));
    }
    s.push_str("</svg>\n");
    s
}

/// One row of the chart: label, bar (`fraction` of the full length) and value, at `y`.
fn bar(case: Case, t: f64, fraction: f64, y: f64) -> String {
    let w = fraction.clamp(0.01, 1.0) * BAR_W;
    let colour = match case {
        Case::PlainPip | Case::ImportPlain | Case::PythonStart => "#9e9e9e",
        Case::ColdUv | Case::AddUv => "#2e7d32",
        _ => "#1565c0",
    };
    format!(
        "<text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>\n\
         <rect x=\"{LABEL_W}\" y=\"{y}\" width=\"{w:.1}\" height=\"{bh}\" fill=\"{colour}\"/>\n\
         <text x=\"{vx:.1}\" y=\"{ty}\">{value}</text>\n",
        label = case.label().replace('`', ""),
        lx = LABEL_W - 8.0,
        ty = y + 15.0,
        bh = ROW_H - 6.0,
        vx = LABEL_W + w + 6.0,
        value = secs(t),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPERATOR: Markers = crate::bench_operator::MARKERS;

    #[test]
    fn splice_inserts_once_then_replaces_keeping_the_rest() {
        let (begin, end) = (REALISTIC.begin, REALISTIC.end);
        let page = "# Benchmarks\n\nIntro.\n\n## Old section\n\nText.\n";
        let first = splice(page, &REALISTIC, "one\n", None);
        assert!(first.contains("Intro.\n\n") && first.contains("one\n"));
        assert!(first.find("one").expect("section") < first.find("## Old").expect("old"));
        let notes = first.replace(end, &format!("{end}\nnotes\n"));
        let second = splice(&notes, &REALISTIC, "two\n", None);
        assert!(second.contains("two\n") && !second.contains("one\n"));
        assert!(second.contains(&format!("{end}\n\nnotes\n")));
        assert!(second.contains("## Old section\n\nText.\n"));
        assert_eq!(second.matches(begin).count(), 1);
    }

    #[test]
    fn two_sections_are_spliced_independently() {
        let page = "# Benchmarks\n\nIntro.\n\n## Old section\n\nText.\n";
        let page = splice(page, &REALISTIC, "realistic one\n", None);
        // Hand-written notes after the realistic section stay with it.
        let page = page.replace(
            REALISTIC.end,
            &format!("{}\n\n### Notes\n\nBy hand.\n", REALISTIC.end),
        );
        let page = splice(&page, &OPERATOR, "operator one\n", Some(REALISTIC.end));
        let at = |needle: &str| page.find(needle).unwrap_or_else(|| panic!("no {needle}"));
        assert!(at(REALISTIC.end) < at("### Notes"));
        assert!(at("By hand.") < at(OPERATOR.begin), "{page}");
        assert!(at(OPERATOR.end) < at("## Old section"), "{page}");

        let again = splice(&page, &REALISTIC, "realistic two\n", None);
        let again = splice(&again, &OPERATOR, "operator two\n", Some(REALISTIC.end));
        assert!(again.contains("realistic two\n") && !again.contains("realistic one"));
        assert!(again.contains("operator two\n") && !again.contains("operator one"));
        assert_eq!(again.matches(OPERATOR.begin).count(), 1);
        assert_eq!(again.matches(REALISTIC.begin).count(), 1);
        assert!(again.contains("### Notes\n\nBy hand.\n"));
        assert!(again.contains("## Old section\n\nText.\n"));
        // Rewriting one leaves the other byte for byte.
        let operator_part = |p: &str| p[p.find(OPERATOR.begin).expect("begin")..].to_owned();
        let third = splice(&again, &REALISTIC, "realistic three\n", None);
        assert_eq!(operator_part(&third), operator_part(&again));
    }

    #[test]
    fn a_section_goes_at_the_end_when_no_heading_follows() {
        let page = "# Benchmarks\n\nIntro.\n";
        let out = splice(page, &OPERATOR, "op\n", Some(REALISTIC.end));
        assert!(out.starts_with("# Benchmarks\n\nIntro.\n\n"));
        assert!(out.ends_with(&format!("{}\nop\n{}\n\n", OPERATOR.begin, OPERATOR.end)));
    }
}
