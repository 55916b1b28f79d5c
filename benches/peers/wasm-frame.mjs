// Times the renderer's whole CPU frame compiled to wasm (benches/wasm-frame, built
// with wasm-bindgen --target nodejs into target/wasm-frame/<variant>/pkg, see README.md)
// in node:
// the same V8 as Chromium, no browser or GPU in the way. One line per variant:
// median and p95 of the frame's CPU (update → upload, as the runtime records it) and
// of each phase, over `--frames` frames after `--warmup`.
//
//   node benches/peers/wasm-frame.mjs --pack out/scene.pack --fish 30000 z renderer3 o3

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const arg = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args.splice(i, 2)[1] : fallback;
};
const packPath = arg('pack', join(root, 'out/scene.pack'));
const fish = Number(arg('fish', 30000));
const frames = Number(arg('frames', 120));
const warmup = Number(arg('warmup', 20));
const variants = args.length ? args : ['z'];
const require = createRequire(import.meta.url);
const PHASES = ['update', 'cull', 'lod', 'bucket', 'upload', 'encode', 'submit'];

const pct = (values, p) => {
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length, Math.max(1, Math.ceil(p * v.length))) - 1];
};

const pack = await readFile(packPath);
for (const variant of variants) {
  const { FrameBench } = require(join(root, 'target/wasm-frame', variant, 'pkg/candlefish_wasm_frame.js'));
  const bench = new FrameBench(pack, fish, 1280, 720);
  const totals = [];
  const phases = PHASES.map(() => []);
  for (let i = 0; i < warmup + frames; i++) {
    const t0 = performance.now();
    bench.frame(i / 60);
    const dt = performance.now() - t0;
    if (i >= warmup) {
      totals.push(dt);
      bench.phases().forEach((ms, k) => phases[k].push(ms));
    }
  }
  const wasm = await readFile(join(root, 'target/wasm-frame', variant, 'pkg/candlefish_wasm_frame_bg.wasm'));
  const phaseText = PHASES.slice(0, 5).map((p, k) => `${p} ${pct(phases[k], 0.5).toFixed(3)}`).join(', ');
  console.log(`${variant}: ${bench.instances()} instances, ${bench.drawn()} drawn, ${(bench.triangles() / 1e6).toFixed(2)} M triangles; ` +
    `frame p50 ${pct(totals, 0.5).toFixed(3)} ms, p95 ${pct(totals, 0.95).toFixed(3)} ms (${phaseText}); wasm ${wasm.length} B`);
  bench.free();
}
