//! Loop closure off the tracking thread: [`BackgroundLoopDetector`] wraps
//! any [`LoopDetector`] and runs it on a worker thread of its own, so a
//! live node keeps tracking at camera rate while a keyframe is described
//! and registered (hundreds of milliseconds with FPFH).
//!
//! Each new keyframe is copied (images and camera) together with a snapshot
//! of the pose graph and handed to the worker; [`LoopDetector::detect`]
//! returns at once with the loop edges of checks that have finished since
//! the last call. The edges are relative measurements between keyframe ids,
//! so they stay valid however late they arrive; the graph adds them with its
//! robust kernel as it does synchronous ones.
//!
//! When the worker falls behind, only the newest of the keyframes that
//! queued up is described, added to its database and checked; the others
//! are skipped (consecutive keyframes show nearly the same place, and a
//! live node cares about the place it is in now). The database then holds
//! one keyframe per check the CPU affords instead of falling further and
//! further behind. [`LoopDetector::finish`] waits for the
//! checks in flight, so a run's final map has every edge found.
//!
//! Results depend on thread timing; offline runs (`cairn slam`, in-process
//! `cairn replay`) use the synchronous detector and stay deterministic.

use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread::JoinHandle;

use cairn_core::transform::Rigid3;
use cairn_core::{DepthImage, PinholeCamera, RgbImage};

use crate::graph::PoseGraph;
use crate::loops::{Keyframe, LoopDecision, LoopDetector, LoopEdge, PoseGraphView};
use crate::{Error, Result};

/// A keyframe the worker owns (the tracker keeps its own images).
struct OwnedKeyframe {
    id: usize,
    stamp: f64,
    camera: PinholeCamera,
    rgb: RgbImage,
    depth_m: DepthImage,
    world_from_camera: Rigid3,
}

impl OwnedKeyframe {
    fn copy_of(keyframe: &Keyframe<'_>) -> Self {
        OwnedKeyframe {
            id: keyframe.id,
            stamp: keyframe.stamp,
            camera: keyframe.camera,
            rgb: keyframe.rgb.clone(),
            depth_m: keyframe.depth_m.clone(),
            world_from_camera: keyframe.world_from_camera,
        }
    }

    fn view(&self) -> Keyframe<'_> {
        Keyframe {
            id: self.id,
            stamp: self.stamp,
            camera: self.camera,
            rgb: &self.rgb,
            depth_m: &self.depth_m,
            world_from_camera: self.world_from_camera,
        }
    }
}

/// One keyframe's work for the worker.
struct Job {
    keyframe: OwnedKeyframe,
    graph: PoseGraph,
}

/// What the worker sends back per job: the edges found (none when the
/// check was skipped) and the inner detector's new decisions.
struct Outcome {
    edges: Result<Vec<LoopEdge>>,
    decisions: Vec<LoopDecision>,
}

/// A [`LoopDetector`] that runs another one on a worker thread (see the
/// module documentation).
pub struct BackgroundLoopDetector {
    jobs: Option<Sender<Job>>,
    outcomes: Receiver<Outcome>,
    worker: Option<JoinHandle<()>>,
    /// The keyframe given to `add_keyframe`, sent with the next `detect`.
    pending: Option<OwnedKeyframe>,
    /// Jobs sent whose outcome has not come back.
    in_flight: usize,
    decisions: Vec<LoopDecision>,
}

impl BackgroundLoopDetector {
    /// Starts a worker thread that owns `detector`.
    pub fn spawn(detector: Box<dyn LoopDetector + Send>) -> Result<Self> {
        let (jobs, job_receiver) = mpsc::channel();
        let (outcome_sender, outcomes) = mpsc::channel();
        let worker = std::thread::Builder::new()
            .name("loop-closure".into())
            .spawn(move || work(detector, &job_receiver, &outcome_sender))
            .map_err(|e| Error::LoopDetector(Box::new(e)))?;
        Ok(BackgroundLoopDetector {
            jobs: Some(jobs),
            outcomes,
            worker: Some(worker),
            pending: None,
            in_flight: 0,
            decisions: Vec::new(),
        })
    }

    /// Checks handed to the worker whose results have not been collected.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Takes one outcome in: records its decisions, returns its edges.
    fn absorb(&mut self, outcome: Outcome) -> Result<Vec<LoopEdge>> {
        self.in_flight = self.in_flight.saturating_sub(1);
        self.decisions.extend(outcome.decisions);
        outcome.edges
    }

