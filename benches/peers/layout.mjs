// The standard school scene's layout and motion, ported from the renderer
// (renderer/src/rng.rs, scene.rs `Scene::build`, motion.rs) so that the three.js
// version places and moves the same instances: the same SplitMix64 stream, drawn in
// the same order. Must be kept in sync with those files.

const MASK = (1n << 64n) - 1n;
const TAU = Math.PI * 2;

/** SplitMix64, as renderer/src/rng.rs. */
export class Rng {
  constructor(seed) {
    this.state = BigInt(seed) & MASK;
  }
  nextU64() {
    this.state = (this.state + 0x9e3779b97f4a7c15n) & MASK;
    let z = this.state;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
    return z ^ (z >> 31n);
  }
  unit() {
    return Number(this.nextU64() >> 40n) / 16777216;
  }
  range(lo, hi) {
    return Math.fround(lo + (hi - lo) * this.unit());
  }
  below(n) {
    return Number(((this.nextU64() >> 32n) * BigInt(n)) >> 32n);
  }
}

/** Instance counts of the presets (renderer/src/preset.rs). */
export const PRESETS = {
  quality: { fish: 12000, rocks: 60, kelp: 360, snow: 3000, msaa: true, lodThresholdPx: 0.75 },
  performance: { fish: 3000, rocks: 30, kelp: 140, snow: 800, msaa: false, lodThresholdPx: 2.0 },
};

/** Material table order of renderer/src/assets/standard.rs, with its tints. */
export const MATERIALS = [
  { name: 'fish-silver', tint: [0.95, 1.0, 1.05] },
  { name: 'fish-dusk', tint: [1.0, 0.95, 0.9] },
  { name: 'fish-blue', tint: [0.8, 0.95, 1.2] },
  { name: 'rock', tint: [0.45, 0.42, 0.4] },
  { name: 'rock-moss', tint: [0.35, 0.45, 0.33] },
  { name: 'kelp', tint: [0.3, 0.5, 0.2] },
  { name: 'snow', tint: [0.9, 0.95, 1.0] },
];

/**
 * Lays out the scene as `Scene::build` does. `radius[kind]` is each mesh's bounding
 * radius. Returns structure-of-arrays instances plus the swim and drift parameters.
 */
