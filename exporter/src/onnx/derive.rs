//! Derived models: an ONNX model re-serialised with other values in its float32 initializers
//! (the analyses' baselines: a shuffled-weights control, a model with one initializer
//! replaced). Only the values change; the graph, the metadata, the opset, the other
//! initializers' storage and any fields this crate does not know are written back as read.

use super::reader::{float_tensor, FloatTensor, Initializer, ModelFile};
use crate::error::{Error, Result};
use onnx_protobuf::tensor_proto::DataType;
use protobuf::Message;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Separates the shuffling stream of a seed from the other streams drawn from the same seed.
const SHUFFLE_SALT: u64 = 0x5_4ff1_e0f5;

impl ModelFile {
    /// The model re-serialised after `f` has seen (and possibly changed) the values of every
    /// float32 initializer of the main graph, in file order, whether stored as `raw_data` or
    /// `float_data` (each is written back in the storage it came in). `f` gets the
    /// initializer's name and its tensor; it may change the values but not the dims nor the
    /// number of values. Initializers of other types, sparse initializers and tensors held in
    /// nodes (`Constant`) or subgraphs are left as they are, and so is everything else in the
    /// file: graph, metadata, opset, IR version.
    ///
    /// Errors (one line naming the model) for a float32 initializer whose values cannot be
    /// read (external data, a size that disagrees with its dims), for `f` changing a tensor's
    /// shape, and for a model that cannot be serialised.
    pub fn rewrite_initializers(
        &self,
        mut f: impl FnMut(&str, &mut FloatTensor),
    ) -> Result<Vec<u8>> {
        self.rewrite(|_| true, |name, t| f(name, t))
    }

    /// A shuffled-weights control of the model: every float32 initializer of the main graph
    /// with at least 2 values is permuted within itself (its multiset of values, dims and
    /// storage are kept), and the bytes of the model are returned with the number of tensors
    /// permuted (a tensor of few values may keep its order by chance).
    ///
    /// The permutation of an initializer named `name` is a Fisher-Yates shuffle (for `i` from
    /// `len - 1` down to 1, swap `i` with `j = gen_range(0..=i)`) drawn from a ChaCha8 stream
    /// keyed by `seed` and selected by the FNV-1a hash of `name`, so it depends on the seed
    /// and the name only, not on the initializers' order or on the other initializers. The
    /// same seed gives the same bytes. Errors as [`ModelFile::rewrite_initializers`].
    pub fn shuffled_bytes(&self, seed: u64) -> Result<(Vec<u8>, usize)> {
        let mut permuted = 0;
        let bytes = self.rewrite_initializers(|name, t| {
            if t.data.len() >= 2 {
                fisher_yates(&mut t.data, &mut shuffle_rng(seed, name));
                permuted += 1;
            }
        })?;
        Ok((bytes, permuted))
    }

    /// The model with the values of the float32 initializer `name` replaced by `data`
    /// (row-major, the same number of values; the dims stay), everything else unchanged (see
    /// [`ModelFile::rewrite_initializers`]). Errors, one line naming the model, when there is
    /// no initializer `name`, when it is not a float32 tensor held in the file, or when
    /// `data` has another length.
    pub fn with_initializer(&self, name: &str, data: &[f32]) -> Result<Vec<u8>> {
        match self.initializer_f32(name) {
            Initializer::Missing => Err(Error::format(
                self.path(),
                format!("no initializer named {name} to replace"),
            )),
            Initializer::Unusable(why) => Err(Error::format(
                self.path(),
                format!("initializer {name} cannot be replaced: {why}"),
            )),
            Initializer::Tensor(t) if t.data.len() != data.len() => Err(Error::format(
                self.path(),
                format!(
                    "initializer {name} {:?} holds {} values, but {} were given to replace them",
                    t.dims,
                    t.data.len(),
                    data.len()
                ),
            )),
            Initializer::Tensor(_) => {
                self.rewrite(|n| n == name, |_, t| t.data.copy_from_slice(data))
            }
        }
    }

