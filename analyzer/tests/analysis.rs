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
    // The published median is torch's lower middle value; the MAD is scipy's, about the
    // averaged median. Values -20, -12.053, -10, -9, -6.947, 0: lower median -10, averaged -9.5,
    // deviations 10.5, 2.553, 0.5, 0.5, 2.553, 9.5 -> MAD 2.553 * 1.482602 = 3.7851, times
    // 2.576 = 9.7505: |-10| passes, |-9.5| would not.
    let col = array![[-20.0f32], [-12.053], [-10.0], [-9.0], [-6.947], [0.0]];
    assert_eq!(prediction_rule(col.view()), vec![true]);
    let shifted = col.mapv(|v| v + 0.5); // lower median -9.5: now below the threshold
    assert_eq!(prediction_rule(shifted.view()), vec![false]);
    assert_eq!(
        prediction_rule(ndarray::Array2::<f32>::zeros((0, 2)).view()),
        vec![false, false]
    );
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
    // Both standard errors use the normal group's count, as published: normal 1,2,3 (n = 3),
    // distractor 5,7 (mean 6, var 2): z = 4 / sqrt(1/3 + 2/3) = 4.
    let distr = array![[5.0f32, 0.5], [7.0, 0.5]];
    let z = error_z(normal.view(), &[3, 3, 3, 4], distr.view(), &[3, 3]);
    assert!((z[3][0] - 4.0).abs() < 1e-9, "{}", z[3][0]);
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
    // unit 6: within (3) and across (prediction 5, error 9): h2 as published
    pred[3][6] = true;
    err[3][6] = true;
    pred[5][6] = true;
    err[9][6] = true;
    // unit 7: unspecified
    let t = classify(&pred, &err);
    use UnitType::*;
    assert_eq!(t, vec![E1, E2, P1, P2, H1, H2, H2, Unspecified]);
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
        (1, 1, 1, 1, 1, 2, 1)
    );
    // Fig 3B as published: class_var[c][unit] = 10 c + unit / 10.
    let class_var: Vec<Vec<f64>> = (0..10)
        .map(|c| (0..8).map(|u| 10.0 * c as f64 + u as f64 / 10.0).collect())
        .collect();
    let ascending = |c: usize| (c + 9) % 10;
    let v = input_variance(&t, &pred, &err, &class_var, ascending);
    // Prediction units 2 (predicts 4 -> class 3: 30.2) and 3 (4, 6 -> classes 3, 5: 40.3):
    // median 35.25.
    assert!((v.prediction.unwrap() - 35.25).abs() < 1e-9, "{v:?}");
    // Error units 0 (class 2: 20.0) and 1 (classes 1, 5: 30.1): median 25.05.
    assert!((v.error.unwrap() - 25.05).abs() < 1e-9, "{v:?}");
    // Hybrids 4 (pred 7 -> 6: 60.4; err 7, 1: 40.4), 5 (pred 7 -> 60.5; err 8: 80.5),
    // 6 (pred 3, 5 -> 2, 4: 30.6; err 3, 9: 60.6).
    assert!((v.hybrid_prediction.unwrap() - 60.4).abs() < 1e-9, "{v:?}");
    assert!((v.hybrid_error.unwrap() - 60.6).abs() < 1e-9, "{v:?}");
    // Unit 7: the mean over all classes, 45.7.
    assert!((v.unspecified.unwrap() - 45.7).abs() < 1e-9, "{v:?}");
    // On a permutation stream a prediction unit's input is the class before on *its* path:
    // with the cycle 0 -> 4 -> 6 -> ... (previous(4) = 0, previous(6) = 4), unit 2 (predicts
    // 4) reads class 0 (0.2) and unit 3 (predicts 4 and 6) classes 0 and 4 ((0.3 + 40.3) / 2).
    let previous = |c: usize| match c {
        4 => 0,
        6 => 4,
        c => (c + 9) % 10,
    };
    let p = input_variance(&t, &pred, &err, &class_var, previous);
    assert!(
        (p.prediction.unwrap() - (0.2 + 20.3) / 2.0).abs() < 1e-9,
        "{p:?}"
    );
    assert_eq!(p.error, v.error);
    let none = input_variance(
        &[E1],
        &vec![vec![false]; 10],
        &{
            let mut e = vec![vec![false]; 10];
            e[0][0] = true;
            e
        },
        &vec![vec![1.0]; 10],
        ascending,
    );
    assert_eq!((none.prediction, none.error), (None, Some(1.0)));
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
    // Lower middle values of even counts (torch.median): pixel 0 of 0, 0.2, 0.4, 1.0 is 0.2.
    let (all, by_class) = median_images(&im);
    assert_eq!(all, vec![0.2, 0.5]);
    assert_eq!(by_class[0], vec![0.0, 0.0]);
    assert_eq!(by_class[1], vec![0.4, 0.5]);
    assert_eq!(
        by_class[5], all,
        "a class without images falls back to the overall median"
    );
    let v = class_pixel_variance(&im);
    // class 0 pixel 0: 0, 0.2 -> var 0.02; class 1 pixel 1: 1.0, 0.5 -> var 0.125.
    assert!((v[0][0] - 0.02).abs() < 1e-6, "{v:?}");
    assert!((v[1][1] - 0.125).abs() < 1e-6, "{v:?}");
    assert_eq!(
        v[5],
        vec![0.0, 0.0],
        "a class without images has no variance"
    );
    // References of one step, two sequences (classes 0 and 1).
    let x = Array3::from_shape_vec((1, 2, 2), vec![0.2f32, 1.0, 0.4, 0.0]).unwrap();
    let labels = array![[0u8], [1u8]];
    let r = reference_curves(x.view(), labels.view(), &all, &by_class);
    assert!((r.input[0] - 1.6 / 4.0).abs() < 1e-6);
    // |0.2-0.2| + |1-0.5| + |0.4-0.2| + |0-0.5| = 0+0.5+0.2+0.5 = 1.2
    assert!((r.dataset_median[0] - 1.2 / 4.0).abs() < 1e-6);
    // |0.2-0| + |1-0| + |0.4-0.4| + |0-0.5| = 0.2+1+0+0.5 = 1.7
    assert!((r.category_median[0] - 1.7 / 4.0).abs() < 1e-6);

    // The same references from reference frames (a moving stream's placed medians) give the
    // same numbers when the frames are the medians themselves.
    let dm = Array3::from_shape_vec((1, 2, 2), [all.clone(), all.clone()].concat()).unwrap();
    let cm = Array3::from_shape_vec(
        (1, 2, 2),
        [by_class[0].clone(), by_class[1].clone()].concat(),
    )
    .unwrap();
    assert_eq!(reference_curves_against(x.view(), dm.view(), cm.view()), r);

    // Per-class variance over frames: two steps of two sequences; class 0 shows pixel 0 as
    // 0.2, 0.4 and 0.9 (mean 0.5, var (0.09 + 0.01 + 0.16) / 2 = 0.13).
    let frames =
        Array3::from_shape_vec((2, 2, 2), vec![0.2f32, 1.0, 0.4, 0.0, 0.9, 1.0, 7.0, 7.0]).unwrap();
    let frame_labels = array![[0u8, 0], [0u8, 3]];
    let mut m = ClassMoments::new(2);
    m.add_frames(frames.view(), frame_labels.view());
    let v = m.variance();
    assert!((v[0][0] - 0.13).abs() < 1e-6, "{v:?}");
    assert!((v[0][1] - 1.0 / 3.0).abs() < 1e-6, "{v:?}");
    assert_eq!(v[3], vec![0.0, 0.0], "one frame has no variance");
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
