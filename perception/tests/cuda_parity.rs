//! The GPU paths of L3D against the CPU (feature `cuda`, needs a GPU):
//!
//! - the DIP network on CUDA gives the CPU's descriptors within 1e-5 on the
//!   canonical patches of a bumpy surface (the built-in weights);
//! - the mutual-nearest-neighbour search as tensors on CUDA
//!   (`mutual_nearest_on`) finds exactly the CPU's exact pairs on 3000 × 2500
//!   random 32-D descriptors and on those DIP descriptors.
//!
//! Without the `cuda` feature, or without a usable GPU, every trial is
//! reported as ignored (skipped), never as passed. Run on a GPU machine with
//! `cargo test -p cairn-perception --features cuda --test cuda_parity`, or
//! through scripts/gpu-check.sh. The CPU tensor path is checked against the
//! exact search in every run (l3d::matching's unit tests).

#![allow(clippy::unwrap_used)] // tests may unwrap (STYLE.md: no unwrap outside tests)

use libtest_mimic::{Arguments, Failed, Trial};

/// Why the trials cannot run here, if they cannot.
fn unavailable() -> Option<String> {
    if !cfg!(feature = "cuda") {
        return Some("cairn-perception was built without the `cuda` feature".into());
    }
    candle_core::Device::new_cuda(0).err().map(|e| format!("no usable GPU: {e}"))
}

fn main() {
    let args = Arguments::from_args();
    let missing = unavailable();
    if let Some(reason) = &missing {
        eprintln!("skipping the CUDA trials: {reason}");
    }
    let trials = vec![
        Trial::test("cuda_parity/dip_descriptors_match_cpu", dip_descriptors_match_cpu),
        Trial::test("cuda_parity/mutual_nearest_matches_cpu", mutual_nearest_matches_cpu),
    ];
    let trials = trials.into_iter().map(|t| t.with_ignored_flag(missing.is_some())).collect();
    libtest_mimic::run(&args, trials).exit();
}

use cairn_perception::l3d::{
    Descriptors, DipNetwork, Neighbours, canonical_patches, mutual_nearest, mutual_nearest_on,
};
use candle_core::Device;
use nalgebra::Point3;

/// DIP descriptors of a bumpy 2 m × 2 m surface on `device`.
fn dip_on(device: &Device) -> Result<Descriptors, Failed> {
    let mut points = Vec::new();
    for i in 0..80 {
        for j in 0..80 {
            let (x, y) = (i as f32 * 0.025, j as f32 * 0.025);
            points.push(Point3::new(x, y, 0.08 * (3.0 * x).sin() * (4.0 * y).cos() + 0.03 * (9.0 * x * y).sin()));
        }
    }
    let cloud = Neighbours::new(points)?;
    let network = DipNetwork::builtin()?.to_device(device)?;
    let config = network.config().clone();
    let which: Vec<usize> = (0..cloud.points().len()).step_by(7).collect();
    let patches = canonical_patches(&cloud, &which, config.patch_radius_m, config.points, 3);
    Ok(network.describe(&patches)?)
}

fn dip_descriptors_match_cpu() -> Result<(), Failed> {
    let gpu = Device::new_cuda(0)?;
    let (cpu, cuda) = (dip_on(&Device::Cpu)?, dip_on(&gpu)?);
    if cpu.len() != cuda.len() || cpu.len() < 100 {
        return Err(format!("{} CPU vs {} CUDA descriptors", cpu.len(), cuda.len()).into());
    }
    let worst = (0..cpu.len())
        .flat_map(|i| cpu.get(i).iter().zip(cuda.get(i)).map(|(a, b)| (a - b).abs()).collect::<Vec<_>>())
        .fold(0.0f32, f32::max);
    eprintln!("DIP: {} descriptors, largest CPU–CUDA difference {worst:.2e}", cpu.len());
    if worst > 1e-5 {
        return Err(format!("DIP descriptors differ by up to {worst}").into());
    }
    let pairs_cpu = mutual_nearest(&cpu, &cpu)?;
    let pairs_gpu = mutual_nearest_on(&cpu, &cpu, &gpu)?;
    if pairs_cpu != pairs_gpu {
        return Err("DIP self-matches differ between CPU and CUDA".into());
    }
    Ok(())
}

fn mutual_nearest_matches_cpu() -> Result<(), Failed> {
    let mut state = 99u64;
    let mut value = || {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    let target = Descriptors::new(32, (0..3000 * 32).map(|_| value()).collect())?;
    let source = Descriptors::new(32, (0..2500 * 32).map(|_| value()).collect())?;
    let exact = mutual_nearest(&target, &source)?;
    let gpu = Device::new_cuda(0)?;
    let start = std::time::Instant::now();
    let on_gpu = mutual_nearest_on(&target, &source, &gpu)?;
    eprintln!("MNN: {} pairs; CUDA search {:.1} ms (first call)", exact.len(), start.elapsed().as_secs_f64() * 1e3);
    if on_gpu != exact {
        let same = on_gpu.iter().filter(|p| exact.contains(p)).count();
        return Err(format!("CUDA found {} pairs, {same} of the CPU's {}", on_gpu.len(), exact.len()).into());
    }
    Ok(())
}
