// Candlefish page loader: picks a render mode, downloads only the bundle that mode
// needs plus the scene pack (with progress), and starts the runtime on a fresh canvas:
// in a Worker drawing to an OffscreenCanvas where the browser allows, so that the
// page's main thread keeps only the page, otherwise on the main thread. It falls back
// WebGPU → WebGL2 → Canvas 2D when a mode fails, hands the frame governor's moves to
// Canvas 2D and to the paused frame, and reports frame timings to the telemetry
// server. No framework; no inline script (the CSP forbids it).

const manifest = JSON.parse(document.getElementById('cf-manifest').textContent || '{}');
const MODES = ['webgpu', 'webgl', 'canvas'];
const PRESETS = ['performance', 'quality'];

const stage = document.querySelector('.stage');
const status = document.getElementById('status');
const statusText = document.getElementById('status-text');
const progress = document.getElementById('progress');
const hud = document.getElementById('hud');
const motionButton = document.getElementById('motion');

// State the browser tests (and curious developers) can read.
const page = {
  state: 'loading',
  mode: null,
  preset: null,
  thread: null,
  paused: false,
  attempts: [],
  errors: [],
  downloads: [],
  steps: [],
  // Animation-frame intervals (ms) where the runtime runs, for the browser benchmark.
  intervals: [],
  timings: {},
  recoveries: 0,
  stats: () => lastStats,
  // For the browser tests: a Rust panic must be reported, never silent.
  testPanic: async () => host?.send({ type: 'testPanic' }),
  // For the browser tests of the governor: emulates a GPU costing this many ns per
  // triangle (0: none).
  testLoad: (nsPerTriangle) => host?.send({ type: 'testLoad', nsPerTriangle }),
  // For the browser tests: loses the WebGL2 context where the runtime draws (in its
  // Worker), restoring it when asked; resolves with the events seen.
  testLoseContext: (restore) =>
    new Promise((resolve) => {
      const events = [];
      testListener = (event) => {
        events.push(event);
        if (event === 'unsupported' || event === (restore ? 'restored' : 'lost')) {
          testListener = null;
          resolve(events);
        }
      };
      host?.send({ type: 'testLoseContext', restore });
    }),
};
window.candlefish = page;

let host = null;
let testListener = null;
let lastStats = null;
let packBytes = null;
let canvas = document.getElementById('scene');
let hints;
let reducedMotion = matchMedia('(prefers-reduced-motion: reduce)').matches;
const bundles = new Map();

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

function clearStatus() {
  status.hidden = true;
  status.classList.remove('error', 'note');
}

function showError(text) {
  page.state = 'error';
  motionButton.hidden = true;
  status.classList.add('error');
  setStatus(text);
  // The canvas' fallback content is not shown by browsers that support canvas: show
  // the poster in its place.
  if (!stage.querySelector(':scope > .poster')) {
    const poster = document.createElement('div');
    poster.className = 'poster';
    const picture = canvas.querySelector('picture');
    if (picture) {
      const copy = picture.cloneNode(true);
      copy.querySelector('img').loading = 'eager';
      poster.append(copy);
    }
    canvas.replaceWith(poster);
  }
}

// Strings cut at a character (not UTF-16 unit) boundary, without control characters:
// what the telemetry server accepts.
function cleanText(text, max) {
  return Array.from(String(text).replace(/[\u0000-\u001f\u007f]+/g, ' ')).slice(0, max).join('');
}

function recordError(kind, message) {
  const entry = { kind, message: cleanText(message, 500), at: Math.round(performance.now()) };
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
  // ?mode=null: the null backend (plans every frame, draws nothing), for tests.
  const nullMode = forced === 'null';
  const preset = params.get('preset');
  const fish = Number(params.get('fish'));
  const still = params.has('still') ? Number(params.get('still')) : NaN;
  return {
    // A school size for benchmarks (?fish=N); 0 keeps the preset's.
    fish: Number.isInteger(fish) && fish > 0 && fish <= 1000000 ? fish : 0,
    mode: MODES.includes(forced) || nullMode ? forced : MODES.includes(hints.mode) ? hints.mode : null,
    forced: MODES.includes(forced) || nullMode,
    preset: PRESETS.includes(preset) ? preset : PRESETS.includes(hints.preset) ? hints.preset : 'quality',
    presetForced: PRESETS.includes(preset),
    // ?still=T: one reproducible frame at scene time T (parity tests, screenshots).
    still: Number.isFinite(still) && still >= 0 && still <= 3600 ? still : undefined,
    // ?governor=off keeps the starting rung (benchmarks).
    governor: params.get('governor') !== 'off',
    // ?thread=main runs the runtime on the main thread even where a Worker could.
    thread: params.get('thread') === 'main' ? 'main' : 'auto',
  };
}

