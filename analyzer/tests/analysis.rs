//! The analyses on small hand-made arrays, against naive loops and hand-computed answers.
#![allow(clippy::needless_range_loop)] // naive index loops are the independent reference

use epc_analyzer::analysis::*;
use epc_core::data::{ImageShape, Images};
use ndarray::{array, Array2, Array3};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

#[test]
fn energy_measures_match_a_naive_loop() {
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let (steps, seqs, n) = (4, 5, 6);
    let a = Array3::from_shape_fn((steps, seqs, n), |_| rng.gen_range(-1.0f32..1.0));
    let w = Array2::from_shape_fn((n, n), |_| rng.gen_range(-1.0f32..1.0));
    {
        let e = energy_curves(a.view(), Some(w.view()));
        for t in 0..steps {
            let (mut pre, mut ap, mut st) = (0.0f64, 0.0f64, 0.0f64);
            for s in 0..seqs {
                for j in 0..n {
                    pre += a[[t, s, j]].abs() as f64;
                    ap += a[[t, s, j]].max(0.0) as f64;
                    // st of unit j: what every unit i transmits to it.
                    for i in 0..n {
                        st += (a[[t, s, i]].max(0.0) * w[[i, j]].abs()) as f64;
                    }
                }
            }
            let c = (seqs * n) as f64;
            assert!((e.pre[t] - pre / c).abs() < 1e-6);
            assert!((e.ap[t] - ap / c).abs() < 1e-6);
            assert!((e.st.as_ref().unwrap()[t] - st / c).abs() < 1e-6);
            assert!((e.ec.as_ref().unwrap()[t] - (ap / c / 3.0 + 2.0 * st / c / 3.0)).abs() < 1e-6);
        }
    }
    let no_w = energy_curves(a.view(), None);
    assert!(no_w.st.is_none() && no_w.ec.is_none());
    assert!(no_w.get("st").is_none() && no_w.get("pre").is_some());
}

#[test]
fn prediction_units_by_hand() {
    // 6 sequences; last labels 0,0,0,1,1,1. Unit 0: class 0 values 1.0,1.1,0.9 (median 1, MAD
    // 0.1*1.4826 -> 1 - 2.576*0.148 > 0: predicts 0); class 1 values 0,5,-5 (median 0: no).
    // Unit 1: class 0 values 1,-1,0 (median 0: no); class 1 values -2,-2.1,-1.9 (predicts 1).
    // Unit 2: class 0 values 1,2,30: median 2, MAD 1*1.4826 -> 2 - 3.82 < 0: no.
    let last = array![
        [1.0f32, 1.0, 1.0],
        [1.1, -1.0, 2.0],
        [0.9, 0.0, 30.0],
        [0.0, -2.0, 0.0],
        [5.0, -2.1, 0.0],
        [-5.0, -1.9, 0.0]
    ];
    let p = prediction_units(last.view(), &[0, 0, 0, 1, 1, 1]);
    assert_eq!(p.len(), 10);
    assert_eq!(p[0], vec![true, false, false]);
    assert_eq!(p[1], vec![false, true, false]);
    assert!(
        p[2..].iter().all(|c| c.iter().all(|&b| !b)),
        "classes without sequences predict nothing"
    );
    assert_eq!(any_class(&p), vec![0, 1]);
}

#[test]
fn error_z_by_hand() {
    // Class 3: normal activities of unit 0: 1,2,3 (mean 2, var 1); distractor: 4,6,8 (mean 6, var 4).
    // z = 4 / sqrt(1/3 + 4/3) = 3.098 >= 2.576: error unit. Unit 1 identical in both: z = 0.
    let normal = array![[1.0f32, 0.5], [2.0, 0.5], [3.0, 0.5], [9.0, 9.0]];
    let distr = array![[4.0f32, 0.5], [6.0, 0.5], [8.0, 0.5]];
    let z = error_z(normal.view(), &[3, 3, 3, 4], distr.view(), &[3, 3, 3]);
    assert!((z[3][0] - 3.098386676965933).abs() < 1e-9);
    assert_eq!(z[3][1], 0.0);
    assert!(z[4][0].is_nan(), "class 4 has no distractor sequences");
    let e = error_units(&z);
    assert_eq!(e[3], vec![true, false]);
    assert_eq!(e[4], vec![false, false]);
}

