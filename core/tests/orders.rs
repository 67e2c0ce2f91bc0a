//! The class orders of issue 15 on the embedded digits: a seeded permutation cycle and Markov
//! streams whose measured conditional entropy matches the requested one.

use epc_core::data::{load, DataSource, DatasetKind, FetchOptions, Images};
use epc_core::sequence::{
    class_permutation, markov_entropy, markov_successor_probability, ClassOrder, Sequence,
    SequenceConfig, SequenceSampler, MAX_ENTROPY_BITS,
};
use epc_core::NUM_CLASSES;

fn digits() -> Images {
    load(&DataSource {
        kind: DatasetKind::Digits,
        data_dir: None,
        fetch: FetchOptions {
            enabled: false,
            cache_dir: "/nonexistent".into(),
            mirrors: vec![],
        },
    })
    .unwrap()
    .train
}

fn draw(cfg: SequenceConfig, epochs: u64) -> Vec<Sequence> {
    let s = SequenceSampler::new(&digits(), cfg, 5).unwrap();
    (0..epochs).flat_map(|e| s.epoch(e)).collect()
}

/// The empirical conditional entropy H(next class | class) of the sequences, in bits.
fn conditional_entropy(seqs: &[Sequence]) -> f64 {
    let mut counts = [[0f64; NUM_CLASSES]; NUM_CLASSES];
    for s in seqs {
        for w in s.labels.windows(2) {
            counts[w[0] as usize][w[1] as usize] += 1.0;
        }
    }
    let total: f64 = counts.iter().flatten().sum();
    let mut h = 0.0;
    for row in &counts {
        let n: f64 = row.iter().sum();
        for &c in row.iter().filter(|&&c| c > 0.0) {
            h -= c / total * (c / n).log2();
        }
    }
    h
}

#[test]
fn the_entropy_formula_spans_ascending_to_random() {
    assert_eq!(markov_entropy(1.0), 0.0);
    assert!((markov_entropy(0.1) - 10f64.log2()).abs() < 1e-12);
    assert!((MAX_ENTROPY_BITS - 10f64.log2()).abs() < 1e-12);
    // By hand: p = 0.5 gives 0.5 + 9 * (0.5 / 9) * log2(18) = 0.5 + 0.5 * log2(18).
    assert!((markov_entropy(0.5) - (0.5 + 0.5 * 18f64.log2())).abs() < 1e-12);
    for bits in [0.0, 0.5, 1.0, 2.0, 3.0, MAX_ENTROPY_BITS] {
        let p = markov_successor_probability(bits);
        assert!((0.1 - 1e-9..=1.0).contains(&p), "{bits}: {p}");
        assert!((markov_entropy(p) - bits).abs() < 1e-9, "{bits}: {p}");
    }
}

#[test]
fn markov_streams_have_the_requested_conditional_entropy() {
    for bits in [0.0, 1.0, 2.0, MAX_ENTROPY_BITS] {
        let cfg = SequenceConfig {
            order: ClassOrder::Markov,
            entropy: Some(bits),
            ..SequenceConfig::default()
        };
        let seqs = draw(cfg, 40);
        let h = conditional_entropy(&seqs);
        assert!(
            (h - bits).abs() < 0.08,
            "asked {bits} bits, measured {h:.3}"
        );
    }
    // Zero bits is the ascending stream exactly.
    let markov0 = SequenceConfig {
        order: ClassOrder::Markov,
        entropy: Some(0.0),
        ..SequenceConfig::default()
    };
    for s in draw(markov0, 2) {
        for (t, w) in s.labels.windows(2).enumerate() {
            assert_eq!(w[1], (w[0] + 1) % 10, "step {t} of {:?}", s.labels);
        }
    }
}

#[test]
fn k_successor_streams_branch_among_k_classes_with_log2_k_bits() {
    for k in [1usize, 2, 3, 5, 10] {
        let cfg = SequenceConfig {
            order: ClassOrder::Successors,
            successors: Some(k),
            ..SequenceConfig::default()
        };
        let seqs = draw(cfg, 40);
        let mut seen = [[false; NUM_CLASSES]; NUM_CLASSES];
        for s in &seqs {
            for w in s.labels.windows(2) {
                let step = (w[1] as usize + NUM_CLASSES - w[0] as usize - 1) % NUM_CLASSES;
                assert!(step < k, "{k} successors: {} -> {}", w[0], w[1]);
                seen[w[0] as usize][w[1] as usize] = true;
            }
        }
        // Every one of the k successors of every class occurs.
        let n_seen: usize = seen.iter().flatten().filter(|&&b| b).count();
        assert_eq!(n_seen, NUM_CLASSES * k, "{k} successors");
        let h = conditional_entropy(&seqs);
        let want = (k as f64).log2();
        assert!(
            (h - want).abs() < 0.05,
            "{k}: asked {want:.3} bits, measured {h:.3}"
        );
    }
}

