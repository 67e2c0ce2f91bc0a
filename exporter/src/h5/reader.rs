//! Reading a whole dump back (for tests and small dumps; other tools read the file directly).

use super::{
    ActivationDump, Arrays, Compression, DumpAttributes, DumpHeader, DUMP_FORMAT, DUMP_FORMAT_V1,
};
use crate::error::{Error, Result};
use hdf5::types::VarLenUnicode;
use std::path::Path;

fn read_string_attr(file: &hdf5::File, path: &Path, name: &str) -> Result<String> {
    file.attr(name)
        .and_then(|a| a.read_scalar::<VarLenUnicode>())
        .map(|v| v.as_str().to_string())
        .map_err(|e| Error::hdf5(path, &format!("cannot read string attribute {name}"), e))
}

/// An int32 array attribute, or empty when the file has none (dumps of earlier versions).
fn read_int_attr(file: &hdf5::File, path: &Path, name: &str) -> Result<Vec<i32>> {
    match file.attr(name) {
        Err(_) => Ok(Vec::new()),
        Ok(a) => a
            .read_raw::<i32>()
            .map_err(|e| Error::hdf5(path, &format!("cannot read attribute {name}"), e)),
    }
}

fn read_dataset<T: hdf5::H5Type>(
    file: &hdf5::File,
    path: &Path,
    name: &str,
    rank: usize,
) -> Result<Option<(Vec<usize>, Vec<T>)>> {
    if !file.link_exists(name) {
        return Ok(None);
    }
    let ds = file
        .dataset(name)
        .map_err(|e| Error::hdf5(path, &format!("cannot open dataset {name}"), e))?;
    let shape = ds.shape();
    if shape.len() != rank {
        return Err(Error::format(
            path,
            format!("dataset {name} has shape {shape:?}, expected {rank} dimensions"),
        ));
    }
    let data = ds
        .read_raw::<T>()
        .map_err(|e| Error::hdf5(path, &format!("cannot read dataset {name}"), e))?;
    Ok(Some((shape, data)))
}

