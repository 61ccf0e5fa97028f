//! # tessera
//!
//! The Tessera binary: `tessera serve` runs the server; the other commands are the command
//! line for it (and for Alibaba Cloud itself): profiles in the aliyun CLI's
//! `~/.aliyun/config.json`, any RPC action in the aliyun CLI's convention, friendly verbs,
//! credential export and diagnosis, and the quickstart walkthrough.

mod admin;
mod cli;
mod serve;

use clap::{CommandFactory, Parser, Subcommand};

// A request allocates many small, short-lived strings (parameters, canonical forms, the
// response); profiling showed glibc's malloc and free as the server's largest cost.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

/// Tessera: Alibaba Cloud RAM and STS, runnable anywhere.
///
/// Any RPC action can be called as the aliyun CLI does:
///   tessera sts AssumeRole --RoleArn acs:ram::123:role/r --RoleSessionName s
///   tessera ram CreateUser --UserName alice
/// (see `tessera sts --help`, `tessera ram --help`).
#[derive(Parser)]
#[command(name = "tessera", version, about, long_about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the RAM and STS server.
    Serve(Box<serve::ServeArgs>),
    /// Administer a running deployment (operator's root only).
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Manage the STS token keys of a running deployment (operator's root only).
    #[command(subcommand)]
    Keys(admin::KeysCommand),
    /// Create, change or list profiles of ~/.aliyun/config.json (the aliyun CLI's file).
    Configure(Box<cli::configure::ConfigureArgs>),
    /// Export the resolved credentials, or explain how they were resolved.
    #[command(subcommand)]
    Credentials(cli::creds::CredentialsCommand),
    /// RAM users: create one with an AccessKey and policies in one go.
    #[command(subcommand)]
    User(cli::verbs::UserCommand),
    /// RAM roles: create one that trusts an account; assume one.
    #[command(subcommand)]
    Role(cli::verbs::RoleCommand),
    /// Walk through Alibaba Cloud's STS example against a running server, step by step.
    Quickstart(cli::quickstart::QuickstartArgs),
    /// Print a shell completion script (e.g. `tessera completion bash > /etc/bash_completion.d/tessera`).
    Completion {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Any RPC action, aliyun-style: `tessera <product> <Action> --Param value …`.
    #[command(external_subcommand)]
    Product(Vec<String>),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => serve::run(*args),
        Command::Admin(cmd) => admin::run_admin(cmd),
        Command::Keys(cmd) => admin::run_keys(cmd),
        Command::Configure(args) => cli::configure::run(*args),
        Command::Credentials(cmd) => cli::creds::run(cmd),
        Command::User(cmd) => cli::verbs::run_user(cmd),
        Command::Role(cmd) => cli::verbs::run_role(cmd),
        Command::Quickstart(args) => cli::quickstart::run(args),
        Command::Completion { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "tessera",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Product(words) => cli::call::run(words),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tessera: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
