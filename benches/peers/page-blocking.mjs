// Main-thread blocking and frame intervals of the page, with the runtime in its
// Worker and on the main thread (?thread=main), for WebGPU, WebGL2 and Canvas 2D, in
// one Chromium run: the before/after figures of issue 10 (BENCHMARKS.md).
//
// Run (after cargo xtask dist): node benches/peers/page-blocking.mjs [seconds]
// Needs target/debug/candlefish-server (or CANDLEFISH_SERVER_BIN) and Debian chromium.

import { spawn } from 'node:child_process';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const server = process.env.CANDLEFISH_SERVER_BIN || join(root, 'target/debug/candlefish-server');
const seconds = Number(process.argv[2] || 10);
const base = ['--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic', '--disable-dev-shm-usage'];
const gl = ['--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];
const webgpu = ['--enable-unsafe-webgpu', '--enable-features=Vulkan,WebGPU', '--use-vulkan=swiftshader', '--use-webgpu-adapter=swiftshader', ...gl];

const proc = spawn(server, ['--port', '0', '--metrics-addr', '127.0.0.1:0', '--site-dir', join(root, 'www/dist')], { stdio: ['ignore', 'pipe', 'ignore'] });
const url = await new Promise((resolve) => {
  let out = '';
  proc.stdout.on('data', (c) => {
    out += c;
    const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
    if (m) resolve(m[1]);
  });
});

function percentile(values, p) {
  const v = [...values].sort((a, b) => a - b);
  return v.length ? v[Math.min(v.length - 1, Math.ceil(p * v.length) - 1)] : null;
}

const rows = [];
for (const [label, flags, mode] of [
  ['WebGPU', webgpu, 'webgpu'],
  ['WebGL2', gl, 'webgl'],
  ['Canvas 2D', gl, 'canvas'],
  ['WebGL2, --disable-gpu', ['--disable-gpu'], 'webgl'],
]) {
  for (const thread of ['worker', 'main']) {
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: [...base, ...flags] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 720 } });
    await page.addInitScript(() => {
      window.__longTasks = [];
      new PerformanceObserver((l) => window.__longTasks.push(...l.getEntries().map((e) => e.duration))).observe({ type: 'longtask', buffered: true });
    });
    await page.goto(`${url}/?mode=${mode}&preset=quality&governor=off${thread === 'main' ? '&thread=main' : ''}`);
    await page.waitForFunction(() => window.candlefish?.state === 'running', null, { timeout: 120000 });
    await page.waitForTimeout(seconds * 1000);
    const r = await page.evaluate(() => ({
      thread: window.candlefish.thread,
      frames: window.candlefish.stats().frames,
      intervals: window.candlefish.intervals,
      tasks: window.__longTasks,
    }));
    rows.push({
      label,
      thread: r.thread,
      blockingMs: Math.round(r.tasks.reduce((s, d) => s + Math.max(0, d - 50), 0)),
      longestTaskMs: Math.round(Math.max(0, ...r.tasks)),
      frames: r.frames,
      intervalP50: percentile(r.intervals, 0.5),
      intervalP95: percentile(r.intervals, 0.95),
    });
    console.log(JSON.stringify(rows.at(-1)));
    await browser.close();
  }
}
proc.kill();
console.log(`\n| mode | runtime on | main-thread blocking in ${seconds} s | longest task | frames | frame interval p50 / p95 |\n|---|---|---|---|---|---|`);
for (const r of rows) {
  const f = (v) => (v === null ? '–' : `${Math.round(v)} ms`);
  console.log(`| ${r.label} | ${r.thread} | ${r.blockingMs} ms | ${r.longestTaskMs} ms | ${r.frames} | ${f(r.intervalP50)} / ${f(r.intervalP95)} |`);
}
