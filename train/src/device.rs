//! Devices: an enforced byte capacity and transfer accounting, shared by
//! the CPU "device" and (behind the `cuda` feature) the CUDA one.
//!
//! Every tensor a schedule places on a device goes through a [`SwapDevice`]:
//! [`SwapDevice::upload`] (host → device, counted), [`SwapDevice::adopt`] (a
//! tensor computed on the device) or [`SwapDevice::reserve`] (working memory
//! of a computation). Each returns a handle that frees its bytes when
//! dropped. An allocation that would pass the capacity is
//! [`Error::OutOfMemory`], as on a real GPU. [`SwapDevice::download`] counts
//! device → host bytes. Traffic is counted by direction and [`Category`],
//! busy time by [`Stream`] ([`SwapDevice::begin`] / [`SwapDevice::finish`]
//! around work on a stream); [`SwapDevice::end_iteration`] waits for the
//! device and returns and resets the counters (one call per iteration).
//! The bookkeeping itself is [`Accounts`], the same for every device.
//!
//! [`CpuDevice`]: the tensors are candle CPU tensors, an upload is a real
//! memory copy, so swap costs are real, if cheaper than over PCIe.
//! `crate::cuda::CudaDevice` (feature `cuda`) copies through pinned buffers
//! on its own swap-in and swap-out streams.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use candle_core::{Tensor, Var};
use serde::Serialize;

use crate::host::HostTensor;
use crate::{Error, Result};

/// What a device allocation or transfer holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Category {
    /// Layer weights.
    Weights,
    /// Activations: inputs, targets, stashed pack inputs, and gradients with
    /// respect to activations (they are activation-sized).
    Activations,
    /// Weight gradients.
    Gradients,
}

impl Category {
    fn name(self) -> &'static str {
        match self {
            Self::Weights => "weights",
            Self::Activations => "activations",
            Self::Gradients => "gradients",
        }
    }
}

/// The streams of a real device plus the host CPU. The executor is
/// sequential, so their busy times are measured one after another (see the
/// crate docs); the scheduler's simulation overlaps them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    /// Forward and backward kernels.
    Compute,
    /// Host → device copies.
    SwapIn,
    /// Device → host copies.
    SwapOut,
    /// Optimizer steps on the host.
    Cpu,
}

/// Bytes by category.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Traffic {
    /// Weight bytes.
    pub weights: u64,
    /// Activation bytes.
    pub activations: u64,
    /// Gradient bytes.
    pub gradients: u64,
}

impl Traffic {
    /// All bytes.
    pub fn total(&self) -> u64 {
        self.weights + self.activations + self.gradients
    }

    /// Adds `bytes` to `category`.
    pub fn add(&mut self, category: Category, bytes: u64) {
        match category {
            Category::Weights => self.weights += bytes,
            Category::Activations => self.activations += bytes,
            Category::Gradients => self.gradients += bytes,
        }
    }
}

/// Seconds each stream was busy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct StreamBusy {
    /// Compute stream.
    pub compute_s: f64,
    /// Swap-in stream.
    pub swap_in_s: f64,
    /// Swap-out stream.
    pub swap_out_s: f64,
    /// Host optimizer.
    pub cpu_s: f64,
}

/// What the device saw during one iteration.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct DeviceStats {
    /// Host → device bytes.
    pub h2d: Traffic,
    /// Device → host bytes.
    pub d2h: Traffic,
    /// Most bytes allocated at once.
    pub peak_bytes: u64,
    /// Busy time per stream.
    pub busy: StreamBusy,
}

#[derive(Debug)]
struct Ledger {
    capacity: u64,
    in_use: u64,
    stats: DeviceStats,
}

/// A device's bookkeeping: the capacity, the bytes in use and the counters
/// of the running iteration. Cloning shares the same ledger.
#[derive(Debug, Clone)]
pub struct Accounts {
    ledger: Rc<RefCell<Ledger>>,
}

impl Accounts {
    /// Accounts of a device that can hold `capacity` bytes.
    pub fn new(capacity: u64) -> Self {
        let ledger = Ledger { capacity, in_use: 0, stats: DeviceStats::default() };
        Self { ledger: Rc::new(RefCell::new(ledger)) }
    }

    /// The capacity in bytes.
    pub fn capacity(&self) -> u64 {
        self.ledger.borrow().capacity
    }

    /// Bytes allocated now.
    pub fn in_use(&self) -> u64 {
        self.ledger.borrow().in_use
    }

