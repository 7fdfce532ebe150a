//! The event-driven core of the scheduler's simulator: in-order streams
//! ([`Timeline`]) whose operations wait on the operations they depend on
//! (events, as on a real device), and a byte ledger ([`Ledger`]) that replays
//! the device's allocations to predict its peak.
//!
//! Each operation belongs to a [`Stream`] (compute, swap-in, swap-out, CPU
//! optimizer), whose busy time it adds to, and runs on an [`Engine`] — the
//! thing that actually executes it. On a real device the three device
//! streams are three engines (the CUDA device, feature `cuda`); on the
//! [`CpuDevice`](crate::CpuDevice) the executor thread does compute, swap-in
//! and swap-out one after another, so they share one engine
//! ([`Engines::SerialDevice`]). The background
//! optimizer thread is always an engine of its own. An operation starts when
//! its engine is free and every dependency has ended.

use serde::Serialize;

use crate::device::{Stream, StreamBusy};

/// Which engines execute the device streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Engines {
    /// The CPU device as the executor runs it: compute, swap-in and
    /// swap-out on one thread, in program order.
    SerialDevice,
    /// A device with a compute stream and separate copy-in and copy-out
    /// streams that overlap (prefetch hidden behind compute).
    Overlapped,
}

/// What executes an operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Engine {
    /// The executor thread (and, overlapped, the compute stream).
    Executor,
    /// The host → device copy engine (overlapped only).
    CopyIn,
    /// The device → host copy engine (overlapped only).
    CopyOut,
    /// The background optimizer thread.
    Worker,
}

impl Engine {
    fn index(self) -> usize {
        self as usize
    }
}

/// Index of an operation in its [`Timeline`].
pub type OpId = usize;

/// One simulated operation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Op {
    /// The stream whose busy time it counts to.
    pub stream: Stream,
    /// The engine that ran it.
    pub engine: Engine,
    /// Start (seconds from the beginning of the step).
    pub start_s: f64,
    /// End.
    pub end_s: f64,
    /// Operations it waited for.
    pub deps: Vec<OpId>,
}

/// In-order engines and the operations placed on them.
#[derive(Debug, Clone)]
pub struct Timeline {
    engines: Engines,
    free_at: [f64; 4],
    /// Every operation, in issue order.
    pub ops: Vec<Op>,
}

impl Timeline {
    /// An empty timeline.
    pub fn new(engines: Engines) -> Self {
        Self { engines, free_at: [0.0; 4], ops: Vec::new() }
    }

    /// The engine that runs a device stream's operations (the update engine
    /// is chosen by the caller: inline or background).
    pub fn device_engine(&self, stream: Stream) -> Engine {
        match (self.engines, stream) {
            (Engines::Overlapped, Stream::SwapIn) => Engine::CopyIn,
            (Engines::Overlapped, Stream::SwapOut) => Engine::CopyOut,
            _ => Engine::Executor,
        }
    }

    /// Places an operation of `seconds` on `stream`'s device engine.
    pub fn push(&mut self, stream: Stream, seconds: f64, deps: &[OpId]) -> OpId {
        let engine = self.device_engine(stream);
        self.push_on(stream, engine, seconds, deps)
    }

    /// Places an operation on an explicit engine: it starts once the engine
    /// is free and every dependency has ended.
    pub fn push_on(&mut self, stream: Stream, engine: Engine, seconds: f64, deps: &[OpId]) -> OpId {
        let ready = deps.iter().filter_map(|&d| self.ops.get(d)).map(|op| op.end_s).fold(0.0, f64::max);
        let start_s = ready.max(self.free_at[engine.index()]);
        let end_s = start_s + seconds.max(0.0);
        self.free_at[engine.index()] = end_s;
        self.ops.push(Op { stream, engine, start_s, end_s, deps: deps.to_vec() });
        self.ops.len() - 1
    }

    /// When the last operation ends: the predicted step time.
    pub fn makespan(&self) -> f64 {
        self.ops.iter().map(|op| op.end_s).fold(0.0, f64::max)
    }

    /// Busy seconds per stream.
    pub fn busy(&self) -> StreamBusy {
        let mut busy = StreamBusy::default();
        for op in &self.ops {
            let seconds = op.end_s - op.start_s;
            match op.stream {
                Stream::Compute => busy.compute_s += seconds,
                Stream::SwapIn => busy.swap_in_s += seconds,
                Stream::SwapOut => busy.swap_out_s += seconds,
                Stream::Cpu => busy.cpu_s += seconds,
            }
        }
        busy
    }
}

/// Handle of a simulated allocation.
pub type AllocId = usize;

/// Replays device allocations: bytes in use, the peak, and which
/// allocations are still live.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    sizes: Vec<u64>,
    live: Vec<bool>,
    /// Bytes allocated now.
    pub in_use: u64,
    /// Most bytes allocated at once.
    pub peak: u64,
}

impl Ledger {
    /// Allocates `bytes`.
    pub fn alloc(&mut self, bytes: u64) -> AllocId {
        self.in_use += bytes;
        self.peak = self.peak.max(self.in_use);
        self.sizes.push(bytes);
        self.live.push(true);
        self.sizes.len() - 1
    }

    /// Frees an allocation (freeing twice is a no-op).
    pub fn free(&mut self, id: AllocId) {
        if let Some(live) = self.live.get_mut(id).filter(|live| **live) {
            *live = false;
            self.in_use -= self.sizes[id];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serial_device_runs_copies_and_compute_one_after_another() {
        let mut serial = Timeline::new(Engines::SerialDevice);
        let a = serial.push(Stream::SwapIn, 1.0, &[]);
        let b = serial.push(Stream::SwapIn, 1.0, &[]);
        serial.push(Stream::Compute, 2.0, &[a]);
        serial.push(Stream::Compute, 2.0, &[b]);
        assert_eq!(serial.makespan(), 6.0);

        // Overlapped: the second copy hides behind the first compute.
        let mut overlapped = Timeline::new(Engines::Overlapped);
        let a = overlapped.push(Stream::SwapIn, 1.0, &[]);
        let b = overlapped.push(Stream::SwapIn, 1.0, &[]);
        overlapped.push(Stream::Compute, 2.0, &[a]);
        let last = overlapped.push(Stream::Compute, 2.0, &[b]);
        assert_eq!(overlapped.makespan(), 5.0);
        assert_eq!(overlapped.ops[last].start_s, 3.0);
        assert_eq!(overlapped.busy().swap_in_s, 2.0);
    }

    #[test]
    fn the_worker_overlaps_the_executor_after_its_dependency() {
        let mut timeline = Timeline::new(Engines::SerialDevice);
        let grads = timeline.push(Stream::SwapOut, 1.0, &[]);
        let update = timeline.push_on(Stream::Cpu, Engine::Worker, 3.0, &[grads]);
        timeline.push(Stream::Compute, 1.0, &[]);
        assert_eq!(timeline.ops[update].start_s, 1.0);
        assert_eq!(timeline.makespan(), 4.0);
    }

    #[test]
    fn ledger_tracks_the_peak() {
        let mut ledger = Ledger::default();
        let a = ledger.alloc(10);
        let b = ledger.alloc(5);
        ledger.free(a);
        ledger.free(a);
        ledger.alloc(7);
        assert_eq!((ledger.in_use, ledger.peak), (12, 15));
        ledger.free(b);
        assert_eq!(ledger.in_use, 7);
    }
}
