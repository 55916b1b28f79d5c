// Checks that layout.mjs places the quality scene's instances where the renderer does
// (target/peer-data/layout-check.json, written by `peer-data`). Exits non-zero if not.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PRESETS, layout, update } from './layout.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const data = process.argv[2] ?? path.resolve(here, '../../target/peer-data');
const check = JSON.parse(readFileSync(path.join(data, 'layout-check.json'), 'utf8'));
const { meshes } = JSON.parse(readFileSync(path.join(data, 'meshes.json'), 'utf8'));
const radius = Object.fromEntries(meshes.map((m) => [m.kind, m.radius]));
const world = layout(PRESETS[check.preset], radius);
update(world, check.time);
const { inst } = world;
let worst = 0, bad = 0;
if (inst.n !== check.instances) throw new Error(`${inst.n} instances, the renderer has ${check.instances}`);
for (const [i, x, y, z, r, material] of check.samples) {
  const d = Math.max(Math.abs(inst.x[i] - x), Math.abs(inst.y[i] - y), Math.abs(inst.z[i] - z), Math.abs(inst.radius[i] - r));
  worst = Math.max(worst, d);
  if (d > 1e-3 || inst.material[i] !== material) bad++;
}
console.log(`${check.samples.length} samples, worst difference ${worst.toExponential(2)}, ${bad} mismatched`);
process.exit(bad === 0 ? 0 : 1);
