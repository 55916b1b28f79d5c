// Telemetry end to end (issue 11): the real page (WebGL2 on SwiftShader, in its
// Worker) reports to the real server for a while, and the server's numbers, read from
// its private metrics listener (`/metrics`, `/api/stats`), must be the page's:
// - the frames the server counted are the frames of the batches it acknowledged to the
//   page (counted on the page side);
// - memory and every CPU phase arrive;
// - batches queued while the server could not be reached (more than the connection's
//   burst) are paced at its rate: none refused, none lost;
// - a page hidden for 70 s (longer than the server's 60 s idle timeout, which closes
//   the socket meanwhile) and shown again loses no batch: no dropped batch, every `seq`
//   acknowledged, no frame as long as the hidden time.

import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Q, WEBGL_FLAGS, launch, metricsUrl, open, outDir, useServer, waitRunning } from './common.mjs';

useServer();

const HIDDEN_MS = 70000;
const PHASES = ['update', 'cull', 'lod', 'bucket', 'upload', 'encode', 'submit'];

/** `/metrics` as a list of samples {name, labels, value}. */
async function scrape() {
  const text = await (await fetch(`${metricsUrl}/metrics`)).text();
  const samples = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] || '').matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    samples.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum of a metric over the series whose labels include `labels`. */
