//! # tessera
//!
//! The Tessera binary. `tessera serve` runs the server; later issues add the CLI.

mod admin;
mod serve;

use clap::{Parser, Subcommand};

// A request allocates many small, short-lived strings (parameters, canonical forms, the
// response); profiling showed glibc's malloc and free as the server's largest cost.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
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
    /// Administer a running deployment (operator's root only).
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Manage the STS token keys of a running deployment (operator's root only).
    #[command(subcommand)]
    Keys(admin::KeysCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(args),
        Command::Admin(cmd) => admin::run_admin(cmd),
        Command::Keys(cmd) => admin::run_keys(cmd),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
