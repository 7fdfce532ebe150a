//! The rerun side of [`super::Recorder`]: opening the recording stream (a
//! file, a gRPC viewer, or both), entity paths under a prefix, the
//! conversions from cairn's types, and reporting the first failure once.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use cairn_core::transform::Rigid3;
use rerun::external::re_log_types::LogMsg;
use rerun::external::re_uri::RedapUri;
use rerun::sink::{FileSink, GrpcSink, GrpcSinkConnectionState, LogSink, SinkFlushError};
use rerun::{AsComponents, RecordingStream, RecordingStreamBuilder};

/// How long the end of a run waits for a viewer to take the data.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(20);
/// How long `--connect` waits for the viewer to answer before the run.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// A rerun recording stream with an entity-path prefix.
#[derive(Clone)]
pub(super) struct Stream {
    recording: RecordingStream,
    /// The live viewer's sink, when streaming to one.
    viewer: Option<ViewerSink>,
    prefix: String,
    /// Set once a failure has been reported (shared by every clone).
    failed: Arc<AtomicBool>,
}

impl Stream {
    /// Saves to `rrd`, streams to the viewer at `connect`, or both (a tee).
    pub(super) fn open(rrd: Option<&Path>, connect: Option<&str>, application: &str) -> Result<Stream> {
        let mut sinks: Vec<Box<dyn LogSink>> = Vec::new();
        let viewer = connect.map(ViewerSink::connect).transpose()?;
        if let Some(viewer) = &viewer {
            sinks.push(Box::new(viewer.clone()));
        }
        if let Some(path) = rrd {
            let file = FileSink::new(path).with_context(|| format!("--rrd: creating {}", path.display()))?;
            sinks.push(Box::new(file));
        }
        if sinks.is_empty() {
            bail!("neither --rrd nor --connect was given");
        }
        let recording =
            RecordingStreamBuilder::new(application).set_sinks(sinks).context("starting the rerun recording")?;
        Ok(Stream { recording, viewer, prefix: String::new(), failed: Arc::new(AtomicBool::new(false)) })
    }

    /// The same stream with paths under `prefix/`.
    pub(super) fn scoped(&self, prefix: &str) -> Stream {
        let prefix = format!("{}{}/", self.prefix, prefix.trim_matches('/'));
        Stream { prefix, ..self.clone() }
    }

    /// `path` under the prefix.
    pub(super) fn path(&self, path: &str) -> String {
        format!("{}{path}", self.prefix)
    }

    /// Sets the `frame` and `stamp` timelines for what follows.
    pub(super) fn set_time(&self, index: usize, stamp: f64) {
        self.recording.set_time_sequence("frame", i64::try_from(index).unwrap_or(i64::MAX));
        self.recording.set_timestamp_secs_since_epoch("stamp", stamp);
    }

    /// Logs `what` at `path` (under the prefix) on the current timelines.
    pub(super) fn log(&self, path: &str, what: &impl AsComponents) {
        let result = self.recording.log(self.path(path), what);
        self.report(result.map_err(anyhow::Error::from));
    }

    /// Logs `what` at `path` as static data (no timeline).
    pub(super) fn log_static(&self, path: &str, what: &impl AsComponents) {
        let result = self.recording.log_static(self.path(path), what);
        self.report(result.map_err(anyhow::Error::from));
    }

    /// Waits (bounded) until the sinks have taken everything logged so far;
    /// a viewer that does not take it in time is abandoned.
    pub(super) fn flush(&self) {
        if let Err(error) = self.recording.flush_with_timeout(FLUSH_TIMEOUT) {
            let abandoned = self.viewer.as_ref().is_some_and(ViewerSink::abandon);
            let what = if abandoned { "; the viewer is no longer streamed to" } else { "" };
            self.report(Err(anyhow!("flushing the recording: {error}{what}")));
        }
    }

    /// Reports the first failure on stderr; later ones are dropped.
    fn report(&self, result: Result<()>) {
        if let Err(error) = result
            && !self.failed.swap(true, Ordering::Relaxed)
        {
            eprintln!("warning: rerun logging failed: {error:#} (reported once; the run goes on)");
        }
    }
}

/// rerun's gRPC sink, made abandonable: its own drop waits, without a
/// limit, until a viewer has taken every message, which would hang the end
/// of a run whose viewer went away. An abandoned sink is leaked, never
/// dropped, and takes nothing more.
#[derive(Clone)]
struct ViewerSink {
    sink: Arc<Mutex<Option<GrpcSink>>>,
}