    /// Edges of every finished check, without waiting.
    fn collect_ready(&mut self) -> Result<Vec<LoopEdge>> {
        let mut edges = Vec::new();
        loop {
            match self.outcomes.try_recv() {
                Ok(outcome) => edges.extend(self.absorb(outcome)?),
                Err(TryRecvError::Empty) => return Ok(edges),
                Err(TryRecvError::Disconnected) if self.in_flight == 0 => return Ok(edges),
                Err(TryRecvError::Disconnected) => return Err(worker_gone()),
            }
        }
    }
}

/// The error for a worker that stopped without answering.
fn worker_gone() -> Error {
    Error::LoopDetector("the loop-closure worker thread stopped unexpectedly".into())
}

/// The worker: takes every queued job, adds and checks the newest one's
/// keyframe and answers the skipped ones with nothing.
fn work(mut detector: Box<dyn LoopDetector + Send>, jobs: &Receiver<Job>, outcomes: &Sender<Outcome>) {
    while let Ok(first) = jobs.recv() {
        let mut newest = first;
        for later in jobs.try_iter() {
            newest = later;
            if outcomes.send(Outcome { edges: Ok(Vec::new()), decisions: Vec::new() }).is_err() {
                return;
            }
        }
        let known = detector.decisions().len();
        let edges = detector.add_keyframe(&newest.keyframe.view()).and_then(|()| detector.detect(&newest.graph.view()));
        let decisions = detector.decisions().get(known..).unwrap_or_default().to_vec();
        if outcomes.send(Outcome { edges, decisions }).is_err() {
            return;
        }
    }
}

impl LoopDetector for BackgroundLoopDetector {
    fn add_keyframe(&mut self, keyframe: &Keyframe<'_>) -> Result<()> {
        self.pending = Some(OwnedKeyframe::copy_of(keyframe));
        Ok(())
    }

    fn detect(&mut self, graph: &PoseGraphView<'_>) -> Result<Vec<LoopEdge>> {
        if let Some(keyframe) = self.pending.take() {
            let job = Job { keyframe, graph: graph.graph().clone() };
            let sent = self.jobs.as_ref().is_some_and(|jobs| jobs.send(job).is_ok());
            if !sent {
                return Err(worker_gone());
            }
            self.in_flight += 1;
        }
        self.collect_ready()
    }

    fn finish(&mut self, graph: &PoseGraphView<'_>) -> Result<Vec<LoopEdge>> {
        let mut edges = self.detect(graph)?;
        while self.in_flight > 0 {
            let outcome = self.outcomes.recv().map_err(|_| worker_gone())?;
            edges.extend(self.absorb(outcome)?);
        }
        Ok(edges)
    }

    fn decisions(&self) -> &[LoopDecision] {
        &self.decisions
    }
}

