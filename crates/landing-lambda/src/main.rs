//! `bootstrap` of the landing Lambda (runtime `provided.al2023`); the queue is
//! `P360_INGEST_QUEUE_URL`.

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    // One TLS crypto provider, chosen explicitly, as in `p360`.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    tracing_subscriber::fmt()
        .json()
        .with_target(false)
        .without_time() // CloudWatch stamps each line
        .init();
    let queue_url =
        std::env::var("P360_INGEST_QUEUE_URL").map_err(|_| "P360_INGEST_QUEUE_URL is not set")?;
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let client = aws_sdk_sqs::Client::new(&config);
    lambda_runtime::run(service_fn(
        |event: LambdaEvent<aws_lambda_events::event::s3::S3Event>| {
            let (client, queue_url) = (client.clone(), queue_url.clone());
            async move {
                let sent = landing_lambda::forward(&client, &queue_url, &event.payload).await?;
                Ok::<_, lambda_runtime::Error>(serde_json::json!({"forwarded": sent}))
            }
        },
    ))
    .await
}
