//! The CUDA device (feature `cuda`): the same [`SwapDevice`] jobs as the
//! [`CpuDevice`](crate::CpuDevice) on a GPU, through candle's CUDA backend
//! and cudarc 0.19.
//!
//! - Capacity: the [`Accounts`] ledger enforces the byte budget before every
//!   allocation (exceeding it is [`Error::OutOfMemory`]); the budget must fit
//!   in the GPU's free memory when the device is opened.
//! - Streams: kernels run on candle's stream (the compute stream; candle has
//!   one per device). Uploads run on a separate swap-in stream, downloads on a
//!   separate swap-out stream. They are ordered by CUDA events: cudarc records
//!   a write event on every buffer a copy or kernel fills and makes any other
//!   stream that reads it wait on that event (and a buffer's free wait on its
//!   reads), so a prefetched pack's copy overlaps the current pack's kernels
//!   and the kernels that read it wait for exactly that copy. A download
//!   first makes the swap-out stream wait for everything issued to compute.
//! - Pinned host buffers: copies go through page-locked staging buffers (a
//!   pageable copy would be synchronous), a small ring per tensor size for
//!   uploads (filling one waits only for its own previous copy) and one per
//!   size for downloads (read by the CPU, so not write-combined).
//! - Tensors: each upload is a `CudaSlice` allocated on the swap-in stream
//!   and wrapped as a candle tensor (`CudaStorage::wrap_cuda_slice`), a
//!   `Var` when trainable; everything computed from it is ordinary candle.
//! - Busy time: timing events around each copy and each [`SwapDevice::begin`]
//!   / [`SwapDevice::finish`] span, summed per stream at
//!   [`SwapDevice::end_iteration`], which synchronises the device.
//!
//! Results agree with the CPU device to float rounding (different kernels),
//! not bit for bit: train/tests/cuda_parity.rs checks
//! |a − b| ≤ 1e-5·max(|b|, 1e-3) after 20 steps.
#![allow(unsafe_code)] // pinned host allocations are uninitialised until filled

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use candle_core::cuda::cudarc::driver::{CudaContext, CudaEvent, CudaStream, DriverError, PinnedHostSlice, sys};
use candle_core::op::BackpropOp;
use candle_core::{CudaStorage, DType, Storage, Tensor};

use crate::device::{Accounts, Category, DeviceStats, DeviceTensor, Span, Stream, SwapDevice};
use crate::host::HostTensor;
use crate::{Error, Result};

/// Staging buffers per tensor size kept in rotation for uploads: filling the
/// oldest waits for its copy, which three newer copies follow in the queue.
const UPLOAD_RING: usize = 4;

/// A GPU as a swap device. Not `Send`: the executor drives it from one thread.
pub struct CudaDevice {
    accounts: Accounts,
    /// candle's device; its stream is the compute stream.
    candle: candle_core::CudaDevice,
    context: Arc<CudaContext>,
    compute: Arc<CudaStream>,
    swap_in: Arc<CudaStream>,
    swap_out: Arc<CudaStream>,
    upload_staging: Staging,
    download_staging: Staging,
    /// Start events of spans begun and not yet finished, by marker.
    open: RefCell<Vec<Option<CudaEvent>>>,
    /// (stream, start, end) of finished spans, resolved at the iteration's end.
    timed: RefCell<Vec<(Stream, CudaEvent, CudaEvent)>>,
}

impl std::fmt::Debug for CudaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaDevice(gpu {}, capacity {} B)", self.context.ordinal(), self.accounts.capacity())
    }
}

/// A CUDA driver error as cairn-train's error.
fn driver(what: &str) -> impl FnOnce(DriverError) -> Error + '_ {
    move |e| Error::Device(format!("{what}: {e}"))
}

