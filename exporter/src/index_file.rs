//! Reading a user's own sequences: image indices `[n, steps]` from a CSV, `.npy` or HDF5 file.

use crate::error::{Error, Result};
use std::path::Path;

/// The rows of image indices in `path`, by its extension:
/// - `.csv` / `.txt`: one sequence per line, indices separated by commas (a header line of
///   non-numbers is skipped);
/// - `.npy`: a 2-D integer array (any of int8..int64, uint8..uint64, little or big endian,
///   C order);
/// - `.h5` / `.hdf5`: the dataset `sequences` (or the file's only dataset), a 2-D integer
///   array.
///
/// Every row must have the same length; negative values are errors naming the row.
pub fn read_index_file(path: &Path) -> Result<Vec<Vec<usize>>> {
    let ext = path
        .extension()
        .map(|e| e.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    let rows = match ext.as_str() {
        "csv" | "txt" => read_csv(path)?,
        "npy" => read_npy(path)?,
        "h5" | "hdf5" => read_h5(path)?,
        other => {
            return Err(Error::format(
                path,
                format!("unknown sequence file type {other:?} (use .csv, .npy or .h5)"),
            ))
        }
    };
    if rows.is_empty() {
        return Err(Error::format(path, "no sequence in the file"));
    }
    let steps = rows[0].len();
    if steps == 0 {
        return Err(Error::format(path, "sequences of length 0"));
    }
    let mut out = Vec::with_capacity(rows.len());
    for (i, r) in rows.into_iter().enumerate() {
        if r.len() != steps {
            return Err(Error::format(
                path,
                format!(
                    "row {} has {} frames, the first row has {steps}",
                    i + 1,
                    r.len()
                ),
            ));
        }
        let row: Result<Vec<usize>> = r
            .into_iter()
            .map(|v| {
                usize::try_from(v).map_err(|_| {
                    Error::format(path, format!("row {}: index {v} is negative", i + 1))
                })
            })
            .collect();
        out.push(row?);
    }
    Ok(out)
}

fn read_csv(path: &Path) -> Result<Vec<Vec<i64>>> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| Error::format(path, format!("cannot read it as CSV ({e})")))?;
    let mut rows = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| Error::format(path, format!("line {}: {e}", i + 1)))?;
        let line = record.position().map_or(i as u64 + 1, |p| p.line());
        if record.iter().all(str::is_empty) {
            continue;
        }
        let parsed: std::result::Result<Vec<i64>, _> =
            record.iter().map(|f| f.parse::<i64>()).collect();
        match parsed {
            Ok(r) => rows.push(r),
            // A header line (names, not numbers) may come first.
            Err(_) if rows.is_empty() && line == 1 => continue,
            Err(e) => {
                return Err(Error::format(
                    path,
                    format!("line {line}: not a list of integers ({e})"),
                ))
            }
        }
    }
    Ok(rows)
}

fn read_npy(path: &Path) -> Result<Vec<Vec<i64>>> {
    let bad = |why: String| Error::format(path, format!("not a 2-D integer .npy array ({why})"));
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let npy = npyz::NpyFile::new(&bytes[..]).map_err(|e| bad(e.to_string()))?;
    if npy.order() == npyz::Order::Fortran {
        return Err(bad(
            "Fortran order; save it with np.ascontiguousarray".into()
        ));
    }
    let shape: Vec<u64> = npy.shape().to_vec();
    let [_, steps] = shape[..] else {
        return Err(bad(format!("shape {shape:?}")));
    };
    let npyz::DType::Plain(ty) = npy.dtype() else {
        return Err(bad("a structured dtype".into()));
    };
    let descr = ty.to_string();
    let read = |e: std::io::Error| bad(e.to_string());
    // Every integer width and byte order, widened to i64 (u64 beyond i64 is an error).
    let values: Vec<i64> = match (ty.type_char(), ty.size_field()) {
        (npyz::TypeChar::Int, 1) => widen(npy.into_vec::<i8>().map_err(read)?),
        (npyz::TypeChar::Int, 2) => widen(npy.into_vec::<i16>().map_err(read)?),
        (npyz::TypeChar::Int, 4) => widen(npy.into_vec::<i32>().map_err(read)?),
        (npyz::TypeChar::Int, 8) => npy.into_vec::<i64>().map_err(read)?,
        (npyz::TypeChar::Uint, 1) => widen(npy.into_vec::<u8>().map_err(read)?),
        (npyz::TypeChar::Uint, 2) => widen(npy.into_vec::<u16>().map_err(read)?),
        (npyz::TypeChar::Uint, 4) => widen(npy.into_vec::<u32>().map_err(read)?),
        (npyz::TypeChar::Uint, 8) => npy
            .into_vec::<u64>()
            .map_err(read)?
            .into_iter()
            .map(|v| i64::try_from(v).map_err(|_| bad(format!("index {v} is too large"))))
            .collect::<Result<_>>()?,
        _ => return Err(bad(format!("dtype {descr}"))),
    };
    Ok(values
        .chunks_exact((steps as usize).max(1))
        .map(<[i64]>::to_vec)
        .collect())
}

