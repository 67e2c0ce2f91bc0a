//! The spatial rule's readout (analyzer/src/analysis/readout.rs) against an independent numpy
//! computation (tests/reference/readout_reference.py) on features with the troubles real
//! activity has: a silent feature, a nearly silent one, collinear ones and noise.

mod common;

use common::python;
use epc_analyzer::analysis::{position_readout, RIDGE_LAMBDA, SD_FLOOR};
use ndarray::Array2;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use std::path::Path;

#[test]
fn the_readout_matches_numpy() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    let rows = 240;
    let pos = Array2::from_shape_fn((rows, 2), |_| rng.gen_range(0.0..12.0));
    let f = 9;
    let features = Array2::from_shape_fn((rows, f), |(r, j)| {
        let noise: f32 = rng.gen_range(-1.0..1.0);
        match j {
            0 => 0.0, // silent
            1 => {
                if r % 97 == 0 {
                    1e-4
                } else {
                    0.0
                }
            } // nearly silent
            2 => pos[[r, 0]] as f32 + 0.3 * noise, // the row
            3 => 2.0 * pos[[r, 0]] as f32 + 0.3 * noise, // collinear with it
            4 => (pos[[r, 1]] as f32 - 6.0).max(0.0) + noise, // half of the column
            _ => noise,
        }
    });
    let fit = 150;
    let ours = position_readout(features.view(), pos.view(), fit, RIDGE_LAMBDA);
    let tmp = tempfile::tempdir().unwrap();
    let (inp, out) = (tmp.path().join("in.json"), tmp.path().join("out.json"));
    let rows_of =
        |a: &Array2<f32>| -> Vec<Vec<f32>> { a.rows().into_iter().map(|r| r.to_vec()).collect() };
    let targets: Vec<Vec<f64>> = pos.rows().into_iter().map(|r| r.to_vec()).collect();
    std::fs::write(
        &inp,
        json!({"features": rows_of(&features), "targets": targets, "fit": fit,
               "lambda": RIDGE_LAMBDA, "floor": SD_FLOOR})
        .to_string(),
    )
    .unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/reference/readout_reference.py");
    let o = std::process::Command::new(python())
        .args([&script, &inp, &out])
        .output()
        .expect("python runs; source scripts/env.sh");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r: Value = serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let r2 = r["r2"].as_f64().unwrap();
    assert!((ours.r2 - r2).abs() < 1e-9, "{} vs {r2}", ours.r2);
    for (j, (a, b)) in ours
        .scores
        .iter()
        .zip(r["scores"].as_array().unwrap())
        .enumerate()
    {
        let b = b.as_f64().unwrap();
        assert!(
            (a - b).abs() < 1e-9 * (1.0 + b.abs()),
            "feature {j}: {a} vs {b}"
        );
    }
    // The row is read well, the column half as well: a real readout, not a constant.
    assert!(ours.r2 > 0.4 && ours.r2 < 0.99, "{}", ours.r2);
    assert_eq!(ours.scores[0], 0.0);
    // Every feature that carries the position outweighs every one that does not.
    let carriers = [2, 3, 4].map(|j| ours.scores[j]);
    let least = carriers.iter().copied().fold(f64::INFINITY, f64::min);
    assert!(
        (0..f)
            .filter(|j| ![2, 3, 4].contains(j))
            .all(|j| ours.scores[j] < least),
        "{:?}",
        ours.scores
    );
}
