// The candlefish school in idiomatic three.js: the same meshes and LOD tiers
// (exported by `peer-data`), the same layout, motion and camera path (layout.mjs),
// drawn one of two ways three.js documents for many instances:
//
// - mode=instanced (default): one InstancedMesh per (mesh, LOD tier); each frame every
//   instance is tested with Frustum.intersectsSphere, given the tier whose
//   screen-space error fits the preset's threshold, and its matrix written to its
//   tier's InstancedMesh (count = instances drawn);
// - mode=batched: one BatchedMesh holding every (mesh, tier) geometry, one instance
//   per object, the tier switched with setGeometryIdAt, and three's own per-instance
//   frustum culling (perObjectFrustumCulled) with sorting off.
//
// Differences from our renderer, on purpose and kept small: no atlas textures (flat
// tints), no vertex-shader swimming bend, three's standard fog and lights.
//
// URL parameters: preset (quality|performance), fish, frames (measured), warmup,
// mode, meshes (URL of meshes.json, default ../../target/peer-data/meshes.json),
// antialias (1|0: the WebGL context's MSAA; default the preset's, as ours: quality on,
// performance off), pixelRatio (drawing-buffer pixels per CSS pixel, default 1: the
// browser benchmark passes ours' render scale so both sides shade as many pixels).

import * as THREE from 'three';
import { MATERIALS, PRESETS, layout, orbitAt, update } from './layout.mjs';

const params = new URLSearchParams(location.search);
const preset = PRESETS[params.get('preset') ?? 'quality'] ?? PRESETS.quality;
const counts = { ...preset, fish: Number(params.get('fish') ?? preset.fish) };
const frames = Number(params.get('frames') ?? 300);
const warmup = Number(params.get('warmup') ?? 30);
const mode = params.get('mode') ?? 'instanced';
const meshesUrl = params.get('meshes') ?? '../../target/peer-data/meshes.json';
const antialias = params.has('antialias') ? params.get('antialias') === '1' : preset.msaa;
const pixelRatio = Number(params.get('pixelRatio') ?? 1);
const KINDS = ['fish', 'rock', 'kelp', 'snow'];

const { meshes } = await (await fetch(meshesUrl)).json();
const byKind = KINDS.map((k) => meshes.find((m) => m.kind === k));

const renderer = new THREE.WebGLRenderer({ antialias, powerPreference: 'high-performance' });
renderer.setPixelRatio(pixelRatio);
renderer.setSize(innerWidth, innerHeight);
renderer.info.autoReset = true;
document.body.appendChild(renderer.domElement);

const scene = new THREE.Scene();
const fogColor = new THREE.Color().setRGB(0.004, 0.018, 0.04, THREE.LinearSRGBColorSpace);
scene.background = fogColor;
scene.fog = new THREE.FogExp2(fogColor, 0.022);
scene.add(new THREE.AmbientLight(new THREE.Color().setRGB(0.05, 0.09, 0.13, THREE.LinearSRGBColorSpace), 3));
const sun = new THREE.DirectionalLight(0xffffff, 2.0);
sun.position.set(0.25, 1.0, 0.15);
scene.add(sun);
const camera = new THREE.PerspectiveCamera(50, innerWidth / innerHeight, 0.1, 400);

// One BufferGeometry per (mesh, tier), sharing the mesh's vertex attributes.
const geometries = byKind.map((m) => {
  const position = new THREE.Float32BufferAttribute(m.positions, 3);
  const normal = new THREE.Float32BufferAttribute(m.normals, 3);
  const uv = new THREE.Float32BufferAttribute(m.uvs, 2);
  return m.tiers.map((t) => {
    const g = new THREE.BufferGeometry();
    g.setAttribute('position', position);
    g.setAttribute('normal', normal);
    g.setAttribute('uv', uv);
    g.setIndex(t.indices);
    g.computeBoundingSphere();
    return g;
  });
});
const colors = MATERIALS.map((m) => new THREE.Color().setRGB(...m.tint, THREE.LinearSRGBColorSpace));

const world = layout(counts, Object.fromEntries(KINDS.map((k, i) => [k, byKind[i].radius])));
const { inst } = world;
const tier = new Uint8Array(inst.n);

// Screen-space LOD, the rule of renderer/src/frame/lod.rs (without its hysteresis): the
// coarsest tier whose error, projected, stays under the preset's threshold.
function selectTier(i, eye, pixelsPerUnit) {
  const m = byKind[inst.mesh[i]];
  const dx = inst.x[i] - eye.x, dy = inst.y[i] - eye.y, dz = inst.z[i] - eye.z;
  const distance = Math.max(Math.sqrt(dx * dx + dy * dy + dz * dz) - inst.radius[i], 1e-3);
  const pxPerError = (inst.scale[i] * pixelsPerUnit) / distance;
  let t = 0;
  for (let k = 1; k < m.tiers.length; k++) if (m.tiers[k].error * pxPerError <= preset.lodThresholdPx) t = k;
  return t;
}

const matrix = new THREE.Matrix4();
const quat = new THREE.Quaternion();
const qPitch = new THREE.Quaternion();
const pos = new THREE.Vector3();
const scl = new THREE.Vector3();
const AXIS_X = new THREE.Vector3(1, 0, 0);
const AXIS_Y = new THREE.Vector3(0, 1, 0);
function composeMatrix(i) {
  quat.setFromAxisAngle(AXIS_Y, inst.yaw[i]);
  if (inst.mesh[i] === 0) quat.multiply(qPitch.setFromAxisAngle(AXIS_X, inst.pitch[i]));
  pos.set(inst.x[i], inst.y[i], inst.z[i]);
  scl.setScalar(inst.scale[i]);
  return matrix.compose(pos, quat, scl);
}

