// The three ways the scene is drawn on the GPU draw the same picture, at every preset
// (4x MSAA on `quality`, none on `performance`): WebGPU (wgpu) and WebGL2 (the web-sys
// backend) in Chromium, and wgpu natively on lavapipe, all from the site's own scene
// pack, at scene time 3.5 s with the camera the automatic orbit has reached by then.
// Frames are compared with NVIDIA's ꟻLIP (`cargo xtask flip`); a backend that drifts
// (a colour-space mistake, a flipped image, a wrong winding, a missing MSAA resolve)
// fails. The frame plans must match exactly: same draw calls, same instances drawn.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WEBGL_FLAGS, WEBGPU_FLAGS, candlefishBin, launch, open, outDir, site, useServer, waitRunning, xtask } from './common.mjs';

useServer();

const TIME = 3.5;
const WIDTH = 640;
const HEIGHT = 360;
const PRESETS = ['quality', 'performance'];
// Mean ꟻLIP error allowed between two backends' frames. Measured here (SwiftShader
// against lavapipe, 640x360): at most 0.023 against native and 0.0002 between the two
// browser backends; a missing sRGB encode on WebGL2 scored 0.44-0.53 (checked once),
// rendering the same frame twice scores 0.
const MAX_MEAN_FLIP = 0.05;

const frames = {};

function nativeReference(preset) {
  const pack = readdirSync(site).find((f) => /^scene\.[0-9a-f]+\.pack$/.test(f));
  assert.ok(pack, `no scene pack in ${site}`);
  const out = join(outDir, `parity-native-${preset}.png`);
  execFileSync(
    candlefishBin,
    ['render', '--pack', join(site, pack), '--preset', preset, '--time', String(TIME), '--width', String(WIDTH), '--height', String(HEIGHT), '--out', out],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return out;
}

async function browserFrame(browser, mode, preset) {
  const { page, problems, context } = await open(browser, `/?mode=${mode}&preset=${preset}&still=${TIME}`);
  await waitRunning(page, 1);
  const stats = await page.evaluate(() => window.candlefish.stats());
  assert.equal(stats.mode, mode);
  assert.deepEqual([stats.width, stats.height], [WIDTH, HEIGHT], 'the still frame is not drawn pixel for pixel');
  const file = join(outDir, `parity-${mode}-${preset}.png`);
  // Only the scene: the stats overlay and the Pause button sit over the canvas.
  await page.evaluate(() => {
    document.getElementById('hud').hidden = true;
    document.getElementById('motion').hidden = true;
  });
  await page.locator('#scene').screenshot({ path: file });
  assert.deepEqual(problems, []);
  await context.close();
  return { file, stats };
}

for (const [mode, flags] of [
  ['webgpu', WEBGPU_FLAGS],
  ['webgl', WEBGL_FLAGS],
]) {
  describe(`${mode} still frames`, () => {
    let browser;
    before(async () => {
      browser = await launch(flags);
    });
    after(async () => browser?.close());
    for (const preset of PRESETS) {
      test(`${preset}`, async () => {
        frames[`${mode}-${preset}`] = await browserFrame(browser, mode, preset);
      });
    }
  });
}

describe('parity', () => {
  const results = {};
  after(() => writeFileSync(join(outDir, 'parity.json'), JSON.stringify(results, null, 2)));
  for (const preset of PRESETS) {
    test(`${preset}: WebGPU and WebGL2 plan the same frame`, () => {
      const a = frames[`webgpu-${preset}`]?.stats;
      const b = frames[`webgl-${preset}`]?.stats;
      assert.ok(a && b, 'both browser frames must have been drawn');
      assert.deepEqual([b.drawCalls, b.drawn, b.triangles, b.msaa], [a.drawCalls, a.drawn, a.triangles, a.msaa]);
      assert.equal(a.msaa, preset === 'quality' ? 4 : 1);
    });
    test(`${preset}: WebGPU, WebGL2 and native lavapipe draw the same picture`, () => {
      const reference = nativeReference(preset);
      for (const mode of ['webgpu', 'webgl']) {
        const frame = frames[`${mode}-${preset}`];
        assert.ok(frame, `no ${mode} frame`);
        const r = xtask(['flip', reference, frame.file, '--diff', join(outDir, `parity-${mode}-${preset}-flip.png`)]);
        results[`${mode}-${preset}-vs-native`] = r;
        assert.ok(r.mean <= MAX_MEAN_FLIP, `${mode} ${preset} differs from native: mean FLIP ${r.mean}`);
      }
      const r = xtask(['flip', frames[`webgpu-${preset}`].file, frames[`webgl-${preset}`].file]);
      results[`webgpu-vs-webgl-${preset}`] = r;
      assert.ok(r.mean <= MAX_MEAN_FLIP, `WebGPU and WebGL2 differ at ${preset}: mean FLIP ${r.mean}`);
    });
  }
});
