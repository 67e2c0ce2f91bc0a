#!/usr/bin/env python3
"""Writes the step-v2 contract fixtures (docs/CONTRACT.md): one tiny valid model, one model per
violation (each breaking exactly one rule and otherwise equal to valid.onnx), a few extra
controls, and a tiny valid step-v1 model. Hand-built with onnx.helper; no training; the output
is byte-identical run after run.

Run from the repository root with the venv that scripts/setup.sh makes:

  ~/.cache/epc/venv-py311-torch2.11.0-ort1.32.0/bin/python testdata/contract-v2/make_fixtures.py

Writes the .onnx files, MANIFEST.json and SHA256SUMS next to this script. Every file is also
loaded with onnxruntime (CPU) and run once from the zero state on a zero frame, then on a frame
of 0.5 (the checker's probe frames); MANIFEST.json records what happened.

The valid model (n_in = 4, states h [4] and g [2], 6 units; row-vector convention):
  rec1 = h W_hh + g W_gh      a1 = x + rec1      h_next = relu(a1)
  in2  = h_next W_hg          rec2 = g W_gg      a2 = in2 + rec2      g_next = tanh(a2)
  preact = [a1, a2]   act = [h_next, g_next]   drive_in = [x, in2]   drive_rec = [rec1, rec2]
  transmission = act |Wfull|,  Wfull = [[W_hh, W_hg], [W_gh, W_gg]]  (built in the graph)
"""

import copy
import hashlib
import json
import os
import sys

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

PINNED = {"onnx": "1.23.2", "onnxruntime": "1.32.0"}
assert onnx.__version__ == PINNED["onnx"], f"onnx {onnx.__version__}, pinned {PINNED['onnx']}"
assert ort.__version__ == PINNED["onnxruntime"], \
    f"onnxruntime {ort.__version__}, pinned {PINNED['onnxruntime']}"

HERE = os.path.dirname(os.path.abspath(__file__))
OPSET = 17
IR_VERSION = 8  # what epc's own exporter writes (core/src/contract.rs)
BATCH = "batch"
N_IN, N_H, N_G = 4, 4, 2
N_UNITS = N_H + N_G
FLOAT, DOUBLE = TensorProto.FLOAT, TensorProto.DOUBLE

STATES = [{"name": "h", "size": N_H}, {"name": "g", "size": N_G}]
POPULATIONS = [
    {"name": "a", "units": [0, 4], "layer": 0, "pixels": [0, 4], "state": {"h": [0, 4]}},
    {"name": "b", "units": [4, 6], "layer": 1, "state": {"g": [0, 2]}},
]


def weights():
    """Fixed small weights, multiples of 1/16 (exact in float32)."""
    rng = np.random.default_rng(20240601)

    def w(rows, cols):
        return (rng.integers(-8, 9, size=(rows, cols)) / 16.0).astype(np.float32)

    return {"W_hh": w(N_H, N_H), "W_gh": w(N_G, N_H), "W_hg": w(N_H, N_G), "W_gg": w(N_G, N_G)}


def vi(name, elem, dims):
    return helper.make_tensor_value_info(name, elem, dims)