impl CudaDevice {
    /// Opens GPU `ordinal` with a budget of `capacity` bytes: candle's device
    /// (compute stream) and two copy streams. Fails with [`Error::Device`]
    /// when there is no usable GPU and with [`Error::Config`] when the budget
    /// exceeds the GPU's free memory.
    pub fn new(ordinal: usize, capacity: u64) -> Result<Self> {
        let candle = candle_core::CudaDevice::new_with_stream(ordinal)
            .map_err(|e| Error::Device(format!("no usable CUDA GPU {ordinal} (driver and device): {e}")))?;
        let compute = candle.cuda_stream();
        let context = compute.context().clone();
        let swap_in = context.new_stream().map_err(driver("creating the swap-in stream"))?;
        let swap_out = context.new_stream().map_err(driver("creating the swap-out stream"))?;
        if !context.is_event_tracking() {
            return Err(Error::Device("cudarc event tracking is off; the copy streams would be unordered".into()));
        }
        let (free, _total) = context.mem_get_info().map_err(driver("querying GPU memory"))?;
        if capacity > free as u64 {
            return Err(Error::Config(format!("device capacity {capacity} B exceeds the GPU's {free} B free")));
        }
        Ok(Self {
            accounts: Accounts::new(capacity),
            candle,
            context,
            compute,
            swap_in,
            swap_out,
            upload_staging: Staging::new(UPLOAD_RING, sys::CU_MEMHOSTALLOC_WRITECOMBINED),
            download_staging: Staging::new(1, 0),
            open: RefCell::new(Vec::new()),
            timed: RefCell::new(Vec::new()),
        })
    }

    /// The stream work of `stream` is issued to (none for the host CPU).
    fn stream(&self, stream: Stream) -> Option<&Arc<CudaStream>> {
        match stream {
            Stream::Compute => Some(&self.compute),
            Stream::SwapIn => Some(&self.swap_in),
            Stream::SwapOut => Some(&self.swap_out),
            Stream::Cpu => None,
        }
    }

    /// A timing event recorded now on `stream`.
    fn mark(stream: &CudaStream) -> Result<CudaEvent> {
        stream.record_event(Some(sys::CUevent_flags::CU_EVENT_DEFAULT)).map_err(driver("recording an event"))
    }

    /// Copies `host` into a new device buffer on the swap-in stream, wrapped
    /// as a candle tensor. Returns once the copy is queued.
    fn copy_in(&self, host: &HostTensor, trainable: bool) -> Result<Tensor> {
        let shape = host.shape.as_slice();
        if host.data.is_empty() {
            return Ok(Tensor::zeros(shape, DType::F32, &candle_core::Device::Cuda(self.candle.clone()))?);
        }
        let mut staging = self.upload_staging.take(&self.context, host.data.len())?;
        // Waits for this buffer's previous copy, then fills all of it.
        staging.as_mut_slice().map_err(driver("waiting for a staging buffer"))?.copy_from_slice(&host.data);
        // Async: cudarc records the new buffer's write event on swap-in.
        let slice = self.swap_in.clone_htod(&staging).map_err(driver("host → device copy"))?;
        self.upload_staging.give(staging);
        let storage = CudaStorage::wrap_cuda_slice(slice, self.candle.clone());
        Ok(Tensor::from_storage(Storage::Cuda(storage), shape, BackpropOp::none(), trainable))
    }

    /// Copies a device tensor's elements to the host on the swap-out stream
    /// and waits for them.
    fn copy_out(&self, tensor: &Tensor) -> Result<Vec<f32>> {
        let tensor = tensor.contiguous()?;
        let (storage, layout) = tensor.storage_and_layout();
        let Storage::Cuda(cuda) = &*storage else {
            return Err(Error::Device(format!("download of a tensor on {:?}, not this GPU", tensor.device())));
        };
        let (start, end) =
            layout.contiguous_offsets().ok_or_else(|| Error::Device("download of a non-contiguous tensor".into()))?;
        if start == end {
            return Ok(Vec::new());
        }
        let view = cuda.as_cuda_slice::<f32>()?.slice(start..end);
        let mut staging = self.download_staging.take(&self.context, end - start)?;
        // Everything issued to compute so far (the tensor's producers) first.
        self.swap_out.join(&self.compute).map_err(driver("ordering swap-out after compute"))?;
        self.swap_out.memcpy_dtoh(&view, &mut staging).map_err(driver("device → host copy"))?;
        let data = staging.as_slice().map_err(driver("waiting for a device → host copy"))?.to_vec();
        self.download_staging.give(staging);
        Ok(data)
    }
}

