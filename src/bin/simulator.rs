//! `simulator`: generates payment traffic for paymetrics (its own issue brings the
//! scenarios, generators and sinks; until then it only explains itself).

use std::process::ExitCode;

const USAGE: &str = "\
simulator: payment traffic for paymetrics

USAGE:
    simulator run --config FILE [options]     (not available yet)
    simulator validate --config FILE          (not available yet)
    simulator default-config                  (not available yet)

The scenario-driven generator is not built yet. To send a sample batch to a running
handler today, POST a fixture: see README.md.";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    println!("{USAGE}");
    if args.is_empty() || args.iter().any(|a| a == "--help" || a == "-h") {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
