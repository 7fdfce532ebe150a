//! The `cairn` binary: parses the command line, runs it, prints the result or
//! one error line (exit 1; clap's usage errors exit 2).

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cairn_nodes::Cli::parse();
    match cairn_nodes::run(&cli) {
        Ok(text) => {
            // A closed stdout (e.g. `| head`) is not an error worth a message.
            let _ = std::io::stdout().write_all(text.as_bytes());
            ExitCode::SUCCESS
        }
        Err(error) => {
            // One clear line: the whole context chain, joined by ": ".
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
