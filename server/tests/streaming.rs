//! Static files are streamed with bounded buffers: the server's resident memory stays
//! within a stated bound while 100 clients fetch the largest file and read it slowly.
//! (Before streaming, each request held the whole file: 40 such clients of a 16 MiB
//! file grew the server by 606 MiB.)
#![cfg_attr(test, allow(clippy::unwrap_used, reason = "tests"))]

mod common;

use std::time::{Duration, Instant};

use common::*;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const CLIENTS: usize = 100;
const FILE_BYTES: usize = 16 << 20;
const READ_FOR: Duration = Duration::from_secs(5);
/// Growth allowed over the idle server: 100 × (64 KiB file chunk + 64 KiB hyper buffer)
/// is 12.5 MiB; the rest is margin for allocator slack and the blocking file-read
/// threads. Reading whole files, as before, would need 1.6 GiB.
const GROWTH_BOUND: u64 = 64 << 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rss_stays_bounded_while_100_clients_read_the_largest_file_slowly() {
    let dir = make_site(true);
    let big: Vec<u8> = (0..FILE_BYTES).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.join("dist/big.0123abcd.bin"), &big).unwrap();
    let server = tokio::task::spawn_blocking({
        let root = dir.join("dist");
        move || Spawned::start(&root, &[])
    })
    .await
    .unwrap();
    let addr = server.site_addr;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let baseline = server.rss_bytes();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..CLIENTS {
        tasks.push(tokio::spawn(async move {
            let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET /big.0123abcd.bin HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            // 16 KiB every 100 ms: 160 KiB/s, a hundredth of the file in 5 s.
            let mut buf = vec![0u8; 16 * 1024];
            let mut received = 0;
            while started.elapsed() < READ_FOR {
                let n = s.read(&mut buf).await.unwrap();
                assert!(n > 0, "server closed a slow but steady reader");
                received += n;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            received
        }));
    }
    let mut peak = baseline;
    while started.elapsed() < READ_FOR {
        peak = peak.max(server.rss_bytes());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut received = 0;
    for t in tasks {
        received += t.await.unwrap();
    }
    let growth = peak.saturating_sub(baseline);
    eprintln!(
        "streaming: {CLIENTS} slow readers of {} MiB: server RSS {:.1} MiB idle, peak {:.1} MiB (+{:.1} MiB); {:.1} MiB read in all",
        FILE_BYTES >> 20,
        baseline as f64 / 1048576.0,
        peak as f64 / 1048576.0,
        growth as f64 / 1048576.0,
        received as f64 / 1048576.0
    );
    assert!(
        received >= CLIENTS * 16 * 1024,
        "the readers got too little"
    );
    assert!(
        growth < GROWTH_BOUND,
        "server RSS grew by {growth} bytes (bound {GROWTH_BOUND})"
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
