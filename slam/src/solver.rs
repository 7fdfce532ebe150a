//! The [`PoseGraph`] in factrs (0.3): its factor graph (a tight prior on
//! the first keyframe, one between factor per edge, a Cauchy kernel on loop
//! edges), Levenberg–Marquardt runs, and marginal covariances from the
//! linearised system.
//!
//! Twists in cairn are `(v, ω)` (translation first); factrs orders SE(3)
//! tangents `(ω, v)`: [`swap_blocks`] converts information and covariance
//! matrices between the two. factrs uses its own nalgebra (0.34);
//! conversions go through plain numbers.

use std::ops::Mul;

use cairn_core::transform::Rigid3;
use factrs::containers::{FactorBuilder, Graph, Values, ValuesOrder};
use factrs::core::{BetweenResidual, LevenMarquardt, PriorResidual, SE3, SO3};
use factrs::linalg::{Matrix6 as FMatrix6, Vector3 as FVector3};
use factrs::noise::GaussianNoise;
use factrs::optimizers::{LevenParams, OptError, Optimizer};
use factrs::robust::Cauchy;
use factrs::symbols::X;
use nalgebra::{DMatrix, Matrix6, Quaternion, Translation3, UnitQuaternion};

use crate::graph::{EdgeKind, PoseGraph};
use crate::{Error, Result};

/// The outcome of one Levenberg–Marquardt run.
pub(crate) struct Solution {
    /// Optimised poses, in node order.
    pub(crate) world_from_keyframe: Vec<Rigid3>,
    /// Robust cost before.
    pub(crate) initial_cost: f64,
    /// Robust cost after.
    pub(crate) final_cost: f64,
    /// Iterations run.
    pub(crate) iterations: usize,
}

/// One Levenberg–Marquardt run from the graph's current poses. Ends when a
/// step no longer lowers the cost (factrs' "failed to step" at the optimum
/// included) or after `graph.max_iterations`.
pub(crate) fn solve(graph: &PoseGraph) -> Result<Solution> {
    let factors = factor_graph(graph)?;
    let mut values = values(graph);
    let mut optimizer = LevenMarquardt::new(LevenParams::default(), factors);
    let initial_cost = optimizer.error(&values);
    optimizer.init(&values);
    let mut cost = initial_cost;
    let mut iterations = 0;
    while iterations < graph.config().max_iterations && cost > 0.0 {
        iterations += 1;
        match optimizer.step(values.clone(), iterations) {
            Ok((next, _)) => {
                let next_cost = optimizer.error(&next);
                let converged = cost - next_cost <= 1e-9 * cost;
                values = next;
                cost = next_cost;
                if converged {
                    break;
                }
            }
            Err(OptError::FailedToStep) => break,
            Err(error) => return Err(Error::Graph(format!("Levenberg–Marquardt failed: {error:?}"))),
        }
    }
    let world_from_keyframe = (0..graph.nodes().len())
        .map(|i| {
            let pose: Option<&SE3> = values.get_unchecked(X(i as u32));
            pose.map(from_factrs).ok_or_else(|| Error::Graph(format!("node {i} missing from the solution")))
        })
        .collect::<Result<_>>()?;
    Ok(Solution { world_from_keyframe, initial_cost, final_cost: cost, iterations })
}

/// The graph's poses as factrs values (node `i` is `X(i)`).
fn values(graph: &PoseGraph) -> Values {
    let mut values = Values::new();
    for (i, node) in graph.nodes().iter().enumerate() {
        values.insert_unchecked(X(i as u32), to_factrs(&node.world_from_keyframe));
    }
    values
}

