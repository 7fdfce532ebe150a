//! Approximate time synchronisation of the detector's inputs: one LiDAR
//! sweep and N camera images per set.
//!
//! The *reference* of a set is a LiDAR sweep, or — while the LiDAR is
//! silent — an image of the first camera still sending. Each camera joins
//! with its image nearest in stamp within `sync_slop`. A set is decided as
//! soon as every camera has sent an image stamped at or after the reference
//! (each topic arrives in stamp order) and is calibrated; a camera that
//! keeps the set waiting longer than `camera_timeout` is left out (masked)
//! and not waited for again until it sends.
//!
//! The LiDAR is *silent* when no sweep has arrived for `lidar_timeout`
//! seconds (receive times) while images stamped after its last sweep
//! keep arriving: sets are then
//! referenced on a camera and have no sweep (the masked-modal camera-only
//! input). A stamp older than the newest of its own topic by more than
//! [`RESET_JUMP_S`] (a bag played again) resets the synchronisation.

use std::collections::VecDeque;

/// A backward stamp jump (seconds) within one topic that resets the
/// synchronisation.
pub const RESET_JUMP_S: f64 = 1e-3;

/// A message waiting in a queue: its header stamp and its receive time
/// (seconds on the node's monotonic clock).
#[derive(Debug, Clone)]
pub struct Timed<T> {
    /// Header stamp (seconds).
    pub stamp: f64,
    /// When it was received (seconds).
    pub received: f64,
    /// The message.
    pub value: T,
}

/// One decided set.
#[derive(Debug, Clone)]
pub struct SyncedSet<C, I> {
    /// The reference stamp (the sweep's, or the reference camera's).
    pub stamp: f64,
    /// The latest receive time of its messages (latency starts here).
    pub last_received: f64,
    /// The sweep; `None` while the LiDAR is silent.
    pub cloud: Option<C>,
    /// `(camera index, image)` of every camera in the set.
    pub images: Vec<(usize, I)>,
    /// Cameras given up on while deciding this set (they kept it waiting
    /// past the timeout).
    pub left_out: Vec<usize>,
}

/// The inputs waiting to be synchronised.
#[derive(Debug, Clone)]
pub struct SensorSync<C, I> {
    slop: f64,
    lidar_timeout: f64,
    camera_timeout: f64,
    capacity: usize,
    clouds: VecDeque<Timed<C>>,
    images: Vec<VecDeque<Timed<I>>>,
    camera_last: Vec<Option<f64>>,
    gone: Vec<bool>,
    lidar_last: Option<f64>,
    /// Newest stamp per topic: the sweeps, then each camera.
    newest: Vec<f64>,
    started: Option<f64>,
    last_decided: f64,
    /// True while the LiDAR is silent (sets from the cameras alone).
    pub camera_only: bool,
    /// Messages pushed out of a full queue.
    pub overflowed: usize,
}

impl<C: Clone, I: Clone> SensorSync<C, I> {
    /// Synchronises `cameras` cameras with these tolerances (seconds).
    pub fn new(cameras: usize, slop: f64, lidar_timeout: f64, camera_timeout: f64, capacity: usize) -> Self {
        SensorSync {
            slop,
            lidar_timeout,
            camera_timeout,
            capacity: capacity.max(1),
            clouds: VecDeque::new(),
            images: vec![VecDeque::new(); cameras],
            camera_last: vec![None; cameras],
            gone: vec![false; cameras],
            lidar_last: None,
            newest: vec![f64::NEG_INFINITY; cameras + 1],
            started: None,
            last_decided: f64::NEG_INFINITY,
            camera_only: false,
            overflowed: 0,
        }
    }

    /// Seconds since the last sweep (or the first message, before any
    /// sweep) at `now`, while images newer than that sweep keep arriving.
    fn lidar_silence(&self, now: f64) -> Option<f64> {
        let newest_image = self.newest[1..].iter().copied().reduce(f64::max)?;
        let images_after_sweep = newest_image > self.newest[0] + self.slop;
        images_after_sweep.then(|| now - self.lidar_last.or(self.started).unwrap_or(now))
    }

    /// Resets when `stamp` jumped back on topic `source` (0: sweeps,
    /// 1 + k: camera k); true when it did.
    fn note(&mut self, source: usize, stamp: f64, received: f64) -> bool {
        self.started.get_or_insert(received);
        let Some(newest) = self.newest.get_mut(source) else { return false };
        if stamp + RESET_JUMP_S >= *newest {
            *newest = newest.max(stamp);
            return false;
        }
        self.clouds.clear();
        self.images.iter_mut().for_each(VecDeque::clear);
        self.newest.iter_mut().for_each(|n| *n = f64::NEG_INFINITY);
        self.newest[source] = stamp;
        self.last_decided = f64::NEG_INFINITY;
        true
    }