function modeOrder(first) {
  if (first === 'null') return ['null'];
  return first ? [first, ...MODES.filter((m) => m !== first)] : MODES.slice();
}

// A forced ?mode= goes first. Of the server's hints only `canvas` (a low-end device)
// reorders: between WebGPU and WebGL2, asking the browser for an adapter is the
// authority, not a user-agent guess.
function initialOrder(h) {
  if (h.forced) return modeOrder(h.mode);
  return modeOrder(h.mode === 'canvas' ? 'canvas' : null);
}

// Whether WebGPU works here, and whether its adapter rasterises in software (a fallback
// adapter, SwiftShader): then the runtime starts at its lowest rung.
async function probeWebGpu() {
  if (!navigator.gpu) return null;
  try {
    const adapter = await navigator.gpu.requestAdapter();
    if (!adapter) return null;
    const info = adapter.info || {};
    const words = `${info.vendor || ''} ${info.architecture || ''} ${info.device || ''} ${info.description || ''}`;
    return { software: Boolean(info.isFallbackAdapter || adapter.isFallbackAdapter) || /swiftshader|llvmpipe|lavapipe|basic render/i.test(words) };
  } catch {
    return null;
  }
}

// Whether the runtime can draw from a Worker: an OffscreenCanvas the page can hand
// over. Whether this mode's context can be made there is only known by trying (probing
// with a context here would create one on the main thread, which for WebGL2 on a
// software rasteriser blocks it for hundreds of milliseconds); a Worker that cannot
// start the mode falls back to the main thread.
function workerCanDraw() {
  return (
    typeof Worker !== 'undefined' &&
    typeof OffscreenCanvas !== 'undefined' &&
    'transferControlToOffscreen' in HTMLCanvasElement.prototype
  );
}

// Downloads with progress.
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

// One bundle per GPU mode; Canvas 2D runs in the (small) WebGL2 bundle.
async function loadBundle(name) {
  if (bundles.has(name)) return bundles.get(name);
  const files = manifest.bundles?.[name];
  if (!files) throw new Error(`the site has no ${name} bundle`);
  const t0 = performance.now();
  const wasm = await download(files.wasm, 'the renderer');
  page.timings.fetch = Math.round(performance.now() - t0);
  const bundle = { js: new URL(files.js, location.href).href, wasm };
  bundles.set(name, bundle);
  return bundle;
}

// Only one context can ever be made per canvas, and a canvas handed to a Worker stays
// there: every attempt gets a fresh one.
function freshCanvas() {
  const next = canvas.cloneNode(true);
  canvas.replaceWith(next);
  canvas = next;
  attachInput(canvas);
  return canvas;
}

function cssSize() {
  const rect = stage.getBoundingClientRect();
  return { width: Math.max(1, rect.width), height: Math.max(1, rect.height) };
}

// The runtime behind a message channel: a Worker, or the same host module on the main
// thread where a Worker cannot draw.
class WorkerHost {
  constructor() {
    this.thread = 'worker';
    this.worker = new Worker(new URL(manifest.runtime, location.href), { type: 'module' });
    this.worker.onmessage = (e) => onHostMessage(this, e.data);
    this.worker.onerror = (e) => {
      e.preventDefault?.();
      onHostMessage(this, { type: 'error', phase: 'start', message: e.message || 'the runtime worker could not start' });
    };
  }
  send(message, transfer) {
    this.worker.postMessage(message, transfer || []);
  }
  stop() {
    this.worker.terminate();
  }
}