    /// Allocates `bytes`, or fails with [`Error::OutOfMemory`].
    pub fn reserve(&self, bytes: u64, category: Category) -> Result<Allocation> {
        let mut ledger = self.ledger.borrow_mut();
        if ledger.in_use + bytes > ledger.capacity {
            return Err(Error::OutOfMemory {
                requested: bytes,
                in_use: ledger.in_use,
                capacity: ledger.capacity,
                category: category.name(),
            });
        }
        ledger.in_use += bytes;
        ledger.stats.peak_bytes = ledger.stats.peak_bytes.max(ledger.in_use);
        Ok(Allocation { bytes, ledger: self.ledger.clone() })
    }

    /// Counts `bytes` of `category` moved host → device.
    pub fn count_h2d(&self, category: Category, bytes: u64) {
        self.ledger.borrow_mut().stats.h2d.add(category, bytes);
    }

    /// Counts `bytes` of `category` moved device → host.
    pub fn count_d2h(&self, category: Category, bytes: u64) {
        self.ledger.borrow_mut().stats.d2h.add(category, bytes);
    }

    /// Adds busy time to a stream.
    pub fn busy(&self, stream: Stream, time: Duration) {
        let busy = &mut self.ledger.borrow_mut().stats.busy;
        let seconds = time.as_secs_f64();
        match stream {
            Stream::Compute => busy.compute_s += seconds,
            Stream::SwapIn => busy.swap_in_s += seconds,
            Stream::SwapOut => busy.swap_out_s += seconds,
            Stream::Cpu => busy.cpu_s += seconds,
        }
    }

    /// The counters since the last call; resets them (the peak restarts at
    /// the bytes in use now).
    pub fn take_stats(&self) -> DeviceStats {
        let mut ledger = self.ledger.borrow_mut();
        let fresh = DeviceStats { peak_bytes: ledger.in_use, ..Default::default() };
        std::mem::replace(&mut ledger.stats, fresh)
    }
}

/// Work begun on a stream ([`SwapDevice::begin`]); [`SwapDevice::finish`]
/// books its busy time.
#[derive(Debug)]
pub struct Span {
    /// The stream the work runs on.
    pub stream: Stream,
    /// When the host issued it.
    pub started: Instant,
    /// The device's own marker (e.g. the index of a CUDA timing event).
    pub marker: Option<usize>,
}

/// What the executor needs of a device: an enforced capacity, counted
/// transfers in both directions, stream busy times, and the candle tensors
/// it computes with. Implemented by [`CpuDevice`] and, with the `cuda`
/// feature, `crate::cuda::CudaDevice`.
pub trait SwapDevice {
    /// The device's bookkeeping.
    fn accounts(&self) -> &Accounts;

    /// Copies a host tensor to the device (a candle `Var` if `trainable`),
    /// counting the bytes and the swap-in time.
    fn upload(&self, host: &HostTensor, category: Category, trainable: bool) -> Result<DeviceTensor>;

    /// Copies a device tensor to the host, counting the bytes and the
    /// swap-out time.
    fn download(&self, tensor: &Tensor, category: Category) -> Result<HostTensor>;

    /// Marks the start of work issued to `stream`.
    fn begin(&self, stream: Stream) -> Result<Span> {
        Ok(Span { stream, started: Instant::now(), marker: None })
    }

    /// Books the busy time of the work begun with `span`.
    fn finish(&self, span: Span) -> Result<()> {
        self.accounts().busy(span.stream, span.started.elapsed());
        Ok(())
    }

    /// Waits for all work on the device, then returns and resets the
    /// iteration's counters.
    fn end_iteration(&self) -> Result<DeviceStats> {
        Ok(self.accounts().take_stats())
    }

    /// The capacity in bytes.
    fn capacity(&self) -> u64 {
        self.accounts().capacity()
    }

    /// Bytes allocated now.
    fn in_use(&self) -> u64 {
        self.accounts().in_use()
    }

    /// Allocates `bytes`, or fails with [`Error::OutOfMemory`].
    fn reserve(&self, bytes: u64, category: Category) -> Result<Allocation> {
        self.accounts().reserve(bytes, category)
    }

    /// Registers a tensor computed on the device.
    fn adopt(&self, tensor: Tensor, category: Category) -> Result<DeviceTensor> {
        let allocation = self.reserve(4 * tensor.elem_count() as u64, category)?;
        Ok(DeviceTensor::new(tensor, allocation))
    }

    /// Adds busy time to a stream.
    fn busy(&self, stream: Stream, time: Duration) {
        self.accounts().busy(stream, time);
    }
}

/// The CPU device: [`Accounts`] over candle CPU tensors. Cloning shares the
/// same ledger.
#[derive(Debug, Clone)]
pub struct CpuDevice {
    accounts: Accounts,
}

