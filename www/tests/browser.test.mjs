// Browser tests: the built site (www/dist) served by the real candlefish-server on
// 127.0.0.1, driven in Debian's headless Chromium through playwright-core. One browser
// launch per GPU backend (the WebGPU flags can break WebGL2).
//
// Run: node --test www/tests/   (scripts/browser-tests.sh builds the site and server)

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { PNG } from 'pngjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const server = process.env.CANDLEFISH_SERVER_BIN || join(root, 'target/debug/candlefish-server');
const site = process.env.CANDLEFISH_SITE_DIR || join(root, 'www/dist');
const outDir = join(root, 'target/browser-tests');
const chromiumPath = ['/usr/bin/chromium', '/usr/lib/chromium/chromium'].find(existsSync);

const BASE_FLAGS = [
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--disable-dev-shm-usage',
];
const WEBGL_FLAGS = ['--use-gl=angle', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];
// WebGPU's canvas swap chain needs a shared-image backing, which here only ANGLE on
// SwiftShader provides: without the GL flags the device is destroyed on the first
// present ("Could not find SharedImageBackingFactory"). Playwright passes its own
// --enable-features; Chromium keeps only one, so ours repeats playwright's.
const WEBGPU_FLAGS = [
  '--enable-unsafe-webgpu',
  '--enable-features=CDPScreenshotNewSurface,SkipListAccountsWithoutGaiaCookies,Vulkan,WebGPU',
  '--use-vulkan=swiftshader',
  '--use-webgpu-adapter=swiftshader',
  ...WEBGL_FLAGS,
];

// SwiftShader renders on the CPU: the performance preset (fewer fish, no MSAA, 0.75
// render scale) at a small viewport keeps frames to a few hundred milliseconds.
const Q = '?preset=performance';

let serverProcess;
let baseUrl;

before(async () => {
  assert.ok(chromiumPath, 'Debian chromium is not installed (scripts/setup.sh installs it)');
  assert.ok(existsSync(join(site, 'index.html')), `no built site in ${site}: run cargo xtask dist`);
  assert.ok(existsSync(server), `no server binary at ${server}`);
  mkdirSync(outDir, { recursive: true });
  serverProcess = spawn(server, ['--port', '0', '--metrics-addr', '127.0.0.1:0', '--site-dir', site], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  baseUrl = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`server did not start: ${out}`)), 15000);
    serverProcess.stdout.on('data', (chunk) => {
      out += chunk;
      const m = out.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    serverProcess.on('exit', (code) => reject(new Error(`server exited with ${code}: ${out}`)));
  });
});

after(() => {
  serverProcess?.kill('SIGTERM');
});

async function launch(flags) {
  return chromium.launch({ executablePath: chromiumPath, headless: true, args: [...BASE_FLAGS, ...flags] });
}

