//! A minimal reader of the ONNX protobuf: just enough to find a float initializer by name.
//!
//! ONNX Runtime does not hand out initializers, so the recurrent weights `W` are read from the
//! file itself: `ModelProto.graph` (field 7) → `GraphProto.initializer` (field 5, repeated
//! `TensorProto`) → `TensorProto { dims: 1, data_type: 2, float_data: 4, name: 8, raw_data: 9,
//! data_location: 14 }`. Every other field is skipped by wire type.

/// A float tensor found in the file.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FloatTensor {
    /// Dimensions.
    pub dims: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f32>,
}

/// What [`find_initializer`] found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Found {
    /// No initializer of that name.
    Missing,
    /// The initializer exists but is not a float32 tensor held in the file (the reason says why).
    Unusable(String),
    /// The tensor.
    Tensor(FloatTensor),
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn done(&self) -> bool {
        self.pos >= self.buf.len()
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(format!("truncated varint at byte {}", self.pos));
            };
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(v);
            }
        }
        Err(format!("varint longer than 10 bytes at byte {}", self.pos))
    }

    fn bytes(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let Some(end) = end else {
            return Err(format!(
                "field of {n} bytes at byte {} runs past the end",
                self.pos
            ));
        };
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    /// Reads one field key, returning (field number, wire type).
    fn key(&mut self) -> Result<(u64, u8), String> {
        let k = self.varint()?;
        let field = k >> 3;
        let wire = (k & 7) as u8;
        if field == 0 {
            return Err(format!("field number 0 at byte {}", self.pos));
        }
        Ok((field, wire))
    }

    /// Reads a field's value: `Some(bytes)` for length-delimited fields, `None` after skipping others.
    fn value(&mut self, wire: u8) -> Result<Value<'a>, String> {
        match wire {
            0 => Ok(Value::Varint(self.varint()?)),
            1 => Ok(Value::Fixed(self.bytes(8)?)),
            2 => {
                let n = self.varint()?;
                let n =
                    usize::try_from(n).map_err(|_| "length does not fit in memory".to_string())?;
                Ok(Value::Len(self.bytes(n)?))
            }
            5 => Ok(Value::Fixed(self.bytes(4)?)),
            w => Err(format!("unsupported wire type {w} at byte {}", self.pos)),
        }
    }
}