/// Integers of any narrower type as i64.
fn widen<T: Into<i64>>(v: Vec<T>) -> Vec<i64> {
    v.into_iter().map(Into::into).collect()
}

fn read_h5(path: &Path) -> Result<Vec<Vec<i64>>> {
    if !path.is_file() {
        return Err(Error::io(
            path,
            std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        ));
    }
    let file = hdf5::File::open(path).map_err(|e| Error::hdf5(path, "cannot open file", e))?;
    let names = file
        .member_names()
        .map_err(|e| Error::hdf5(path, "cannot list the file", e))?;
    let name = if names.iter().any(|n| n == "sequences") {
        "sequences".to_string()
    } else if names.len() == 1 {
        names[0].clone()
    } else {
        return Err(Error::format(
            path,
            format!("no dataset named sequences among {names:?}"),
        ));
    };
    let ds = file
        .dataset(&name)
        .map_err(|e| Error::hdf5(path, &format!("cannot open dataset {name}"), e))?;
    let shape = ds.shape();
    let [n, steps] = shape[..] else {
        return Err(Error::format(
            path,
            format!("dataset {name} has shape {shape:?}, expected [sequences, steps]"),
        ));
    };
    let data: Vec<i64> = ds
        .read_raw::<i64>()
        .map_err(|e| Error::hdf5(path, &format!("cannot read dataset {name} as integers"), e))?;
    Ok((0..n)
        .map(|i| data[i * steps..(i + 1) * steps].to_vec())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut header =
            format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + header.len() + 1) % 64 != 0 {
            header.push(' ');
        }
        header.push('\n');
        let mut out = vec![0x93, b'N', b'U', b'M', b'P', b'Y', 1, 0];
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(data);
        out
    }

    #[test]
    fn csv_npy_and_bad_rows() {
        let dir = tempfile::tempdir().unwrap();
        let csv = dir.path().join("s.csv");
        std::fs::write(&csv, "f0,f1,f2\n1, 2,3\n4,5,6\n\n").unwrap();
        assert_eq!(
            read_index_file(&csv).unwrap(),
            vec![vec![1, 2, 3], vec![4, 5, 6]]
        );
        std::fs::write(&csv, "1,2,3\n4,5\n").unwrap();
        let e = read_index_file(&csv).unwrap_err().to_string();
        assert!(
            e.contains("s.csv") && e.contains("row 2 has 2 frames"),
            "{e}"
        );
        std::fs::write(&csv, "1,2\n3,x\n").unwrap();
        let e = read_index_file(&csv).unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
        std::fs::write(&csv, "1,-2\n").unwrap();
        let e = read_index_file(&csv).unwrap_err().to_string();
        assert!(e.contains("index -2 is negative"), "{e}");
        let p = dir.path().join("s.npy");
        let data: Vec<u8> = [7i64, 8, 9, 10]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        std::fs::write(&p, npy("<i8", "(2, 2)", &data)).unwrap();
        assert_eq!(read_index_file(&p).unwrap(), vec![vec![7, 8], vec![9, 10]]);
        let data: Vec<u8> = [3u16, 65535].iter().flat_map(|v| v.to_be_bytes()).collect();
        std::fs::write(&p, npy(">u2", "(1, 2)", &data)).unwrap();
        assert_eq!(read_index_file(&p).unwrap(), vec![vec![3, 65535]]);
        let data: Vec<u8> = [-1i32].iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(&p, npy("<i4", "(1, 1)", &data)).unwrap();
        assert!(read_index_file(&p)
            .unwrap_err()
            .to_string()
            .contains("negative"));
        std::fs::write(&p, npy("<f4", "(1, 1)", &[0; 4])).unwrap();
        assert!(read_index_file(&p)
            .unwrap_err()
            .to_string()
            .contains("dtype <f4"));
        std::fs::write(&p, npy("<i8", "(3,)", &[0; 24])).unwrap();
        assert!(read_index_file(&p)
            .unwrap_err()
            .to_string()
            .contains("shape [3]"));
        std::fs::write(&p, b"not numpy").unwrap();
        assert!(read_index_file(&p)
            .unwrap_err()
            .to_string()
            .contains("not a 2-D integer .npy array"));
        let e = read_index_file(&dir.path().join("s.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown sequence file type"), "{e}");
    }
}
