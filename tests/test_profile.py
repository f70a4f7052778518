"""kvid.runtime.profile: the TFLite graph cut into blocks and ops, each timed alone (TF-free)."""

import json

import numpy as np
import pytest
from tensorflow_blocked import kvid_without_tensorflow

from kvid.export.preset import export_preset


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    from kvid import models

    path = tmp_path_factory.mktemp("profile") / "sev.tflite"
    export_preset("sevnet_g8", path, frames=4, size=32, num_classes=3,
                  overrides={**models.get("sevnet_g8").small, "group_width": 2}, calibration_clips=2,
                  parity_clips=0)
    return path


def test_layer_and_block_names_come_from_the_tensor_names():
    from kvid.runtime.profile_graph import block_of, layer_of

    name = ("ctnet_r50/quant_res2_2__ct_1_temporal_split/Reshape;"
            "ctnet_r50/quant_res2_2__ct_1_permute_merge/Reshape")
    assert layer_of(name) == "res2_2__ct_1_temporal_split"
    assert block_of(layer_of(name)) == "res2_2"
    assert layer_of("sevnet_g8/quant_normalize/BiasAdd;sevnet_g8/quant_normalize/depthwise") == "normalize"
    assert block_of("normalize") == "normalize"
    assert layer_of("sevnet/sev2_1__conv_b/Conv2D") == "sev2_1__conv_b"  # float export: no quant_


def _run(content, inputs):
    from kvid.runtime.profile import _interpreter

    interpreter = _interpreter(content, threads=1)
    for detail, value in zip(interpreter.get_input_details(), inputs):
        interpreter.set_tensor(detail["index"], value)
    interpreter.invoke()
    return {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}


def test_graph_ops_kinds_macs_and_submodels_reproduce_the_whole(exported):
    from kvid.export.audit import audit
    from kvid.runtime.profile_graph import Graph

    graph = Graph(exported)
    assert len(graph.ops) == sum(audit(exported)["ops"].values())
    blocks = [b for b, _ in graph.segments()]
    assert {"sev2_1", "sev3_1", "sev4_1", "sev5_1"} <= set(blocks)
    assert sum(len(ix) for _, ix in graph.segments()) == len(graph.ops)
    kinds = {op.kind for op in graph.ops}
    assert {"CONV_2D grouped 3x3", "CONV_2D 1x1", "CONV_2D temporal 3x1"} <= kinds
    for op in graph.ops:
        if op.kind == "CONV_2D 1x1":  # MACs = output elements x input channels
            assert op.macs == np.prod(op.shape) * graph.shape(op.inputs[0])[-1]
    assert graph.macs > 0 and all(op.macs == 0 for op in graph.ops if op.type in ("RESHAPE", "ADD"))

    clip = np.random.default_rng(0).integers(-128, 128, graph.shape(graph.subgraph.inputs[0])).astype(np.int8)
    with open(exported, "rb") as fh:
        whole = list(_run(fh.read(), [clip]).values())[0]
    every_op = list(_run(graph.submodel(range(len(graph.ops))), [clip]).values())
    assert len(every_op) == 1 and np.array_equal(every_op[0], whole)
    # Cut in two: the first half's live tensors feed the second half and give the same logits.
    half = len(graph.ops) // 2
    first = _run(graph.submodel(range(half)), [clip])
    second_model = graph.submodel(range(half, len(graph.ops)))
    from kvid.runtime.profile import _interpreter

    names = [d["name"] for d in _interpreter(second_model, 1).get_input_details()]
    assert set(names) <= set(first)  # every input of the second half is an output of the first
    out = list(_run(second_model, [first[n] for n in names]).values())
    assert np.array_equal(out[0], whole)


def test_profile_times_every_block_and_op(exported):
    from kvid.runtime.profile import GROUPS, format_profile, group_shares, profile

    report = profile(exported, threads=1, warmup=1, repeats=2)
    assert report["whole_ms"] > 0 and len(report["op_rows"]) == report["ops"]
    # SEVNet's downsample module pools its shortcut with an int8 AVERAGE_POOL_2D, which XNNPACK
    # does not run, so the delegated graph is split around it (its ReLU is fused into the convs)
    assert report["not_xnnpack"] == ["AVERAGE_POOL_2D"] and report["xnnpack_partitions"] > 1
    rows = {r["kind"]: r for r in report["op_rows"]}
    assert not rows["AVERAGE_POOL_2D"]["xnnpack"] and rows["CONV_2D grouped 3x3"]["xnnpack"]
    assert sum(b["ops"] for b in report["blocks"]) == report["ops"]
    assert all(r["ms"] > 0 for r in report["op_rows"] + report["blocks"])
    assert {k["kind"] for k in report["kinds"]} == {r["kind"] for r in report["op_rows"]}
    assert abs(sum(k["gmacs"] for k in report["kinds"]) - report["gmacs"]) < 1e-9
    shares = group_shares(report)
    assert set(shares) == set(GROUPS) and abs(sum(shares.values()) - 1) < 1e-9
    assert shares["dense conv"] > 0 and shares["grouped / depthwise conv"] > 0
    text = format_profile(report)
    assert "sev3_1" in text and "CONV_2D grouped 3x3" in text and "slowest op" in text
    assert format_profile(report, markdown=True).count("|---|") == 3 and "data movement" in text


def test_roofline_conv_model_runs_and_counts_its_macs():
    from kvid.runtime.profile import time_model
    from kvid.runtime.profile_graph import Graph, conv_model

    for dtype in ("int8", "float32"):
        content = conv_model(height=8, width=8, cin=16, cout=32, kernel=3, dtype=dtype)
        graph = Graph(content)
        assert [op.kind for op in graph.ops] == ["CONV_2D 3x3"]
        assert graph.macs == 8 * 8 * 32 * 9 * 16
        assert graph.dtype(graph.ops[0].outputs[0]) == dtype
        row = time_model(content, threads=1, warmup=1, repeats=2, n_ops=1)
        assert row["ms"] > 0 and row["delegated_nodes"] == 1  # XNNPACK runs it


def test_bench_profile_cli_runs_without_tensorflow(exported, tmp_path):
    proc = kvid_without_tensorflow("bench", "--profile", exported, "--threads", "1", "--repeats", "2", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout)
    assert report["ops"] == len(report["op_rows"]) and report["env"].startswith("env: ")
    proc = kvid_without_tensorflow("bench", "--profile", tmp_path / "none.tflite")
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_int8_warning_is_printed_once_and_only_for_int8_models(exported, tmp_path, capsys, monkeypatch):
    from kvid import environment
    from kvid.runtime import bench
    from kvid.runtime.profile_graph import conv_model

    float_model = tmp_path / "float.tflite"
    float_model.write_bytes(conv_model(height=4, width=4, cin=4, cout=4, dtype="float32"))
    monkeypatch.setattr(environment, "int8_warning", lambda info=None: "warning: no int8 dot product")
    monkeypatch.setitem(bench._warned, "int8", False)
    assert bench.warn_int8([float_model]) is None  # no int8 model: nothing to say
    assert bench.warn_int8([float_model, exported]) == "warning: no int8 dot product"
    assert bench.warn_int8([exported]) is None  # once
    assert capsys.readouterr().err == "kvid: warning: no int8 dot product\n"
    monkeypatch.setattr(environment, "int8_warning", lambda info=None: None)
    monkeypatch.setitem(bench._warned, "int8", False)
    assert bench.warn_int8([exported]) is None and capsys.readouterr().err == ""