class Graph:
    """A mutable description of the valid graph, edited by each variant before building."""

    def __init__(self):
        w = weights()
        self.initializers = [numpy_helper.from_array(v, k) for k, v in w.items()]
        self.nodes = [
            helper.make_node("MatMul", ["h", "W_hh"], ["rec_h"]),
            helper.make_node("MatMul", ["g", "W_gh"], ["rec_g"]),
            helper.make_node("Add", ["rec_h", "rec_g"], ["rec1"]),
            helper.make_node("Add", ["x", "rec1"], ["a1"]),
            helper.make_node("Relu", ["a1"], ["h_next"]),
            helper.make_node("MatMul", ["h_next", "W_hg"], ["in2"]),
            helper.make_node("MatMul", ["g", "W_gg"], ["rec2"]),
            helper.make_node("Add", ["in2", "rec2"], ["a2"]),
            helper.make_node("Tanh", ["a2"], ["g_next"]),
            helper.make_node("Concat", ["a1", "a2"], ["preact"], axis=1),
            helper.make_node("Concat", ["h_next", "g_next"], ["act"], axis=1),
            helper.make_node("Concat", ["x", "in2"], ["drive_in"], axis=1),
            helper.make_node("Concat", ["rec1", "rec2"], ["drive_rec"], axis=1),
            helper.make_node("Concat", ["W_hh", "W_hg"], ["w_top"], axis=1),
            helper.make_node("Concat", ["W_gh", "W_gg"], ["w_bottom"], axis=1),
            helper.make_node("Concat", ["w_top", "w_bottom"], ["w_full"], axis=0),
            helper.make_node("Abs", ["w_full"], ["w_abs"]),
            helper.make_node("MatMul", ["act", "w_abs"], ["transmission"]),
        ]
        self.inputs = [vi("x", FLOAT, [BATCH, N_IN]), vi("h", FLOAT, [BATCH, N_H]),
                       vi("g", FLOAT, [BATCH, N_G])]
        self.outputs = [
            vi("preact", FLOAT, [BATCH, N_UNITS]),
            vi("act", FLOAT, [BATCH, N_UNITS]),
            vi("drive_in", FLOAT, [BATCH, N_UNITS]),
            vi("drive_rec", FLOAT, [BATCH, N_UNITS]),
            vi("transmission", FLOAT, [BATCH, N_UNITS]),
            vi("h_next", FLOAT, [BATCH, N_H]),
            vi("g_next", FLOAT, [BATCH, N_G]),
        ]
        self.metadata = {
            "epc.contract": "step-v2",
            "epc.states": json.dumps(STATES),
            "epc.populations": json.dumps(POPULATIONS),
            "epc.energy": json.dumps(["a"]),
            "epc.architecture": "contract-v2-fixture",
        }
        self.name = "contract_v2_fixture"

    # ---- edits

    def rename(self, old, new):
        """Renames a value everywhere: graph inputs/outputs and node inputs/outputs."""
        for n in self.nodes:
            n.input[:] = [new if v == old else v for v in n.input]
            n.output[:] = [new if v == old else v for v in n.output]
        for v in self.inputs + self.outputs:
            if v.name == old:
                v.name = new

    def rename_internal(self, old, new):
        """Renames a value inside the graph only (the port keeps its name, to be re-produced)."""
        for n in self.nodes:
            n.input[:] = [new if v == old else v for v in n.input]
            n.output[:] = [new if v == old else v for v in n.output]

    def port(self, name):
        for v in self.inputs + self.outputs:
            if v.name == name:
                return v
        raise KeyError(name)

    def set_port(self, name, elem, dims):
        v = self.port(name)
        v.CopyFrom(vi(name, elem, dims))

    def const_i64(self, name, values):
        self.initializers.append(numpy_helper.from_array(np.array(values, np.int64), name))

    def build(self):
        graph = helper.make_graph(self.nodes, self.name, self.inputs, self.outputs,
                                  self.initializers)
        model = helper.make_model(graph, producer_name="epc-contract-v2-fixtures",
                                  producer_version="1",
                                  opset_imports=[helper.make_opsetid("", OPSET)])
        model.ir_version = IR_VERSION
        helper.set_model_props(model, self.metadata)
        return model


def with_populations(g, pops):
    g.metadata["epc.populations"] = json.dumps(pops)


def pops_copy():
    return copy.deepcopy(POPULATIONS)


# ---------------------------------------------------------------- variants
# Each returns (Graph, rule broken or None, check category, extra?)


def v_valid():
    return Graph()


def v_missing_state_input():
    g = Graph()
    g.rename("g", "g2")  # metadata still lists g
    return g


def v_misnamed_output():
    g = Graph()
    g.rename("h_next", "h_nxt")
    return g


def v_extra_input():
    g = Graph()
    g.inputs.append(vi("y", FLOAT, [BATCH, N_IN]))  # declared, ignored by the graph
    return g


def v_float64_state():
    g = Graph()
    g.rename_internal("h", "h_f32")
    g.nodes.insert(0, helper.make_node("Cast", ["h"], ["h_f32"], to=FLOAT))
    g.rename_internal("h_next", "h_next_f32")
    g.nodes.append(helper.make_node("Cast", ["h_next_f32"], ["h_next"], to=DOUBLE))
    g.set_port("h", DOUBLE, [BATCH, N_H])
    g.set_port("h_next", DOUBLE, [BATCH, N_H])
    return g


def v_rank3_output():
    g = Graph()
    g.rename_internal("preact", "preact_2d")
    g.const_i64("axis_1", [1])
    g.nodes.append(helper.make_node("Unsqueeze", ["preact_2d", "axis_1"], ["preact"]))
    g.set_port("preact", FLOAT, [BATCH, 1, N_UNITS])
    return g


