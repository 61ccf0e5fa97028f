//! `tessera-loadgen`: see the crate README (usage, output, how to measure).

use clap::Parser;
use std::process::ExitCode;
use tessera_loadgen::cli::{Args, Config, Workload};
use tessera_loadgen::engine;
use tessera_loadgen::report::{describe, Summary};

async fn measure(config: &Config, workload: &Workload) -> anyhow::Result<Summary> {
    if config.progress {
        eprintln!(
            "tessera-loadgen: {} ({}) at {} over {} connections: {:.1} s warmup, {:.1} s measured",
            workload.name(),
            workload.signature(),
            config.target.authority,
            config.connections,
            config.warmup.as_secs_f64(),
            config.duration.as_secs_f64()
        );
    }
    let m = engine::run(config, workload).await?;
    let s = Summary::new(
        workload.name(),
        workload.signature(),
        config.connections,
        &m,
    );
    eprintln!("{}", describe(&s, &m));
    Ok(s)
}

async fn run(config: Config) -> anyhow::Result<Summary> {
    if config.compare {
        let health = measure(&config, &Workload::Health).await?;
        println!("{}", health.to_json());
        let action = measure(&config, &config.workload).await?;
        let action = action.compared_with(&health);
        eprintln!(
            "{}: {:.3} × health",
            action.action,
            action.ratio_to_health.unwrap_or(0.0)
        );
        Ok(action)
    } else {
        measure(&config, &config.workload).await
    }
}

fn main() -> ExitCode {
    let result = Args::parse().into_config().and_then(|config| {
        let runtime = if config.threads == 1 {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?
        } else {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(usize::from(config.threads))
                .enable_all()
                .build()?
        };
        runtime.block_on(run(config))
    });
    match result {
        Ok(summary) => {
            println!("{}", summary.to_json());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("tessera-loadgen: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