/// Reads a dump (format v2, or v1), checking that the shapes agree with each other.
pub fn read_dump(path: &Path) -> Result<ActivationDump> {
    if !path.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let file = hdf5::File::open(path).map_err(|e| Error::hdf5(path, "cannot open file", e))?;
    let format = read_string_attr(&file, path, "epc_format")
        .map_err(|_| Error::format(path, "not an epc activation dump (no epc_format attribute)"))?;
    if format != DUMP_FORMAT && format != DUMP_FORMAT_V1 {
        return Err(Error::format(
            path,
            format!("dump format {format:?} is not supported (this epc reads {DUMP_FORMAT} and {DUMP_FORMAT_V1})"),
        ));
    }
    let v1 = format == DUMP_FORMAT_V1;
    let (label_shape, labels) = read_dataset::<i32>(&file, path, "labels", 2)?
        .ok_or_else(|| Error::format(path, "dataset labels is missing"))?;
    let (sequences, steps) = (label_shape[0], label_shape[1]);
    let mut arrays = Arrays::NONE;
    let mut widths = (0, 0);
    let mut step_major = |name: &str, on: &mut bool| -> Result<Option<Vec<f32>>> {
        let got = read_dataset::<f32>(&file, path, name, 3)?;
        *on = got.is_some();
        if v1 && got.is_none() {
            return Err(Error::format(path, format!("dataset {name} is missing")));
        }
        Ok(match got {
            Some((shape, data)) => {
                if shape[..2] != [steps, sequences] {
                    return Err(Error::format(
                        path,
                        format!("inconsistent shapes: {name} {shape:?}, labels {label_shape:?}"),
                    ));
                }
                if name == "input" {
                    widths.0 = shape[2];
                } else if widths.1 != 0 && widths.1 != shape[2] {
                    return Err(Error::format(path, "preact and act have different widths"));
                } else {
                    widths.1 = shape[2];
                }
                Some(data)
            }
            None => None,
        })
    };
    let input = step_major("input", &mut arrays.input)?;
    let preact = step_major("preact", &mut arrays.preact)?;
    let act = step_major("act", &mut arrays.act)?;
    let mut extra = Vec::new();
    for (name, on) in [
        ("drive_in", &mut arrays.drive_in),
        ("drive_rec", &mut arrays.drive_rec),
        ("transmission", &mut arrays.transmission),
    ] {
        let mut found = false;
        if !v1 {
            if let Some(data) = step_major(name, &mut found)? {
                extra.push((name.to_string(), data));
            }
        }
        *on = found;
    }
    let frames = read_dataset::<i32>(&file, path, "frames", 2)?;
    let set = read_dataset::<i32>(&file, path, "sequence_set", 1)?;
    if frames.as_ref().is_some_and(|f| f.0 != label_shape)
        || set.as_ref().is_some_and(|s| s.0 != [sequences])
    {
        return Err(Error::format(
            path,
            "frames or sequence_set do not match labels",
        ));
    }
    let positions = read_dataset::<i32>(&file, path, "positions", 3)?;
    if let Some((shape, _)) = &positions {
        if shape[..] != [sequences, steps, 2] {
            return Err(Error::format(
                path,
                format!("positions {shape:?} do not match labels {label_shape:?}"),
            ));
        }
    }
    let lesion_mask = read_dataset::<f32>(&file, path, "lesion_mask", 1)?.map(|m| m.1);
    let seed = file
        .attr("seed")
        .and_then(|a| a.read_scalar::<u64>())
        .map_err(|e| Error::hdf5(path, "cannot read attribute seed", e))?;
    let sets_json = if v1 {
        read_string_attr(&file, path, "sequence_json")?
    } else {
        read_string_attr(&file, path, "sets_json")?
    };
    let compression = if v1 {
        Compression::Gzip(1)
    } else {
        Compression::parse(&read_string_attr(&file, path, "compression")?)
            .map_err(|e| e.at(path))?
    };
    let attrs = DumpAttributes {
        model_path: read_string_attr(&file, path, "model_path")?,
        model_sha256: read_string_attr(&file, path, "model_sha256")?,
        contract: read_string_attr(&file, path, "contract")?,
        model_metadata_json: read_string_attr(&file, path, "model_metadata_json")?,
        dataset: read_string_attr(&file, path, "dataset")?,
        split: read_string_attr(&file, path, "split")?,
        sets_json,
        seed,
        toolkit_version: read_string_attr(&file, path, "toolkit_version")?,
        created_utc: read_string_attr(&file, path, "created_utc")?,
        lesion: read_string_attr(&file, path, "lesion")?,
        layout_json: if file.attr("layout_json").is_ok() {
            read_string_attr(&file, path, "layout_json")?
        } else {
            String::new()
        },
        unit_pixel: read_int_attr(&file, path, "unit_pixel")?,
        unit_layer: read_int_attr(&file, path, "unit_layer")?,
        unit_population: read_int_attr(&file, path, "unit_population")?,
    };
    let header = DumpHeader {
        steps,
        sequences,
        n_in: widths.0,
        units: widths.1,
        arrays,
        compression,
        lesion_mask,
        positions: positions.is_some(),
        attrs,
    };
    if let Some(m) = &header.lesion_mask {
        if header.units != 0 && m.len() != header.mask_entries() {
            return Err(Error::format(
                path,
                format!(
                    "lesion_mask has {} entries for {} state entries",
                    m.len(),
                    header.mask_entries()
                ),
            ));
        }
    }
    Ok(ActivationDump {
        format,
        header,
        input,
        preact,
        act,
        extra,
        labels,
        frames: frames.map(|f| f.1),
        sequence_set: set.map(|s| s.1),
        positions: positions.map(|p| p.1),
    })
}
