//! GPU time per frame from timestamp queries, read back without ever stalling: a few
//! readback slots rotate, and a frame is simply not measured while all are busy.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

const SLOTS: usize = 3;
const IDLE: u8 = 0;
const SUBMITTED: u8 = 1;
const MAPPING: u8 = 2;
const MAPPED: u8 = 3;
const FAILED: u8 = 4;
/// Resolve offsets must be 256-byte aligned.
const RESOLVE_STRIDE: u64 = 256;

#[derive(Debug)]
struct Slot {
    buffer: wgpu::Buffer,
    state: Arc<AtomicU8>,
    frame: u64,
}

/// Measures the scene pass of each frame with two timestamps.
#[derive(Debug)]
pub struct GpuTimer {
    query_set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    slots: Vec<Slot>,
    period_ns: f32,
}

/// The timestamp slot a frame writes to.
#[derive(Debug)]
pub struct FrameTimestamps {
    slot: usize,
    query_set: wgpu::QuerySet,
}

impl FrameTimestamps {
    /// Timestamp writes for the frame's render pass.
    pub fn pass_writes(&self) -> wgpu::RenderPassTimestampWrites<'_> {
        wgpu::RenderPassTimestampWrites {
            query_set: &self.query_set,
            beginning_of_pass_write_index: Some(2 * self.slot as u32),
            end_of_pass_write_index: Some(2 * self.slot as u32 + 1),
        }
    }
}

impl GpuTimer {
    /// A timer, or `None` when the device has no timestamp queries.
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue) -> Option<Self> {
        if !device.features().contains(wgpu::Features::TIMESTAMP_QUERY) {
            return None;
        }
        let query_set = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("frame timestamps"),
            ty: wgpu::QueryType::Timestamp,
            count: 2 * SLOTS as u32,
        });
        let resolve = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("timestamp resolve"),
            size: RESOLVE_STRIDE * SLOTS as u64,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let slots = (0..SLOTS)
            .map(|_| Slot {
                buffer: device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some("timestamp readback"),
                    size: 16,
                    usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                    mapped_at_creation: false,
                }),
                state: Arc::new(AtomicU8::new(IDLE)),
                frame: 0,
            })
            .collect();
        Some(Self {
            query_set,
            resolve,
            slots,
            period_ns: queue.get_timestamp_period(),
        })
    }

    /// Claims a slot for `frame`, or `None` if every slot is still in flight.
    pub fn begin_frame(&mut self, frame: u64) -> Option<FrameTimestamps> {
        let slot = self
            .slots
            .iter()
            .position(|s| s.state.load(Ordering::Acquire) == IDLE)?;
        self.slots[slot].frame = frame;
        Some(FrameTimestamps {
            slot,
            query_set: self.query_set.clone(),
        })
    }

    /// Records the resolve and copy of the frame's timestamps.
    pub fn resolve(&mut self, encoder: &mut wgpu::CommandEncoder, ts: FrameTimestamps) {
        let q = 2 * ts.slot as u32;
        let offset = RESOLVE_STRIDE * ts.slot as u64;
        encoder.resolve_query_set(&self.query_set, q..q + 2, &self.resolve, offset);
        encoder.copy_buffer_to_buffer(&self.resolve, offset, &self.slots[ts.slot].buffer, 0, 16);
        self.slots[ts.slot]
            .state
            .store(SUBMITTED, Ordering::Release);
    }

    /// Starts mapping the slots whose commands were just submitted.
    pub fn after_submit(&mut self) {
        for slot in &self.slots {
            if slot.state.load(Ordering::Acquire) != SUBMITTED {
                continue;
            }
            slot.state.store(MAPPING, Ordering::Release);
            let state = slot.state.clone();
            slot.buffer
                .map_async(wgpu::MapMode::Read, .., move |result| {
                    state.store(
                        if result.is_ok() { MAPPED } else { FAILED },
                        Ordering::Release,
                    );
                });
        }
    }

    /// Results of slots that finished mapping: `(frame, gpu milliseconds)`.
    pub fn take_results(&mut self) -> Vec<(u64, f32)> {
        let mut out = Vec::new();
        self.drain_results(|frame, ms| out.push((frame, ms)));
        out
    }

    /// Hands each finished result to `f` (no allocation: the per-frame path).
    pub fn drain_results(&mut self, mut f: impl FnMut(u64, f32)) {
        for slot in &self.slots {
            match slot.state.load(Ordering::Acquire) {
                MAPPED => {
                    if let Ok(view) = slot.buffer.get_mapped_range(..) {
                        let stamps: [u64; 2] = bytemuck::pod_read_unaligned(&view[..16]);
                        drop(view);
                        let ticks = stamps[1].saturating_sub(stamps[0]);
                        f(slot.frame, ticks as f32 * self.period_ns / 1.0e6);
                    }
                    slot.buffer.unmap();
                    slot.state.store(IDLE, Ordering::Release);
                }
                FAILED => slot.state.store(IDLE, Ordering::Release),
                _ => {}
            }
        }
    }
}