    fn bounded<T>(queue: &mut VecDeque<Timed<T>>, capacity: usize, overflowed: &mut usize, item: Timed<T>) {
        if queue.len() == capacity {
            queue.pop_front();
            *overflowed += 1;
        }
        queue.push_back(item);
    }

    /// Queues a sweep; true when its stamp reset the synchronisation.
    pub fn push_cloud(&mut self, stamp: f64, received: f64, cloud: C) -> bool {
        let reset = self.note(0, stamp, received);
        self.lidar_last = Some(received);
        Self::bounded(&mut self.clouds, self.capacity, &mut self.overflowed, Timed { stamp, received, value: cloud });
        reset
    }

    /// Queues an image of camera `camera`; true when its stamp reset the
    /// synchronisation.
    pub fn push_image(&mut self, camera: usize, stamp: f64, received: f64, image: I) -> bool {
        let reset = self.note(1 + camera, stamp, received);
        let (Some(queue), Some(last)) = (self.images.get_mut(camera), self.camera_last.get_mut(camera)) else {
            return reset;
        };
        *last = Some(received);
        self.gone[camera] = false;
        Self::bounded(queue, self.capacity, &mut self.overflowed, Timed { stamp, received, value: image });
        reset
    }

    /// Switches between fusion and camera-only at `now`; the line to log
    /// when the mode changed.
    pub fn update_mode(&mut self, now: f64) -> Option<String> {
        let silence = self.lidar_silence(now);
        let silent = silence.is_some_and(|s| s > self.lidar_timeout);
        if silent == self.camera_only {
            return None;
        }
        self.camera_only = silent;
        Some(if silent {
            format!("LiDAR silent for {:.1} s: detecting from cameras alone", silence.unwrap_or_default())
        } else {
            "LiDAR back: detecting from cameras and LiDAR".to_string()
        })
    }

    /// The oldest undecided reference: `(stamp, received, reference camera)`.
    fn reference(&self, calibrated: &dyn Fn(usize) -> bool) -> Option<(f64, f64, Option<usize>)> {
        if !self.camera_only {
            let cloud = self.clouds.iter().find(|c| c.stamp > self.last_decided)?;
            return Some((cloud.stamp, cloud.received, None));
        }
        let camera = (0..self.images.len()).find(|&k| !self.gone[k] && calibrated(k) && !self.images[k].is_empty())?;
        let image = self.images[camera].iter().find(|i| i.stamp > self.last_decided)?;
        Some((image.stamp, image.received, Some(camera)))
    }

