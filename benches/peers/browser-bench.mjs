// Browser benchmark and peer comparison: the same fish scene in the same headless
// Chromium (WebGL2 on SwiftShader here), ours (the built site served by
// candlefish-server) beside the three.js version (fish-scene.html), at the same
// school size. Reports per-frame CPU time of each runtime, the frame interval and
// draw calls, and the ratios.
//
//   cargo xtask dist && cargo build -p candlefish-server
//   cargo run --release -p candlefish-benches --bin peer-data
//   (cd benches/peers && npm ci)
//   node benches/peers/browser-bench.mjs [--fish 10000] [--frames 60] [--json out.json]

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, dirname, normalize, extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '../../node_modules/playwright-core/index.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const fish = Number(arg('fish', 10000));
const frames = Number(arg('frames', 60));
const warmup = 10;
const jsonOut = arg('json', join(root, 'target/peer-data/browser-results.json'));
const server = arg('server', join(root, 'target/debug/candlefish-server'));
const FLAGS = [
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--disable-dev-shm-usage',
  '--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
];

function percentiles(values) {
  const v = [...values].sort((a, b) => a - b);
  const rank = (p) => v[Math.min(v.length, Math.max(1, Math.ceil(p * v.length))) - 1];
  return { p50: rank(0.5), p95: rank(0.95), p99: rank(0.99), max: v[v.length - 1], n: v.length };
}

// The three.js page is a plain static page: a tiny server for the repository root.
const MIME = { '.html': 'text/html', '.mjs': 'text/javascript', '.js': 'text/javascript', '.json': 'application/json' };
function staticServer() {
  const srv = createServer(async (req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url, 'http://x').pathname));
    const allowed = path.startsWith('/benches/peers/') || path.startsWith('/target/peer-data/');
    if (req.method !== 'GET' || path.includes('..') || !allowed) {
      res.writeHead(404).end();
      return;
    }
    try {
      const body = await readFile(join(root, path));
      res.writeHead(200, { 'content-type': MIME[extname(path)] || 'application/octet-stream' }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  return new Promise((resolve) => srv.listen(0, '127.0.0.1', () => resolve(srv)));
}

async function startOurs() {
  const proc = spawn(server, ['--port', '0', '--metrics-addr', '127.0.0.1:0', '--site-dir', join(root, 'www/dist')], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const url = await new Promise((resolve, reject) => {
    proc.stdout.on('data', (d) => {
      const m = String(d).match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) resolve(m[1]);
    });
    proc.on('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { proc, url };
}

async function runOurs(browser, url) {
  const page = await browser.newPage({ viewport: { width: 960, height: 800 } });
  await page.goto(`${url}/?mode=webgl&preset=quality&fish=${fish}`);
  await page.waitForFunction((n) => window.candlefish?.stats()?.frames >= n, warmup + frames, { timeout: 600000, polling: 500 });
  const r = await page.evaluate(() => ({ stats: window.candlefish.stats(), intervals: window.candlefish.intervals, t: window.candlefish.timings }));
  await page.close();
  return {
    runtime: 'candlefish (wasm, WebGL2)',
    instances: fish,
    cpu_ms: { p50: r.stats.cpuP50, p95: r.stats.cpuP95 },
    frame_interval_ms: percentiles(r.intervals.slice(warmup)),
    draw_calls: r.stats.drawCalls,
    drawn: r.stats.drawn,
    size: [r.stats.width, r.stats.height],
    first_frame_ms: r.t.firstFrame,
  };
}

async function runThree(browser, base, mode) {
  const page = await browser.newPage({ viewport: { width: 960, height: 540 } });
  const q = `preset=quality&fish=${fish}&frames=${frames}&warmup=${warmup}&mode=${mode}&meshes=/target/peer-data/meshes.json`;
  await page.goto(`${base}/benches/peers/fish-scene.html?${q}`);
  await page.waitForFunction(() => window.peerResults, null, { timeout: 600000, polling: 500 });
  const r = await page.evaluate(() => window.peerResults);
  await page.close();
  return {
    runtime: `${r.peer} (${mode})`,
    instances: r.instances,
    cpu_ms: r.cpu_ms,
    frame_interval_ms: r.frame_interval_ms,
    draw_calls: r.draw_calls_mean,
    size: r.size,
  };
}

if (!existsSync(join(root, 'www/dist/index.html'))) throw new Error('build the site first: cargo xtask dist');
if (!existsSync(join(root, 'target/peer-data/meshes.json'))) throw new Error('run peer-data first (see the header)');
const chromiumPath = ['/usr/bin/chromium', '/usr/lib/chromium/chromium'].find(existsSync);
const ours = await startOurs();
const statics = await staticServer();
const base = `http://127.0.0.1:${statics.address().port}`;
const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: FLAGS });
try {
  const results = [await runOurs(browser, ours.url), await runThree(browser, base, 'instanced'), await runThree(browser, base, 'batched')];
  const [mine] = results;
  console.log(`fish ${fish}, ${frames} measured frames after ${warmup}, Chromium WebGL2 (SwiftShader)`);
  console.log('runtime | CPU/frame p50 | CPU/frame p95 | frame interval p50 | draw calls | CPU ratio (theirs/ours, p50)');
  for (const r of results) {
    const ratio = (r.cpu_ms.p50 / mine.cpu_ms.p50).toFixed(2);
    console.log(`${r.runtime} | ${r.cpu_ms.p50.toFixed(2)} ms | ${r.cpu_ms.p95.toFixed(2)} ms | ${r.frame_interval_ms.p50.toFixed(1)} ms | ${Math.round(r.draw_calls)} | ${ratio}`);
  }
  await writeFile(jsonOut, JSON.stringify({ fish, frames, warmup, date: new Date().toISOString(), results }, null, 2));
  console.log(`wrote ${jsonOut}`);
} finally {
  await browser.close();
  ours.proc.kill();
  statics.close();
}