export function layout(counts, radius, seed = 0xca0d1ef1) {
  const schoolRadius = 11.0, floorY = -7.0, floorExtent = 60.0;
  const total = counts.fish + counts.rocks + counts.kelp + counts.snow;
  const inst = {
    n: total,
    x: new Float32Array(total), y: new Float32Array(total), z: new Float32Array(total),
    radius: new Float32Array(total), scale: new Float32Array(total),
    yaw: new Float32Array(total), pitch: new Float32Array(total),
    mesh: new Uint8Array(total), material: new Uint8Array(total), phase: new Float32Array(total),
  };
  const rng = new Rng(seed);
  let k = 0;
  const push = (mesh, x, y, z, r, yaw, scale, material, phase) => {
    inst.mesh[k] = mesh; inst.x[k] = x; inst.y[k] = y; inst.z[k] = z; inst.radius[k] = r;
    inst.yaw[k] = yaw; inst.scale[k] = scale; inst.material[k] = material; inst.phase[k] = phase;
    k++;
  };
  // The school (motion.rs SwimGroup::layout).
  const spread = Math.max(Math.cbrt(counts.fish / 12000), 0.35);
  const swim = {
    count: counts.fish,
    orbit: new Float32Array(counts.fish), height: new Float32Array(counts.fish),
    angle0: new Float32Array(counts.fish), speed: new Float32Array(counts.fish),
    bob: new Float32Array(counts.fish),
  };
  const fishMaterials = [0, 1, 2];
  for (let i = 0; i < counts.fish; i++) {
    const r = schoolRadius * spread * (0.55 + 0.9 * Math.sqrt(rng.unit()));
    const thickness = 6.0 * spread;
    const h = (rng.unit() + rng.unit() + rng.unit() - 1.5) * thickness;
    const speed = rng.range(2.0, 2.8);
    const scale = rng.range(0.75, 1.15);
    const material = fishMaterials[rng.below(fishMaterials.length)];
    swim.orbit[i] = r; swim.height[i] = h;
    swim.angle0[i] = rng.range(0, TAU);
    swim.speed[i] = speed / Math.max(r, 0.5);
    swim.bob[i] = rng.range(0.1, 0.5);
    push(0, 0, 0, 0, radius.fish * scale, 0, scale, material, rng.unit());
  }
  for (let i = 0; i < counts.rocks; i++) {
    const scale = rng.range(1.2, 4.5);
    const x = rng.range(-floorExtent, floorExtent) * 0.6;
    const z = rng.range(-floorExtent, floorExtent) * 0.6;
    const m = [3, 4][rng.below(2)];
    const yaw = rng.range(0, TAU);
    push(1, x, floorY - 0.3 * scale, z, radius.rock * scale, yaw, scale, m, rng.unit());
  }
  for (let i = 0; i < counts.kelp; i++) {
    const anchor = rng.below(12);
    const a = anchor * 2.39996;
    const r = 14.0 + ((anchor * 3.7) % 20.0);
    const x = Math.cos(a) * r + rng.range(-2.5, 2.5);
    const z = Math.sin(a) * r + rng.range(-2.5, 2.5);
    const scale = rng.range(4.0, 10.0);
    const m = [5][rng.below(1)];
    const yaw = rng.range(0, TAU);
    push(2, x, floorY - 0.2, z, radius.kelp * scale, yaw, scale, m, rng.unit());
  }
  // Marine snow (motion.rs DriftGroup::layout).
  const extent = floorExtent * 0.5, height = 26.0;
  const drift = {
    start: k, count: counts.snow, floor: floorY, height,
    ox: new Float32Array(counts.snow), oy: new Float32Array(counts.snow),
    speed: new Float32Array(counts.snow),
  };
  for (let i = 0; i < counts.snow; i++) {
    const x = rng.range(-extent, extent);
    const y = rng.range(0, height);
    const z = rng.range(-extent, extent);
    const scale = rng.range(0.03, 0.07);
    const m = [6][rng.below(1)];
    drift.ox[i] = x; drift.oy[i] = y;
    drift.speed[i] = rng.range(0.12, 0.4);
    const yaw = rng.range(0, 1.5);
    push(3, x, y, z, radius.snow * scale, yaw, scale, m, rng.unit());
  }
  return { inst, swim, drift };
}

/** Moves the instances to `time` (motion.rs SwimGroup::update, DriftGroup::update). */
export function update({ inst, swim, drift }, time) {
  const cy = 2.0;
  for (let i = 0; i < swim.count; i++) {
    const a = swim.angle0[i] + swim.speed[i] * time;
    const breathe = 1.0 + 0.06 * Math.sin(0.4 * time + swim.angle0[i] * 3.0);
    const r = swim.orbit[i] * breathe;
    const bobArg = 1.3 * time + inst.phase[i] * TAU;
    inst.x[i] = r * Math.cos(a);
    inst.y[i] = cy + swim.height[i] + swim.bob[i] * Math.sin(bobArg);
    inst.z[i] = r * Math.sin(a);
    const horizontal = r * swim.speed[i];
    const vertical = swim.bob[i] * 1.3 * Math.cos(bobArg);
    inst.yaw[i] = -a;
    inst.pitch[i] = -Math.atan(vertical / Math.max(horizontal, 1e-3));
  }
  for (let i = 0; i < drift.count; i++) {
    const k = drift.start + i;
    const sway = Math.sin(0.5 * time + inst.phase[k] * TAU);
    inst.x[k] = drift.ox[i] + 0.3 * sway;
    const y = drift.oy[i] - drift.speed[i] * time;
    inst.y[k] = drift.floor + (((y % drift.height) + drift.height) % drift.height);
  }
}

/** The default orbit camera at scene time `time` (camera.rs OrbitCamera, advanced). */
export function orbitAt(time) {
  const yaw = (0.6 + 0.05 * time) % TAU, pitch = 0.06, distance = 30;
  const target = [0, 2, 0];
  const eye = [
    target[0] + Math.cos(pitch) * Math.sin(yaw) * distance,
    target[1] + Math.sin(pitch) * distance,
    target[2] + Math.cos(pitch) * Math.cos(yaw) * distance,
  ];
  return { eye, target, fovYDeg: 50, near: 0.1, far: 400 };
}
