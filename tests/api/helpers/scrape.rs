//! Reading the `/metrics` endpoint.

#[allow(unused_imports)]
use super::*;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

pub async fn scrape(app: &TestApp) -> String {
    scrape_accepting(app, None).await
}

/// The whole HTTP response to `GET /metrics` with `accept` as the `Accept` header, if any.
pub async fn scrape_accepting(app: &TestApp, accept: Option<&str>) -> String {
    let mut stream = tokio::net::TcpStream::connect(app.metrics_addr())
        .await
        .expect("connects");
    let accept = accept
        .map(|a| format!("Accept: {a}\r\n"))
        .unwrap_or_default();
    stream
        .write_all(
            format!(
                "GET /metrics HTTP/1.1\r\nHost: localhost\r\n{accept}Connection: close\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("request sent");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .expect("response read");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// The value of the sample `name{labels}` (exact label text), or 0 when absent.
pub fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| {
            line.strip_prefix(series)
                .and_then(|rest| rest.trim().parse().ok())
        })
        .unwrap_or(0.0)
}