const frustum = new THREE.Frustum();
const projView = new THREE.Matrix4();
const sphere = new THREE.Sphere();
let drawOne;

if (mode === 'batched') {
  let vertices = 0, indices = 0;
  for (const tiers of geometries) for (const g of tiers) { vertices += g.attributes.position.count; indices += g.index.count; }
  const batched = new THREE.BatchedMesh(inst.n, vertices, indices, new THREE.MeshLambertMaterial());
  batched.perObjectFrustumCulled = true;
  batched.sortObjects = false;
  const ids = geometries.map((tiers) => tiers.map((g) => batched.addGeometry(g)));
  for (let i = 0; i < inst.n; i++) {
    const id = batched.addInstance(ids[inst.mesh[i]][0]);
    batched.setColorAt(id, colors[inst.material[i]]);
  }
  scene.add(batched);
  drawOne = (eye, ppu) => {
    for (let i = 0; i < inst.n; i++) {
      batched.setMatrixAt(i, composeMatrix(i));
      const t = selectTier(i, eye, ppu);
      if (t !== tier[i]) { tier[i] = t; batched.setGeometryIdAt(i, ids[inst.mesh[i]][t]); }
    }
  };
} else {
  const material = new THREE.MeshLambertMaterial();
  const meshes2 = geometries.map((tiers, m) => tiers.map((g) => {
    // Capacity: every instance of the mesh could need this tier.
    let capacity = 0;
    for (let i = 0; i < inst.n; i++) capacity += inst.mesh[i] === m ? 1 : 0;
    const im = new THREE.InstancedMesh(g, material, Math.max(capacity, 1));
    im.instanceMatrix.setUsage(THREE.DynamicDrawUsage);
    im.setColorAt(0, colors[0]);
    im.instanceColor.setUsage(THREE.DynamicDrawUsage);
    im.frustumCulled = false; // culled per instance below
    im.count = 0;
    scene.add(im);
    return im;
  }));
  drawOne = (eye, ppu) => {
    projView.multiplyMatrices(camera.projectionMatrix, camera.matrixWorldInverse);
    frustum.setFromProjectionMatrix(projView);
    for (const tiers of meshes2) for (const im of tiers) im.count = 0;
    for (let i = 0; i < inst.n; i++) {
      sphere.center.set(inst.x[i], inst.y[i], inst.z[i]);
      sphere.radius = inst.radius[i];
      if (!frustum.intersectsSphere(sphere)) continue;
      const im = meshes2[inst.mesh[i]][selectTier(i, eye, ppu)];
      const slot = im.count++;
      im.setMatrixAt(slot, composeMatrix(i));
      im.setColorAt(slot, colors[inst.material[i]]);
    }
    for (const tiers of meshes2) for (const im of tiers) {
      im.instanceMatrix.needsUpdate = im.count > 0;
      im.instanceColor.needsUpdate = im.count > 0;
    }
  };
}

const cpuMs = [], scriptMs = [], renderMs = [], intervalMs = [], drawCalls = [], triangles = [];
let frame = 0, last = 0;
function percentiles(values) {
  const v = [...values].sort((a, b) => a - b);
  const rank = (p) => v[Math.min(v.length, Math.max(1, Math.ceil(p * v.length))) - 1];
  const mean = v.reduce((s, x) => s + x, 0) / Math.max(v.length, 1);
  return { p50: rank(0.5), p95: rank(0.95), p99: rank(0.99), max: v[v.length - 1], mean, n: v.length };
}

function tick(now) {
  const time = frame / 60; // scene time advances 1/60 s a frame, as candlefish bench
  const t0 = performance.now();
  update(world, time);
  const o = orbitAt(time);
  camera.position.set(...o.eye);
  camera.lookAt(...o.target);
  camera.updateMatrixWorld();
  const ppu = (innerHeight * pixelRatio) / (2 * Math.tan((o.fovYDeg * Math.PI) / 360));
  drawOne(camera.position, ppu);
  const t1 = performance.now();
  renderer.render(scene, camera);
  const cpu = performance.now() - t0;
  if (frame >= warmup) {
    cpuMs.push(cpu);
    // render() alone: where WebGL calls wait for the GPU (a buffer upload behind a
    // frame still being rasterised), this is where the wait shows.
    renderMs.push(performance.now() - t1);
    scriptMs.push(t1 - t0);
    if (last) intervalMs.push(now - last);
    drawCalls.push(renderer.info.render.calls);
    triangles.push(renderer.info.render.triangles);
  }
  last = now;
  frame++;
  if (frame < warmup + frames) {
    requestAnimationFrame(tick);
  } else {
    const mean = (a) => a.reduce((s, x) => s + x, 0) / Math.max(a.length, 1);
    const gl = renderer.getContext();
    window.peerResults = {
      peer: `three.js r${THREE.REVISION}`, mode, counts, instances: inst.n, frames: cpuMs.length,
      size: [gl.drawingBufferWidth, gl.drawingBufferHeight], antialias, samples: gl.getParameter(gl.SAMPLES),
      cpu_ms: percentiles(cpuMs), script_ms: percentiles(scriptMs), render_ms: percentiles(renderMs), frame_interval_ms: percentiles(intervalMs),
      draw_calls_mean: mean(drawCalls), triangles_mean: mean(triangles),
      cpu_ms_definition: 'motion update + per-instance cull/LOD/matrix writes + renderer.render(), per frame',
    };
    console.log('peerResults', JSON.stringify(window.peerResults));
  }
}
requestAnimationFrame(tick);