impl ViewerSink {
    /// Connects to the viewer at `url`, waiting up to [`CONNECT_TIMEOUT`].
    fn connect(url: &str) -> Result<ViewerSink> {
        let sink = GrpcSink::new(proxy_uri(url)?);
        let start = Instant::now();
        loop {
            match sink.status() {
                GrpcSinkConnectionState::Connected => break,
                GrpcSinkConnectionState::Disconnected(reason) => {
                    bail!("--connect: the rerun viewer at {url} refused the stream: {reason:?}")
                }
                GrpcSinkConnectionState::Connecting { .. } if start.elapsed() > CONNECT_TIMEOUT => {
                    // Never dropped: the drop would wait for a connection.
                    std::mem::forget(sink);
                    bail!(
                        "--connect: no rerun viewer answered at {url} within {} s; start one first \
                         (`pip install rerun-sdk==0.35.0`, then `rerun`)",
                        CONNECT_TIMEOUT.as_secs()
                    )
                }
                GrpcSinkConnectionState::Connecting { .. } => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        Ok(ViewerSink { sink: Arc::new(Mutex::new(Some(sink))) })
    }

    /// Stops streaming: leaks the sink. True if it was still there.
    fn abandon(&self) -> bool {
        let taken = self.sink.lock().ok().and_then(|mut sink| sink.take());
        taken.map(std::mem::forget).is_some()
    }
}

impl LogSink for ViewerSink {
    fn send(&self, message: LogMsg) {
        if let Ok(sink) = self.sink.lock()
            && let Some(sink) = sink.as_ref()
        {
            sink.send(message);
        }
    }

    fn flush_blocking(&self, timeout: Duration) -> Result<(), SinkFlushError> {
        match self.sink.lock() {
            Ok(sink) => sink.as_ref().map_or(Ok(()), |sink| sink.flush_blocking(timeout)),
            Err(_) => Err(SinkFlushError::failed("the viewer sink's lock is poisoned")),
        }
    }
}

/// The gRPC proxy endpoint in `url` (`rerun+http://HOST:PORT/proxy`).
fn proxy_uri(url: &str) -> Result<rerun::external::re_uri::ProxyUri> {
    let parsed: RedapUri = url.parse().map_err(|e| {
        anyhow!(
            "--connect: '{url}' is not a rerun URL ({e}); expected e.g. {} (write --connect=URL before a positional argument)",
            super::DEFAULT_CONNECT_URL
        )
    })?;
    match parsed {
        RedapUri::Proxy(uri) => Ok(uri),
        _ => Err(anyhow!("--connect: '{url}' is not a viewer's proxy endpoint (it must end in /proxy)")),
    }
}

/// A rigid transform as rerun's parent_from_child `Transform3D`.
pub(super) fn transform(parent_from_child: &Rigid3) -> rerun::Transform3D {
    let t = parent_from_child.translation.vector;
    let q = parent_from_child.rotation.coords; // (x, y, z, w)
    rerun::Transform3D::from_translation_rotation(
        [t.x as f32, t.y as f32, t.z as f32],
        rerun::Quaternion::from_xyzw([q.x as f32, q.y as f32, q.z as f32, q.w as f32]),
    )
}

/// A position as rerun's `[f32; 3]`.
pub(super) fn position(p: &nalgebra::Vector3<f64>) -> [f32; 3] {
    [p.x as f32, p.y as f32, p.z as f32]
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;

    #[test]
    fn connect_urls_must_be_proxy_endpoints() {
        assert!(proxy_uri(super::super::DEFAULT_CONNECT_URL).is_ok());
        assert!(proxy_uri("rerun+http://127.0.0.1:9999/proxy").is_ok());
        let error = proxy_uri("seq/office").err().unwrap();
        assert!(format!("{error}").contains("--connect=URL"), "{error}");
    }

    #[test]
    fn no_viewer_is_an_error_up_front_not_a_hang() {
        // Loopback port 1: nothing listens there.
        let start = Instant::now();
        let error = Stream::open(None, Some("rerun+http://127.0.0.1:1/proxy"), "cairn_test").err().unwrap();
        assert!(format!("{error}").contains("no rerun viewer answered"), "{error}");
        assert!(start.elapsed() < CONNECT_TIMEOUT + Duration::from_secs(5));
    }

    #[test]
    fn a_file_in_a_missing_folder_is_an_error_up_front() {
        let missing = std::env::temp_dir().join("cairn-no-such-dir-for-rrd/run.rrd");
        assert!(Stream::open(Some(&missing), None, "cairn_test").is_err());
    }
}
