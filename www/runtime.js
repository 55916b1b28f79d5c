// Candlefish runtime host: runs the wasm runtime (motion, culling, LOD, planning, GPU
// submission, timings, the frame governor) and its frame loop. It runs in a dedicated
// module Worker, drawing into an OffscreenCanvas the page transferred to it, so the
// page's main thread keeps only the page; where a browser cannot do that, the loader
// imports this same module and runs the host on the main thread.
//
// Messages in (from the loader): start, resize, input, visibility, pause, reducedMotion,
// telemetry, testPanic, stop. Messages out: started, frame, stats, step, telemetry,
// error, lost, panic. The loader owns the page (status, errors, the overlay, telemetry's
// queue and socket).
//
// Telemetry: the runtime builds each `frames` message itself (the protocol crate's
// batch builder: one sample per frame, governor steps, memory, load times, vitals,
// errors, dropped batches). The page asks for the finished batches about once a second
// (a `telemetry` request, which also hands over what only the page knows) and the host
// answers with them. Before this runtime stops for good (a lost device, the hand-over
// to Canvas 2D or to the paused frame) it sends its last batches and takes no more
// requests, so a runtime started after it can continue the session's numbering.

const STATS_EVERY_MS = 250;

export function createHost(post) {
  let module = null;
  let runtime = null;
  let raf = 0;
  let running = false;
  let hidden = false;
  let paused = false;
  let lastStats = 0;
  let firstFrame = true;
  // This runtime sent its last batches: requests get nothing (the page sends what they
  // carried with the next runtime, or itself).
  let final = false;
  // The wasm module's linear memory (the runtime's heap).
  let wasmMemory = null;
  // The page's clock (ms since its navigation start), where load times are measured.
  let pageOrigin = performance.timeOrigin;
  const pageNow = () => performance.timeOrigin + performance.now() - pageOrigin;
  let thread = 'main';
  let lastTick = 0;
  let intervals = [];
  let canvas = null;

  const hasRaf = typeof requestAnimationFrame === 'function';
  const schedule = (fn) => (hasRaf ? requestAnimationFrame(fn) : setTimeout(() => fn(performance.now()), 16));
  const unschedule = (id) => (hasRaf ? cancelAnimationFrame(id) : clearTimeout(id));

  function loop() {
    if (!raf && running && runtime && !hidden && !paused) raf = schedule(tick);
  }

  // The next interval starts after a pause or a hidden tab, not before it.
  function restartClock() {
    lastTick = 0;
  }

  function stop() {
    if (raf) unschedule(raf);
    raf = 0;
  }

  function sendStats(now) {
    lastStats = now;
    post({ type: 'stats', stats: JSON.parse(runtime.stats()), intervals });
    intervals = [];
  }

  function takeBatches() {
    const text = runtime && !final ? runtime.telemetryBatches() : undefined;
    return text ? text.split('\n') : [];
  }

  // The last batches of this runtime, before it stops for good.
  function sendFinal() {
    if (final) return;
    let batches = [];
    try {
      batches = takeBatches();
    } catch {
      // A runtime that cannot answer any more has nothing to send.
    }
    final = true;
    post({ type: 'telemetry', batches });
  }

  // The page's request: hand over what it knows, answer with the finished batches.
  // `taken: false` tells the page its errors and dropped count did not reach a runtime.
  function telemetry(m) {
    if (!runtime || final) {
      post({ type: 'telemetry', id: m.id, taken: false, batches: [] });
      return;
    }
    for (const e of m.errors || []) runtime.addError(e.kind, e.message);
    if (m.dropped > 0) runtime.addDroppedBatches(m.dropped);
    const wasm = wasmMemory?.buffer.byteLength || 0;
    runtime.setMemory(wasm + (m.jsHeap || 0));
    const l = m.load || {};
    runtime.setLoad(l.fetch, l.compile, l.init, l.firstFrame);
    const v = m.vitals || {};
    runtime.setVitals(v.lcp_ms, v.inp_ms, v.cls, v.ttfb_ms);
    post({ type: 'telemetry', id: m.id, taken: true, batches: takeBatches() });
  }

  function tick(now) {
    raf = 0;
    if (!runtime || !running) return;
    const lost = runtime.deviceLost();
    if (lost) {
      running = false;
      sendFinal();
      post({ type: 'lost', reason: lost });
      return;
    }
    let step;
    try {
      step = runtime.frame(now);
    } catch (e) {
      running = false;
      sendFinal();
      post({ type: 'lost', reason: e?.message || String(e) });
      return;
    }
    if (firstFrame) {
      firstFrame = false;
      post({ type: 'frame', first: true, at: pageNow() });
    }
    if (lastTick && intervals.length < 1000) intervals.push(now - lastTick);
    lastTick = now;
    if (step) {
      const parsed = JSON.parse(step);
      // Canvas 2D needs the page (a fresh canvas) and another runtime: this one stops
      // and sends its last batches first.
      const handOver = parsed.toKind === 'canvas' && parsed.fromKind === 'gpu';
      if (handOver) sendFinal();
      post({ type: 'step', step: parsed });
      // Canvas 2D and the paused frame need the page (a Play button): this runtime
      // stops drawing and the loader takes over.
      if (handOver || parsed.toKind === 'paused') {
        running = false;
        sendStats(now);
        return;
      }
    }
    if (now - lastStats >= STATS_EVERY_MS) sendStats(now);
    loop();
  }

  async function start(m) {
    thread = m.thread;
    canvas = m.canvas;
    pageOrigin = m.timeOrigin || performance.timeOrigin;
    module = await import(m.bundle.js);
    // The init function resolves to the instance's exports: `memory` is the runtime's
    // linear memory.
    const exports = await module.default({ module_or_path: m.bundle.wasm });
    wasmMemory = exports?.memory || null;
    const compiledAt = Math.round(pageNow());
    module.installPanicHook((message) => {
      stop();
      running = false;
      runtime = null;
      post({ type: 'panic', message });
    });
    const options = {
      preset: m.preset,
      fish: m.fish,
      software: m.software,
      presetForced: m.presetForced,
      governor: m.governor,
      rung: m.rung,
      reducedMotion: m.reducedMotion,
      still: m.still,
      cssWidth: m.css.width,
      cssHeight: m.css.height,
      dpr: m.dpr,
      thread,
      release: m.release,
      session: m.session,
      nextSeq: m.nextSeq,
    };
    const pack = new Uint8Array(m.pack);
    if (m.mode === 'canvas') runtime = module.startCanvas(m.canvas, pack, options);
    else if (m.mode === 'null') runtime = module.startNull(m.canvas, pack, options);
    else runtime = await module.startGpu(m.canvas, pack, options);
    // A still frame is drawn once: nothing moves, so nothing is redrawn.
    paused = Boolean(m.paused) || m.still !== undefined;
    hidden = Boolean(m.hidden);
    if (paused) runtime.setPaused(true, performance.now());
    if (hidden) runtime.setHidden(true, performance.now());
    running = true;
    const stats = JSON.parse(runtime.stats());
    post({ type: 'started', mode: stats.mode, thread, compiledAt, startedAt: Math.round(pageNow()), stats });
    if (paused || m.still !== undefined) {
      // One still frame: a paused page still shows the scene.
      runtime.frame(performance.now());
      post({ type: 'frame', first: true, at: pageNow() });
      firstFrame = false;
      sendStats(performance.now());
    }
    loop();
  }

  function input(m) {
    if (!runtime) return;
    switch (m.action) {
      case 'rotate':
        runtime.rotate(m.dx, m.dy);
        break;
      case 'zoom':
        runtime.zoom(m.factor);
        break;
      case 'autoRotate':
        runtime.setAutoRotate(m.on);
        break;
      case 'toggleAutoRotate':
        runtime.setAutoRotate(!JSON.parse(runtime.stats()).autoRotate);
        break;
      default:
        return;
    }
    // A paused page still answers the camera: draw one frame.
    if (paused && running) runtime.frame(performance.now());
    sendStats(performance.now());
  }

  // For the browser tests: loses the WebGL2 context where it lives (here), and restores
  // it after a few frames when asked. Reports each event.
  async function loseContext(restore) {
    const ext = canvas?.getContext('webgl2')?.getExtension('WEBGL_lose_context');
    if (!ext) {
      post({ type: 'test', event: 'unsupported' });
      return;
    }
    const once = (type) =>
      new Promise((resolve) => canvas.addEventListener(type, resolve, { once: true }));
    const lost = once('webglcontextlost');
    ext.loseContext();
    await lost;
    post({ type: 'test', event: 'lost' });
    if (!restore) return;
    await new Promise((resolve) => setTimeout(resolve, 300));
    const restored = once('webglcontextrestored');
    ext.restoreContext();
    await restored;
    post({ type: 'test', event: 'restored' });
  }

  return {
    async handle(m) {
      try {
        switch (m.type) {
          case 'start':
            await start(m);
            break;
          case 'resize':
            runtime?.resize(m.width, m.height, m.dpr);
            if (runtime && paused && running) runtime.frame(performance.now());
            break;
          case 'input':
            input(m);
            break;
          case 'visibility':
            hidden = m.hidden;
            runtime?.setHidden(hidden, performance.now());
            restartClock();
            if (hidden) stop();
            else loop();
            break;
          case 'pause': {
            paused = m.paused;
            restartClock();
            const step = runtime?.setPaused(paused, performance.now());
            if (step) post({ type: 'step', step: JSON.parse(step) });
            if (paused) stop();
            else {
              // Play also leaves the governor's paused rung.
              if (runtime) running = true;
              loop();
            }
            if (runtime) sendStats(performance.now());
            break;
          }
          case 'reducedMotion':
            runtime?.setAutoRotate(!m.on);
            break;
          case 'telemetry':
            telemetry(m);
            break;
          case 'testPanic':
            module?.testPanic();
            break;
          case 'testLoad':
            runtime?.setTestLoad(m.nsPerTriangle);
            break;
          case 'testLoseContext':
            await loseContext(m.restore);
            break;
          case 'stop':
            stop();
            running = false;
            runtime?.free();
            runtime = null;
            break;
          default:
            break;
        }
      } catch (e) {
        const message = e?.message || String(e);
        if (m.type === 'start') post({ type: 'error', phase: 'start', message });
        else {
          if (m.type === 'telemetry') post({ type: 'telemetry', id: m.id, taken: false, batches: [] });
          sendFinal();
          post({ type: 'lost', reason: message });
        }
      }
    },
  };
}

// In a dedicated Worker: serve the page over postMessage.
if (typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope) {
  const host = createHost((message, transfer) => globalThis.postMessage(message, transfer || []));
  globalThis.onmessage = (e) => host.handle(e.data);
}