/// The factrs graph: the gauge prior, then one between factor per edge.
fn factor_graph(graph: &PoseGraph) -> Result<Graph> {
    let mut factors = Graph::with_capacity(graph.edges().len() + 1);
    let first = graph.nodes().first().ok_or(Error::Graph("the graph has no keyframes".into()))?;
    let prior = PriorResidual::new(to_factrs(&first.world_from_keyframe));
    let tight = GaussianNoise::<6>::from_scalar_sigma(1e-6);
    factors.add_factor(FactorBuilder::new1_unchecked(prior, X(0)).noise(tight).build());
    for edge in graph.edges() {
        let (from, to) = (graph.index_of(edge.from)?, graph.index_of(edge.to)?);
        // factrs: r = log(X_to⁻¹ · X_from · Z) with Z = from_from_to, the
        // left error of to_from_from, ordered (ω, v).
        let residual = BetweenResidual::new(to_factrs(&edge.to_from_from.inverse()));
        let information = to_fmatrix(&swap_blocks(&edge.information));
        let noise = GaussianNoise::<6>::from_matrix_inf(information.as_view())
            .ok_or_else(|| Error::InvalidEdge(format!("edge {} → {}: bad information", edge.from, edge.to)))?;
        let builder = FactorBuilder::new2_unchecked(residual, X(from as u32), X(to as u32)).noise(noise);
        let factor = match edge.kind {
            EdgeKind::Loop { .. } => builder.robust(Cauchy::new(graph.config().loop_kernel_scale)).build(),
            EdgeKind::Odometry | EdgeKind::Restart => builder.build(),
        };
        factors.add_factor(factor);
    }
    Ok(factors)
}

/// See [`PoseGraph::marginal_covariances`].
pub(crate) fn marginal_covariances(graph: &PoseGraph) -> Result<Vec<Matrix6<f64>>> {
    let factors = factor_graph(graph)?;
    let values = values(graph);
    let order = ValuesOrder::from_values(&values);
    let linear = factors.linearize(&values);
    let pattern = factors.sparsity_pattern(order.clone());
    let jacobian = linear.residual_jacobian(&pattern).diff;
    let transposed = jacobian.as_ref().transpose().to_col_major().map_err(|e| Error::Graph(format!("JᵀJ: {e:?}")))?;
    let dense = transposed.mul(jacobian.as_ref()).to_dense();
    let n = dense.nrows();
    let hessian = DMatrix::from_fn(n, n, |r, c| dense[(r, c)]);
    let cholesky = hessian.cholesky().ok_or_else(|| Error::Graph("the information matrix is singular".into()))?;
    let mut covariances = Vec::with_capacity(graph.nodes().len());
    for i in 0..graph.nodes().len() {
        let column =
            order.get(X(i as u32)).map(|idx| idx.idx).ok_or_else(|| Error::Graph(format!("node {i} has no column")))?;
        let mut unit = DMatrix::zeros(n, 6);
        for k in 0..6 {
            unit[(column + k, k)] = 1.0;
        }
        let solved = cholesky.solve(&unit);
        covariances.push(swap_blocks(&Matrix6::from_fn(|r, c| solved[(column + r, c)])));
    }
    Ok(covariances)
}

/// Swaps the 3×3 blocks of a 6×6 twist matrix between `(v, ω)` and `(ω, v)`
/// order (its own inverse).
pub fn swap_blocks(m: &Matrix6<f64>) -> Matrix6<f64> {
    Matrix6::from_fn(|r, c| m[((r + 3) % 6, (c + 3) % 6)])
}

fn to_factrs(transform: &Rigid3) -> SE3 {
    let q = transform.rotation.quaternion();
    let t = transform.translation.vector;
    SE3::from_rot_trans(SO3::from_xyzw(q.i, q.j, q.k, q.w), FVector3::new(t.x, t.y, t.z))
}

fn from_factrs(pose: &SE3) -> Rigid3 {
    let (rotation, xyz) = (pose.rot(), pose.xyz());
    let quaternion =
        UnitQuaternion::from_quaternion(Quaternion::new(rotation.w(), rotation.x(), rotation.y(), rotation.z()));
    Rigid3::from_parts(Translation3::new(xyz[0], xyz[1], xyz[2]), quaternion)
}

fn to_fmatrix(m: &Matrix6<f64>) -> FMatrix6 {
    FMatrix6::from_fn(|r, c| m[(r, c)])
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)
mod tests {
    use super::*;
    use nalgebra::Vector3;

    #[test]
    fn poses_survive_the_round_trip_through_factrs() {
        let pose = Rigid3::new(Vector3::new(0.3, -1.2, 2.5), Vector3::new(0.4, -0.1, 0.9));
        let back = from_factrs(&to_factrs(&pose));
        assert!((back.translation.vector - pose.translation.vector).norm() < 1e-12);
        assert!(back.rotation.angle_to(&pose.rotation) < 1e-12);
        let m = Matrix6::from_fn(|r, c| (r * 6 + c) as f64);
        assert_eq!(swap_blocks(&swap_blocks(&m)), m);
        assert_eq!(swap_blocks(&m)[(0, 0)], m[(3, 3)]);
    }
}
