//! The Lambda entry point (built by cargo-lambda and SAM as `bootstrap`).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use lambda_watchdog::lambda::{Handler, config_from_env};
use serde_json::Value;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_watchdog::logging::init_lambda();
    // A bad config fails the cold start with a message naming the key: better than running
    // with rules the operator did not ask for.
    let handler = Handler::from_env(config_from_env()?).await;
    let handler = &handler;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler.handle(event).await
    }))
    .await
}