impl Drop for BackgroundLoopDetector {
    /// Closes the job queue and waits for the check in progress (at most
    /// one keyframe's work).
    fn drop(&mut self) {
        self.jobs = None;
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::GraphConfig;
    use crate::loops::LoopOutcome;
    use nalgebra::Matrix6;
    use std::sync::{Arc, Mutex};

    /// Proposes an edge from every checked keyframe to keyframe 0 and
    /// records which keyframes it saw; a gate lets a test hold the worker.
    struct Recorder {
        added: Added,
        gate: Arc<Mutex<()>>,
        last: Option<usize>,
        decisions: Vec<LoopDecision>,
        fail_on: Option<usize>,
    }

    impl LoopDetector for Recorder {
        fn add_keyframe(&mut self, keyframe: &Keyframe<'_>) -> Result<()> {
            if self.fail_on == Some(keyframe.id) {
                return Err(Error::LoopDetector("broken keyframe".into()));
            }
            self.added.lock().map_err(|_| worker_gone())?.push(keyframe.id);
            self.last = Some(keyframe.id);
            Ok(())
        }

        fn detect(&mut self, graph: &PoseGraphView<'_>) -> Result<Vec<LoopEdge>> {
            let _held = self.gate.lock().map_err(|_| worker_gone())?;
            let id = self.last.ok_or(Error::UnknownKeyframe(0))?;
            assert!(graph.world_from_keyframe(id).is_some(), "the snapshot has the keyframe");
            self.decisions.push(LoopDecision {
                keyframe: id,
                candidates: 1,
                best: Some(0),
                overlap: 0.5,
                inliers: 10,
                fitness: 1.0,
                outcome: LoopOutcome::Accepted,
                describe_ms: 0.0,
                candidates_ms: 0.0,
                registration_ms: 0.0,
            });
            let edge = LoopEdge {
                from: id,
                to: 0,
                to_from_from: Rigid3::identity(),
                information: Matrix6::identity(),
                score: 0.5,
            };
            Ok(vec![edge])
        }

        fn decisions(&self) -> &[LoopDecision] {
            &self.decisions
        }
    }

    struct Fixture {
        camera: PinholeCamera,
        rgb: RgbImage,
        depth: DepthImage,
        graph: PoseGraph,
    }

    impl Fixture {
        fn new() -> Self {
            let camera = PinholeCamera::new(8, 6, 10.0, 10.0, 3.5, 2.5);
            let rgb = RgbImage::new(8, 6, vec![0; 8 * 6 * 3]).unwrap();
            let depth = DepthImage::new(8, 6, vec![1.0; 8 * 6]).unwrap();
            Fixture { camera, rgb, depth, graph: PoseGraph::new(GraphConfig::default()) }
        }

        /// Adds keyframe `id` to the graph and the detector, then detects.
        fn step(&mut self, detector: &mut BackgroundLoopDetector, id: usize) -> Result<Vec<LoopEdge>> {
            self.graph.add_keyframe(id, id as f64, Rigid3::identity()).unwrap();
            let keyframe = Keyframe {
                id,
                stamp: id as f64,
                camera: self.camera,
                rgb: &self.rgb,
                depth_m: &self.depth,
                world_from_camera: Rigid3::identity(),
            };
            detector.add_keyframe(&keyframe)?;
            detector.detect(&self.graph.view())
        }
    }

    /// The keyframe ids a [`Recorder`] was given.
    type Added = Arc<Mutex<Vec<usize>>>;

    fn recorder(fail_on: Option<usize>) -> (Recorder, Added, Arc<Mutex<()>>) {
        let added = Arc::new(Mutex::new(Vec::new()));
        let gate = Arc::new(Mutex::new(()));
        let inner =
            Recorder { added: Arc::clone(&added), gate: Arc::clone(&gate), last: None, decisions: Vec::new(), fail_on };
        (inner, added, gate)
    }

    #[test]
    fn a_backlog_is_skipped_but_for_its_newest_keyframe() {
        let (inner, added, gate) = recorder(None);
        let mut detector = BackgroundLoopDetector::spawn(Box::new(inner)).unwrap();
        let mut fixture = Fixture::new();
        let held = gate.lock().unwrap();
        // Keyframe 0 reaches the worker, which then waits at the gate while
        // 1, 2 and 3 queue up.
        let mut edges = fixture.step(&mut detector, 0).unwrap();
        while added.lock().unwrap().is_empty() {
            std::thread::yield_now();
        }
        for id in 1..4 {
            edges.extend(fixture.step(&mut detector, id).unwrap());
        }
        assert!(edges.is_empty(), "nothing has finished while the worker is held");
        drop(held);
        edges.extend(detector.finish(&fixture.graph.view()).unwrap());
        assert_eq!(*added.lock().unwrap(), vec![0, 3], "1 and 2 queued behind 3 and were skipped");
        let checked: Vec<usize> = edges.iter().map(|e| e.from).collect();
        assert_eq!(checked, vec![0, 3], "0 alone, then the newest of the backlog");
        let decided: Vec<usize> = detector.decisions().iter().map(|d| d.keyframe).collect();
        assert_eq!(decided, vec![0, 3]);
        assert_eq!(detector.in_flight(), 0);
    }

    #[test]
    fn finished_checks_come_back_at_a_later_detect() {
        let (inner, _, _) = recorder(None);
        let mut detector = BackgroundLoopDetector::spawn(Box::new(inner)).unwrap();
        let mut fixture = Fixture::new();
        let mut edges = fixture.step(&mut detector, 0).unwrap();
        while detector.in_flight() > 0 {
            edges.extend(detector.detect(&fixture.graph.view()).unwrap());
            std::thread::yield_now();
        }
        assert_eq!(edges.len(), 1);
        assert!(detector.finish(&fixture.graph.view()).unwrap().is_empty(), "nothing left");
    }

    #[test]
    fn an_inner_error_reaches_the_caller() {
        let (inner, _, _) = recorder(Some(1));
        let mut detector = BackgroundLoopDetector::spawn(Box::new(inner)).unwrap();
        let mut fixture = Fixture::new();
        fixture.step(&mut detector, 0).unwrap();
        // The error comes back at whichever call collects keyframe 1's check.
        let result = fixture.step(&mut detector, 1).and_then(|_| detector.finish(&fixture.graph.view()));
        let error = result.unwrap_err();
        assert!(error.to_string().contains("broken keyframe"), "{error}");
    }
}
