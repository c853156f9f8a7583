//! `kaspr-operator`: the operator binary.
//!
//! - `crd`: print the KasprApp CustomResourceDefinition
//! - `check -f FILE`: validate the KasprApps in a manifest without a cluster: every error with
//!   its field path, the warnings, and the packages hash each app would roll out

mod check;

use std::process::ExitCode;

const USAGE: &str = "usage: kaspr-operator crd | check -f FILE";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["crd"] => print_crd(),
        ["check", "-f", file] => check::run(std::path::Path::new(file)),
        ["-h" | "--help" | "help"] => {
            println!("{USAGE}");
            Ok(true)
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn print_crd() -> anyhow::Result<bool> {
    print!("{}", serde_yaml::to_string(&kaspr_types::crd())?);
    Ok(true)
}
