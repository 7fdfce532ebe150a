//! The rerun side of [`super::Recorder`]: opening the recording stream (a
//! file, a gRPC viewer, or both), entity paths under a prefix, the
//! conversions from cairn's types, and reporting the first failure once.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::{Context, Result, anyhow};
use cairn_core::transform::Rigid3;
use rerun::external::re_uri::RedapUri;
use rerun::sink::{FileSink, GrpcSink};
use rerun::{AsComponents, RecordingStream, RecordingStreamBuilder};

/// How long the end of a run waits for a viewer to take the data.
const FLUSH_TIMEOUT: Duration = Duration::from_secs(20);

/// A rerun recording stream with an entity-path prefix.
#[derive(Clone)]
pub(super) struct Stream {
    recording: RecordingStream,
    prefix: String,
    /// Set once a failure has been reported (shared by every clone).
    failed: Arc<AtomicBool>,
}

impl Stream {
    /// Saves to `rrd`, streams to the viewer at `connect`, or both (a tee).
    pub(super) fn open(rrd: Option<&Path>, connect: Option<&str>, application: &str) -> Result<Stream> {
        let builder = RecordingStreamBuilder::new(application);
        let file = |path: &Path| FileSink::new(path).with_context(|| format!("--rrd: creating {}", path.display()));
        let recording = match (rrd, connect) {
            (Some(path), None) => builder.set_sinks((file(path)?,)),
            (None, Some(url)) => builder.set_sinks((GrpcSink::new(proxy_uri(url)?),)),
            (Some(path), Some(url)) => builder.set_sinks((GrpcSink::new(proxy_uri(url)?), file(path)?)),
            (None, None) => return Err(anyhow!("neither --rrd nor --connect was given")),
        }
        .context("starting the rerun recording")?;
        Ok(Stream { recording, prefix: String::new(), failed: Arc::new(AtomicBool::new(false)) })
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

    /// Waits (bounded) until the sinks have taken everything logged so far.
    pub(super) fn flush(&self) {
        let result = self.recording.flush_with_timeout(FLUSH_TIMEOUT);
        self.report(result.map_err(|e| anyhow!("flushing the recording: {e}")));
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
    fn a_file_in_a_missing_folder_is_an_error_up_front() {
        let missing = std::env::temp_dir().join("cairn-no-such-dir-for-rrd/run.rrd");
        assert!(Stream::open(Some(&missing), None, "cairn_test").is_err());
    }
}
