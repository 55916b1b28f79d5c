// Candlefish page loader: picks a render mode, downloads only the bundle that mode
// needs plus the scene pack (with progress), starts the runtime on a fresh canvas,
// falls back WebGPU → WebGL2 → Canvas 2D when a mode fails, and reports frame
// timings to the telemetry server. No framework; no inline script (the CSP forbids
// it).

const manifest = JSON.parse(document.getElementById('cf-manifest').textContent || '{}');
const MODES = ['webgpu', 'webgl', 'canvas'];
const PRESETS = ['performance', 'quality'];

const status = document.getElementById('status');
const statusText = document.getElementById('status-text');
const progress = document.getElementById('progress');
const hud = document.getElementById('hud');

// State the browser tests (and curious developers) can read.
const page = {
  state: 'loading',
  mode: null,
  preset: null,
  attempts: [],
  errors: [],
  downloads: [],
  // requestAnimationFrame intervals (ms), for the browser benchmark.
  intervals: [],
  timings: {},
  stats: () => (runtime ? JSON.parse(runtime.stats()) : null),
  // For the browser tests: a Rust panic must be reported, never silent.
  testPanic: async () => bundle?.module.testPanic(),
};
window.candlefish = page;

let runtime = null;
let bundle = null;
let packBytes = null;
let canvas = document.getElementById('scene');
let frameHandle = 0;

function setStatus(text, fraction) {
  status.hidden = false;
  statusText.textContent = text;
  if (fraction !== undefined) {
    progress.hidden = false;
    progress.value = Math.round(fraction * 100);
    progress.textContent = `${progress.value}%`;
  } else {
    progress.hidden = true;
  }
}

function showError(text) {
  page.state = 'error';
  status.classList.add('error');
  setStatus(text);
  // The canvas' fallback content is not shown by browsers that support canvas: show
  // the poster in its place.
  if (!document.querySelector('.stage > .poster')) {
    const poster = document.createElement('div');
    poster.className = 'poster';
    const img = canvas.querySelector('img');
    if (img) {
      const copy = img.cloneNode();
      copy.loading = 'eager';
      poster.append(copy);
    }
    canvas.replaceWith(poster);
  }
}

function recordError(kind, message) {
  // The telemetry server refuses control characters (a panic message has newlines).
  const text = String(message).replace(/[\u0000-\u001f\u007f]+/g, ' ').slice(0, 500);
  const entry = { kind, message: text, at: Math.round(performance.now()) };
  page.errors.push(entry);
  telemetry.error(entry);
}

// Hints: the server's meta tag, then the URL (?mode=, ?preset=) which wins.
function readHints() {
  const hints = {};
  const meta = document.querySelector('meta[name="candlefish-hints"]');
  for (const part of (meta?.content || '').split(';')) {
    const [k, v] = part.split('=').map((s) => s && s.trim().toLowerCase());
    if (k && v) hints[k] = v;
  }
  const params = new URLSearchParams(location.search);
  const forced = params.get('mode');
  const preset = params.get('preset');
  const fish = Number(params.get('fish'));
  return {
    // A school size for benchmarks (?fish=N); 0 keeps the preset's.
    fish: Number.isInteger(fish) && fish > 0 && fish <= 1000000 ? fish : 0,
    mode: MODES.includes(forced) ? forced : MODES.includes(hints.mode) ? hints.mode : null,
    forced: MODES.includes(forced),
    preset: PRESETS.includes(preset) ? preset : PRESETS.includes(hints.preset) ? hints.preset : 'quality',
  };
}

function modeOrder(first) {
  return first ? [first, ...MODES.filter((m) => m !== first)] : MODES.slice();
}

// A forced ?mode= goes first. Of the server's hints only `canvas` (a low-end device)
// reorders: between WebGPU and WebGL2, asking the browser for an adapter is the
// authority, not a user-agent guess.
function initialOrder(h) {
  if (h.forced) return modeOrder(h.mode);
  return modeOrder(h.mode === 'canvas' ? 'canvas' : null);
}

async function hasWebGpu() {
  if (!navigator.gpu) return false;
  try {
    return (await navigator.gpu.requestAdapter()) !== null;
  } catch {
    return false;
  }
}

// Downloads with progress; `share` is this download's part of the progress bar.
const loading = new Map();
function updateProgress(label) {
  let done = 0;
  let total = 0;
  for (const d of loading.values()) {
    done += d.done;
    total += d.total || d.done || 1;
  }
  setStatus(`Loading ${label}…`, total ? Math.min(done / total, 1) : 0);
}

