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
  // No runtime will run: the page sends its errors itself.
  telemetry.start();
  telemetry.flush();
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

function recordError(kind, message) {
  const entry = { kind, message: telemetry.cleanText(message, 512), at: Math.round(performance.now()) };
  page.errors.push(entry);
  telemetry.error(kind, entry.message);
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
  const wasm = await download(files.wasm, 'the renderer');
  // Load times are ms since navigation start, the session's first of each.
  page.timings.fetch ??= Math.round(performance.now());
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
  stopHost();
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
    // Telemetry: one session for every runtime of this page, numbered on.
    release: telemetry.release,
    session: telemetry.session,
    nextSeq: telemetry.nextSeq(),
    timeOrigin: performance.timeOrigin,
  };
  const started = new Promise((resolve, reject) => {
    pendingStart = { resolve, reject, host };
  });
  host.send(message, inWorker ? [target] : []);
  return started;
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
  stopHost();
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

// Stops the current host; what its unanswered telemetry requests carried goes back to
// the page.
function stopHost() {
  if (!host) return;
  telemetry.abandon(host);
  host.stop();
  host = null;
}

function onHostMessage(from, m) {
  // A runtime's batches are delivered even when it is no longer the current one.
  if (m.type === 'telemetry') {
    telemetry.onBatches(m);
    return;
  }
  if (from !== host) return;
  switch (m.type) {
    case 'started':
      page.timings.compile ??= m.compiledAt;
      page.timings.init ??= m.startedAt;
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
        page.timings.firstFrame = Math.round(Number.isFinite(m.at) ? m.at : performance.now());
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
  stopHost();
  recordError('panic', message);
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

// Telemetry (server/PROTOCOL.md, "Notices and delivery"). The runtime builds every
// `frames` message; the page asks its host for them about once a second, handing over
// what only the page knows (errors, dropped batches, the JS heap, load times, vitals),
// and delivers them as the protocol's client-side queue says:
// - every batch is kept until the server acknowledges it; at most `msg_burst` are
//   unacknowledged, paced below `msg_burst` at `msg_rate` (both from the `welcome`
//   notice), with the server's bucket bounded from the acknowledgements;
// - `refused` with `rate_limited`: the batch goes back to the front and is sent again
//   after `retry_after_ms`; any other refusal: dropped and counted;
// - a lost connection: reconnect with capped exponential backoff and jitter (only while
//   something waits), and send the unacknowledged batches again, in order;
// - a full queue drops its oldest batch; every dropped batch is reported in the next
//   batch's `dropped_batches` (the runtime's, or the page's own when no runtime runs);
// - on `pagehide` what is left goes out as beacons, and what cannot be sent is kept in
//   localStorage for the next page view (bounded), counted as dropped only if it
//   cannot be kept.
// Errors before any runtime runs reach the next one that starts; if none does, the page
// sends them in a minimal `frames` message of its own (same release, session, `seq`).
const telemetry = (() => {
  const EVERY_MS = 1000;
  // Batches held, queued or unacknowledged (two minutes of batches).
  const MAX_HELD = 120;
  // The protocol's caps (protocol/src/limits.rs; protocol/tests/loader_limits.rs checks
  // that these match): errors per message, characters per error message, the dropped
  // count. Errors kept waiting for a runtime are the page's own cap.
  const MAX_ERRORS = 16;
  const MAX_ERROR_CHARS = 512;
  const MAX_DROPPED_BATCHES = 1000000;
  const MAX_PENDING_ERRORS = 64;
  // Until the `welcome` says otherwise: the server's defaults.
  const DEFAULT_RATE = 10;
  const DEFAULT_BURST = 20;
  // Pacing below the server's limit (as the native client, app/src/telemetry.rs). The
  // server's limit is a GCRA bucket over the times it reads messages, which can be later
  // and closer together than the sends; the page bounds it from the acknowledgements
  // (`tat`), paces at 90% of the rate and keeps two of its tokens in reserve.
  const RATE_MARGIN = 0.9;
  const TOKEN_MARGIN = 2;
  const interval = () => 1000 / (rate * RATE_MARGIN);
  const tolerance = () => (Math.max(1, burst - TOKEN_MARGIN) - 1) * interval();
  const MAX_BACKOFF_MS = 30000;
  const OUTBOX = 'candlefish-telemetry-outbox';
  const OUTBOX_MAX = 32;
  const OUTBOX_MAX_CHARS = 256 * 1024;
  const release = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$/.test(manifest.release || '') ? manifest.release : 'dev';
  const session = crypto.randomUUID ? crypto.randomUUID() : `s${Date.now().toString(36)}${Math.random().toString(36).slice(2)}`;
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/telemetry`;

  // Not yet sent on the current socket, oldest first: {text, session, seq, frames,
  // dropped, order}. Sent and unacknowledged: {n, entry}, in the order sent.
  let queue = [];
  let inFlight = [];
  let order = 0;
  let socket = null;
  let ready = false;
  let rate = DEFAULT_RATE;
  let burst = DEFAULT_BURST;
  // An upper bound of the server's theoretical arrival time for this connection: each
  // acknowledged message counted when its acknowledgement arrived (the server read it
  // before).
  let tat = 0;
  let welcomedAt = 0;
  let numbered = 0;
  let resumeAt = 0;
  let backoff = 500;
  let retryTimer = 0;
  let pumpTimer = 0;
  let everyMs = EVERY_MS;
  let offline = false;
  // Delivery starts with the first runtime, or when the page gives up on one.
  let started = false;
  // The next `seq` of this session (a runtime started later continues from it).
  let nextSeq = 1;
  let pendingErrors = [];
  let pendingDropped = 0;
  let requestId = 0;
  const requests = new Map();
  const vitals = {};
  let heapBytes;
  // For the browser tests: what was sent, acknowledged, refused, dropped, and the
  // frames the acknowledged batches of this session carried.
  const stats = { session, sent: 0, acked: 0, retried: 0, resent: 0, refused: 0, dropped: 0, beacons: 0, stored: 0, connects: 0, framesAcked: 0, seqsAcked: [], refusals: [] };

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

  // The JS heap: every agent of the page (its Worker too) where the page is
  // cross-origin isolated, else the main thread's heap (Chromium). The host adds the
  // wasm linear memory.
  async function measureHeap() {
    if (globalThis.crossOriginIsolated && performance.measureUserAgentSpecificMemory) {
      try {
        heapBytes = (await performance.measureUserAgentSpecificMemory()).bytes;
      } catch {
        heapBytes = undefined;
      }
    } else {
      heapBytes = performance.memory?.usedJSHeapSize;
    }
    // The measurement waits for a garbage collection: one every 10 s is plenty.
    setTimeout(measureHeap, 10000);
  }

  function frameCount(m) {
    if (Array.isArray(m.frame_ms)) return m.frame_ms.length;
    return (m.frame_hist?.counts || []).reduce((a, b) => a + b, 0);
  }

  function entryOf(text) {
    let m;
    try {
      m = JSON.parse(text);
    } catch {
      return null;
    }
    return { text, session: m.session, seq: m.seq, frames: frameCount(m), dropped: m.dropped_batches || 0, order: ++order };
  }

  // A batch dropped for good: counted, with the drops it was carrying, and reported in
  // the next batch.
  function drop(entry) {
    stats.dropped += 1;
    pendingDropped = Math.min(MAX_DROPPED_BATCHES, pendingDropped + 1 + entry.dropped);
  }

  function push(entry) {
    if (entry.session === session && entry.seq >= nextSeq) nextSeq = entry.seq + 1;
    queue.push(entry);
    while (queue.length && queue.length + inFlight.length > MAX_HELD) drop(queue.shift());
    pump();
  }

  function sortQueue() {
    queue.sort((a, b) => a.order - b.order);
  }

  function connect() {
    if (socket || retryTimer || offline || !started || !queue.length) return;
    let ws;
    try {
      ws = new WebSocket(url);
    } catch {
      retry();
      return;
    }
    socket = ws;
    ready = false;
    numbered = 0;
    ws.onmessage = (e) => {
      if (socket === ws) onNotice(e.data);
    };
    ws.onclose = () => {
      if (socket !== ws) return;
      lost();
      retry();
    };
  }

  // The connection is gone: what it did not acknowledge is sent again, in order.
  function lost() {
    socket = null;
    ready = false;
    stats.resent += inFlight.length;
    queue.push(...inFlight.map((f) => f.entry));
    inFlight = [];
    sortQueue();
  }

  function retry() {
    if (retryTimer || !queue.length) return;
    const delay = backoff * (1 + 0.3 * Math.random());
    backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    retryTimer = setTimeout(() => {
      retryTimer = 0;
      connect();
    }, delay);
  }

  function onNotice(text) {
    let n;
    try {
      n = JSON.parse(text);
    } catch {
      return;
    }
    if (n.type === 'welcome') {
      rate = n.msg_rate > 0 ? n.msg_rate : DEFAULT_RATE;
      burst = Math.max(1, Math.floor(n.msg_burst) || DEFAULT_BURST);
      // The server's bucket is full when the connection opens.
      tat = performance.now();
      welcomedAt = tat;
      ready = true;
      backoff = 500;
      stats.connects += 1;
    } else if (n.type === 'ack') {
      const at = performance.now();
      while (inFlight.length && inFlight[0].n <= n.n) {
        const { entry } = inFlight.shift();
        tat = Math.max(tat, at) + interval();
        stats.acked += 1;
        if (entry.session === session) {
          stats.framesAcked += entry.frames;
          stats.seqsAcked.push(entry.seq);
        }
      }
    } else if (n.type === 'refused') {
      const i = inFlight.findIndex((f) => f.n === n.n);
      if (i < 0) return;
      const [{ entry }] = inFlight.splice(i, 1);
      if (n.reason === 'rate_limited') {
        // Refused for now: back to the front, after a pause.
        stats.retried += 1;
        // What the page saw when the server refused (for the tests and for debugging).
        if (stats.refusals.length < 16) stats.refusals.push({ n: n.n, retryAfterMs: n.retry_after_ms, sinceWelcomeMs: Math.round(performance.now() - welcomedAt), inFlight: inFlight.length, tatAheadMs: Math.round(tat - performance.now()), sent: numbered });
        queue.push(entry);
        sortQueue();
        resumeAt = Math.max(resumeAt, performance.now() + (n.retry_after_ms ?? 1000));
      } else {
        // It can never pass (the server closes the socket after it).
        stats.refused += 1;
        drop(entry);
      }
    }
    pump();
  }

  // Sends what the rate limit allows.
  function pump() {
    clearTimeout(pumpTimer);
    pumpTimer = 0;
    if (!socket) {
      connect();
      return;
    }
    if (!ready || socket.readyState !== WebSocket.OPEN || !queue.length) return;
    const now = performance.now();
    if (now < resumeAt) {
      pumpTimer = setTimeout(pump, resumeAt - now);
      return;
    }
    // A message sent now is read no earlier than now, after the unacknowledged ones,
    // each of which moves the server's `tat` by at most one interval past that time.
    const sendAt = () => tat + inFlight.length * interval() - tolerance();
    const room = () => inFlight.length < burst && inFlight.length * interval() <= tolerance();
    while (queue.length && room() && sendAt() <= now) {
      const entry = queue.shift();
      socket.send(entry.text);
      inFlight.push({ n: ++numbered, entry });
      stats.sent += 1;
    }
    // Waiting for time to pass (or, with no room, for an acknowledgement, which calls
    // again).
    if (queue.length && room()) pumpTimer = setTimeout(pump, sendAt() - now + 1);
  }

  // Strings as the validator wants them: no control characters, no lone surrogate
  // (JSON.stringify would write it as an escape the server cannot read), at most `max`
  // characters, cut between code points, never inside a surrogate pair.
  function cleanText(text, max) {
    const s = String(text).replace(/[\u0000-\u001f\u007f-\u009f]/g, ' ');
    const well = s.toWellFormed ? s.toWellFormed() : s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
    return Array.from(well).slice(0, max).join('');
  }

  function loadTimes() {
    const t = page.timings;
    return { fetch: t.fetch, compile: t.compile, init: t.init, firstFrame: t.firstFrame };
  }

  // Asks the host for its finished batches, handing over what only the page knows.
  function request() {
    if (!host || page.mode === 'null' || !started) return;
    const id = ++requestId;
    const errors = pendingErrors.splice(0, MAX_ERRORS);
    const dropped = pendingDropped;
    pendingDropped = 0;
    requests.set(id, { host, errors, dropped });
    const cls = vitals.cls !== undefined ? Math.round(vitals.cls * 10000) / 10000 : undefined;
    host.send({ type: 'telemetry', id, errors, dropped, jsHeap: heapBytes, load: loadTimes(), vitals: { ...vitals, cls } });
  }

  // What a request handed over goes back to the page: to the next runtime, or to the
  // page's own message.
  function giveBack(r) {
    pendingErrors = [...r.errors, ...pendingErrors].slice(0, MAX_PENDING_ERRORS);
    pendingDropped = Math.min(MAX_DROPPED_BATCHES, pendingDropped + r.dropped);
  }

  // When no runtime runs (none could start, or it crashed): the page's own minimal
  // `frames` messages carry the errors and dropped batches.
  function sendOwn() {
    if (!pendingErrors.length && !pendingDropped) return;
    do {
      // The mode that ran, or the first one tried, or the first one the page would try.
      const tried = [page.mode, ...page.attempts.map((a) => a.mode), ...(hints ? initialOrder(hints) : [])];
      const mode = tried.find((m) => MODES.includes(m)) || 'canvas';
      const preset = mode === 'canvas' ? 'canvas' : PRESETS.includes(page.preset) ? page.preset : hints?.preset || 'quality';
      const message = { type: 'frames', v: 1, release, session, seq: nextSeq, mode, preset, adapter: '', errors: pendingErrors.splice(0, MAX_ERRORS) };
      if (pendingDropped) message.dropped_batches = pendingDropped;
      pendingDropped = 0;
      const entry = entryOf(JSON.stringify(message));
      if (entry) push(entry);
    } while (pendingErrors.length);
  }

  function runtimeRuns() {
    return host && (page.state === 'running' || page.state === 'paused' || page.state === 'switching' || page.state === 'recovering');
  }

  // Takes the runtime's batches, or, when no runtime will run, sends the page's own.
  function flush() {
    if (runtimeRuns()) request();
    else if (started && (page.state === 'error' || page.state === 'crashed')) sendOwn();
  }

  function tick() {
    flush();
    setTimeout(tick, everyMs);
  }

  // Keeps what could not be sent for the next page view (bounded); counts what it
  // cannot keep.
  function keep(entries) {
    let stored = { dropped: 0, messages: [] };
    try {
      stored = JSON.parse(localStorage.getItem(OUTBOX) || 'null') || stored;
    } catch {
      // A corrupt outbox is replaced.
    }
    let messages = [...(stored.messages || []), ...entries.map((e) => e.text)];
    let dropped = (stored.dropped || 0) + pendingDropped;
    pendingDropped = 0;
    while (messages.length > OUTBOX_MAX || messages.reduce((n, t) => n + t.length, 0) > OUTBOX_MAX_CHARS) {
      messages.shift();
      dropped += 1;
      stats.dropped += 1;
    }
    try {
      if (messages.length || dropped) localStorage.setItem(OUTBOX, JSON.stringify({ dropped, messages }));
      stats.stored += entries.length;
    } catch {
      stats.dropped += entries.length;
    }
  }

  function pagehide() {
    // The last batches (synchronous where the runtime runs on this thread).
    if (runtimeRuns()) request();
    else if (started || pendingErrors.length) sendOwn();
    const left = [...inFlight.map((f) => f.entry), ...queue].sort((a, b) => a.order - b.order);
    inFlight = [];
    queue = [];
    const unsent = [];
    for (const entry of left) {
      if (navigator.sendBeacon && navigator.sendBeacon('/telemetry/beacon', entry.text)) stats.beacons += 1;
      else unsent.push(entry);
    }
    if (unsent.length || pendingDropped) keep(unsent);
  }

  // What the previous page view could not send.
  function restore() {
    try {
      const stored = JSON.parse(localStorage.getItem(OUTBOX) || 'null');
      localStorage.removeItem(OUTBOX);
      if (!stored) return;
      pendingDropped += stored.dropped || 0;
      for (const text of stored.messages || []) {
        const entry = entryOf(text);
        if (entry) queue.push(entry);
      }
    } catch {
      // No storage: nothing was kept.
    }
  }

  restore();
  measureHeap();
  addEventListener('pagehide', pagehide);
  setTimeout(tick, everyMs);

  return {
    stats,
    // Starts delivery (the first runtime started, or the page gave up).
    start() {
      if (started) return;
      started = true;
      pump();
    },
    // The next `seq` of the session, for a runtime about to start.
    nextSeq: () => nextSeq,
    release,
    session,
    // A host's answer to a request (`id`), or its last batches (no `id`).
    onBatches(m) {
      const r = requests.get(m.id);
      requests.delete(m.id);
      if (r && !m.taken) giveBack(r);
      for (const text of m.batches || []) {
        const entry = entryOf(text);
        if (entry) push(entry);
      }
    },
    // `from` stopped: what its unanswered requests carried goes back to the page.
    abandon(from) {
      for (const [id, r] of requests) {
        if (r.host !== from) continue;
        requests.delete(id);
        giveBack(r);
      }
    },
    error(kind, message) {
      if (pendingErrors.length < MAX_PENDING_ERRORS) pendingErrors.push({ kind, message: cleanText(message, MAX_ERROR_CHARS) });
    },
    // Hidden, or given up: take the batches now.
    flush,
    // Batches held, queued or unacknowledged.
    pending: () => queue.length + inFlight.length,
    // For the browser tests: batches every `ms`, and a page that cannot connect.
    test(options) {
      if (options.everyMs) everyMs = options.everyMs;
      if (options.offline !== undefined) {
        offline = options.offline;
        if (offline && socket) {
          const s = socket;
          lost();
          s.close();
        }
        pump();
      }
    },
    cleanText,
  };
})();

page.telemetry = telemetry.stats;
page.telemetryPending = () => telemetry.pending();
page.testTelemetry = (options) => telemetry.test(options);

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