    /// [`ModelFile::rewrite_initializers`] over the float32 initializers whose name passes
    /// `select` (the others are not decoded).
    fn rewrite(
        &self,
        select: impl Fn(&str) -> bool,
        mut f: impl FnMut(&str, &mut FloatTensor),
    ) -> Result<Vec<u8>> {
        let path = self.path();
        let mut proto = self.proto.clone();
        let Some(graph) = proto.graph.as_mut() else {
            return Err(Error::format(path, "not an ONNX model (no graph)"));
        };
        for t in graph.initializer.iter_mut() {
            if t.data_type != DataType::FLOAT as i32 || !select(&t.name) {
                continue;
            }
            let mut tensor = match float_tensor(t) {
                Initializer::Tensor(x) => x,
                Initializer::Unusable(why) => {
                    return Err(Error::format(
                        path,
                        format!("float32 initializer {} cannot be rewritten: {why}", t.name),
                    ))
                }
                // `float_tensor` reads a tensor that exists; it never says `Missing`.
                Initializer::Missing => continue,
            };
            let (dims, count) = (tensor.dims.clone(), tensor.data.len());
            f(&t.name, &mut tensor);
            if tensor.dims != dims || tensor.data.len() != count {
                return Err(Error::format(
                    path,
                    format!(
                        "initializer {} {dims:?} of {count} values was rewritten as {:?} of {} values; only its values may change",
                        t.name,
                        tensor.dims,
                        tensor.data.len()
                    ),
                ));
            }
            if t.raw_data.is_empty() {
                t.float_data = tensor.data;
            } else {
                t.raw_data = tensor.data.iter().flat_map(|v| v.to_le_bytes()).collect();
            }
        }
        proto
            .write_to_bytes()
            .map_err(|e| Error::format(path, format!("cannot serialise the rewritten model: {e}")))
    }
}

/// The shuffling stream of initializer `name` under `seed`.
fn shuffle_rng(seed: u64, name: &str) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ SHUFFLE_SALT);
    rng.set_stream(fnv1a64(name.as_bytes()));
    rng
}