class MainHost {
  static async create() {
    const module = await import(new URL(manifest.runtime, location.href).href);
    return new MainHost(module);
  }
  constructor(module) {
    this.thread = 'main';
    this.host = module.createHost((message) => onHostMessage(this, message));
  }
  send(message) {
    this.host.handle(message);
  }
  stop() {
    this.host.handle({ type: 'stop' });
  }
}

let pendingStart = null;

// Starts `mode` in a Worker where the browser allows, else (or when the Worker cannot
// start it) on the main thread; each attempt on a fresh canvas.
async function start(mode, options) {
  if (hints.thread !== 'main' && workerCanDraw()) {
    try {
      return await startOn(mode, options, true);
    } catch (e) {
      const reason = e?.message || String(e);
      page.attempts.push({ mode, ok: false, thread: 'worker', reason });
      recordError('backend_fallback', `${mode} in a Worker: ${reason}`);
    }
  }
  return startOn(mode, options, false);
}

async function startOn(mode, options, inWorker) {
  const bundle = await loadBundle(mode === 'webgpu' ? 'webgpu' : 'webgl');
  const c = freshCanvas();
  setStatus(`Starting ${mode === 'canvas' ? 'the 2D renderer' : mode === 'webgl' ? 'WebGL2' : 'WebGPU'}…`);
  host?.stop();
  host = inWorker ? new WorkerHost() : await MainHost.create();
  const target = inWorker ? c.transferControlToOffscreen() : c;
  const message = {
    type: 'start',
    canvas: target,
    mode,
    thread: host.thread,
    bundle: { js: bundle.js, wasm: bundle.wasm.slice().buffer },
    pack: packBytes.slice().buffer,
    preset: mode === 'canvas' ? 'canvas' : hints.preset,
    fish: hints.fish,
    // A software adapter starts low, unless the URL chose the preset.
    software: Boolean(options.software),
    presetForced: hints.presetForced,
    governor: hints.governor,
    rung: options.rung,
    reducedMotion,
    paused: page.paused,
    hidden: document.hidden,
    still: hints.still,
    css: cssSize(),
    dpr: window.devicePixelRatio || 1,
  };
  const started = new Promise((resolve, reject) => {
    pendingStart = { resolve, reject, host };
  });
  const t0 = performance.now();
  host.send(message, inWorker ? [target] : []);
  const result = await started;
  page.timings.init = Math.round(performance.now() - t0);
  return result;
}

async function startFirstWorking(order, options = {}) {
  for (const mode of order) {
    let software = false;
    if (mode === 'webgpu') {
      const probe = await probeWebGpu();
      if (!probe) {
        page.attempts.push({ mode, ok: false, reason: 'WebGPU is not available in this browser' });
        continue;
      }
      software = probe.software;
    }
    try {
      const started = await start(mode, { ...options, software });
      page.attempts.push({ mode, ok: true, thread: started.thread });
      return started;
    } catch (e) {
      const reason = e?.message || String(e);
      page.attempts.push({ mode, ok: false, reason });
      console.warn(`candlefish: ${mode} failed, trying the next mode: ${reason}`);
      recordError('backend_fallback', `${mode}: ${reason}`);
    }
  }
  host?.stop();
  host = null;
  throw new Error(page.attempts.map((a) => `${a.mode}: ${a.reason}`).join('; '));
}

async function run(order, options) {
  const started = await startFirstWorking(order, options);
  page.mode = started.mode;
  page.thread = started.thread;
  page.preset = started.stats.preset;
  page.rung = started.stats.rung;
  lastStats = started.stats;
  page.state = 'running';
  clearStatus();
  showMotionButton();
  telemetry.start();
}