def v_act_width():
    g = Graph()
    g.rename_internal("act", "act_full")  # transmission still uses all 6 columns
    g.const_i64("slice_start", [0])
    g.const_i64("slice_end", [N_UNITS - 1])
    g.const_i64("slice_axis", [1])
    g.nodes.append(helper.make_node("Slice", ["act_full", "slice_start", "slice_end",
                                              "slice_axis"], ["act"]))
    g.set_port("act", FLOAT, [BATCH, N_UNITS - 1])
    return g


def _g_next_three(g):
    g.rename_internal("g_next", "g_tanh")  # act still takes the 2 tanh columns
    g.const_i64("slice_start", [0])
    g.const_i64("slice_end", [1])
    g.const_i64("slice_axis", [1])
    g.nodes.append(helper.make_node("Slice", ["g_tanh", "slice_start", "slice_end",
                                              "slice_axis"], ["g_first"]))
    g.nodes.append(helper.make_node("Concat", ["g_tanh", "g_first"], ["g_next"], axis=1))
    g.set_port("g_next", FLOAT, [BATCH, N_G + 1])


def v_state_roundtrip():
    g = Graph()
    _g_next_three(g)
    return g


def _all_symbolic(g):
    """Every dim after the batch becomes a symbol of its own, named after its port."""
    for v in g.inputs + g.outputs:
        t = v.type.tensor_type
        for i, d in enumerate(t.shape.dim):
            if i > 0:
                d.Clear()
                d.dim_param = f"{v.name}_dim{i}"


def v_state_roundtrip_symbolic():
    g = Graph()
    _g_next_three(g)
    _all_symbolic(g)
    return g


def v_no_populations():
    g = Graph()
    del g.metadata["epc.populations"]
    return g


def v_bad_json():
    g = Graph()
    g.metadata["epc.populations"] = '[{"name": "a", '
    return g


def v_overlap():
    g = Graph()
    pops = pops_copy()
    pops[1]["units"] = [3, 6]
    del pops[1]["state"]  # a 3-unit population cannot own the 2 entries of g
    with_populations(g, pops)
    return g


def v_out_of_range():
    g = Graph()
    pops = pops_copy()
    pops[1]["units"] = [4, 7]
    del pops[1]["state"]  # a 3-unit population cannot own the 2 entries of g
    with_populations(g, pops)
    return g


def v_gap():
    g = Graph()
    pops = pops_copy()
    pops[0]["units"] = [0, 3]
    pops[0]["pixels"] = [0, 3]
    pops[0]["state"] = {"h": [0, 3]}
    with_populations(g, pops)
    return g


def v_pixels_beyond():
    g = Graph()
    pops = pops_copy()
    pops[0]["pixels"] = [2, 6]
    with_populations(g, pops)
    return g


def v_state_beyond():
    g = Graph()
    pops = pops_copy()
    pops[1]["state"] = {"g": [1, 3]}
    with_populations(g, pops)
    return g


def v_states_meta_size():
    g = Graph()
    states = copy.deepcopy(STATES)
    states[1]["size"] = 3
    g.metadata["epc.states"] = json.dumps(states)
    return g


def v_nan_probe():
    g = Graph()
    # a1 = x * (x / x) + rec1: equal to the valid model wherever x != 0, NaN where x == 0,
    # so the zero probe frame gives NaN in preact (and act, h_next, ...), the 0.5 frame does not
    g.nodes.insert(0, helper.make_node("Div", ["x", "x"], ["x_over_x"]))
    g.nodes.insert(1, helper.make_node("Mul", ["x", "x_over_x"], ["x_nan_at_zero"]))
    for n in g.nodes:
        if list(n.output) == ["a1"]:
            n.input[:] = ["x_nan_at_zero", "rec1"]
    return g


# extras (controls and rules the brief's list leaves without a fixture)


def v_valid_symbolic():
    g = Graph()
    _all_symbolic(g)
    return g


def v_valid_fixed_batch():
    g = Graph()
    for v in g.inputs + g.outputs:
        v.type.tensor_type.shape.dim[0].Clear()
        v.type.tensor_type.shape.dim[0].dim_value = 2
    return g


def v_unknown_field():
    g = Graph()
    pops = pops_copy()
    pops[1]["colour"] = "red"
    with_populations(g, pops)
    return g


