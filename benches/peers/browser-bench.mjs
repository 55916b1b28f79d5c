// Browser benchmark and peer comparison: the same fish scene in the same headless
// Chromium (WebGL2 on SwiftShader here), ours (the built site served by
// candlefish-server) beside the three.js version (fish-scene.html, InstancedMesh and
// BatchedMesh), at several school sizes in one run and one browser.
//
//   cargo xtask dist && cargo build -p candlefish-server
//   cargo run --release -p candlefish-benches --bin peer-data
//   (cd benches/peers && npm ci)
//   node benches/peers/browser-bench.mjs [--fish 3000,30000,100000] [--frames 30,16,10]
//     [--warmup 10,3,3] [--width 480 --height 270] [--msaa off,on] [--site www/dist]
//     [--json target/peer-data/browser-results.json]
//
// `--frames` and `--warmup` take one value per school size (or one for all).
//
// MSAA is matched, not mixed: `--msaa off` runs our `performance` preset (no MSAA)
// against three.js with `antialias: false` on the same performance scene; `--msaa on`
// runs our `quality` preset (4x MSAA) against three.js with `antialias: true` on the
// quality scene. Both pairs by default. three's pixel ratio is set to our render scale
// (the performance preset draws at 0.75 of the CSS size), so both shade as many pixels.
//
// What is measured, per frame, after the warm-up frames on both sides:
// - CPU/frame: the JS thread's wall time for one frame of the runtime. Ours: the
//   animation-frame callback of the runtime host (runtime.frame(now): update, cull, LOD,
//   bucket, upload, encode, submit; every 250 ms also the stats snapshot), timed by a
//   read-only hook this script installs in the runtime's Worker after the warm-up (the
//   runtime's own ring of phase timings would mix in the warm-up frames; its p50/p95 are
//   kept in the JSON as `ring_cpu_ms` for comparison). three.js: motion + per-instance
//   cull/LOD/matrix writes + renderer.render(), timed by the page.
// - frame interval: between consecutive animation frames (ours in its Worker, three's
//   on the main thread); with SwiftShader it is mostly the CPU rasteriser's time. The
//   mean is the throughput: frames can queue behind the rasteriser (several short
//   intervals, then a long stall), which makes the median of a few frames misleading.
// - three.js's CPU/frame split: the script before renderer.render() (motion, cull, LOD,
//   matrix writes) and render() itself, where a WebGL call that waits for the GPU (a
//   buffer upload behind a frame still being rasterised) shows up.
// - draw calls, triangles (means over the measured frames; ours from the stats
//   snapshots the page receives every 250 ms, so a sample of the frames at small sizes).
// Our side runs with ?governor=off so the frame governor keeps the preset's rung.

import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { loadavg } from 'node:os';
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, dirname, normalize, extname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from '../../node_modules/playwright-core/index.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1] : fallback;
};
const list = (s) => String(s).split(',').map((x) => x.trim()).filter(Boolean);
const fishSizes = list(arg('fish', '3000,30000,100000')).map(Number);
// One value per school size; a single value applies to every size.
const perSize = (s) => {
  const v = list(s).map(Number);
  return fishSizes.map((_, i) => v[Math.min(i, v.length - 1)]);
};
const framesBySize = perSize(arg('frames', '30,16,10'));
const warmupBySize = perSize(arg('warmup', '10,3,3'));
const width = Number(arg('width', 480));
const height = Number(arg('height', 270));
const msaaModes = list(arg('msaa', 'off,on'));
const site = resolve(arg('site', join(root, 'www/dist')));
const jsonOut = arg('json', join(root, 'target/peer-data/browser-results.json'));
const server = arg('server', join(root, 'target/debug/candlefish-server'));
// A frame at 100k fish can take seconds on SwiftShader: generous per-page limits.
const PAGE_TIMEOUT_MS = Number(arg('timeout-s', 1800)) * 1000;
const FLAGS = [
  '--no-first-run', '--disable-background-networking', '--disable-component-update',
  '--disable-sync', '--disable-quic', '--disable-dev-shm-usage',
  '--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
];
// Each MSAA setting pairs one of our presets with three's antialias flag on the same scene.
const PAIRS = {
  off: { preset: 'performance', antialias: false },
  on: { preset: 'quality', antialias: true },
};

