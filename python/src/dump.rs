//! `epc.dump` and the step runner behind `epc.torch.export_step`'s comparison.

use crate::convert::{array, f32_from_bytes};
use crate::{check_options, dataset_kind, interruptible, raise, to_py};
use epc_analyzer::{DumpOptions, DumpSequences, Error, Lesion, StepModel};
use epc_exporter::h5::{Arrays, Compression};
use ndarray::{Array1, ArrayView3};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use std::path::PathBuf;

/// The sequences `epc dump --sequences NAME` (or `--sequences-file`) names.
fn sequences(
    py: Python<'_>,
    name: &str,
    file: Option<PathBuf>,
    epochs: Option<u64>,
) -> PyResult<DumpSequences> {
    let bad = |m: String| raise(py, "InputError", m, Vec::new());
    if let Some(f) = file {
        return Ok(DumpSequences::File(f));
    }
    match (name, epochs) {
        ("test", epochs) => Ok(DumpSequences::Test { epochs }),
        (_, Some(_)) => Err(bad("epochs applies to sequences=\"test\"".into())),
        ("published", None) => Ok(DumpSequences::Published),
        ("deterministic", None) => Ok(DumpSequences::Deterministic),
        (other, None) => Err(bad(format!(
            "unknown sequences {other:?} (test, published, deterministic, or a file of image indices)"
        ))),
    }
}

/// Runs `epc dump` in memory and returns its datasets as `(bytes, shape, dtype)` tuples with
/// the attributes the HDF5 file would carry (`compression` is `none`: nothing is compressed).
#[pyfunction]
#[pyo3(signature = (model, *, dataset=None, data_dir=None, sequences_name="test".to_string(), sequences_file=None, arrays=vec!["input".to_string(), "preact".to_string(), "act".to_string()], lesion="none".to_string(), seed=0, epochs=None))]
#[allow(clippy::too_many_arguments)]
pub fn dump<'py>(
    py: Python<'py>,
    model: PathBuf,
    dataset: Option<String>,
    data_dir: Option<PathBuf>,
    sequences_name: String,
    sequences_file: Option<PathBuf>,
    arrays: Vec<String>,
    lesion: String,
    seed: u64,
    epochs: Option<u64>,
) -> PyResult<Bound<'py, PyDict>> {
    let mut opts = DumpOptions::new(model, PathBuf::new());
    opts.dataset = dataset_kind(py, dataset.as_deref())?;
    opts.data_dir = data_dir;
    opts.seed = seed;
    opts.sequences = sequences(py, &sequences_name, sequences_file, epochs)?;
    opts.lesion = lesion.parse::<Lesion>().map_err(|e| to_py(py, e))?;
    opts.arrays = Arrays::parse(&arrays.join(",")).map_err(|e| to_py(py, Error::Export(e)))?;
    opts.compression = Compression::None;
    let got = interruptible(py, move || epc_analyzer::dump_arrays(&opts))?;
    let out = PyDict::new(py);
    let datasets = PyDict::new(py);
    for (name, a) in &got.arrays {
        datasets.set_item(*name, array(py, a)?)?;
    }
    out.set_item("arrays", datasets)?;
    out.set_item("labels", array(py, &got.labels)?)?;
    out.set_item("frames", array(py, &got.frames)?)?;
    out.set_item(
        "sequence_set",
        array(py, &Array1::from(got.sequence_set.clone()))?,
    )?;
    let positions = got.positions.as_ref().map(|p| array(py, p)).transpose()?;
    out.set_item("positions", positions)?;
    let mask = got
        .lesion_mask
        .as_ref()
        .map(|m| array(py, &Array1::from(m.clone())))
        .transpose()?;
    out.set_item("lesion_mask", mask)?;
    let a = &got.attrs;
    let attrs = PyDict::new(py);
    for (k, v) in a
        .strings()
        .into_iter()
        .chain([("layout_json", a.layout_json.as_str())])
    {
        attrs.set_item(k, v)?;
    }
    let names: Vec<&str> = got.arrays.iter().map(|(n, _)| *n).collect();
    attrs.set_item("arrays", names.join(","))?;
    attrs.set_item("compression", "none")?;
    attrs.set_item("seed", a.seed)?;
    attrs.set_item("unit_pixel", a.unit_pixel.clone())?;
    attrs.set_item("unit_layer", a.unit_layer.clone())?;
    attrs.set_item("unit_population", a.unit_population.clone())?;
    out.set_item("attrs", attrs)?;
    out.set_item("notes", got.notes.clone())?;
    out.set_item("lesioned", got.lesioned.clone())?;
    Ok(out)
}

/// Runs the step model at `path` over frames `x` (`[steps, batch, n_in]` float32,
/// little-endian bytes) from the zero state, on the CPU, as the analyses run it; returns
/// `preact`, `act` and the optional outputs the model has, each `[steps, batch, units]`.
#[pyfunction]
pub fn run_model<'py>(
    py: Python<'py>,
    path: PathBuf,
    x: &[u8],
    shape: (usize, usize, usize),
) -> PyResult<Bound<'py, PyDict>> {
    let values = f32_from_bytes(x)
        .filter(|v| v.len() == shape.0 * shape.1 * shape.2)
        .ok_or_else(|| {
            raise(
                py,
                "InputError",
                format!("x has {} bytes, not 4 x {shape:?}", x.len()),
                Vec::new(),
            )
        })?;
    let acts = py
        .detach(|| -> Result<_, Error> {
            let mut opts = check_options();
            opts.batch_size = shape.1.max(1);
            let mut model = StepModel::load(&path, &opts)?;
            let x = ArrayView3::from_shape(shape, &values)
                .map_err(|e| Error::Input(format!("x: {e}")))?;
            model.run(x, None)
        })
        .map_err(|e| to_py(py, e))?;
    let out = PyDict::new(py);
    out.set_item("preact", array(py, &acts.preact)?)?;
    out.set_item("act", array(py, &acts.act)?)?;
    for (name, a) in [
        ("drive_in", &acts.drive_in),
        ("drive_rec", &acts.drive_rec),
        ("transmission", &acts.transmission),
    ] {
        if let Some(a) = a {
            out.set_item(name, array(py, a)?)?;
        }
    }
    Ok(out)
}