// Opens a page that records console errors, uncaught errors and requested URLs.
async function open(browser, path, options = {}) {
  const context = await browser.newContext({ viewport: { width: 640, height: 480 }, ...options });
  const page = await context.newPage();
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

async function waitRunning(page, frames = 8) {
  await page.waitForFunction(
    (n) => {
      const c = window.candlefish;
      if (!c) return false;
      if (c.state === 'error' || c.state === 'crashed') throw new Error(`page failed: ${JSON.stringify(c.errors)}`);
      return c.state === 'running' && c.stats() && c.stats().frames >= n;
    },
    frames,
    { timeout: 90000, polling: 200 },
  );
}

// Pixel statistics of the canvas area of a screenshot.
async function canvasPixels(page, name) {
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

const results = {};

describe('WebGPU (SwiftShader)', () => {
  let browser;
  before(async () => {
    browser = await launch(WEBGPU_FLAGS);
  });
  after(async () => browser?.close());

  test('draws the scene with WebGPU and never downloads the WebGL2 bundle', async () => {
    const { page, problems, requests, context } = await open(browser, `/${Q}`);
    await waitRunning(page);
    const state = await page.evaluate(() => ({ mode: window.candlefish.mode, stats: window.candlefish.stats(), firstFrame: window.candlefish.firstFrameAt }));
    assert.equal(state.mode, 'webgpu');
    const px = await canvasPixels(page, 'webgpu');
    assert.ok(px.lit > 0.03, `scene not visible: ${px.lit}`);
    assert.ok(requests.some((p) => p.includes('candlefish-webgpu')), 'the WebGPU bundle was not requested');
    assert.ok(!requests.some((p) => p.includes('candlefish-webgl')), `the WebGL2 bundle was downloaded: ${requests}`);
    results.webgpu = { ...px, firstFrameMs: state.firstFrame, stats: state.stats };
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('?mode=canvas draws the Canvas-2D version', async () => {
    const { page, problems, context } = await open(browser, '/?mode=canvas');
    await waitRunning(page);
    const state = await page.evaluate(() => ({ mode: window.candlefish.mode, stats: window.candlefish.stats(), firstFrame: window.candlefish.firstFrameAt }));
    assert.equal(state.mode, 'canvas');
    assert.equal(state.stats.preset, 'canvas');
    assert.ok(state.stats.drawn > 50, `only ${state.stats.drawn} sprites drawn`);
    const px = await canvasPixels(page, 'canvas');
    assert.ok(px.lit > 0.01, `canvas scene not visible: ${px.lit}`);
    results.canvas = { ...px, firstFrameMs: state.firstFrame, stats: state.stats };
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a panic on the wasm side is shown in words and recorded', async () => {
    const { page, context } = await open(browser, `/${Q}`);
    await waitRunning(page, 5);
    await page.evaluate(() => window.candlefish.testPanic().catch(() => {}));
    await page.waitForFunction(() => window.candlefish.state === 'crashed', null, { timeout: 10000 });
    const text = await page.locator('#status-text').textContent();
    assert.match(text, /Something went wrong/);
    const errors = await page.evaluate(() => window.candlefish.errors);
    assert.ok(errors.some((e) => e.kind === 'panic' && /test panic/.test(e.message)), JSON.stringify(errors));
    await context.close();
  });
});

describe('WebGL2 (SwiftShader)', () => {
  let browser;
  before(async () => {
    browser = await launch(WEBGL_FLAGS);
  });
  after(async () => browser?.close());

  test('without WebGPU the page uses WebGL2 and never downloads the WebGPU bundle', async () => {
    const { page, problems, requests, context } = await open(browser, `/${Q}`);
    await waitRunning(page);
    const state = await page.evaluate(() => ({ mode: window.candlefish.mode, stats: window.candlefish.stats(), firstFrame: window.candlefish.firstFrameAt }));
    assert.equal(state.mode, 'webgl');
    const px = await canvasPixels(page, 'webgl');
    assert.ok(px.lit > 0.03, `scene not visible: ${px.lit}`);
    assert.ok(!requests.some((p) => p.includes('candlefish-webgpu')), `the WebGPU bundle was downloaded: ${requests}`);
    results.webgl = { ...px, firstFrameMs: state.firstFrame, stats: state.stats };
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a lost context that the browser restores: the same runtime rebuilds and keeps drawing', async () => {
    const { page, problems, context } = await open(browser, `/${Q}&mode=webgl`);
    await waitRunning(page);
    const lostAt = await page.evaluate(async () => {
      const canvas = document.getElementById('scene');
      const ext = canvas.getContext('webgl2').getExtension('WEBGL_lose_context');
      // Each event within 10 s, or the test fails (rather than hangs).
      const once = (type) =>
        new Promise((resolve, reject) => {
          canvas.addEventListener(type, resolve, { once: true });
          setTimeout(() => reject(new Error(`no ${type} event within 10 s`)), 10000);
        });
      const lost = once('webglcontextlost');
      ext.loseContext();
      await lost;
      // A few frames while lost: nothing is drawn, and nothing fails.
      const frames = window.candlefish.stats().frames;
      while (window.candlefish.stats().frames < frames + 2) await new Promise(requestAnimationFrame);
      const restored = once('webglcontextrestored');
      ext.restoreContext();
      await restored;
      return window.candlefish.stats().frames;
    });
    // The same runtime: its frame count carries on (a new one would start from 0).
    await page.waitForFunction((n) => window.candlefish.stats().frames >= n + 8, lostAt, { timeout: 60000, polling: 200 });
    const state = await page.evaluate(() => ({
      mode: window.candlefish.mode,
      state: window.candlefish.state,
      recoveries: window.candlefish.recoveries || 0,
      attempts: window.candlefish.attempts.length,
    }));
    assert.deepEqual(state, { mode: 'webgl', state: 'running', recoveries: 0, attempts: 1 });
    const px = await canvasPixels(page, 'webgl-restored');
    assert.ok(px.lit > 0.03, `nothing drawn after the restore: ${px.lit}`);
    // The loss itself is expected; nothing else may be logged as an error.
    assert.deepEqual(problems.filter((p) => !/context lost/i.test(p)), []);
    await context.close();
  });

  test('a lost context that is never restored: the loader restarts on a fresh canvas', async () => {
    const { page, problems, context } = await open(browser, `/${Q}&mode=webgl`);
    await waitRunning(page);
    await page.evaluate(() => {
      const gl = document.getElementById('scene').getContext('webgl2');
      gl.getExtension('WEBGL_lose_context').loseContext();
    });
    await page.waitForFunction(() => (window.candlefish.recoveries || 0) >= 1, null, { timeout: 30000 });
    await waitRunning(page, 8);
    assert.equal(await page.evaluate(() => window.candlefish.mode), 'webgl');
    const errors = await page.evaluate(() => window.candlefish.errors);
    assert.ok(
      errors.some((e) => e.kind === 'device_lost' && /not restored/.test(e.message)),
      `the loss was not reported as lasting: ${JSON.stringify(errors)}`,
    );
    const px = await canvasPixels(page, 'webgl-recovered');
    assert.ok(px.lit > 0.03, `nothing drawn after recovery: ${px.lit}`);
    assert.deepEqual(problems.filter((p) => !/context lost/i.test(p)), []);
    await context.close();
  });

  test('prefers-reduced-motion stops automatic camera motion', async () => {
    const { page, problems, context } = await open(browser, `/${Q}`, { reducedMotion: 'reduce' });
    await waitRunning(page);
    const a = await page.evaluate(() => window.candlefish.stats());
    await page.waitForTimeout(1500);
    const b = await page.evaluate(() => window.candlefish.stats());
    assert.equal(a.autoRotate, false);
    assert.ok(b.frames > a.frames, 'the scene stopped rendering');
    assert.equal(b.yaw, a.yaw, 'the camera moved by itself');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('the keyboard orbits and zooms the camera', async () => {
    const { page, context } = await open(browser, `/${Q}`);
    await waitRunning(page);
    await page.focus('#scene');
    const a = await page.evaluate(() => window.candlefish.stats());
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('-');
    const b = await page.evaluate(() => window.candlefish.stats());
    assert.ok(b.pitch > a.pitch, 'ArrowUp did not raise the camera');
    assert.ok(b.distance > a.distance, '- did not zoom out');
    await context.close();
  });
});

describe('No JavaScript', () => {
  test('the poster and the text show', async () => {
    const browser = await launch([]);
    try {
      const { page, problems, context } = await open(browser, '/', { javaScriptEnabled: false });
      const poster = page.locator('noscript img, .poster img').first();
      await poster.waitFor({ state: 'visible', timeout: 10000 });
      const loaded = await poster.evaluate((img) => img.complete && img.naturalWidth > 0);
      assert.ok(loaded, 'the poster image did not load');
      const text = await page.locator('body').innerText();
      assert.match(text, /needs JavaScript/);
      assert.match(text, /Candlefish/);
      await canvasPixels(page, 'no-js');
      assert.deepEqual(problems, []);
      await context.close();
    } finally {
      await browser.close();
    }
  });
});

test('WebGPU and WebGL2 draw the same colours', () => {
  writeFileSync(join(outDir, 'results.json'), JSON.stringify(results, null, 2));
  assert.ok(results.webgpu && results.webgl, 'both GPU tests must have run');
  // sRGB is handled on both backends (WebGPU canvases are not sRGB): same colours.
  const d = results.webgpu.mean.map((v, i) => Math.abs(v - results.webgl.mean[i]));
  assert.ok(Math.max(...d) < 12, `mean colours differ between WebGPU and WebGL2: ${JSON.stringify(d)}`);
});
