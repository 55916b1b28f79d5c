//! Ingest throughput and `/metrics` latency under load, on 127.0.0.1.
//!
//! `cargo run --release -p candlefish-server --example load -- [SOCKETS] [SECONDS] [SAMPLES]`
//! (defaults 64, 5, 60). Starts the server in-process with limits raised, opens
//! SOCKETS WebSocket clients that each send `frames` batches of SAMPLES frame times
//! as fast as the socket takes them (reading the server's notices meanwhile), scrapes
//! `/metrics` every 100 ms meanwhile, then prints messages/s, samples/s and the scrape
//! latency percentiles.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use candlefish_server::{Config, Server};
use futures_util::SinkExt as _;
use futures_util::StreamExt as _;
use tokio_tungstenite::tungstenite::Message;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arg = |i: usize, default: u64| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (sockets, seconds, samples) = (arg(0, 64) as usize, arg(1, 5), arg(2, 60) as usize);
    let config = Config {
        port: 0,
        metrics_addr: "127.0.0.1:0".parse()?,
        rate_limit: u32::MAX,
        conn_msg_rate: 1e9,
        ip_msg_rate: 1e9,
        max_sockets_per_ip: 100_000,
        max_sockets: 100_000,
        max_connections: 100_000,
        max_connections_per_ip: 100_000,
        // Each socket is one session sending far faster than real time: a day-long
        // session window keeps the per-session weight cap from cutting its frames.
        session_window_s: 86_400.0,
        releases: (0..4).map(|r| format!("bench-{r}")).collect(),
        ..Config::default()
    };
    let server = Server::start(config).await?;
    let url = format!("ws://{}/telemetry", server.site_addr);
    let metrics_url = format!("http://{}/metrics", server.metrics_addr);
    let duration = Duration::from_secs(seconds);
    let started = Instant::now();

    let mut tasks = Vec::new();
    for i in 0..sockets {
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            let (ws, _) = tokio_tungstenite::connect_async(url)
                .await
                .context("connect")?;
            // The server answers with notices (welcome, acks); read them meanwhile so
            // neither side's send buffer fills.
            let (mut ws, mut notices) = ws.split();
            let reader = tokio::spawn(async move { while notices.next().await.is_some() {} });
            let mode = ["webgpu", "webgl", "native"][i % 3];
            let frames: Vec<f32> = (0..samples).map(|k| 8.0 + (k % 25) as f32).collect();
            let msg = serde_json::json!({"type":"frames","release":format!("bench-{}", i % 4),
                "session":format!("bench-session-{i:05}"),"mode":mode,
                "preset":"quality","adapter":"bench","frame_ms":frames,"gpu_ms":3.0,
                "cpu_ms":{"update":0.2,"cull":0.1},"memory_bytes":100_000_000u64,"draw_calls":4})
            .to_string();
            let mut sent = 0u64;
            while started.elapsed() < duration {
                ws.send(Message::text(msg.clone())).await?;
                sent += 1;
            }
            ws.close().await?;
            reader.await?;
            anyhow::Ok(sent)
        }));
    }

    let client = reqwest::Client::builder().no_proxy().build()?;
    let mut latencies = Vec::new();
    let mut exposition = 0;
    while started.elapsed() < duration {
        let t = Instant::now();
        let body = client.get(&metrics_url).send().await?.text().await?;
        latencies.push(t.elapsed());
        anyhow::ensure!(body.contains("candlefish_telemetry_messages_total"));
        exposition = body.len();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut sent = 0;
    for task in tasks {
        sent += task.await??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let m = &server.state().metrics;
    anyhow::ensure!(
        m.accepted() == sent,
        "accepted {} != sent {sent}",
        m.accepted()
    );
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    println!("sockets {sockets}, {seconds} s, {samples} samples/message");
    println!(
        "ingest: {sent} messages in {elapsed:.2} s = {:.0} messages/s, {:.0} samples/s",
        sent as f64 / elapsed,
        (sent as usize * samples) as f64 / elapsed
    );
    println!(
        "/metrics under load: {} scrapes of {} KiB, p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        latencies.len(),
        exposition / 1024,
        pct(0.5).as_secs_f64() * 1e3,
        pct(0.99).as_secs_f64() * 1e3,
        latencies.last().map_or(0.0, |d| d.as_secs_f64() * 1e3)
    );
    server.shutdown().await;
    Ok(())
}
