//! # tessera
//!
//! The Tessera binary. `tessera serve` runs the server; later issues add the CLI.

mod serve;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// Tessera: Alibaba Cloud RAM and STS, runnable anywhere.
#[derive(Parser)]
#[command(name = "tessera", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the RAM and STS server.
    Serve(serve::ServeArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
