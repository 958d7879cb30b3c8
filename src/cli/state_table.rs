//! `lambda-watchdog state-table`: the shared state table outside the template (for `replay
//! --state-table`, or a table of one's own).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::state::create_table;

/// Options of `state-table`.
#[derive(Parser)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// Create the table with the schema the template uses (key `pk`, on-demand, encrypted, TTL
    /// on `expires`). Uses the environment's Region and credentials, and `AWS_ENDPOINT_URL`.
    Create {
        /// The table's name.
        name: String,
    },
}

/// Runs `state-table`.
pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    match args.action {
        Action::Create { name } => {
            runtime.block_on(async {
                let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
                create_table(&aws_sdk_dynamodb::Client::new(&config), &name).await
            })?;
            eprintln!("lambda-watchdog: created state table {name}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
