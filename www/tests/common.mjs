// Shared infrastructure of the browser tests: the built site (www/dist) served by the
// real candlefish-server on 127.0.0.1, Debian's headless Chromium driven through
// playwright-core, and helpers to wait for the runtime and look at the canvas.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const site = process.env.CANDLEFISH_SITE_DIR || join(root, 'www/dist');
export const outDir = join(root, 'target/browser-tests');
const server = process.env.CANDLEFISH_SERVER_BIN || join(root, 'target/debug/candlefish-server');
/** The native CLI (`candlefish render` draws the lavapipe reference frames). */
export const candlefishBin = process.env.CANDLEFISH_BIN ? join(root, process.env.CANDLEFISH_BIN) : join(root, 'target/debug/candlefish');
const chromiumPath = ['/usr/bin/chromium', '/usr/lib/chromium/chromium'].find(existsSync);

const BASE_FLAGS = [
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--disable-dev-shm-usage',
];
export const WEBGL_FLAGS = ['--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];
// WebGPU's canvas swap chain needs a shared-image backing, which here only ANGLE on
// SwiftShader provides: without the GL flags the device is destroyed on the first
// present ("Could not find SharedImageBackingFactory"). Playwright passes its own
// --enable-features; Chromium keeps only one, so ours repeats playwright's.
export const WEBGPU_FLAGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=CDPScreenshotNewSurface,SkipListAccountsWithoutGaiaCookies,Vulkan,WebGPU',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  ...WEBGL_FLAGS,
];
// A browser without GPU acceleration: what Lighthouse CI setups and blocklisted GPUs
// look like. WebGL2 still works, rasterised by SwiftShader.
export const NO_GPU_FLAGS = ['--disable-gpu'];

// SwiftShader renders on the CPU: the performance preset (fewer fish, no MSAA, 0.75
// render scale) at a small viewport keeps frames to a few hundred milliseconds. The
// frame governor would step such a slow page down on its own: tests of anything else
// hold it at the starting rung (the governor has tests of its own).
export const Q = '?preset=performance&governor=off';

let serverProcess;
export let baseUrl;
/** The server's private metrics listener (`/metrics`, `/api/stats`). */
export let metricsUrl;

/** Starts the real server on a free port for the tests of the calling file. */
export function useServer() {
  before(async () => {
    assert.ok(chromiumPath, 'Debian chromium is not installed (scripts/setup.sh installs it)');
    assert.ok(existsSync(join(site, 'index.html')), `no built site in ${site}: run cargo xtask dist`);
    assert.ok(existsSync(server), `no server binary at ${server}`);
    mkdirSync(outDir, { recursive: true });
    serverProcess = spawn(server, ['--port', '0', '--metrics-addr', '127.0.0.1:0', '--site-dir', site], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    [baseUrl, metricsUrl] = await new Promise((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 15000);
      serverProcess.stdout.on('data', (chunk) => {
        out += chunk;
        const site = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
        const metrics = out.match(/metrics on (http:\/\/127\.0\.0\.1:\d+)\/metrics/);
        if (site && metrics) {
          clearTimeout(timer);
          resolve([site[1], metrics[1]]);
        }
      });
      serverProcess.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
    });
  });
  after(() => {
    serverProcess?.kill('SIGTERM');
  });
}

export async function launch(flags) {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: [...BASE_FLAGS, ...flags] });
}

/** Opens a page that records console errors, uncaught errors and requested URLs. */
export async function open(browser, path, options = {}) {
  const { init, ...contextOptions } = options;
  const context = await browser.newContext({ viewport: { width: 640, height: 480 }, ...contextOptions });
  const page = await context.newPage();
  if (init) await page.addInitScript(init);
  const problems = [];
  const requests = [];
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('request', (req) => requests.push(new URL(req.url()).pathname));
  await page.goto(baseUrl + path, { waitUntil: 'load' });
  return { context, page, problems, requests };
}

/** Waits until the runtime runs and has drawn `frames` frames (or is `state`). */
export async function waitRunning(page, frames = 8, state = 'running') {
  await page.waitForFunction(
    ([n, want]) => {
      const c = window.candlefish;
      if (!c) return false;
      if (c.state === 'error' || c.state === 'crashed') throw new Error(`page failed: ${JSON.stringify(c.errors)}`);
      return c.state === want && c.stats() && c.stats().frames >= n;
    },
    [frames, state],
    { timeout: 90000, polling: 200 },
  );
}

/** Pixel statistics of the stage (canvas area) of a screenshot, saved as `name`.png. */
export async function canvasPixels(page, name) {
  const box = await page.locator('.stage').boundingBox();
  const buffer = await page.screenshot({ clip: box });
  writeFileSync(join(outDir, `${name}.png`), buffer);
  const png = PNG.sync.read(buffer);
  let lit = 0;
  const mean = [0, 0, 0];
  const n = png.width * png.height;
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
    mean[0] += r / n;
    mean[1] += g / n;
    mean[2] += b / n;
    // Water is dark blue; fish, rocks and kelp are brighter or greener.
    if (Math.max(r, g) > 60) lit += 1;
  }
  return { lit: lit / n, mean, width: png.width, height: png.height };
}

/** Runs a cargo xtask (the perceptual comparison) and returns its parsed JSON output. */
export function xtask(args) {
  const out = execFileSync('cargo', ['xtask', ...args], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  return JSON.parse(out.trim().split('\n').at(-1));
}
