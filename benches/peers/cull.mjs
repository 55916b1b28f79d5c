// CPU frustum culling of the same N bounding spheres, three.js against ours (the
// renderer's cull.rs compiled to wasm, with and without simd128), in one node process.
//
// Inputs come from `cargo run --release -p candlefish-benches --bin peer-data`
// (target/peer-data: the 1M-instance scene's spheres and the criterion benchmark's
// camera, about 10% visible). Every contender must keep exactly the spheres our
// culling keeps, or the run fails.
//
// Usage: node cull.mjs [--data DIR] [--wasm FILE] [--wasm-nosimd FILE] [--reps N] [--json FILE]

import { readFileSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { Frustum, Plane, Sphere, Vector3, REVISION } from 'three';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const opts = {
  data: path.join(root, 'target/peer-data'),
  wasm: path.join(root, 'target/wasm-cull/wasm32-unknown-unknown/release/candlefish_wasm_cull.wasm'),
  'wasm-nosimd': path.join(root, 'target/wasm-cull-nosimd/wasm32-unknown-unknown/release/candlefish_wasm_cull.wasm'),
  reps: 15,
  json: null,
};
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const key = argv[i].replace(/^--/, '');
  if (!(key in opts) || argv[i + 1] === undefined) {
    console.error(`cull.mjs: unknown or incomplete option ${argv[i]}`);
    process.exit(2);
  }
  opts[key] = key === 'reps' ? Number(argv[i + 1]) : argv[i + 1];
}

const caseData = JSON.parse(readFileSync(path.join(opts.data, 'cull-case.json'), 'utf8'));
const raw = readFileSync(path.join(opts.data, 'cull-spheres.f32'));
const n = caseData.n;
const all = new Float32Array(raw.buffer, raw.byteOffset, 4 * n);
const cols = [0, 1, 2, 3].map((k) => all.subarray(k * n, (k + 1) * n));

// three.js: one Sphere per object, as an object's world bounding sphere is kept, and
// the frustum built from the same planes (three's Plane has the same convention:
// inward normal, distance = dot(normal, p) + constant).
const frustum = new Frustum(
  ...caseData.planes.map(([a, b, c, d]) => new Plane(new Vector3(a, b, c), d)),
);
const spheres = new Array(n);
for (let i = 0; i < n; i++) {
  spheres[i] = new Sphere(new Vector3(cols[0][i], cols[1][i], cols[2][i]), cols[3][i]);
}

function threeObjects(out) {
  out.length = 0;
  for (let i = 0; i < n; i++) {
    if (frustum.intersectsSphere(spheres[i])) out.push(i);
  }
  return out.length;
}

// three.js with the spheres in typed arrays and one reused Sphere: kinder to three
// than its object graph, to show the gap is not only object overhead.
const scratch = new Sphere();
function threeTyped(out) {
  out.length = 0;
  const [xs, ys, zs, rs] = cols;
  for (let i = 0; i < n; i++) {
    scratch.center.set(xs[i], ys[i], zs[i]);
    scratch.radius = rs[i];
    if (frustum.intersectsSphere(scratch)) out.push(i);
  }
  return out.length;
}

async function loadWasm(file) {
  let bytes;
  try {
    bytes = readFileSync(file);
  } catch {
    console.error(`cull.mjs: ${file} missing; build benches/wasm-cull (see README.md); skipped`);
    return null;
  }
  const { instance } = await WebAssembly.instantiate(bytes, {});
  const w = instance.exports;
  w.reserve(n);
  for (let k = 0; k < 4; k++) {
    new Float32Array(w.memory.buffer, w.column_ptr(k), n).set(cols[k]);
  }
  new Float32Array(w.memory.buffer, w.column_ptr(4), 24).set(caseData.planes.flat());
  return w;
}

function time(name, fn) {
  const counts = new Set();
  for (let r = 0; r < 3; r++) counts.add(fn()); // warm up (JIT tiers, caches)
  const ns = [];
  for (let r = 0; r < opts.reps; r++) {
    const t0 = performance.now();
    counts.add(fn());
    ns.push(((performance.now() - t0) * 1e6) / n);
  }
  ns.sort((a, b) => a - b);
  const [count] = counts;
  if (counts.size !== 1 || count !== caseData.visible) {
    throw new Error(`${name}: kept ${[...counts]} spheres, ours keeps ${caseData.visible}`);
  }
  return { name, median_ns: ns[Math.floor(ns.length / 2)], min_ns: ns[0], visible: count };
}

const out = [];
const results = [time('three.js Frustum.intersectsSphere (Sphere objects)', () => threeObjects(out))];
results.push(time('three.js Frustum.intersectsSphere (typed arrays, reused Sphere)', () => threeTyped(out)));
for (const [label, file] of [['simd128', opts.wasm], ['no simd', opts['wasm-nosimd']]]) {
  const w = await loadWasm(file);
  if (!w) continue;
  results.push(time(`candlefish cull_spheres, wasm ${label}`, () => w.cull(0)));
  results.push(time(`candlefish cull_spheres_scalar, wasm ${label}`, () => w.cull(1)));
}

const best3 = Math.min(...results.filter((r) => r.name.startsWith('three')).map((r) => r.median_ns));
console.log(`${n} spheres, ${caseData.visible} visible (${(100 * caseData.visible / n).toFixed(1)}%), three r${REVISION}, node ${process.version}, ${opts.reps} reps`);
console.log('ns per sphere (median, min), and the best three.js median over it:');
for (const r of results) {
  r.best_three_over_this = best3 / r.median_ns;
  console.log(`  ${r.name.padEnd(64)} ${r.median_ns.toFixed(2).padStart(7)} ${r.min_ns.toFixed(2).padStart(7)}   x${r.best_three_over_this.toFixed(1)}`);
}
if (opts.json) {
  writeFileSync(opts.json, JSON.stringify({ n, visible: caseData.visible, three: REVISION, node: process.version, date: new Date().toISOString(), results }, null, 2) + '\n');
}
