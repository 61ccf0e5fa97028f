//! `tessera-loadgen`: see the crate README.

use clap::Parser;
use std::process::ExitCode;
use tessera_loadgen::cli::Args;

fn main() -> ExitCode {
    match Args::parse().into_config() {
        Ok(config) => {
            eprintln!(
                "tessera-loadgen: {} at {} over {} connections: the load engine is not built yet",
                config.workload.name(),
                config.target.authority,
                config.connections
            );
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("tessera-loadgen: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
