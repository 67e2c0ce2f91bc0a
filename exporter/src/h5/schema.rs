//! The dump schema (`epc-dump-v2`) as data: every dataset and root attribute a dump may hold,
//! with its type, shape and meaning. The writer's names are checked against it by a test
//! (`exporter/tests/h5_schema.rs`), and `docs/reference/dump-schema.md` is generated from it.

/// One dataset or attribute of the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// Its name in the root group.
    pub name: &'static str,
    /// Its HDF5 type.
    pub kind: &'static str,
    /// Its shape (`scalar` for scalar attributes).
    pub shape: &'static str,
    /// What it holds.
    pub content: &'static str,
}

const fn f(
    name: &'static str,
    kind: &'static str,
    shape: &'static str,
    content: &'static str,
) -> Field {
    Field {
        name,
        kind,
        shape,
        content,
    }
}

/// The datasets of the root group, in schema order.
pub const DATASETS: &[Field] = &[
    f("input", "float32", "[steps, sequences, n_in]", "the frames x_t fed to the model (if chosen)"),
    f("preact", "float32", "[steps, sequences, units]", "preactivations a_t (if chosen)"),
    f("act", "float32", "[steps, sequences, units]", "activity h_t (if chosen)"),
    f("drive_in", "float32", "[steps, sequences, units]", "a step-v2 model's input drive (if chosen)"),
    f("drive_rec", "float32", "[steps, sequences, units]", "a step-v2 model's recurrent drive (if chosen)"),
    f("transmission", "float32", "[steps, sequences, units]", "a step-v2 model's synaptic transmission (if chosen)"),
    f("labels", "int32", "[sequences, steps]", "the class of every frame"),
    f("frames", "int32", "[sequences, steps]", "the image of every frame (index into the split)"),
    f("sequence_set", "int32", "[sequences]", "which set each sequence belongs to (index into `sets_json`)"),
    f("positions", "int32", "[sequences, steps, 2]", "moving streams only: `[row, column]` of the image's top-left pixel on the canvas in every frame"),
    f("lesion_mask", "float32", "[state entries]", "lesioned runs only: the multiplier applied to the state (all state tensors in order; `h` for step-v1) before each step: 0 = lesioned, 1 = intact"),
];

/// The attributes of the root group.
pub const ATTRIBUTES: &[Field] = &[
    f("epc_format", "string", "scalar", "`epc-dump-v2`"),
    f(
        "model_path",
        "string",
        "scalar",
        "path of the ONNX model that produced the dump",
    ),
    f(
        "model_sha256",
        "string",
        "scalar",
        "hex SHA-256 of that file",
    ),
    f(
        "contract",
        "string",
        "scalar",
        "the model's contract (`step-v1`, `step-v2`, `sequence-v1`)",
    ),
    f(
        "model_metadata_json",
        "string",
        "scalar",
        "the model's metadata properties as a JSON object",
    ),
    f(
        "dataset",
        "string",
        "scalar",
        "data set name (`mnist`, ...)",
    ),
    f("split", "string", "scalar", "`train`, `val` or `test`"),
    f(
        "sets_json",
        "string",
        "scalar",
        "the sequence sets as a JSON list (name, sampler settings, seed, epochs, count)",
    ),
    f("seed", "uint64", "scalar", "seed of the sequence sampler"),
    f(
        "toolkit_version",
        "string",
        "scalar",
        "epc version that wrote the file",
    ),
    f(
        "created_utc",
        "string",
        "scalar",
        "creation time, ISO 8601 UTC (`2026-11-29T12:34:56Z`)",
    ),
    f(
        "lesion",
        "string",
        "scalar",
        "description of the lesion (`none` when intact)",
    ),
    f(
        "arrays",
        "string",
        "scalar",
        "the activation datasets written, comma-separated",
    ),
    f(
        "compression",
        "string",
        "scalar",
        "`none` or `gzip-<level>`",
    ),
    f(
        "layout_json",
        "string",
        "scalar",
        "the unit layout: states, populations, headline populations (docs/CONTRACT.md); written where the layout is known",
    ),
    f(
        "unit_pixel",
        "int32",
        "[units]",
        "each unit's receptive-field pixel, -1 for none",
    ),
    f("unit_layer", "int32", "[units]", "each unit's layer"),
    f(
        "unit_population",
        "int32",
        "[units]",
        "each unit's population, an index into `layout_json`'s populations",
    ),
];

/// The schema as a Markdown page (`docs/reference/dump-schema.md`).
pub fn markdown() -> String {
    let table = |fields: &[Field]| {
        let mut t = String::from("| name | type | shape | content |\n|---|---|---|---|\n");
        for x in fields {
            t.push_str(&format!(
                "| `{}` | {} | `{}` | {} |\n",
                x.name, x.kind, x.shape, x.content
            ));
        }
        t
    };
    format!(
        "# The HDF5 dump schema (`{}`)\n\n[Guide index](../guide/README.md) · written by \
         [`epc dump`](../guide/dump.md) · generated from `exporter/src/h5/schema.rs` by \
         `exporter/tests/h5_schema.rs` (do not edit)\n\n\
         One HDF5 file; everything lives in the root group `/`.\n\n## Datasets\n\n{}\n\
         The step-major datasets are chunked as `[1, min(256, sequences), width]`, the others by \
         `min(256, sequences)` sequences; with gzip compression (the default, level 1) the \
         shuffle filter comes first. Any HDF5 reader with the standard gzip filter opens them \
         (h5py, MATLAB `h5read`, HDF5 tools). HDF5 stores arrays in row-major order; MATLAB's \
         `h5read` returns the dimensions reversed.\n\n## Attributes of the root group\n\n{}\n\
         Version 1 files (`{}`: always `input`, `preact` and `act`, no `frames` or \
         `sequence_set`, the sequence settings in `sequence_json`) are still read.\n\n\
         Reading a dump from Python or MATLAB: [dump](../guide/dump.md).\n",
        super::DUMP_FORMAT,
        table(DATASETS),
        table(ATTRIBUTES),
        super::DUMP_FORMAT_V1
    )
}