def v_state_owned_twice():
    g = Graph()
    pops = pops_copy()
    pops[1]["state"] = {"g": [0, 2], "h": [2, 4]}  # h[2..4) is also owned by population a
    with_populations(g, pops)
    return g


def v1_valid():
    """A tiny valid step-v1 model: preact = x + h W, h_next = relu(preact), act = h_next."""
    w = weights()["W_hh"]
    nodes = [
        helper.make_node("MatMul", ["h", "W"], ["rec"]),
        helper.make_node("Add", ["x", "rec"], ["preact"]),
        helper.make_node("Relu", ["preact"], ["h_next"]),
        helper.make_node("Identity", ["h_next"], ["act"]),
    ]
    graph = helper.make_graph(
        nodes, "contract_v1_fixture",
        [vi("x", FLOAT, [BATCH, N_IN]), vi("h", FLOAT, [BATCH, N_IN])],
        [vi("preact", FLOAT, [BATCH, N_IN]), vi("h_next", FLOAT, [BATCH, N_IN]),
         vi("act", FLOAT, [BATCH, N_IN])],
        [numpy_helper.from_array(w, "W")],
    )
    model = helper.make_model(graph, producer_name="epc-contract-v2-fixtures",
                              producer_version="1",
                              opset_imports=[helper.make_opsetid("", OPSET)])
    model.ir_version = IR_VERSION
    helper.set_model_props(model, {"epc.contract": "step-v1",
                                   "epc.architecture": "contract-v1-fixture"})
    return model


# (file, builder, rule broken or None, check category, extra)
FIXTURES = [
    ("valid.onnx", v_valid, None, None, False),
    ("missing_state_input.onnx", v_missing_state_input,
     "state g listed in epc.states has no input g (the input is named g2)", "ports", False),
    ("misnamed_output.onnx", v_misnamed_output,
     "output h_next is missing (named h_nxt)", "ports", False),
    ("extra_input.onnx", v_extra_input,
     "input y is neither x nor a state (the graph ignores it)", "ports", False),
    ("float64_state.onnx", v_float64_state,
     "input h and output h_next are float64, not float32", "types", False),
    ("rank3_output.onnx", v_rank3_output,
     "output preact has rank 3 ([batch, 1, 6]), not 2", "types", False),
    ("act_width.onnx", v_act_width,
     "act has 5 columns, preact 6", "sizes", False),
    ("state_roundtrip.onnx", v_state_roundtrip,
     "g_next is declared (and computed) [batch, 3], input g [batch, 2]", "sizes", False),
    ("state_roundtrip_symbolic.onnx", v_state_roundtrip_symbolic,
     "g_next has 3 columns at a probe step, input g 2; every dim after batch is symbolic, "
     "so only the probe shows it", "probe", False),
    ("no_populations.onnx", v_no_populations,
     "metadata key epc.populations is absent", "metadata", False),
    ("bad_json.onnx", v_bad_json,
     "epc.populations is not valid JSON (truncated)", "metadata", False),
    ("overlap.onnx", v_overlap,
     "populations [0,4) and [3,6) overlap (unit 3 twice)", "populations", False),
    ("out_of_range.onnx", v_out_of_range,
     "population [4,7) goes beyond n_units = 6", "populations", False),
    ("gap.onnx", v_gap,
     "populations [0,3) and [4,6) leave unit 3 uncovered", "populations", False),
    ("pixels_beyond.onnx", v_pixels_beyond,
     "pixels [2,6) go beyond n_in = 4", "populations", False),
    ("state_beyond.onnx", v_state_beyond,
     "state range g [1,3) goes beyond g's size 2", "populations", False),
    ("states_meta_size.onnx", v_states_meta_size,
     "epc.states gives g size 3, the ports say 2", "sizes", False),
    ("nan_probe.onnx", v_nan_probe,
     "non-finite outputs for the zero probe frame (preact through x * (x / x))", "probe",
     False),
    ("v1_valid.onnx", v1_valid, None, None, False),
    # epc needs the frame size declared (docs/CONTRACT.md): it builds the probe frames from it.
    ("valid_symbolic.onnx", v_valid_symbolic,
     "x (and every other port) declares no size after batch, so n_in is unknown", "ports", True),
    ("valid_fixed_batch.onnx", v_valid_fixed_batch, None, None, True),
    ("unknown_field.onnx", v_unknown_field,
     "population b has an unknown field \"colour\"", "metadata", True),
    ("state_owned_twice.onnx", v_state_owned_twice,
     "entries h[2..4) are owned by populations a and b", "populations", True),
]

