// Browser tests: each render mode in Chromium, the runtime in its Worker, fallbacks,
// context loss, panics, controls, and the page without JavaScript. One browser launch
// per GPU backend (the WebGPU flags can break WebGL2).
//
// Run: node --test www/tests/   (scripts/browser-tests.sh builds the site and server)

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Q, WEBGL_FLAGS, WEBGPU_FLAGS, canvasPixels, launch, open, outDir, useServer, waitRunning } from './common.mjs';

useServer();

const results = {};

// Waits until `check(stats)` holds (the stats arrive from the Worker asynchronously).
async function waitFor(page, check, arg, timeout = 30000) {
  await page.waitForFunction(check, arg, { timeout, polling: 100 });
}

describe('WebGPU (SwiftShader)', () => {
  let browser;
  before(async () => {
    browser = await launch(WEBGPU_FLAGS);
  });
  after(async () => browser?.close());

  test('draws the scene with WebGPU in a Worker and never downloads the WebGL2 bundle or the poster', async () => {
    const { page, problems, requests, context } = await open(browser, `/${Q}`);
    await waitRunning(page);
    const state = await page.evaluate(() => ({ mode: window.candlefish.mode, thread: window.candlefish.thread, stats: window.candlefish.stats(), firstFrame: window.candlefish.firstFrameAt }));
    assert.equal(state.mode, 'webgpu');
    assert.equal(state.thread, 'worker');
    assert.equal(state.stats.thread, 'worker');
    const px = await canvasPixels(page, 'webgpu');
    assert.ok(px.lit > 0.03, `scene not visible: ${px.lit}`);
    assert.ok(requests.some((p) => p.includes('candlefish-webgpu')), 'the WebGPU bundle was not requested');
    assert.ok(!requests.some((p) => p.includes('candlefish-webgl')), `the WebGL2 bundle was downloaded: ${requests}`);
    assert.ok(!requests.some((p) => p.includes('poster')), `the poster was downloaded: ${requests}`);
    results.webgpu = { ...px, firstFrameMs: state.firstFrame, stats: state.stats };
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('?mode=canvas draws the Canvas-2D version in a Worker', async () => {
    const { page, problems, requests, context } = await open(browser, '/?mode=canvas&governor=off');
    await waitRunning(page);
    const state = await page.evaluate(() => ({ mode: window.candlefish.mode, thread: window.candlefish.thread, stats: window.candlefish.stats(), firstFrame: window.candlefish.firstFrameAt }));
    assert.equal(state.mode, 'canvas');
    assert.equal(state.thread, 'worker');
    assert.equal(state.stats.preset, 'canvas');
    assert.ok(state.stats.drawn > 50, `only ${state.stats.drawn} sprites drawn`);
    // Canvas 2D runs in the small, wgpu-free bundle.
    assert.ok(!requests.some((p) => p.includes('candlefish-webgpu')), `the WebGPU bundle was downloaded: ${requests}`);
    const px = await canvasPixels(page, 'canvas');
    assert.ok(px.lit > 0.01, `canvas scene not visible: ${px.lit}`);
    results.canvas = { ...px, firstFrameMs: state.firstFrame, stats: state.stats };
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('?thread=main runs the same runtime on the main thread', async () => {
    const { page, problems, context } = await open(browser, `/${Q}&thread=main`);
    await waitRunning(page);
    const state = await page.evaluate(() => ({ thread: window.candlefish.thread, stats: window.candlefish.stats() }));
    assert.equal(state.thread, 'main');
    assert.equal(state.stats.thread, 'main');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a panic on the wasm side is shown in words and recorded', async () => {
    const { page, context } = await open(browser, `/${Q}`);
    await waitRunning(page, 5);
    await page.evaluate(() => window.candlefish.testPanic());
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

  test('without WebGPU the page uses WebGL2 in a Worker and never downloads the WebGPU bundle', async () => {
    const { page, problems, requests, context } = await open(browser, `/${Q}`);
    await waitRunning(page);
    const state = await page.evaluate(() => ({ mode: window.candlefish.mode, thread: window.candlefish.thread, stats: window.candlefish.stats(), firstFrame: window.candlefish.firstFrameAt }));
    assert.equal(state.mode, 'webgl');
    assert.equal(state.thread, 'worker');
    // SwiftShader is a software rasteriser: the runtime says so and starts low.
    assert.equal(state.stats.software, true);
    const px = await canvasPixels(page, 'webgl');
    assert.ok(px.lit > 0.03, `scene not visible: ${px.lit}`);
    assert.ok(!requests.some((p) => p.includes('candlefish-webgpu')), `the WebGPU bundle was downloaded: ${requests}`);
    results.webgl = { ...px, firstFrameMs: state.firstFrame, stats: state.stats };
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('a lost context that the browser restores: the same runtime keeps drawing', async () => {
    const { page, problems, context } = await open(browser, `/${Q}&mode=webgl`);
    await waitRunning(page);
    // Lose the context inside the Worker, let a few frames pass, restore it.
    const events = await page.evaluate(() => window.candlefish.testLoseContext(true));
    assert.deepEqual(events, ['lost', 'restored']);
    const lostAt = await page.evaluate(() => window.candlefish.stats().frames);
    // The same runtime: its frame count carries on (a new one would start from 0).
    await waitFor(page, (n) => window.candlefish.stats().frames >= n + 8, lostAt, 60000);
    const state = await page.evaluate(() => ({
      mode: window.candlefish.mode,
      state: window.candlefish.state,
      recoveries: window.candlefish.recoveries,
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
    assert.deepEqual(await page.evaluate(() => window.candlefish.testLoseContext(false)), ['lost']);
    await page.waitForFunction(() => window.candlefish.recoveries >= 1, null, { timeout: 30000 });
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

  test('prefers-reduced-motion starts paused, with a still school and a Play button', async () => {
    const { page, problems, context } = await open(browser, `/${Q}`, { reducedMotion: 'reduce' });
    await waitRunning(page, 1);
    const button = page.getByRole('button', { name: 'Play the animation' });
    await button.waitFor({ state: 'visible' });
    const a = await page.evaluate(() => window.candlefish.stats());
    await page.waitForTimeout(1500);
    const b = await page.evaluate(() => window.candlefish.stats());
    assert.equal(a.paused, true);
    assert.equal(b.frames, a.frames, 'a paused page kept drawing');
    assert.equal(b.time, a.time, 'the school moved while paused');
    const px = await canvasPixels(page, 'reduced-motion');
    assert.ok(px.lit > 0.03, `the still frame is not drawn: ${px.lit}`);
    // Play: the school swims, and the camera still does not turn by itself.
    await button.click();
    await waitFor(page, (t) => window.candlefish.stats().time > t + 0.2, a.time);
    const c = await page.evaluate(() => window.candlefish.stats());
    assert.equal(c.autoRotate, false);
    assert.equal(c.yaw, a.yaw, 'the camera moved by itself');
    assert.deepEqual(problems, []);
    await context.close();
  });

  test('the Pause button and the K key stop all motion, and play again', async () => {
    const { page, context } = await open(browser, `/${Q}`);
    await waitRunning(page);
    const pause = page.getByRole('button', { name: 'Pause the animation' });
    await pause.focus();
    await page.keyboard.press('Enter');
    await waitFor(page, () => window.candlefish.stats().paused === true);
    const a = await page.evaluate(() => window.candlefish.stats());
    await page.waitForTimeout(1000);
    const b = await page.evaluate(() => window.candlefish.stats());
    assert.deepEqual([b.frames, b.time, b.yaw], [a.frames, a.time, a.yaw], 'something moved while paused');
    await page.focus('#scene');
    await page.keyboard.press('k');
    await waitFor(page, (t) => window.candlefish.stats().time > t, a.time);
    assert.equal(await page.getByRole('button', { name: 'Pause the animation' }).isVisible(), true);
    await context.close();
  });

  test('the keyboard orbits and zooms the camera', async () => {
    const { page, context } = await open(browser, `/${Q}`);
    await waitRunning(page);
    await page.focus('#scene');
    const a = await page.evaluate(() => window.candlefish.stats());
    await page.keyboard.press('ArrowUp');
    await page.keyboard.press('-');
    await waitFor(page, (s) => window.candlefish.stats().pitch > s.pitch && window.candlefish.stats().distance > s.distance, a);
    await context.close();
  });

  test('a hidden tab draws nothing, and no hidden time is measured as a frame', async () => {
    const { page, context } = await open(browser, `/${Q}`);
    await waitRunning(page);
    await page.evaluate(() => {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await page.waitForTimeout(300);
    const a = await page.evaluate(() => window.candlefish.stats());
    await page.waitForTimeout(2500);
    const b = await page.evaluate(() => window.candlefish.stats());
    assert.equal(b.frames, a.frames, 'frames were drawn while hidden');
    await page.evaluate(() => {
      delete document.hidden;
      delete document.visibilityState;
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await waitFor(page, (n) => window.candlefish.stats().frames > n + 5, b.frames);
    const intervals = await page.evaluate(() => window.candlefish.intervals.slice(-5));
    assert.ok(Math.max(...intervals) < 2000, `a hidden-time interval was measured: ${intervals}`);
    await context.close();
  });
});

describe('No JavaScript', () => {
  test('the poster and the text show', async () => {
    const browser = await launch([]);
    try {
      const { page, problems, requests, context } = await open(browser, '/', { javaScriptEnabled: false });
      const poster = page.locator('noscript img, .poster img').first();
      await poster.waitFor({ state: 'visible', timeout: 10000 });
      const loaded = await poster.evaluate((img) => img.complete && img.naturalWidth > 0);
      assert.ok(loaded, 'the poster image did not load');
      assert.ok(requests.some((p) => p.endsWith('.webp')), `the WebP poster was not used: ${requests}`);
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