/// Bytes held on the device; freed when dropped.
#[derive(Debug)]
pub struct Allocation {
    bytes: u64,
    ledger: Rc<RefCell<Ledger>>,
}

impl Drop for Allocation {
    fn drop(&mut self) {
        let mut ledger = self.ledger.borrow_mut();
        ledger.in_use = ledger.in_use.saturating_sub(self.bytes);
    }
}

/// A tensor resident on the device, with its allocation.
#[derive(Debug)]
pub struct DeviceTensor {
    /// The tensor (a candle `Var` when uploaded as trainable).
    pub tensor: Tensor,
    _allocation: Allocation,
}

impl DeviceTensor {
    /// A tensor and the device bytes it holds.
    pub fn new(tensor: Tensor, allocation: Allocation) -> Self {
        Self { tensor, _allocation: allocation }
    }

    /// `self + other` in the same allocation (an in-place add on a real
    /// device); the shapes must match.
    pub fn add_in_place(self, other: &Tensor) -> Result<DeviceTensor> {
        let tensor = (&self.tensor + other)?;
        Ok(DeviceTensor { tensor, _allocation: self._allocation })
    }
}

impl CpuDevice {
    /// A device that can hold `capacity` bytes.
    pub fn new(capacity: u64) -> Self {
        Self { accounts: Accounts::new(capacity) }
    }

    /// The counters since the last call; resets them (the peak restarts at
    /// the bytes in use now).
    /// (The same as [`SwapDevice::end_iteration`], which cannot fail here.)
    pub fn take_stats(&self) -> DeviceStats {
        self.accounts.take_stats()
    }
}

impl SwapDevice for CpuDevice {
    fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    fn upload(&self, host: &HostTensor, category: Category, trainable: bool) -> Result<DeviceTensor> {
        let allocation = self.reserve(host.bytes(), category)?;
        let start = Instant::now();
        let tensor = if trainable {
            Var::from_slice(&host.data, host.shape.as_slice(), &candle_core::Device::Cpu)?.as_tensor().clone()
        } else {
            host.to_tensor()?
        };
        self.accounts.busy(Stream::SwapIn, start.elapsed());
        self.accounts.count_h2d(category, host.bytes());
        Ok(DeviceTensor { tensor, _allocation: allocation })
    }

    fn download(&self, tensor: &Tensor, category: Category) -> Result<HostTensor> {
        let start = Instant::now();
        let host = HostTensor::from_tensor(tensor)?;
        self.accounts.busy(Stream::SwapOut, start.elapsed());
        self.accounts.count_d2h(category, host.bytes());
        Ok(host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocations_past_capacity_fail_and_drops_free() {
        let device = CpuDevice::new(100);
        let a = device.reserve(60, Category::Weights).unwrap();
        let err = device.reserve(41, Category::Gradients).unwrap_err();
        assert!(matches!(err, Error::OutOfMemory { requested: 41, in_use: 60, capacity: 100, .. }));
        drop(a);
        let _b = device.reserve(100, Category::Gradients).unwrap();
        assert_eq!(device.take_stats().peak_bytes, 100);
    }

    #[test]
    fn spans_book_busy_time_on_their_stream_and_end_iteration_resets() {
        let device = CpuDevice::new(1 << 20);
        let span = device.begin(Stream::Compute).unwrap();
        std::thread::sleep(Duration::from_millis(5));
        device.finish(span).unwrap();
        let stats = device.end_iteration().unwrap();
        assert!(stats.busy.compute_s >= 0.005, "{:?}", stats.busy);
        assert_eq!((stats.busy.swap_in_s, stats.busy.swap_out_s, stats.busy.cpu_s), (0.0, 0.0, 0.0));
        assert_eq!(device.end_iteration().unwrap().busy.compute_s, 0.0);
    }

    #[test]
    fn transfers_are_counted_by_direction_and_category() {
        let device = CpuDevice::new(1 << 20);
        let host = HostTensor::zeros(&[4, 8]);
        let on_device = device.upload(&host, Category::Weights, true).unwrap();
        assert!(on_device.tensor.is_variable());
        assert_eq!(device.in_use(), 128);
        device.download(&on_device.tensor, Category::Gradients).unwrap();
        let stats = device.take_stats();
        assert_eq!(stats.h2d, Traffic { weights: 128, ..Default::default() });
        assert_eq!(stats.d2h, Traffic { gradients: 128, ..Default::default() });
        assert_eq!(device.take_stats().h2d.total(), 0);
    }
}
