//! Derived models of the committed digits model (`testdata/models/digits-l1pre.onnx`): the
//! shuffled-weights control and a replaced initializer, checked on the protobuf itself
//! (parsed here, independently of the reader).

use epc_exporter::onnx::{FloatTensor, ModelFile};
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::ModelProto;
use protobuf::Message;
use std::path::{Path, PathBuf};

fn committed_model() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/models/digits-l1pre.onnx")
}

/// Every float32 initializer (name, values) of the main graph, decoded here.
fn floats(bytes: &[u8]) -> Vec<(String, Vec<f32>)> {
    let m = ModelProto::parse_from_bytes(bytes).unwrap();
    m.graph
        .initializer
        .iter()
        .filter(|t| t.data_type == DataType::FLOAT as i32)
        .map(|t| {
            let v = if t.raw_data.is_empty() {
                t.float_data.clone()
            } else {
                t.raw_data
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
                    .collect()
            };
            (t.name.clone(), v)
        })
        .collect()
}

/// The model without its float32 initializers' values: what a rewrite must leave alone.
fn without_float_values(bytes: &[u8]) -> ModelProto {
    let mut m = ModelProto::parse_from_bytes(bytes).unwrap();
    for t in m.graph.as_mut().unwrap().initializer.iter_mut() {
        if t.data_type == DataType::FLOAT as i32 {
            t.raw_data.clear();
            t.float_data.clear();
        }
    }
    m
}

fn sorted(v: &[f32]) -> Vec<u32> {
    let mut s: Vec<f32> = v.to_vec();
    s.sort_by(f32::total_cmp);
    s.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn shuffled_control_keeps_values_metadata_and_graph_and_follows_its_seed() {
    let original = std::fs::read(committed_model()).unwrap();
    let file = ModelFile::from_bytes(&committed_model(), &original).unwrap();
    let before = floats(&original);
    let big = before.iter().filter(|(_, v)| v.len() >= 2).count();
    assert!(before.iter().any(|(n, v)| n == "W" && v.len() == 64 * 64));

    let (a, permuted) = file.shuffled_bytes(11).unwrap();
    assert_eq!(permuted, big);
    let after = floats(&a);
    assert_eq!(after.len(), before.len());
    for ((n0, v0), (n1, v1)) in before.iter().zip(&after) {
        assert_eq!(n0, n1);
        // The same multiset of values (bit for bit), in another order.
        assert_eq!(sorted(v0), sorted(v1), "{n0}");
        if v0.len() >= 64 {
            let moved = v0.iter().zip(v1).filter(|(x, y)| x != y).count();
            assert!(moved > v0.len() / 2, "{n0}: only {moved} values moved");
        }
    }
    // Everything but the values is as it was: graph, metadata, opset, IR version.
    assert_eq!(without_float_values(&a), without_float_values(&original));
    let shuffled = ModelFile::from_bytes(Path::new("s.onnx"), &a).unwrap();
    assert_eq!(shuffled.metadata(), file.metadata());
    assert!(!file.metadata().is_empty());

    // The same seed gives the same bytes; another seed another order.
    assert_eq!(file.shuffled_bytes(11).unwrap().0, a);
    let b = file.shuffled_bytes(12).unwrap().0;
    assert_ne!(b, a);
    let (wa, wb) = (&after[0].1, &floats(&b)[0].1);
    assert!(wa.iter().zip(wb).filter(|(x, y)| x != y).count() > wa.len() / 2);
}

#[test]
fn identity_rewrite_gives_the_file_back() {
    let original = std::fs::read(committed_model()).unwrap();
    let file = ModelFile::read(&committed_model()).unwrap();
    let mut seen = Vec::new();
    let bytes = file
        .rewrite_initializers(|name, t: &mut FloatTensor| {
            seen.push((name.to_string(), t.dims.clone()))
        })
        .unwrap();
    assert_eq!(
        ModelProto::parse_from_bytes(&bytes).unwrap(),
        ModelProto::parse_from_bytes(&original).unwrap()
    );
    assert!(seen.contains(&("W".to_string(), vec![64, 64])), "{seen:?}");
}

#[test]
fn replacing_w_changes_w_alone_and_is_checked() {
    let original = std::fs::read(committed_model()).unwrap();
    let file = ModelFile::from_bytes(&committed_model(), &original).unwrap();
    let zeros = vec![0.0f32; 64 * 64];
    let bytes = file.with_initializer("W", &zeros).unwrap();
    for ((n0, v0), (n1, v1)) in floats(&original).iter().zip(floats(&bytes)) {
        assert_eq!(n0, &n1);
        if n1 == "W" {
            assert!(v1.iter().all(|v| v.to_bits() == 0));
        } else {
            assert_eq!(v0, &v1);
        }
    }
    assert_eq!(
        without_float_values(&bytes),
        without_float_values(&original)
    );

    let name = committed_model().display().to_string();
    let e = file
        .with_initializer("W", &zeros[1..])
        .unwrap_err()
        .to_string();
    assert_eq!(
        e,
        format!(
            "{name}: initializer W [64, 64] holds 4096 values, but 4095 were given to replace them"
        )
    );
    let e = file.with_initializer("V", &zeros).unwrap_err().to_string();
    assert_eq!(e, format!("{name}: no initializer named V to replace"));
}
