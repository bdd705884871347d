//! Redis connections for the roles. The client's default 500 ms response timeout is too
//! tight for a batch script on a loaded 2-core machine; a dead server is still noticed.
use std::time::Duration;

use anyhow::{Context, Result};
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;

const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

pub fn client(url: &str) -> Result<redis::Client> {
    redis::Client::open(url).with_context(|| format!("parsing Redis URL {url}"))
}

pub async fn connect(client: &redis::Client) -> Result<MultiplexedConnection> {
    let cfg = AsyncConnectionConfig::new()
        .set_response_timeout(Some(RESPONSE_TIMEOUT))
        .set_connection_timeout(Some(CONNECT_TIMEOUT));
    client
        .get_multiplexed_async_connection_with_config(&cfg)
        .await
        .with_context(|| {
            format!(
                "connecting to Redis {}",
                client.get_connection_info().addr()
            )
        })
}
