//! A small graph builder over the generated ONNX protobuf types.
//!
//! The protobuf types stay inside this module's crate: the public API of
//! [`crate::onnx`] speaks plain Rust (weights as `&[f32]`, metadata as string pairs).

use onnx_protobuf::attribute_proto::AttributeType;
use onnx_protobuf::tensor_proto::DataType;
use onnx_protobuf::tensor_shape_proto::{dimension, Dimension};
use onnx_protobuf::{
    type_proto, AttributeProto, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TensorProto, TensorShapeProto, TypeProto, ValueInfoProto,
};
use protobuf::{EnumOrUnknown, Message, MessageField};

/// One dimension of a value's shape.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Dim {
    /// A named symbolic dimension (`batch`, `steps`).
    Sym(&'static str),
    /// A fixed size.
    Fixed(usize),
}

/// An attribute of a node.
pub(crate) enum Attr {
    /// An integer attribute.
    Int(&'static str, i64),
    /// A float32 tensor attribute (`dims`, values).
    TensorF32(&'static str, Vec<i64>, Vec<f32>),
    /// A subgraph attribute.
    Graph(&'static str, Graph),
}

/// A finished graph (main graph or subgraph).
pub(crate) struct Graph(Box<GraphProto>);

/// Builds one graph: inputs, outputs, initializers and nodes, in order.
pub(crate) struct GraphBuilder {
    graph: GraphProto,
}

fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn dims_i64(dims: &[usize]) -> Vec<i64> {
    dims.iter().map(|&d| d as i64).collect()
}

fn float_value_info(name: &str, dims: &[Dim]) -> ValueInfoProto {
    let dim = dims
        .iter()
        .map(|d| Dimension {
            value: Some(match *d {
                Dim::Sym(s) => dimension::Value::DimParam(s.to_string()),
                Dim::Fixed(n) => dimension::Value::DimValue(n as i64),
            }),
            ..Default::default()
        })
        .collect();
    let tensor = type_proto::Tensor {
        elem_type: DataType::FLOAT as i32,
        shape: MessageField::some(TensorShapeProto {
            dim,
            ..Default::default()
        }),
        ..Default::default()
    };
    ValueInfoProto {
        name: name.to_string(),
        type_: MessageField::some(TypeProto {
            value: Some(type_proto::Value::TensorType(tensor)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn tensor_f32(name: &str, dims: Vec<i64>, values: &[f32]) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims,
        data_type: DataType::FLOAT as i32,
        raw_data: f32_bytes(values),
        ..Default::default()
    }
}

fn tensor_i64(name: &str, dims: Vec<i64>, values: &[i64]) -> TensorProto {
    TensorProto {
        name: name.to_string(),
        dims,
        data_type: DataType::INT64 as i32,
        raw_data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ..Default::default()
    }
}

impl Attr {
    fn into_proto(self) -> AttributeProto {
        match self {
            Attr::Int(name, i) => AttributeProto {
                name: name.to_string(),
                type_: EnumOrUnknown::new(AttributeType::INT),
                i,
                ..Default::default()
            },
            Attr::TensorF32(name, dims, values) => AttributeProto {
                name: name.to_string(),
                type_: EnumOrUnknown::new(AttributeType::TENSOR),
                t: MessageField::some(tensor_f32("", dims, &values)),
                ..Default::default()
            },
            Attr::Graph(name, graph) => AttributeProto {
                name: name.to_string(),
                type_: EnumOrUnknown::new(AttributeType::GRAPH),
                g: MessageField(Some(graph.0)),
                ..Default::default()
            },
        }
    }
}

impl GraphBuilder {
    /// An empty graph called `name`, documented by `doc`.
    pub(crate) fn new(name: &str, doc: &str) -> Self {
        Self {
            graph: GraphProto {
                name: name.to_string(),
                doc_string: doc.to_string(),
                ..Default::default()
            },
        }
    }

    /// Declares a float32 graph input.
    pub(crate) fn input(&mut self, name: &str, dims: &[Dim]) -> &mut Self {
        self.graph.input.push(float_value_info(name, dims));
        self
    }

    /// Declares a float32 graph output.
    pub(crate) fn output(&mut self, name: &str, dims: &[Dim]) -> &mut Self {
        self.graph.output.push(float_value_info(name, dims));
        self
    }

    /// Adds a float32 initializer (stored as little-endian raw data).
    pub(crate) fn initializer_f32(
        &mut self,
        name: &str,
        dims: &[usize],
        values: &[f32],
    ) -> &mut Self {
        self.graph
            .initializer
            .push(tensor_f32(name, dims_i64(dims), values));
        self
    }

    /// Adds a one-dimensional int64 initializer (stored as little-endian raw data): the
    /// shape-like inputs of operators such as `Pad` (`pads`) and `Split` (`split`).
    pub(crate) fn initializer_i64(&mut self, name: &str, values: &[i64]) -> &mut Self {
        self.graph
            .initializer
            .push(tensor_i64(name, vec![values.len() as i64], values));
        self
    }

    /// Adds a node of the default domain.
    pub(crate) fn node(
        &mut self,
        op_type: &str,
        name: &str,
        inputs: &[&str],
        outputs: &[&str],
        attrs: Vec<Attr>,
    ) -> &mut Self {
        self.graph.node.push(NodeProto {
            op_type: op_type.to_string(),
            name: name.to_string(),
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: outputs.iter().map(|s| s.to_string()).collect(),
            attribute: attrs.into_iter().map(Attr::into_proto).collect(),
            ..Default::default()
        });
        self
    }

    /// Finishes the graph.
    pub(crate) fn build(self) -> Graph {
        Graph(Box::new(self.graph))
    }
}

/// Serialises `graph` as a model (IR and opset of the contract) with `metadata` props.
pub(crate) fn model_bytes(
    graph: Graph,
    metadata: &[(String, String)],
    doc: &str,
) -> Result<Vec<u8>, String> {
    let model = ModelProto {
        ir_version: epc_core::contract::IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: epc_core::contract::OPSET,
            ..Default::default()
        }],
        producer_name: "epc".to_string(),
        producer_version: epc_core::TOOLKIT_VERSION.to_string(),
        doc_string: doc.to_string(),
        graph: MessageField(Some(graph.0)),
        metadata_props: metadata
            .iter()
            .map(|(k, v)| StringStringEntryProto {
                key: k.clone(),
                value: v.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };
    model
        .write_to_bytes()
        .map_err(|e| format!("cannot serialise the ONNX model: {e}"))
}