enum Value<'a> {
    Varint(u64),
    Fixed(&'a [u8]),
    Len(&'a [u8]),
}

/// Parses a whole message, calling `f(field, value)` for every field.
fn for_each_field<'a>(
    buf: &'a [u8],
    mut f: impl FnMut(u64, Value<'a>) -> Result<(), String>,
) -> Result<(), String> {
    let mut r = Reader::new(buf);
    while !r.done() {
        let (field, wire) = r.key()?;
        let v = r.value(wire)?;
        f(field, v)?;
    }
    Ok(())
}

/// Checks that `bytes` look like an ONNX `ModelProto` and returns its graph's bytes.
pub(crate) fn graph_bytes(bytes: &[u8]) -> Result<&[u8], String> {
    if bytes.is_empty() {
        return Err("empty file".into());
    }
    let mut graph = None;
    let mut ir_version = None;
    for_each_field(bytes, |field, v| {
        match (field, v) {
            (1, Value::Varint(x)) => ir_version = Some(x),
            (7, Value::Len(b)) => graph = Some(b),
            (7, _) => return Err("field `graph` has the wrong wire type".into()),
            _ => {}
        }
        Ok(())
    })?;
    if ir_version.is_none() {
        return Err("no `ir_version` field".into());
    }
    graph.ok_or_else(|| "no `graph` field".into())
}

/// Finds the initializer named `name` in an ONNX model file's bytes.
pub(crate) fn find_initializer(bytes: &[u8], name: &str) -> Result<Found, String> {
    let graph = graph_bytes(bytes)?;
    let mut inits = Vec::new();
    for_each_field(graph, |field, v| {
        if let (5, Value::Len(b)) = (field, v) {
            inits.push(b);
        }
        Ok(())
    })?;
    for t in inits {
        let mut tname: Option<&[u8]> = None;
        for_each_field(t, |field, v| {
            if let (8, Value::Len(b)) = (field, v) {
                tname = Some(b);
            }
            Ok(())
        })?;
        if tname == Some(name.as_bytes()) {
            return parse_tensor(t);
        }
    }
    Ok(Found::Missing)
}

fn parse_tensor(t: &[u8]) -> Result<Found, String> {
    let mut dims: Vec<i64> = Vec::new();
    let mut dtype = 0u64;
    let mut floats: Vec<f32> = Vec::new();
    let mut raw: Option<&[u8]> = None;
    let mut external = false;
    for_each_field(t, |field, v| {
        match (field, v) {
            (1, Value::Varint(x)) => dims.push(x as i64),
            (1, Value::Len(b)) => {
                let mut r = Reader::new(b);
                while !r.done() {
                    dims.push(r.varint()? as i64);
                }
            }
            (2, Value::Varint(x)) => dtype = x,
            (4, Value::Fixed(b)) => floats.push(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            (4, Value::Len(b)) => {
                if b.len() % 4 != 0 {
                    return Err("float_data length is not a multiple of 4".into());
                }
                floats.extend(
                    b.chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])),
                );
            }
            (9, Value::Len(b)) => raw = Some(b),
            (14, Value::Varint(1)) => external = true,
            _ => {}
        }
        Ok(())
    })?;
    if dtype != 1 {
        return Ok(Found::Unusable(format!(
            "data type {dtype} is not float32 (1)"
        )));
    }
    if external {
        return Ok(Found::Unusable(
            "its data is stored in an external file".into(),
        ));
    }
    if dims.iter().any(|&d| d < 0) {
        return Ok(Found::Unusable("negative dimension".into()));
    }
    let dims: Vec<usize> = dims.into_iter().map(|d| d as usize).collect();
    let count: usize = dims.iter().product();
    let data = match raw {
        Some(b) => {
            if b.len() != count * 4 {
                return Ok(Found::Unusable(format!(
                    "raw_data holds {} bytes, dims {dims:?} need {}",
                    b.len(),
                    count * 4
                )));
            }
            b.chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect()
        }
        None => floats,
    };
    if data.len() != count {
        return Ok(Found::Unusable(format!(
            "{} values, dims {dims:?} need {count}",
            data.len()
        )));
    }
    Ok(Found::Tensor(FloatTensor { dims, data }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let b = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(b);
                return;
            }
            out.push(b | 0x80);
        }
    }

    fn len_field(field: u64, body: &[u8], out: &mut Vec<u8>) {
        varint(field << 3 | 2, out);
        varint(body.len() as u64, out);
        out.extend_from_slice(body);
    }

    fn tensor(name: &str, dims: &[u64], values: &[f32], raw: bool, packed_dims: bool) -> Vec<u8> {
        let mut t = Vec::new();
        if packed_dims {
            let mut d = Vec::new();
            for &x in dims {
                varint(x, &mut d);
            }
            len_field(1, &d, &mut t);
        } else {
            for &x in dims {
                varint(1 << 3, &mut t);
                varint(x, &mut t);
            }
        }
        varint(2 << 3, &mut t);
        varint(1, &mut t);
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        if raw {
            len_field(9, &bytes, &mut t);
        } else {
            len_field(4, &bytes, &mut t);
        }
        len_field(8, name.as_bytes(), &mut t);
        t
    }

    fn model(inits: &[Vec<u8>]) -> Vec<u8> {
        let mut g = Vec::new();
        len_field(1, b"node-bytes-ignored", &mut g); // a node: skipped
        for t in inits {
            len_field(5, t, &mut g);
        }
        let mut m = Vec::new();
        varint(1 << 3, &mut m);
        varint(8, &mut m);
        len_field(2, b"producer", &mut m);
        len_field(7, &g, &mut m);
        m
    }

    #[test]
    fn finds_raw_and_packed_initializers() {
        let w = [1.0f32, -2.0, 3.5, 0.25, 5.0, 6.0];
        let bytes = model(&[
            tensor("b", &[2], &[9.0, 9.0], false, true),
            tensor("W", &[2, 3], &w, true, false),
        ]);
        match find_initializer(&bytes, "W").unwrap() {
            Found::Tensor(t) => {
                assert_eq!(t.dims, vec![2, 3]);
                assert_eq!(t.data, w.to_vec());
            }
            other => panic!("{other:?}"),
        }
        match find_initializer(&bytes, "b").unwrap() {
            Found::Tensor(t) => assert_eq!((t.dims, t.data), (vec![2], vec![9.0, 9.0])),
            other => panic!("{other:?}"),
        }
        assert_eq!(find_initializer(&bytes, "V").unwrap(), Found::Missing);
    }

    #[test]
    fn wrong_count_is_unusable_and_text_is_rejected() {
        let bytes = model(&[tensor("W", &[2, 2], &[1.0, 2.0, 3.0], true, true)]);
        assert!(matches!(
            find_initializer(&bytes, "W").unwrap(),
            Found::Unusable(_)
        ));
        assert!(graph_bytes(b"this is not a model\n").is_err());
        assert!(graph_bytes(b"").is_err());
        // Truncated: cut the model in the middle of the graph.
        let good = model(&[tensor("W", &[1], &[1.0], true, true)]);
        assert!(find_initializer(&good[..good.len() - 3], "W").is_err());
    }
}
