//! Moving data onto the device: training batches of stacked instances, the validation
//! sequences, and weights and moments between host arrays and stacked tensors.

use crate::{Error, Result};
use epc_core::config::RunConfig;
use epc_core::data::Images;
use epc_core::sequence::{frame_dim, write_frames, Batch, Sequence, SequenceSampler};
use tch::{Device, Kind, Tensor};

/// Salt separating the validation sequences' stream from any training stream.
const VAL_SALT: u64 = 0x7a11_da7e;

/// Host-side staging of the batches of stacked instances, reusing its buffer across batches.
#[derive(Debug, Default)]
pub struct Stager {
    host: Vec<f32>,
}

impl Stager {
    /// Builds `[K, T, B, N]` on `dev` from sequences `rows` of each instance's epoch draw.
    ///
    /// The frames are written once into the reused host buffer, time-major
    /// (`[T, K, B, N]`, what [`crate::model::loss_and_grad_parts`] computes in), then copied
    /// once to a fresh tensor, returned as its `[K, T, B, N]` view.
    pub fn stage(
        &mut self,
        images: &Images,
        epoch_seqs: &[Vec<Sequence>],
        rows: std::ops::Range<usize>,
        dev: Device,
    ) -> Tensor {
        let k = epoch_seqs.len();
        let steps = epoch_seqs
            .first()
            .and_then(|s| s.get(rows.start))
            .map_or(0, |s| s.frames.len());
        let batch = rows.len();
        let dim = epoch_seqs
            .first()
            .map_or(images.dim(), |s| frame_dim(images, &s[rows.clone()]));
        self.host.resize(steps * k * batch * dim, 0.0);
        for (i, seqs) in epoch_seqs.iter().enumerate() {
            let out = &mut self.host[i * batch * dim..];
            write_frames(images, &seqs[rows.clone()], out, k * batch * dim);
        }
        Tensor::from_slice(&self.host)
            .view([steps as i64, k as i64, batch as i64, dim as i64])
            .to_device(dev)
            .transpose(0, 1)
    }
}

/// The values of a tensor as a flat host `f32` array.
pub(crate) fn host_vec(t: &Tensor) -> Vec<f32> {
    Vec::<f32>::try_from(
        &t.to_device(Device::Cpu)
            .to_kind(Kind::Float)
            .contiguous()
            .view([-1]),
    )
    .expect("f32 tensor")
}

/// The validation sequences: one fixed draw, identical for every instance and epoch.
pub(crate) fn validation_batch(
    cfg: &RunConfig,
    val: &Images,
    dev: Device,
) -> Result<Option<Tensor>> {
    if val.is_empty() {
        return Ok(None);
    }
    let sampler = SequenceSampler::new(val, cfg.sequence.clone(), cfg.data.split_seed ^ VAL_SALT)
        .map_err(|e| {
        Error::Invalid(format!(
            "validation split of {} images: {e}; raise --val-fraction",
            val.len()
        ))
    })?;
    let seqs = sampler.epoch(0);
    if seqs.is_empty() {
        return Ok(None);
    }
    Ok(Some(shared_input(val, &seqs).to_device(dev)))
}

/// Sequences as one `[T, B, N]` input shared by every instance.
pub(crate) fn shared_input(images: &Images, seqs: &[Sequence]) -> Tensor {
    let b = Batch::from_sequences(images, seqs);
    Tensor::from_slice(&b.x).view([b.steps as i64, b.batch as i64, b.dim as i64])
}
