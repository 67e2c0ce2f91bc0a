//! Models trained on different streams are analysed on the same test images: every stream's
//! test set takes the images of each class in one shared, seeded order (the k-th frame of class
//! c is the same image whatever the class order), so stream comparisons share their draw up to
//! the few images by which the streams' class counts differ.

use epc_analyzer::sequences::{test_set, Stream};
use epc_core::data::digits;
use epc_core::sequence::ClassOrder;
use epc_core::NUM_CLASSES;
use std::collections::BTreeSet;

/// Per class, the images of that class in order of appearance (sequence by sequence).
fn by_class(stream: &Stream, seed: u64) -> Vec<Vec<usize>> {
    let (_, test) = digits::embedded();
    let set = test_set(&test, seed, stream).unwrap();
    let mut out = vec![Vec::new(); NUM_CLASSES];
    for s in &set.seqs {
        for (&img, &label) in s.frames.iter().zip(&s.labels) {
            out[label as usize].push(img);
        }
    }
    out
}

#[test]
fn every_stream_takes_each_class_images_in_the_same_order() {
    let stream = |order, entropy| Stream {
        order,
        entropy,
        order_seed: 4,
        successors: None,
        motion: None,
    };
    let streams = [
        stream(ClassOrder::Ascending, None),
        stream(ClassOrder::Permutation, None),
        stream(ClassOrder::Markov, Some(1.0)),
        Stream {
            successors: Some(3),
            ..stream(ClassOrder::Successors, None)
        },
        stream(ClassOrder::Random, None),
    ];
    let seed = 3;
    let reference = by_class(&streams[0], seed);
    for s in &streams[1..] {
        let other = by_class(s, seed);
        let (mut shared, mut total) = (0usize, 0usize);
        for c in 0..NUM_CLASSES {
            // Each class's images come in one shared order, whatever the stream.
            let k = reference[c].len().min(other[c].len());
            assert_eq!(reference[c][..k], other[c][..k], "{s:?}, class {c}");
            let a: BTreeSet<_> = reference[c].iter().collect();
            let b: BTreeSet<_> = other[c].iter().collect();
            shared += a.intersection(&b).count();
            total += a.len().max(b.len());
        }
        let overlap = shared as f64 / total as f64;
        assert!(overlap > 0.95, "{s:?}: {overlap}");
    }
}
