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
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let parsed: std::result::Result<Vec<i64>, _> =
            fields.iter().map(|f| f.parse::<i64>()).collect();
        match parsed {
            Ok(r) => rows.push(r),
            // A header line (names, not numbers) may come first.
            Err(_) if rows.is_empty() && i == 0 => continue,
            Err(e) => {
                return Err(Error::format(
                    path,
                    format!("line {}: not a list of integers ({e})", i + 1),
                ))
            }
        }
    }
    Ok(rows)
}

fn read_npy(path: &Path) -> Result<Vec<Vec<i64>>> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let bad = |why: &str| Error::format(path, format!("not a 2-D integer .npy array ({why})"));
    if bytes.len() < 10 || bytes[..6] != [0x93, b'N', b'U', b'M', b'P', b'Y'] {
        return Err(bad("no NUMPY magic"));
    }
    let (header_len, offset) = match bytes[6] {
        1 => (u16::from_le_bytes([bytes[8], bytes[9]]) as usize, 10),
        2 | 3 if bytes.len() >= 12 => (
            u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize,
            12,
        ),
        v => return Err(bad(&format!("format version {v}"))),
    };
    let header = bytes
        .get(offset..offset + header_len)
        .and_then(|h| std::str::from_utf8(h).ok())
        .ok_or_else(|| bad("truncated header"))?;
    let field = |key: &str| -> Option<&str> {
        let at = header.find(&format!("'{key}'"))? + key.len() + 2;
        let rest = header[at..].trim_start().strip_prefix(':')?.trim_start();
        Some(rest)
    };
    let descr = field("descr")
        .and_then(|r| r.strip_prefix('\''))
        .and_then(|r| r.split('\'').next())
        .ok_or_else(|| bad("no descr"))?;
    if field("fortran_order").is_some_and(|r| r.starts_with("True")) {
        return Err(bad("Fortran order; save it with np.ascontiguousarray"));
    }
    let shape: Vec<usize> = field("shape")
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.split(')').next())
        .ok_or_else(|| bad("no shape"))?
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse::<usize>().map_err(|_| bad("bad shape")))
        .collect::<Result<_>>()?;
    let [n, steps] = shape[..] else {
        return Err(bad(&format!("shape {shape:?}")));
    };
    let (endian, kind, size) = {
        let mut c = descr.chars();
        let e = c.next().ok_or_else(|| bad("empty descr"))?;
        let k = c.next().ok_or_else(|| bad("short descr"))?;
        let size: usize = c.as_str().parse().map_err(|_| bad("bad descr"))?;
        (e, k, size)
    };
    if !matches!(kind, 'i' | 'u') || ![1, 2, 4, 8].contains(&size) {
        return Err(bad(&format!("dtype {descr}")));
    }
    let data = &bytes[offset + header_len..];
    if data.len() != n * steps * size {
        return Err(bad(&format!(
            "{} data bytes for shape ({n}, {steps})",
            data.len()
        )));
    }
    let value = |b: &[u8]| -> i64 {
        let mut buf = [0u8; 8];
        if endian == '>' {
            buf[8 - size..].copy_from_slice(b);
            let u = u64::from_be_bytes(buf);
            sign_extend(u, size, kind)
        } else {
            buf[..size].copy_from_slice(b);
            sign_extend(u64::from_le_bytes(buf), size, kind)
        }
    };
    Ok(data
        .chunks_exact(size * steps.max(1))
        .map(|row| row.chunks_exact(size).map(value).collect())
        .collect())
}

/// The value of `size` raw bytes as a signed (`i`) or unsigned (`u`) integer.
fn sign_extend(u: u64, size: usize, kind: char) -> i64 {
    let bits = size * 8;
    if kind == 'i' && bits < 64 && u >> (bits - 1) & 1 == 1 {
        (u | (!0u64 << bits)) as i64
    } else {
        u as i64
    }
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
            .contains("magic"));
        let e = read_index_file(&dir.path().join("s.json"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown sequence file type"), "{e}");
    }
}