async function download(url, label) {
  const started = performance.now();
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${label} download failed (HTTP ${response.status})`);
  const total = Number(response.headers.get('content-length')) || 0;
  const entry = { done: 0, total };
  loading.set(url, entry);
  const reader = response.body.getReader();
  const chunks = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    chunks.push(value);
    entry.done += value.length;
    updateProgress(label);
  }
  const bytes = new Uint8Array(entry.done);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  page.downloads.push({ url, bytes: bytes.length, ms: Math.round(performance.now() - started) });
  return bytes;
}

// One bundle per GPU mode; Canvas 2D runs in the (smaller) WebGL2 bundle.
async function loadBundle(name) {
  if (bundle?.name === name) return bundle.module;
  const files = manifest.bundles?.[name];
  if (!files) throw new Error(`the site has no ${name} bundle`);
  const t0 = performance.now();
  const [module, wasm] = await Promise.all([import(files.js), download(files.wasm, 'the renderer')]);
  const t1 = performance.now();
  await module.default({ module_or_path: wasm });
  module.installPanicHook(onPanic);
  page.timings.fetch = Math.round(t1 - t0);
  page.timings.compile = Math.round(performance.now() - t1);
  bundle = { name, module };
  return module;
}

// Only one context can ever be made per canvas: every attempt gets a fresh one.
function freshCanvas() {
  const next = canvas.cloneNode(true);
  canvas.replaceWith(next);
  canvas = next;
  attachInput(canvas);
  return canvas;
}

function sizeCanvas(preset) {
  const caps = { performance: [1.5, 0.75], quality: [2, 1], canvas: [1, 1] }[preset] || [1, 1];
  const dpr = Math.min(window.devicePixelRatio || 1, caps[0]) * caps[1];
  const rect = canvas.getBoundingClientRect();
  const width = Math.max(1, Math.round(rect.width * dpr));
  const height = Math.max(1, Math.round(rect.height * dpr));
  return { width, height };
}

async function start(mode, preset, reducedMotion) {
  const module = await loadBundle(mode === 'webgpu' ? 'webgpu' : 'webgl');
  const c = freshCanvas();
  const effectivePreset = mode === 'canvas' ? 'canvas' : preset;
  const { width, height } = sizeCanvas(effectivePreset);
  c.width = width;
  c.height = height;
  setStatus(`Starting ${mode === 'canvas' ? 'the 2D renderer' : mode === 'webgl' ? 'WebGL2' : 'WebGPU'}…`);
  const t0 = performance.now();
  const rt =
    mode === 'canvas'
      ? module.startCanvas(c, packBytes, effectivePreset, reducedMotion, hints.fish)
      : await module.startGpu(c, packBytes, effectivePreset, reducedMotion, hints.fish);
  page.timings.init = Math.round(performance.now() - t0);
  // A lost WebGL2 context is the runtime's to handle: it waits for the browser to
  // restore it and rebuilds, and deviceLost() says so only if it stays lost.
  return { rt, preset: effectivePreset };
}

async function startFirstWorking(order, preset, reducedMotion) {
  for (const mode of order) {
    if (mode === 'webgpu' && !(await hasWebGpu())) {
      page.attempts.push({ mode, ok: false, reason: 'WebGPU is not available in this browser' });
      continue;
    }
    try {
      const { rt, preset: used } = await start(mode, preset, reducedMotion);
      page.attempts.push({ mode, ok: true });
      return { rt, mode, preset: used };
    } catch (e) {
      const reason = e?.message || String(e);
      page.attempts.push({ mode, ok: false, reason });
      console.warn(`candlefish: ${mode} failed, trying the next mode: ${reason}`);
      recordError('backend_fallback', `${mode}: ${reason}`);
    }
  }
  throw new Error(page.attempts.map((a) => `${a.mode}: ${a.reason}`).join('; '));
}

let hints;
let reducedMotion;

async function main() {
  hints = readHints();
  const motionQuery = matchMedia('(prefers-reduced-motion: reduce)');
  reducedMotion = motionQuery.matches;
  motionQuery.addEventListener('change', (e) => {
    reducedMotion = e.matches;
    runtime?.setAutoRotate(!e.matches);
  });
  const packPromise = download(manifest.pack, 'the scene');
  packPromise.catch(() => {});
  try {
    packBytes = await packPromise;
  } catch (e) {
    recordError('asset', e.message);
    showError(`The scene could not be downloaded (${e.message}). Check your connection and reload.`);
    return;
  }
  try {
    await run(initialOrder(hints));
  } catch (e) {
    recordError('other', e.message);
    showError(`This browser could not start the 3D scene. Showing a still image instead. (${e.message})`);
  }
}

async function run(order) {
  const started = await startFirstWorking(order, hints.preset, reducedMotion);
  runtime = started.rt;
  page.mode = started.mode;
  page.preset = started.preset;
  page.state = 'running';
  status.hidden = true;
  telemetry.start();
  scheduleFrame();
}

// After a lost context or device: restart the same mode on a fresh canvas, or step
// down to the next mode.
async function recover(reason) {
  cancelAnimationFrame(frameHandle);
  recordError('device_lost', reason);
  const previous = page.mode;
  runtime?.free?.();
  runtime = null;
  page.state = 'recovering';
  page.recoveries = (page.recoveries || 0) + 1;
  const order = modeOrder(previous);
  try {
    await run(page.recoveries > 3 ? order.slice(1) : order);
  } catch (e) {
    showError(`The 3D scene stopped and could not restart. (${e.message})`);
  }
}

let lastHud = 0;
function tick(now) {
  frameHandle = 0;
  if (!runtime || document.hidden) return;
  const lost = runtime.deviceLost();
  if (lost) {
    recover(lost);
    return;
  }
  try {
    runtime.frame(now);
  } catch (e) {
    if (page.state === 'crashed') return;
    recover(e?.message || String(e));
    return;
  }
  if (page.lastTick) page.intervals.push(now - page.lastTick);
  if (page.intervals.length > 2000) page.intervals.shift();
  page.lastTick = now;
  if (!page.timings.firstFrame) {
    page.timings.firstFrame = Math.round(performance.now());
    page.firstFrameAt = page.timings.firstFrame;
  }
  if (now - lastHud > 1000) {
    lastHud = now;
    const s = JSON.parse(runtime.stats());
    hud.textContent = `${s.mode} · ${s.preset} · ${s.drawn.toLocaleString()} drawn in ${s.drawCalls} draws · CPU ${s.cpuP50.toFixed(2)} ms`;
  }
  scheduleFrame();
}

function scheduleFrame() {
  if (!frameHandle && runtime && !document.hidden) frameHandle = requestAnimationFrame(tick);
}

document.addEventListener('visibilitychange', () => {
  if (document.hidden) {
    cancelAnimationFrame(frameHandle);
    frameHandle = 0;
    telemetry.flush();
  } else {
    // Resume without counting the hidden time as one long frame.
    scheduleFrame();
  }
});

new ResizeObserver(() => {
  if (!runtime || !page.preset) return;
  const { width, height } = sizeCanvas(page.preset);
  runtime.resize(width, height);
  canvas.width = width;
  canvas.height = height;
}).observe(document.querySelector('.stage'));

function onPanic(message) {
  cancelAnimationFrame(frameHandle);
  runtime = null;
  recordError('panic', message);
  telemetry.flush();
  showError(`Something went wrong in the 3D scene and it stopped. Reloading the page should bring it back. (Details: ${message})`);
  page.state = 'crashed';
}

// Pointer, touch, wheel and keyboard controls.
function attachInput(el) {
  const pointers = new Map();
  let pinch = 0;
  el.addEventListener('pointerdown', (e) => {
    el.setPointerCapture(e.pointerId);
    pointers.set(e.pointerId, [e.clientX, e.clientY]);
    el.focus({ preventScroll: true });
  });
  const release = (e) => {
    pointers.delete(e.pointerId);
    pinch = 0;
  };
  el.addEventListener('pointerup', release);
  el.addEventListener('pointercancel', release);
  el.addEventListener('pointermove', (e) => {
    const prev = pointers.get(e.pointerId);
    if (!prev || !runtime) return;
    pointers.set(e.pointerId, [e.clientX, e.clientY]);
    if (pointers.size === 1) {
      runtime.rotate(-(e.clientX - prev[0]) * 0.006, (e.clientY - prev[1]) * 0.006);
    } else if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const d = Math.hypot(a[0] - b[0], a[1] - b[1]);
      if (pinch) runtime.zoom(pinch / d);
      pinch = d;
    }
  });
  el.addEventListener(
    'wheel',
    (e) => {
      if (!runtime) return;
      e.preventDefault();
      runtime.zoom(Math.pow(0.9, -e.deltaY / 100));
    },
    { passive: false },
  );
  el.addEventListener('keydown', (e) => {
    if (!runtime) return;
    const step = 0.08;
    const actions = {
      ArrowLeft: () => runtime.rotate(step, 0),
      ArrowRight: () => runtime.rotate(-step, 0),
      ArrowUp: () => runtime.rotate(0, step),
      ArrowDown: () => runtime.rotate(0, -step),
      '+': () => runtime.zoom(0.9),
      '=': () => runtime.zoom(0.9),
      '-': () => runtime.zoom(1 / 0.9),
      ' ': () => runtime.setAutoRotate(!JSON.parse(runtime.stats()).autoRotate),
    };
    const action = actions[e.key];
    if (action) {
      e.preventDefault();
      action();
    }
  });
}

// Telemetry: batches once a second over a WebSocket to the own origin, reconnecting
// with exponential backoff, buffering a bounded number of batches meanwhile, and a
// last flush with sendBeacon when the page goes away.
const telemetry = (() => {
  const MAX_BUFFERED = 30;
  const session = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
  const queue = [];
  const errors = [];
  const vitals = {};
  let socket = null;
  let backoff = 1000;
  let timer = 0;
  let started = false;

  try {
    new PerformanceObserver((list) => {
      const last = list.getEntries().at(-1);
      if (last) vitals.lcp_ms = Math.round(last.startTime);
    }).observe({ type: 'largest-contentful-paint', buffered: true });
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) if (!e.hadRecentInput) vitals.cls = (vitals.cls || 0) + e.value;
    }).observe({ type: 'layout-shift', buffered: true });
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) vitals.inp_ms = Math.max(vitals.inp_ms || 0, Math.round(e.duration));
    }).observe({ type: 'event', buffered: true, durationThreshold: 40 });
  } catch {
    // Observers this browser lacks are simply not reported.
  }
  const nav = performance.getEntriesByType('navigation')[0];
  if (nav) vitals.ttfb_ms = Math.round(nav.responseStart);

  function batch() {
    const frames = runtime?.telemetryBatch();
    if (!frames && !errors.length) return null;
    const body = frames ? JSON.parse(frames) : { mode: page.mode || 'canvas', preset: page.preset || 'quality', adapter: '' };
    return JSON.stringify({
      type: 'frames',
      v: 1,
      release: manifest.release || 'dev',
      session,
      ...body,
      load_ms: {
        fetch: page.timings.fetch,
        compile: page.timings.compile,
        init: page.timings.init,
        first_frame: page.timings.firstFrame,
      },
      vitals: { ...vitals, cls: vitals.cls !== undefined ? Number(vitals.cls.toFixed(4)) : undefined },
      errors: errors.splice(0),
    });
  }

  function connect() {
    if (socket || !started) return;
    const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/telemetry`;
    try {
      socket = new WebSocket(url);
    } catch {
      retry();
      return;
    }
    socket.onopen = () => {
      backoff = 1000;
      send();
    };
    socket.onclose = () => {
      socket = null;
      retry();
    };
    socket.onerror = () => {};
  }

  function retry() {
    if (!started) return;
    const jitter = Math.random() * 0.3 * backoff;
    setTimeout(connect, backoff + jitter);
    backoff = Math.min(backoff * 2, 30000);
  }

  function send() {
    while (socket?.readyState === WebSocket.OPEN && queue.length) socket.send(queue.shift());
  }

  function collect() {
    const b = batch();
    if (b) {
      queue.push(b);
      if (queue.length > MAX_BUFFERED) queue.splice(0, queue.length - MAX_BUFFERED);
    }
    send();
  }

  function flush() {
    collect();
    for (const b of queue.splice(0)) {
      if (!navigator.sendBeacon('/telemetry/beacon', b)) break;
    }
  }

  addEventListener('pagehide', flush);
  return {
    start() {
      if (started) return;
      started = true;
      connect();
      timer = setInterval(collect, 1000);
    },
    error(entry) {
      errors.push({ kind: entry.kind, message: entry.message });
      if (errors.length > 20) errors.shift();
    },
    flush,
    get timer() {
      return timer;
    },
  };
})();

attachInput(canvas);
main();