impl SwapDevice for CudaDevice {
    fn accounts(&self) -> &Accounts {
        &self.accounts
    }

    fn upload(&self, host: &HostTensor, category: Category, trainable: bool) -> Result<DeviceTensor> {
        let allocation = self.accounts.reserve(host.bytes(), category)?;
        let span = self.begin(Stream::SwapIn)?;
        let tensor = self.copy_in(host, trainable)?;
        self.finish(span)?;
        self.accounts.count_h2d(category, host.bytes());
        Ok(DeviceTensor::new(tensor, allocation))
    }

    fn download(&self, tensor: &Tensor, category: Category) -> Result<HostTensor> {
        let span = self.begin(Stream::SwapOut)?;
        let data = self.copy_out(tensor)?;
        self.finish(span)?;
        let host = HostTensor { shape: tensor.dims().to_vec(), data };
        self.accounts.count_d2h(category, host.bytes());
        Ok(host)
    }

    fn begin(&self, stream: Stream) -> Result<Span> {
        let mut span = Span { stream, started: std::time::Instant::now(), marker: None };
        if let Some(cuda) = self.stream(stream) {
            let mut open = self.open.borrow_mut();
            open.push(Some(Self::mark(cuda)?));
            span.marker = Some(open.len() - 1);
        }
        Ok(span)
    }

    fn finish(&self, span: Span) -> Result<()> {
        let start = span.marker.and_then(|i| self.open.borrow_mut().get_mut(i).and_then(Option::take));
        match (self.stream(span.stream), start) {
            (Some(cuda), Some(start)) => self.timed.borrow_mut().push((span.stream, start, Self::mark(cuda)?)),
            _ => self.accounts.busy(span.stream, span.started.elapsed()),
        }
        Ok(())
    }

    fn end_iteration(&self) -> Result<DeviceStats> {
        self.context.synchronize().map_err(driver("synchronising the GPU"))?;
        self.context.check_err().map_err(driver("an earlier asynchronous CUDA call"))?;
        for (stream, start, end) in self.timed.borrow_mut().drain(..) {
            let ms = start.elapsed_ms(&end).map_err(driver("reading a timing event"))?;
            self.accounts.busy(stream, Duration::from_secs_f64(f64::from(ms.max(0.0)) / 1e3));
        }
        self.open.borrow_mut().clear();
        Ok(self.accounts.take_stats())
    }
}

/// Pinned host buffers by element count, `ring` of each size in rotation.
struct Staging {
    ring: usize,
    flags: u32,
    pool: RefCell<HashMap<usize, VecDeque<PinnedHostSlice<f32>>>>,
}

impl Staging {
    fn new(ring: usize, flags: u32) -> Self {
        Self { ring, flags, pool: RefCell::new(HashMap::new()) }
    }

    /// A buffer of exactly `len` elements: the oldest of its size once the
    /// ring is full, else a new one.
    fn take(&self, context: &Arc<CudaContext>, len: usize) -> Result<PinnedHostSlice<f32>> {
        let mut pool = self.pool.borrow_mut();
        let ring = pool.entry(len).or_default();
        if ring.len() >= self.ring
            && let Some(buffer) = ring.pop_front()
        {
            return Ok(buffer);
        }
        // SAFETY: the memory is uninitialised; every user overwrites all
        // `len` elements (a host copy in, or a whole-slice copy out) before
        // reading any.
        unsafe { context.alloc_pinned_with_flags::<f32>(len, self.flags) }.map_err(driver("allocating pinned memory"))
    }

    /// Returns a buffer to the back of its ring.
    fn give(&self, buffer: PinnedHostSlice<f32>) {
        self.pool.borrow_mut().entry(buffer.len()).or_default().push_back(buffer);
    }
}
