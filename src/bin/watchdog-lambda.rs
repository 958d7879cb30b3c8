//! The Lambda entry point (built by cargo-lambda and SAM as `bootstrap`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use lambda_watchdog::lambda::Handler;
use lambda_watchdog::runtime_api::{CONFIG_ERROR_TYPE, fail_init};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_watchdog::logging::init_lambda();
    // A bad config fails the cold start with a message naming the key (or the TOML line and
    // column), reported through the Runtime API: better than running with rules the operator
    // did not ask for.
    let config = match lambda_watchdog::config::load(None, None) {
        Ok((config, _)) => config,
        Err(err) => fail_init(CONFIG_ERROR_TYPE, &err),
    };
    let handler = Handler::from_env(config).await;
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler.handle(event).await
    }))
    .await
}
