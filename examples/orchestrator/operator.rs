//! The operator surface on `--metrics ADDR`: `GET /metrics` is the
//! driver's Prometheus text ([`Handle::prometheus`]), `GET /status` a JSON
//! object with the host's stats and every tracked group's status
//! ([`Handle::status`]: why it waits, its run and deadlines, its unread
//! messages, its last error and output). A minimal HTTP/1.1 server, one
//! request per connection: enough for a scraper and `curl`.

use std::net::SocketAddr;
use std::time::Duration;

use groupq_tokio::Handle;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::Fatal;

/// The longest request head read; a longer one is refused.
const MAX_HEAD: usize = 8 * 1024;

/// Binds `addr` and serves until the task is aborted. Returns the bound
/// address (port 0 picks a free one).
pub async fn serve(addr: SocketAddr, handle: Handle) -> Result<(SocketAddr, Server), Fatal> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("--metrics {addr}: {e}"))?;
    let bound = listener.local_addr()?;
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handle = handle.clone();
            tokio::spawn(async move {
                // A slow or silent client gets five seconds.
                let _ = tokio::time::timeout(Duration::from_secs(5), answer(stream, &handle)).await;
            });
        }
    });
    Ok((bound, Server(task)))
}

/// The server's task; dropping it stops serving.
pub struct Server(tokio::task::JoinHandle<()>);

impl Drop for Server {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn answer(mut stream: TcpStream, handle: &Handle) -> std::io::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        head.extend_from_slice(&buf[..n]);
        if head.len() > MAX_HEAD {
            return respond(
                &mut stream,
                "431 Request Header Fields Too Large",
                "text/plain",
                "",
            )
            .await;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let mut words = text.lines().next().unwrap_or("").split_whitespace();
    let (method, path) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    if method != "GET" {
        return respond(
            &mut stream,
            "405 Method Not Allowed",
            "text/plain",
            "GET only\n",
        )
        .await;
    }
    match path {
        "/metrics" => {
            let body = handle.prometheus();
            let kind = "application/openmetrics-text; version=1.0.0; charset=utf-8";
            respond(&mut stream, "200 OK", kind, &body).await
        }
        "/status" => match status(handle).await {
            Ok(body) => respond(&mut stream, "200 OK", "application/json", &body).await,
            Err(e) => {
                let body = format!("{e}\n");
                respond(&mut stream, "503 Service Unavailable", "text/plain", &body).await
            }
        },
        _ => {
            respond(
                &mut stream,
                "404 Not Found",
                "text/plain",
                "/metrics or /status\n",
            )
            .await
        }
    }
}

/// `{"stats": ..., "groups": {"<group>": <status>, ...}}`.
async fn status(handle: &Handle) -> Result<String, Fatal> {
    let stats = handle.stats().await?;
    let mut groups = serde_json::Map::new();
    for group in handle.groups().await? {
        if let Some(status) = handle.status(group.clone()).await? {
            groups.insert(group, serde_json::to_value(status)?);
        }
    }
    let body = serde_json::json!({ "stats": stats, "groups": groups });
    Ok(format!("{body}\n"))
}

async fn respond(
    stream: &mut TcpStream,
    status: &str,
    kind: &str,
    body: &str,
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    stream.shutdown().await
}