function onHostMessage(from, m) {
  if (from !== host) return;
  switch (m.type) {
    case 'started':
      page.timings.compile = m.compile;
      pendingStart?.resolve({ mode: m.mode, thread: m.thread, stats: m.stats });
      pendingStart = null;
      if (m.stats?.lastStep) noteStep(m.stats.lastStep);
      break;
    case 'error':
      if (pendingStart) {
        pendingStart.reject(new Error(m.message));
        pendingStart = null;
      } else {
        recover(m.message);
      }
      break;
    case 'frame':
      if (!page.timings.firstFrame) {
        page.timings.firstFrame = Math.round(performance.now());
        page.firstFrameAt = page.timings.firstFrame;
      }
      break;
    case 'stats':
      lastStats = m.stats;
      page.rung = m.stats.rung;
      page.preset = m.stats.preset;
      if (m.intervals) {
        page.intervals.push(...m.intervals);
        if (page.intervals.length > 2000) page.intervals.splice(0, page.intervals.length - 2000);
      }
      updateHud();
      break;
    case 'step':
      onStep(m.step);
      break;
    case 'telemetry':
      telemetry.push(m.batch);
      break;
    case 'lost':
      recover(m.reason);
      break;
    case 'panic':
      onPanic(m.message);
      break;
    case 'test':
      testListener?.(m.event);
      break;
    default:
      break;
  }
}

function updateHud() {
  const s = lastStats;
  if (!s) return;
  const fps = s.p90Ms > 0 ? ` · p90 ${s.p90Ms.toFixed(1)} ms` : '';
  const step = page.steps.at(-1);
  const note = step ? ` · ${step.fromName} → ${step.toName} (${step.reason})` : '';
  hud.textContent = `${s.mode} · ${s.thread} · ${s.rung}${fps} · ${s.drawn.toLocaleString()} drawn in ${s.drawCalls} draws · CPU ${s.cpuP50.toFixed(2)} ms${note}`;
}

function noteStep(step) {
  if (!page.steps.some((s) => s.atMs === step.atMs && s.to === step.to)) page.steps.push({ ...step, seenAt: performance.now() });
  page.rung = step.toName;
  updateHud();
}

// The governor moved. GPU rungs are the runtime's own; Canvas 2D needs a fresh canvas
// and the paused frame needs the page.
function onStep(step) {
  noteStep(step);
  if (step.toKind === 'canvas' && step.fromKind === 'gpu') {
    switchTo('canvas', step.to);
  } else if (step.toKind === 'paused') {
    page.paused = true;
    page.state = 'paused';
    status.classList.add('note');
    setStatus('Paused to keep this page responsive: this device is drawing too slowly. Press Play to try again.');
    showMotionButton();
  } else if (step.fromKind === 'paused') {
    clearStatus();
    page.state = 'running';
  }
}

async function switchTo(mode, rung) {
  page.state = 'switching';
  try {
    await run([mode], { rung });
  } catch (e) {
    showError(`The 3D scene stopped and could not restart. (${e.message})`);
  }
}

// After a lost context or device: restart the same mode on a fresh canvas, or step
// down to the next mode.
async function recover(reason) {
  if (page.state === 'recovering' || page.state === 'crashed') return;
  recordError('device_lost', reason);
  const previous = page.mode;
  page.state = 'recovering';
  page.recoveries += 1;
  const order = modeOrder(previous);
  try {
    await run(page.recoveries > 3 ? order.slice(1) : order);
  } catch (e) {
    showError(`The 3D scene stopped and could not restart. (${e.message})`);
  }
}

function onPanic(message) {
  host?.stop();
  host = null;
  recordError('panic', message);
  telemetry.flush();
  showError(`Something went wrong in the 3D scene and it stopped. Reloading the page should bring it back. (Details: ${message})`);
  page.state = 'crashed';
}

// Pause and play: every motion stops (the school too), as WCAG 2.2.2 asks. A paused
// page draws nothing.
function showMotionButton() {
  motionButton.hidden = false;
  motionButton.setAttribute('aria-pressed', String(page.paused));
  motionButton.textContent = page.paused ? 'Play' : 'Pause';
  motionButton.setAttribute('aria-label', page.paused ? 'Play the animation' : 'Pause the animation');
}

function setPaused(paused) {
  page.paused = paused;
  if (!paused && page.state === 'paused') {
    page.state = 'running';
    clearStatus();
  }
  host?.send({ type: 'pause', paused });
  showMotionButton();
}

motionButton.addEventListener('click', () => setPaused(!page.paused));