#[test]
fn taxonomy_by_hand() {
    let mut pred = vec![vec![false; 8]; 10];
    let mut err = vec![vec![false; 8]; 10];
    err[2][0] = true; // unit 0: e1
    err[1][1] = true; // unit 1: e2
    err[5][1] = true;
    pred[4][2] = true; // unit 2: p1
    pred[4][3] = true; // unit 3: p2
    pred[6][3] = true;
    pred[7][4] = true; // unit 4: h1 (7 and 7)
    err[7][4] = true;
    err[1][4] = true;
    pred[7][5] = true; // unit 5: h2 (prediction 7, error 8)
    err[8][5] = true;
    // units 6, 7: unspecified
    let t = classify(&pred, &err);
    use UnitType::*;
    assert_eq!(t, vec![E1, E2, P1, P2, H1, H2, Unspecified, Unspecified]);
    let c = type_counts(&t);
    assert_eq!(c.len(), 7);
    assert_eq!(
        (
            c["e1"],
            c["e2"],
            c["p1"],
            c["p2"],
            c["h1"],
            c["h2"],
            c["unspecified"]
        ),
        (1, 1, 1, 1, 1, 1, 2)
    );
    // Median input variance per type.
    let var = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 1.0, 3.0];
    let v = variance_by_type(&t, &var);
    assert_eq!(v["unspecified"], Some(2.0));
    assert_eq!(v["p2"], Some(0.4));
    let none = variance_by_type(&[E1], &[0.5]);
    assert_eq!(none["h2"], None);
}

fn images(values: &[[f32; 2]], labels: &[u8]) -> Images {
    Images {
        shape: ImageShape {
            channels: 1,
            height: 1,
            width: 2,
        },
        pixels: values.iter().flatten().copied().collect(),
        labels: labels.to_vec(),
    }
}

#[test]
fn medians_variances_and_references() {
    let im = images(
        &[[0.0, 1.0], [0.2, 0.0], [0.4, 1.0], [1.0, 0.5]],
        &[0, 0, 1, 1],
    );
    let (all, by_class) = median_images(&im);
    assert_eq!(all, vec![0.3, 0.75]);
    assert_eq!(by_class[0], vec![0.1, 0.5]);
    assert_eq!(by_class[1], vec![0.7, 0.75]);
    assert_eq!(
        by_class[5], all,
        "a class without images falls back to the overall median"
    );
    let v = pixel_variance(&im);
    // pixel 0: 0,0.2,0.4,1.0 -> mean 0.4, ss 0.16+0.04+0+0.36 = 0.56, /3
    assert!((v[0] - 0.56 / 3.0).abs() < 1e-6);
    // References of one step, two sequences (classes 0 and 1).
    let x = Array3::from_shape_vec((1, 2, 2), vec![0.2f32, 1.0, 0.4, 0.0]).unwrap();
    let labels = array![[0u8], [1u8]];
    let r = reference_curves(x.view(), labels.view(), &all, &by_class);
    assert!((r.input[0] - 1.6 / 4.0).abs() < 1e-6);
    // |0.2-0.3| + |1-0.75| + |0.4-0.3| + |0-0.75| = 0.1+0.25+0.1+0.75 = 1.2
    assert!((r.dataset_median[0] - 1.2 / 4.0).abs() < 1e-6);
    // |0.2-0.1| + |1-0.5| + |0.4-0.7| + |0-0.75| = 0.1+0.5+0.3+0.75 = 1.65
    assert!((r.category_median[0] - 1.65 / 4.0).abs() < 1e-6);
}

#[test]
fn random_lesion_units_are_seeded_and_avoid_prediction_units() {
    let a = random_units(&[1, 2, 3], 20, 5, 9);
    assert_eq!(a.len(), 5);
    assert!(a.iter().all(|u| ![1, 2, 3].contains(u) && *u < 20));
    assert!(a.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(a, random_units(&[1, 2, 3], 20, 5, 9));
    assert_ne!(a, random_units(&[1, 2, 3], 20, 5, 10));
    assert_eq!(random_units(&[0, 1], 3, 5, 1), vec![2]);
    assert_eq!(lesion_mask(&[0, 2], 4), vec![0.0, 1.0, 0.0, 1.0]);
}

#[test]
fn drive_curves_and_postsynaptic_drive_by_hand() {
    // Two steps, one sequence, two units.
    let x = Array3::from_shape_vec((2, 1, 2), vec![1.0f32, 0.0, 0.5, 0.5]).unwrap();
    let pre = Array3::from_shape_vec((2, 1, 2), vec![1.0f32, 0.0, 0.0, 2.0]).unwrap();
    let d = drive_curves(x.view(), pre.view());
    assert_eq!(d.input, vec![0.5, 0.5]);
    assert_eq!(d.total, vec![0.5, 1.0]);
    assert_eq!(d.internal, vec![0.0, 0.5]);
    let act = pre.mapv(|v: f32| v.max(0.0));
    let w = array![[1.0f32, -3.0], [0.5, 0.5]]; // row sums -2, 1
    let p = postsynaptic_drive(act.view(), w.view(), &[0, 1], None);
    // k=0: 0; k=1: h after frame 1 = (1, 0): (1*-2 + 0*1)/2 = -1
    assert_eq!(p, vec![0.0, -1.0]);
    assert_eq!(
        postsynaptic_drive(act.view(), w.view(), &[0], Some(&[0.0, 1.0])),
        vec![0.0, 0.0]
    );
    assert!(postsynaptic_drive(act.view(), w.view(), &[], None)[1].is_nan());
}