#[test]
fn a_permutation_order_follows_one_seeded_cycle() {
    let cycle = class_permutation(3);
    let mut sorted = cycle;
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        std::array::from_fn(|i| i),
        "a permutation of the classes"
    );
    assert_eq!(class_permutation(3), cycle, "seeded");
    assert_ne!(class_permutation(4), cycle, "another seed, another cycle");
    let mut next = [0usize; NUM_CLASSES];
    for i in 0..NUM_CLASSES {
        next[cycle[i]] = cycle[(i + 1) % NUM_CLASSES];
    }
    let cfg = SequenceConfig {
        order: ClassOrder::Permutation,
        order_seed: 3,
        ..SequenceConfig::default()
    };
    let seqs = draw(cfg, 3);
    assert!(seqs.len() > 50);
    for s in &seqs {
        for w in s.labels.windows(2) {
            assert_eq!(w[1] as usize, next[w[0] as usize], "{:?}", s.labels);
        }
    }
    assert!(conditional_entropy(&seqs).abs() < 1e-12);
}

#[test]
fn orders_and_entropies_that_do_not_go_together_are_refused() {
    let bad = [
        (ClassOrder::Markov, None, "needs an entropy"),
        (ClassOrder::Markov, Some(3.5), "outside"),
        (ClassOrder::Markov, Some(-0.1), "outside"),
        (ClassOrder::Random, Some(1.0), "not of the random order"),
    ];
    for (order, entropy, needle) in bad {
        let cfg = SequenceConfig {
            order,
            entropy,
            ..SequenceConfig::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains(needle), "{err}");
    }
    let bad = [
        (ClassOrder::Successors, None, "needs a number of successors"),
        (ClassOrder::Successors, Some(0), "outside 1 to 10"),
        (ClassOrder::Successors, Some(11), "outside 1 to 10"),
        (ClassOrder::Markov, Some(2), "not of the markov order"),
    ];
    for (order, successors, needle) in bad {
        let cfg = SequenceConfig {
            order,
            successors,
            entropy: (order == ClassOrder::Markov).then_some(1.0),
            ..SequenceConfig::default()
        };
        let err = cfg.validate().unwrap_err().to_string();
        assert!(err.contains(needle), "{err}");
    }
}

#[test]
fn the_class_cycle_is_the_predictable_path_of_each_order() {
    use epc_core::sequence::{class_permutation, ClassCycle, ClassOrder, SequenceConfig};
    let cfg = |order, order_seed| SequenceConfig {
        order,
        order_seed,
        entropy: (order == ClassOrder::Markov).then_some(1.0),
        ..SequenceConfig::default()
    };
    for order in [
        ClassOrder::Ascending,
        ClassOrder::Markov,
        ClassOrder::Random,
    ] {
        let c = ClassCycle::of(&cfg(order, 5));
        assert!(c.is_ascending(), "{order:?}");
        assert_eq!(c.class_at(7, 5), 2);
        assert_eq!(c.start_for(2, 8), 4);
        assert_eq!(c.previous(0), 9);
    }
    let perm = class_permutation(3);
    let c = ClassCycle::of(&cfg(ClassOrder::Permutation, 3));
    assert!(!c.is_ascending());
    for start in 0..10 {
        let p = perm.iter().position(|&x| x == start).unwrap();
        for k in 0..25 {
            let class = c.class_at(start, k);
            assert_eq!(class, perm[(p + k) % 10]);
            assert_eq!(c.start_for(class, k), start, "start {start}, k {k}");
        }
        assert_eq!(c.class_at(c.previous(start), 1), start);
    }
    // The sampler's permutation streams run along the same cycle.
    let images = epc_core::data::digits::embedded().1;
    let sampler =
        epc_core::sequence::SequenceSampler::new(&images, cfg(ClassOrder::Permutation, 3), 1)
            .unwrap();
    for s in sampler.epoch(0) {
        let l: Vec<usize> = s.labels.iter().map(|&x| x as usize).collect();
        for t in 1..l.len() {
            assert_eq!(l[t], c.class_at(l[0], t));
        }
    }
}