    /// The next set, once decided at time `now` (see the module docs);
    /// `calibrated(k)`: camera `k`'s calibration is known.
    pub fn pop(&mut self, now: f64, calibrated: &dyn Fn(usize) -> bool) -> Option<SyncedSet<C, I>> {
        let (stamp, received, reference) = self.reference(calibrated)?;
        let ready =
            |k: usize| calibrated(k) && self.images[k].back().is_some_and(|newest| newest.stamp >= stamp - 1e-9);
        let waiting: Vec<usize> = (0..self.images.len()).filter(|&k| !self.gone[k] && !ready(k)).collect();
        if !waiting.is_empty() && now - received <= self.camera_timeout {
            return None;
        }
        for &k in &waiting {
            self.gone[k] = true;
        }
        let mut last_received = received;
        let mut images = Vec::new();
        for k in 0..self.images.len() {
            if !calibrated(k) {
                continue;
            }
            let nearest = self.images[k]
                .iter()
                .filter(|i| (i.stamp - stamp).abs() <= self.slop)
                .min_by(|a, b| (a.stamp - stamp).abs().total_cmp(&(b.stamp - stamp).abs()));
            if let Some(image) = nearest {
                last_received = last_received.max(image.received);
                images.push((k, image.value.clone()));
            }
        }
        let cloud = match reference {
            None => self.clouds.iter().find(|c| c.stamp == stamp).map(|c| c.value.clone()),
            Some(_) => None,
        };
        self.last_decided = stamp;
        self.clouds.retain(|c| c.stamp > stamp);
        let oldest_useful = stamp - self.slop;
        self.images.iter_mut().for_each(|q| q.retain(|i| i.stamp >= oldest_useful));
        Some(SyncedSet { stamp, last_received, cloud, images, left_out: waiting })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;

    type Sync = SensorSync<u32, u32>;

    fn all(_: usize) -> bool {
        true
    }

    fn sync() -> Sync {
        SensorSync::new(2, 0.05, 1.0, 0.5, 10)
    }

    #[test]
    fn a_set_waits_for_every_camera_then_pairs_by_stamp() {
        let mut s = sync();
        s.push_cloud(10.0, 0.0, 7);
        s.push_image(0, 10.01, 0.01, 100);
        assert!(s.pop(0.02, &all).is_none(), "camera 1 has not sent yet");
        s.push_image(1, 9.99, 0.02, 200);
        assert!(s.pop(0.03, &all).is_none(), "camera 1's newest is older than the sweep");
        s.push_image(1, 10.02, 0.03, 201);
        let set = s.pop(0.03, &all).unwrap();
        assert_eq!((set.stamp, set.cloud, set.images), (10.0, Some(7), vec![(0, 100), (1, 200)]));
        assert_eq!(set.last_received, 0.02, "the latest receive time of the set's own messages");
        assert!(s.pop(0.04, &all).is_none(), "decided once");
    }

    #[test]
    fn a_silent_camera_is_left_out_after_the_timeout_then_not_waited_for() {
        let mut s = sync();
        s.push_cloud(10.0, 0.0, 1);
        s.push_image(0, 10.0, 0.0, 100);
        assert!(s.pop(0.4, &all).is_none());
        let set = s.pop(0.6, &all).unwrap();
        assert_eq!((set.images, set.left_out), (vec![(0, 100)], vec![1]));
        s.push_cloud(10.5, 1.0, 2);
        s.push_image(0, 10.5, 1.0, 101);
        assert_eq!(s.pop(1.0, &all).unwrap().images, vec![(0, 101)], "camera 1 is no longer awaited");
        // An uncalibrated camera is awaited (its CameraInfo may follow its
        // image) up to the timeout, and never used.
        s.push_cloud(11.0, 1.5, 3);
        s.push_image(1, 11.0, 1.5, 300);
        s.push_image(0, 11.0, 1.5, 102);
        assert!(s.pop(1.5, &|k| k == 1).is_none());
        let set = s.pop(2.1, &|k| k == 1).unwrap();
        assert_eq!((set.images, set.left_out), (vec![(1, 300)], vec![0]));
    }

    #[test]
    fn without_sweeps_the_first_camera_is_the_reference_until_the_lidar_returns() {
        let mut s = sync();
        s.push_cloud(10.0, 0.0, 1);
        s.push_image(0, 10.0, 0.0, 100);
        s.push_image(1, 10.0, 0.0, 200);
        assert!(s.update_mode(0.0).is_none());
        assert!(s.pop(0.0, &all).unwrap().cloud.is_some());
        assert!(s.update_mode(3.0).is_none(), "no newer image: the LiDAR is between sweeps, not silent");
        s.push_image(0, 10.5, 1.5, 101);
        s.push_image(1, 10.5, 1.5, 201);
        assert!(s.update_mode(0.9).is_none(), "not yet past the timeout");
        let line = s.update_mode(1.5).unwrap();
        assert!(line.contains("LiDAR silent for 1.5 s"), "{line}");
        assert!(s.update_mode(1.6).is_none(), "said once");
        let set = s.pop(1.5, &all).unwrap();
        assert_eq!((set.stamp, set.cloud, set.images), (10.5, None, vec![(0, 101), (1, 201)]));
        s.push_cloud(11.0, 2.0, 2);
        assert!(s.update_mode(2.0).unwrap().contains("LiDAR back"));
    }

    #[test]
    fn stamps_jumping_back_reset_the_queues() {
        let mut s = sync();
        s.push_cloud(10.0, 0.0, 1);
        s.push_image(0, 10.0, 0.0, 100);
        s.push_image(1, 10.0, 0.0, 200);
        assert!(s.pop(0.0, &all).is_some());
        assert!(s.push_cloud(5.0, 1.0, 2), "a replay started over");
        s.push_image(0, 5.0, 1.0, 101);
        s.push_image(1, 5.0, 1.0, 201);
        assert_eq!(s.pop(1.0, &all).unwrap().stamp, 5.0);
        for k in 0..12 {
            s.push_image(0, 6.0 + f64::from(k), 2.0, k);
        }
        assert_eq!(s.overflowed, 3, "one image of 5.0 was still queued");
    }
}