function total(samples, name, labels = {}) {
  return samples
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

async function setHidden(page, hidden) {
  await page.evaluate((h) => {
    if (h) {
      Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
      Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    } else {
      delete document.hidden;
      delete document.visibilityState;
    }
    document.dispatchEvent(new Event('visibilitychange'));
  }, hidden);
}

const telemetryOf = (page) => page.evaluate(() => ({ ...window.candlefish.telemetry, pending: window.candlefish.telemetryPending() }));

async function waitDelivered(page, timeout = 30000) {
  await page.waitForFunction(() => window.candlefish.telemetryPending() === 0, null, { timeout, polling: 100 });
}

describe('telemetry end to end (WebGL2, SwiftShader)', () => {
  let browser;
  before(async () => {
    browser = await launch(WEBGL_FLAGS);
  });
  after(async () => browser?.close());

  test('the server counts what the page sent, through a burst and a 70 s hidden tab', { timeout: 240000 }, async () => {
    const start = await scrape();
    const { page, problems, context } = await open(browser, `/${Q}`);
    // The messages as they leave the page (an example for the record).
    const messages = [];
    page.on('websocket', (ws) => ws.on('framesent', (f) => messages.length < 1000 && messages.push(String(f.payload))));
    await waitRunning(page, 2);
    assert.equal(await page.evaluate(() => window.candlefish.mode), 'webgl');
    await page.waitForTimeout(10000);

    // The server out of reach while batches pile up (ten a second, for the test):
    // more than the connection's burst must wait at reconnection.
    await page.evaluate(() => window.candlefish.testTelemetry({ offline: true, everyMs: 100 }));
    await page.waitForFunction(() => window.candlefish.telemetryPending() >= 30, null, { timeout: 30000, polling: 50 });
    // Read the queue and reconnect in one step: batches made after this (one a second)
    // are delivered too, so at least `queued` are acknowledged.
    const beforeBurst = await page.evaluate(() => {
      const before = { ...window.candlefish.telemetry, pending: window.candlefish.telemetryPending() };
      window.candlefish.testTelemetry({ offline: false, everyMs: 1000 });
      return before;
    });
    await waitDelivered(page);
    const afterBurst = await telemetryOf(page);
    const burst = {
      queued: beforeBurst.pending,
      sent: afterBurst.sent - beforeBurst.sent,
      acked: afterBurst.acked - beforeBurst.acked,
      retried: afterBurst.retried - beforeBurst.retried,
      refused: afterBurst.refused - beforeBurst.refused,
      dropped: afterBurst.dropped - beforeBurst.dropped,
    };

    // Hidden for longer than the server's idle timeout, then shown again.
    await setHidden(page, true);
    await page.waitForTimeout(HIDDEN_MS);
    await setHidden(page, false);
    await page.waitForTimeout(5000);
    // Hidden again: no more frames; the page's next request takes the last batch.
    await setHidden(page, true);
    await page.waitForTimeout(2500);
    await waitDelivered(page);
    const sent = await telemetryOf(page);

    // Memory is observed once per session window, when it closes (60 s, aligned).
    let end;
    const deadline = Date.now() + 90000;
    for (;;) {
      end = await scrape();
      if (total(end, 'candlefish_memory_usage_bytes_count') > total(start, 'candlefish_memory_usage_bytes_count') || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const stats = await (await fetch(`${metricsUrl}/api/stats`)).json();
    const delta = (name, labels) => total(end, name, labels) - total(start, name, labels);
    const series = stats.series.filter((s) => s.mode === 'webgl' && s.preset === 'performance');
    const result = {
      page: sent,
      burst,
      server: {
        frames: delta('candlefish_frame_time_seconds_count'),
        samples: delta('candlefish_telemetry_samples_total'),
        capped: delta('candlefish_telemetry_frames_capped_total'),
        accepted: delta('candlefish_telemetry_messages_total', { result: 'accepted' }),
        duplicate: delta('candlefish_telemetry_messages_total', { result: 'duplicate' }),
        rejected: delta('candlefish_telemetry_messages_total', { result: 'rejected' }),
        rateLimited: delta('candlefish_telemetry_rejections_total', { reason: 'rate_limited' }),
        idleTimeouts: delta('candlefish_telemetry_rejections_total', { reason: 'idle_timeout' }),
        droppedBatches: delta('candlefish_client_dropped_batches_total'),
        memoryWindows: delta('candlefish_memory_usage_bytes_count'),
        memoryBytes: delta('candlefish_memory_usage_bytes_sum'),
        phases: Object.fromEntries(PHASES.map((p) => [p, delta('candlefish_cpu_phase_seconds_count', { phase: p })])),
        sessions: delta('candlefish_sessions_total'),
      },
      apiStats: series,
      example: messages.find((m) => m.includes('"memory_bytes"') && m.includes('"load_ms"')) || messages[0],
    };
    writeFileSync(join(outDir, 'telemetry-e2e.json'), JSON.stringify(result, null, 2));

    // Frames: what the server counted is what the acknowledged batches carried.
    assert.ok(sent.framesAcked > 20, `too few frames to judge: ${JSON.stringify(result)}`);
    assert.equal(result.server.frames, sent.framesAcked, `frames counted vs sent: ${JSON.stringify(result)}`);
    assert.equal(result.server.samples, sent.framesAcked);
    assert.equal(result.server.capped, 0);
    assert.equal(series.length, 1, `one series: ${JSON.stringify(stats.series)}`);
    assert.equal(series[0].samples, sent.framesAcked, '/api/stats counts the same frames');

    // Nothing lost: no batch dropped or refused, every seq of the session acknowledged
    // once, each message accepted once by the server.
    assert.equal(sent.dropped, 0);
    assert.equal(sent.refused, 0);
    assert.equal(result.server.droppedBatches, 0, 'a batch reported dropped');
    assert.equal(result.server.rejected, 0, `rejected messages: ${JSON.stringify(result.server)}`);
    const seqs = [...sent.seqsAcked].sort((a, b) => a - b);
    assert.deepEqual(
      seqs,
      seqs.map((_, i) => i + 1),
      `every seq from 1, once: ${seqs}`,
    );
    assert.equal(result.server.accepted + result.server.duplicate, sent.acked);
    assert.equal(result.server.accepted, seqs.length);

    // The burst: paced at the connection's rate, none refused for the rate, none lost.
    assert.ok(burst.queued > 20, `the burst must exceed the connection's: ${JSON.stringify(burst)}`);
    assert.ok(burst.acked >= burst.queued, `burst: ${JSON.stringify(burst)}`);
    assert.equal(burst.acked, burst.sent, `burst: ${JSON.stringify(burst)}`);
    assert.equal(burst.refused + burst.dropped, 0, `burst: ${JSON.stringify(burst)}`);
    assert.equal(burst.retried, 0, `burst: ${JSON.stringify(burst)}`);
    assert.equal(result.server.rateLimited, 0);

    // The hidden tab: the server closed the idle socket, the page came back without a
    // loss, and no frame spans the hidden time.
    assert.ok(result.server.idleTimeouts >= 1, 'the hidden page outlived the idle timeout');
    assert.ok(series[0].max_ms < HIDDEN_MS / 2, `a frame of ${series[0].max_ms} ms was counted`);

    // Memory and every phase arrived.
    assert.ok(result.server.memoryWindows >= 1 && result.server.memoryBytes > 1e6, `memory: ${JSON.stringify(result.server)}`);
    for (const p of PHASES) assert.ok(result.server.phases[p] > 0, `phase ${p} missing: ${JSON.stringify(result.server.phases)}`);
    assert.equal(result.server.sessions, 1);

    assert.deepEqual(problems, []);
    await context.close();
  });
});