const mean = (a) => a.reduce((s, x) => s + x, 0) / Math.max(a.length, 1);
function percentiles(values) {
  const v = [...values].sort((a, b) => a - b);
  const rank = (p) => v[Math.min(v.length, Math.max(1, Math.ceil(p * v.length))) - 1];
  return { p50: rank(0.5), p95: rank(0.95), p99: rank(0.99), max: v[v.length - 1], mean: mean(v), n: v.length };
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const load = () => loadavg().map((x) => Number(x.toFixed(2)));

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
  const proc = spawn(server, ['--port', '0', '--metrics-addr', '127.0.0.1:0', '--site-dir', site], {
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

// Installed in the runtime's Worker after the warm-up: from the next frame on, each
// animation-frame callback (the host's tick) is timed, with the frame's timestamp.
// `requestAnimationFrame` is looked up on the global at every call, so wrapping it
// takes effect without touching the page's code; it only reads the clock.
function installTickHook() {
  const g = globalThis;
  g.__benchTicks = [];
  if (g.__benchRaf) return;
  g.__benchRaf = g.requestAnimationFrame.bind(g);
  g.requestAnimationFrame = (fn) =>
    g.__benchRaf((now) => {
      const t0 = performance.now();
      try {
        fn(now);
      } finally {
        g.__benchTicks.push([now, performance.now() - t0]);
      }
    });
}

async function runOurs(browser, url, fish, pair, warmup, frames) {
  // The stage is 16:9 of the page width, at most 80% of the viewport height: a viewport
  // `width` wide and a little over height/0.8 tall gives a width x height canvas.
  const page = await browser.newPage({ viewport: { width, height: Math.ceil(height / 0.8) + 2 }, deviceScaleFactor: 1 });
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  const start = Date.now();
  await page.goto(`${url}/?mode=webgl&preset=${pair.preset}&fish=${fish}&governor=off`);
  await page.waitForFunction((n) => window.candlefish?.stats()?.frames >= n, warmup, { timeout: PAGE_TIMEOUT_MS, polling: 250 });
  const thread = await page.evaluate(() => window.candlefish.thread);
  const worker = thread === 'worker' ? page.workers().find((w) => /runtime\.[0-9a-f]+\.js/.test(w.url())) : null;
  if (thread === 'worker' && !worker) throw new Error('the runtime runs in a Worker, but it was not found');
  const target = worker ?? page;
  await target.evaluate(installTickHook);
  const warm = await page.evaluate(() => {
    window.candlefish.intervals.splice(0);
    return window.candlefish.stats();
  });
  // Collect frames (one more than measured: the first hooked frame's interval starts
  // in the warm-up) and the stats snapshots along the way.
  const snapshots = new Map();
  let ticks = [];
  for (;;) {
    const s = await page.evaluate(() => window.candlefish.stats());
    if (s.frames > warm.frames) snapshots.set(s.frames, s);
    ticks = await target.evaluate(() => globalThis.__benchTicks.slice());
    if (ticks.length >= frames + 1) break;
    if (Date.now() - start > PAGE_TIMEOUT_MS) throw new Error(`ours at ${fish} fish: timed out`);
    await sleep(250);
  }
  const end = await page.evaluate(() => ({ stats: window.candlefish.stats(), steps: window.candlefish.steps, mode: window.candlefish.mode, t: window.candlefish.timings }));
  await page.close();
  if (end.mode !== 'webgl') throw new Error(`ours ran in ${end.mode}, not webgl`);
  if (end.steps.length) throw new Error(`the governor moved with ?governor=off: ${JSON.stringify(end.steps)}`);
  ticks = ticks.slice(0, frames + 1);
  const snaps = [...snapshots.values()];
  const s = end.stats;
  return {
    side: 'ours',
    runtime: 'candlefish (wasm, WebGL2)',
    preset: s.preset,
    rung: s.rung,
    msaa_samples: s.msaa,
    thread,
    fish,
    warmup_frames: warm.frames,
    frames: frames,
    cpu_ms: percentiles(ticks.slice(1).map(([, ms]) => ms)),
    frame_interval_ms: percentiles(ticks.slice(1).map(([now], i) => now - ticks[i][0])),
    draw_calls: mean(snaps.map((x) => x.drawCalls)),
    triangles: mean(snaps.map((x) => x.triangles)),
    drawn: mean(snaps.map((x) => x.drawn)),
    snapshots: snaps.length,
    // The runtime's own phase-sum percentiles over its ring: warm-up frames included.
    ring_cpu_ms: { p50: s.cpuP50, p95: s.cpuP95, frames_in_ring: s.frames },
    size: [s.width, s.height],
    first_frame_ms: end.t.firstFrame,
    page_errors: errors,
    wall_s: (Date.now() - start) / 1000,
  };
}

// `pixelRatio`: ours' drawing-buffer width over the CSS width (the performance preset
// renders at 0.75 scale), so that three.js shades as many pixels as ours.
async function runThree(browser, base, fish, pair, mode, warmup, frames, pixelRatio) {
  const page = await browser.newPage({ viewport: { width, height }, deviceScaleFactor: 1 });
  const start = Date.now();
  const q = `preset=${pair.preset}&antialias=${pair.antialias ? 1 : 0}&pixelRatio=${pixelRatio}&fish=${fish}&frames=${frames}&warmup=${warmup}&mode=${mode}&meshes=/target/peer-data/meshes.json`;
  await page.goto(`${base}/benches/peers/fish-scene.html?${q}`);
  await page.waitForFunction(() => window.peerResults, null, { timeout: PAGE_TIMEOUT_MS, polling: 500 });
  const r = await page.evaluate(() => window.peerResults);
  await page.close();
  return {
    side: mode,
    runtime: `${r.peer} ${mode === 'batched' ? 'BatchedMesh' : 'InstancedMesh'}`,
    preset: pair.preset,
    antialias: r.antialias,
    pixel_ratio: pixelRatio,
    msaa_samples: r.samples,
    fish,
    warmup_frames: warmup,
    frames: r.frames,
    cpu_ms: r.cpu_ms,
    script_ms: r.script_ms,
    render_ms: r.render_ms,
    frame_interval_ms: r.frame_interval_ms,
    draw_calls: r.draw_calls_mean,
    triangles: r.triangles_mean,
    instances: r.instances,
    size: r.size,
    wall_s: (Date.now() - start) / 1000,
  };
}

function markdown(rows) {
  const fmt = (x, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '—');
  const out = [
    '| fish | preset, MSAA (samples) | runtime | CPU/frame p50 | CPU/frame p95 | three.js: before render() / render() p50 | frame interval p50 / mean | draw calls | triangles | drawing buffer | three.js ÷ ours, CPU p50 | three.js ÷ ours, interval mean |',
    '|---:|---|---|---:|---:|---:|---:|---:|---:|---|---:|---:|',
  ];
  for (const r of rows) {
    const ours = rows.find((o) => o.side === 'ours' && o.fish === r.fish && o.preset === r.preset);
    const mine = r.side === 'ours';
    const cpuRatio = !mine && ours ? `${fmt(r.cpu_ms.p50 / ours.cpu_ms.p50)}x` : '';
    const intRatio = !mine && ours ? `${fmt(r.frame_interval_ms.mean / ours.frame_interval_ms.mean)}x` : '';
    const msaa = `${r.preset}, ${r.msaa_samples > 1 ? 'on' : 'off'} (${r.msaa_samples})`;
    out.push(
      `| ${r.fish.toLocaleString('en')} | ${msaa} | ${r.runtime} | ${fmt(r.cpu_ms.p50)} ms | ${fmt(r.cpu_ms.p95)} ms | ${r.render_ms ? `${fmt(r.script_ms.p50)} / ${fmt(r.render_ms.p50)} ms` : ''} | ${fmt(r.frame_interval_ms.p50, 0)} / ${fmt(r.frame_interval_ms.mean, 0)} ms | ${fmt(r.draw_calls, 1)} | ${(r.triangles / 1e6).toFixed(2)} M | ${r.size.join('x')} | ${cpuRatio} | ${intRatio} |`,
    );
  }
  return out.join('\n');
}

if (!existsSync(join(site, 'index.html'))) throw new Error(`no site at ${site}: build it first (cargo xtask dist) or pass --site DIR`);
if (!existsSync(join(root, 'target/peer-data/meshes.json'))) throw new Error('run peer-data first (see the header)');
const chromiumPath = ['/usr/bin/chromium', '/usr/lib/chromium/chromium'].find(existsSync);
const ours = await startOurs();
const statics = await staticServer();
const base = `http://127.0.0.1:${statics.address().port}`;
const browser = await chromium.launch({ executablePath: chromiumPath, headless: true, args: FLAGS });
const started = new Date();
const report = {
  command: `node ${process.argv.slice(1).join(' ')}`,
  date: started.toISOString(),
  chromium: browser.version(),
  site,
  canvas_css_px: [width, height],
  dpr: 1,
  load_before: load(),
  cpu_definition: {
    ours: 'wall time of the runtime host animation-frame callback (runtime.frame: update..submit, plus the 250 ms stats snapshot), in its Worker, after warm-up',
    three: 'motion update + per-instance cull/LOD/matrix writes + renderer.render(), per frame, after warm-up',
  },
  results: [],
};
try {
  for (const [i, fish] of fishSizes.entries()) {
    const [warmup, frames] = [warmupBySize[i], framesBySize[i]];
    for (const m of msaaModes) {
      const pair = PAIRS[m];
      if (!pair) throw new Error(`--msaa takes off and/or on, not ${m}`);
      // Ours first (its render scale sets three's pixel ratio), then three.js both
      // ways: each page alone in the browser.
      let scale = 1;
      const runs = [
        async () => {
          const r = await runOurs(browser, ours.url, fish, pair, warmup, frames);
          scale = r.size[0] / width;
          return r;
        },
        () => runThree(browser, base, fish, pair, 'instanced', warmup, frames, scale),
        () => runThree(browser, base, fish, pair, 'batched', warmup, frames, scale),
      ];
      for (const run of runs) {
        // SwiftShader may still be rasterising the last page's queued frames: let the
        // GPU process settle before the next page starts.
        await sleep(3000);
        const loadAt = load();
        const r = { ...(await run()), load_at_start: loadAt };
        report.results.push(r);
        console.log(`${fish} fish, ${pair.preset}: ${r.runtime}: CPU p50 ${r.cpu_ms.p50.toFixed(2)} ms, interval p50 ${r.frame_interval_ms.p50.toFixed(0)} ms, ${r.size.join('x')}, ${r.wall_s.toFixed(0)} s`);
      }
    }
  }
  report.load_after = load();
  report.minutes = (Date.now() - started) / 60000;
  const table = markdown(report.results);
  report.markdown = table;
  console.log(`\nChromium ${report.chromium}, WebGL2 on SwiftShader, ${width}x${height} CSS px at dpr 1; load ${report.load_before.join(' ')} -> ${report.load_after.join(' ')}`);
  console.log(table);
  await mkdir(dirname(jsonOut), { recursive: true });
  await writeFile(jsonOut, JSON.stringify(report, null, 2));
  console.log(`wrote ${jsonOut}`);
} finally {
  await browser.close();
  ours.proc.kill();
  statics.close();
}