/// 64-bit FNV-1a.
fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// In-place Fisher-Yates shuffle.
fn fisher_yates<T>(data: &mut [T], rng: &mut impl Rng) {
    for i in (1..data.len()).rev() {
        let j = rng.gen_range(0..=i);
        data.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::onnx::reader::tests::tensor;
    use onnx_protobuf::tensor_proto::DataLocation;
    use onnx_protobuf::{GraphProto, ModelProto, StringStringEntryProto, TensorProto};
    use protobuf::MessageField;
    use std::path::Path;

    fn model(inits: Vec<TensorProto>) -> ModelFile {
        let bytes = ModelProto {
            ir_version: 8,
            metadata_props: vec![StringStringEntryProto {
                key: "epc.seed".into(),
                value: "3".into(),
                ..Default::default()
            }],
            graph: MessageField::some(GraphProto {
                initializer: inits,
                ..Default::default()
            }),
            ..Default::default()
        }
        .write_to_bytes()
        .unwrap();
        ModelFile::from_bytes(Path::new("m.onnx"), &bytes).unwrap()
    }

    fn values(m: &ModelFile, name: &str) -> Vec<f32> {
        match m.initializer_f32(name) {
            Initializer::Tensor(t) => t.data,
            other => panic!("{name}: {other:?}"),
        }
    }

    fn reread(bytes: &[u8]) -> ModelFile {
        ModelFile::from_bytes(Path::new("m.onnx"), bytes).unwrap()
    }

    #[test]
    fn both_storages_are_rewritten_in_place_and_other_types_are_left() {
        let mut int = tensor("i", &[2], &[], true);
        int.data_type = DataType::INT64 as i32;
        int.raw_data = vec![1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0];
        let m = model(vec![
            tensor("W", &[2, 2], &[1.0, 2.0, 3.0, 4.0], true),
            tensor("b", &[3], &[5.0, 6.0, 7.0], false),
            int.clone(),
        ]);
        let mut seen = Vec::new();
        let bytes = m
            .rewrite_initializers(|name, t| {
                seen.push(name.to_string());
                t.data.iter_mut().for_each(|v| *v *= -1.0);
            })
            .unwrap();
        assert_eq!(seen, ["W", "b"]);
        let r = reread(&bytes);
        assert_eq!(values(&r, "W"), [-1.0, -2.0, -3.0, -4.0]);
        assert_eq!(values(&r, "b"), [-5.0, -6.0, -7.0]);
        let g = r.proto.graph.as_ref().unwrap();
        assert!(g.initializer[0].float_data.is_empty() && g.initializer[1].raw_data.is_empty());
        assert_eq!(g.initializer[2], int);
        assert_eq!(r.metadata(), m.metadata());
        // The identity rewrite gives the model back as it was.
        assert_eq!(m.rewrite_initializers(|_, _| {}).unwrap(), {
            m.proto.write_to_bytes().unwrap()
        });
    }

    #[test]
    fn shape_changes_and_unreadable_tensors_are_refused() {
        let m = model(vec![tensor("W", &[2, 2], &[1.0, 2.0, 3.0, 4.0], true)]);
        let e = m
            .rewrite_initializers(|_, t| t.data.push(0.0))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("m.onnx: initializer W [2, 2]") && e.contains("only its values"),
            "{e}"
        );
        let e = m
            .rewrite_initializers(|_, t| t.dims = vec![4])
            .unwrap_err()
            .to_string();
        assert!(e.contains("rewritten as [4]"), "{e}");
        let mut ext = tensor("E", &[2], &[], false);
        ext.data_location = DataLocation::EXTERNAL.into();
        let m = model(vec![ext]);
        let e = m.shuffled_bytes(0).unwrap_err().to_string();
        assert!(
            e.starts_with("m.onnx: float32 initializer E cannot be rewritten")
                && e.contains("external"),
            "{e}"
        );
    }

    #[test]
    fn with_initializer_replaces_one_tensor_only() {
        let m = model(vec![
            tensor("W", &[2, 2], &[1.0, 2.0, 3.0, 4.0], false),
            tensor("b", &[2], &[5.0, 6.0], true),
        ]);
        let r = reread(&m.with_initializer("W", &[0.0, 0.5, 0.0, -0.5]).unwrap());
        assert_eq!(values(&r, "W"), [0.0, 0.5, 0.0, -0.5]);
        assert_eq!(values(&r, "b"), [5.0, 6.0]);
        let e = m.with_initializer("V", &[0.0]).unwrap_err().to_string();
        assert_eq!(e, "m.onnx: no initializer named V to replace");
        let e = m.with_initializer("b", &[0.0; 3]).unwrap_err().to_string();
        assert_eq!(
            e,
            "m.onnx: initializer b [2] holds 2 values, but 3 were given to replace them"
        );
    }

    #[test]
    fn a_tensor_shuffles_alike_whatever_surrounds_it() {
        let w: Vec<f32> = (0..50).map(|i| i as f32).collect();
        let alone = model(vec![tensor("W", &[50], &w, true)]);
        let among = model(vec![
            tensor("a", &[3], &[1.0, 2.0, 3.0], false),
            tensor("one", &[1], &[1.0], false),
            tensor("W", &[50], &w, false),
        ]);
        let (b1, n1) = alone.shuffled_bytes(7).unwrap();
        let (b2, n2) = among.shuffled_bytes(7).unwrap();
        assert_eq!((n1, n2), (1, 2));
        let (s1, s2) = (values(&reread(&b1), "W"), values(&reread(&b2), "W"));
        assert_eq!(s1, s2);
        assert_ne!(s1, w);
        let mut sorted = s1.clone();
        sorted.sort_by(f32::total_cmp);
        assert_eq!(sorted, w);
        assert_eq!(values(&reread(&b2), "one"), [1.0]);
        assert_ne!(
            values(&reread(&alone.shuffled_bytes(8).unwrap().0), "W"),
            s1
        );
    }

    #[test]
    fn fnv1a_matches_the_reference_values() {
        assert_eq!(fnv1a64(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a64(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