// Pointer, touch, wheel and keyboard controls, forwarded to the runtime.
function send(message) {
  host?.send(message);
}

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
    if (!prev) return;
    pointers.set(e.pointerId, [e.clientX, e.clientY]);
    if (pointers.size === 1) {
      send({ type: 'input', action: 'rotate', dx: -(e.clientX - prev[0]) * 0.006, dy: (e.clientY - prev[1]) * 0.006 });
    } else if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const d = Math.hypot(a[0] - b[0], a[1] - b[1]);
      if (pinch) send({ type: 'input', action: 'zoom', factor: pinch / d });
      pinch = d;
    }
  });
  el.addEventListener(
    'wheel',
    (e) => {
      e.preventDefault();
      send({ type: 'input', action: 'zoom', factor: Math.pow(0.9, -e.deltaY / 100) });
    },
    { passive: false },
  );
  el.addEventListener('keydown', (e) => {
    const step = 0.08;
    const actions = {
      ArrowLeft: { action: 'rotate', dx: step, dy: 0 },
      ArrowRight: { action: 'rotate', dx: -step, dy: 0 },
      ArrowUp: { action: 'rotate', dx: 0, dy: step },
      ArrowDown: { action: 'rotate', dx: 0, dy: -step },
      '+': { action: 'zoom', factor: 0.9 },
      '=': { action: 'zoom', factor: 0.9 },
      '-': { action: 'zoom', factor: 1 / 0.9 },
      ' ': { action: 'toggleAutoRotate' },
    };
    const action = actions[e.key];
    if (action) {
      e.preventDefault();
      send({ type: 'input', ...action });
    } else if (e.key === 'k' || e.key === 'p') {
      e.preventDefault();
      setPaused(!page.paused);
    }
  });
}

function sendSize() {
  const { width, height } = cssSize();
  send({ type: 'resize', width, height, dpr: window.devicePixelRatio || 1 });
}
new ResizeObserver(sendSize).observe(stage);
// devicePixelRatio changes (zoom, another monitor) without a resize of the stage.
(function watchDpr() {
  matchMedia(`(resolution: ${window.devicePixelRatio || 1}dppx)`).addEventListener(
    'change',
    () => {
      sendSize();
      watchDpr();
    },
    { once: true },
  );
})();

document.addEventListener('visibilitychange', () => {
  send({ type: 'visibility', hidden: document.hidden });
  if (document.hidden) telemetry.flush();
});

matchMedia('(prefers-reduced-motion: reduce)').addEventListener('change', (e) => {
  reducedMotion = e.matches;
  send({ type: 'reducedMotion', on: e.matches });
});

// Telemetry: batches (from the runtime, about once a second) over a WebSocket to the
// own origin, reconnecting with exponential backoff, buffering a bounded number of
// batches meanwhile, and a last flush with sendBeacon when the page goes away.
const telemetry = (() => {
  const MAX_BUFFERED = 30;
  const MAX_ERRORS = 16;
  const session = crypto.randomUUID ? crypto.randomUUID() : String(Math.random()).slice(2);
  const queue = [];
  const errors = [];
  const vitals = {};
  let socket = null;
  let backoff = 1000;
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

  function message(frames) {
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

  function enqueue(text) {
    queue.push(text);
    if (queue.length > MAX_BUFFERED) queue.splice(0, queue.length - MAX_BUFFERED);
    send();
  }

  function flush() {
    if (errors.length) enqueue(message(null));
    while (queue.length) {
      if (!navigator.sendBeacon('/telemetry/beacon', queue[0])) break;
      queue.shift();
    }
  }

  addEventListener('pagehide', flush);
  // Errors before (or without) frames still go out.
  setInterval(() => {
    if (started && errors.length) enqueue(message(null));
  }, 5000);
  return {
    start() {
      if (started) return;
      started = true;
      connect();
    },
    push(frames) {
      enqueue(message(frames));
    },
    error(entry) {
      errors.push({ kind: entry.kind, message: entry.message });
      if (errors.length > MAX_ERRORS) errors.shift();
    },
    flush,
  };
})();

async function main() {
  hints = readHints();
  if (reducedMotion && hints.still === undefined) page.paused = true;
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

attachInput(canvas);
main();