STATE_SIZES = {"x": N_IN, "h": N_H, "g": N_G, "g2": N_G, "y": N_IN}
NP_TYPES = {FLOAT: np.float32, DOUBLE: np.float64}


def probe(path, model):
    """Loads with onnxruntime and runs the zero frame, then the 0.5 frame, from the zero state."""
    out = {"ort_loads": False}
    try:
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        so.inter_op_num_threads = 1
        so.log_severity_level = 3
        sess = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    except Exception as e:  # noqa: BLE001 - recorded, not hidden
        out["ort_error"] = str(e).splitlines()[0][:300]
        return out
    out["ort_loads"] = True
    batch = 2
    for value in (0.0, 0.5):
        feed = {}
        for i in model.graph.input:
            elem = i.type.tensor_type.elem_type
            shape = (batch, STATE_SIZES[i.name])
            feed[i.name] = np.full(shape, value if i.name == "x" else 0.0, NP_TYPES[elem])
        results = sess.run(None, feed)
        names = [o.name for o in sess.get_outputs()]
        finite = bool(all(np.isfinite(r).all() for r in results))
        if value == 0.0:
            out["zero_frame_finite"] = finite
            out["output_shapes"] = {n: list(r.shape) for n, r in zip(names, results)}
        else:
            out["half_frame_finite"] = finite
    return out


def main():
    manifest = []
    sums = []
    total = 0
    for name, build, rule, check, extra in FIXTURES:
        g = build()
        model = g if isinstance(g, onnx.ModelProto) else g.build()
        try:
            onnx.checker.check_model(model, full_check=True)
            checker = "ok"
        except Exception as e:  # noqa: BLE001
            checker = str(e).splitlines()[0][:300]
        path = os.path.join(HERE, name)
        data = model.SerializeToString(deterministic=True)
        with open(path, "wb") as f:
            f.write(data)
        total += len(data)
        contract = {p.key: p.value for p in model.metadata_props}.get("epc.contract")
        entry = {
            "file": name,
            "contract": contract,
            "valid": rule is None,
            "breaks": rule,
            "check": check,
            "extra": extra,
            "onnx_checker": checker,
        }
        entry.update(probe(path, model))
        manifest.append(entry)
        sums.append(f"{hashlib.sha256(data).hexdigest()}  {name}\n")
        z = entry.get("zero_frame_finite")
        print(f"{name:32s} {len(data):5d} B  ort_loads={entry['ort_loads']!s:5s} "
              f"zero_frame_finite={z!s:5s} checker={checker}")
        if rule is None:
            assert entry["ort_loads"] and z and entry["half_frame_finite"], name
            assert checker == "ok", name

    doc = {
        "about": "step-v2 contract fixtures (docs/CONTRACT.md), written by make_fixtures.py. "
                 "valid: follows the contract; breaks: the one rule the file breaks (null when "
                 "valid); check: the kind of check that should report it; extra: not in the "
                 "original list (controls and otherwise untested rules); onnx_checker: "
                 "onnx.checker.check_model(full_check=True); ort_loads: onnxruntime 1.32.0 "
                 "(CPU) creates a session; zero_frame_finite / half_frame_finite: every output "
                 "is finite after one step from the zero state on a frame of zeros / of 0.5 "
                 "(batch 2); output_shapes: the outputs' shapes at the zero-frame step.",
        "versions": {"onnx": onnx.__version__, "onnxruntime": ort.__version__,
                     "opset": OPSET, "ir_version": IR_VERSION},
        "fixtures": manifest,
    }
    mpath = os.path.join(HERE, "MANIFEST.json")
    # one line per fixture, so that a diff of the manifest reads file by file
    head = json.dumps({k: v for k, v in doc.items() if k != "fixtures"}, indent=2)
    rows = ",\n".join("    " + json.dumps(e) for e in manifest)
    text = head[:-2] + ',\n  "fixtures": [\n' + rows + "\n  ]\n}\n"
    assert json.loads(text) == doc
    with open(mpath, "w") as f:
        f.write(text)
    sums.append(f"{hashlib.sha256(text.encode()).hexdigest()}  MANIFEST.json\n")
    with open(os.path.join(HERE, "SHA256SUMS"), "w") as f:
        f.writelines(sums)
    print(f"{len(FIXTURES)} fixtures, {total} bytes of .onnx; wrote MANIFEST.json and SHA256SUMS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
