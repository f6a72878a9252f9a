"""One validated schema for what comes from files: JSON is parsed with size, depth and integer
bounds; fields are strictly typed (booleans are true/false only), numbers finite and bounded;
a session or checkpoint metadata that breaks any rule is refused in one line naming the field,
never with a traceback."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from ddpm_desktop.core import checkpoint
from ddpm_desktop.core.checkpoint import CheckpointError
from ddpm_desktop.core.schema import SchemaError, parse_json
from ddpm_desktop.core.snapshot import VERSION, Snapshot


def _session() -> dict:
    return {
        "format": "ddpm-desktop-session", "version": VERSION,
        "schedule": {"kind": "linear", "T": 1000, "beta_start": 1e-4, "beta_end": 0.02},
        "input": {"seed": 3, "start": "exponential", "start_params": {"rate": 0.5},
                  "forward_from": "digit", "digit_source": "test", "digit_label": 7,
                  "digit": np.zeros((28, 28)).tolist()},
        "forward": {"t": 10},
        "sampler": {"sampler": "ddim", "steps": 20, "compare": False, "guidance": 1.5},
        "training": {"batch_size": 32, "conditional": True, "lr": 1e-3},
        "export": {"fps": 20, "histogram": True},
        "device": "cpu", "model": None,
    }


def _text(d: dict) -> str:
    return json.dumps(d)


def test_a_plain_session_reads():
    snap = Snapshot.from_json(_text(_session()))
    assert snap.sampler["steps"] == 20 and snap.training["conditional"] is True
    assert snap.forward_t == 10 and snap.input.start_params == {"rate": 0.5}
    assert Snapshot.from_dict(json.loads(snap.to_json())) == snap


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("text, words", [
    (_nested(100_000), "nested 100000 levels deep"),
    ('{"a": ' + _nested(5_000) + "}", "nested 5001 levels deep"),
    ('{"a": "' + "[" * 1000 + '"}', None),  # brackets inside a string are text
    ("1" + "0" * 5000, "integer of 5001 digits"),
    ('{"x": -' + "9" * 30 + "}", "integer of 30 digits"),
    ('{"x": NaN}', "NaN is not a number"),
    ('{"x": -Infinity}', "-Infinity is not a number"),
    ('{"x": 1e400}', "too large"),
    ("{'single': 1}", "not JSON"),
    (b"\xff\xfe", "not UTF-8"),
    ("[" + "0," * 600_000 + "0]", "too large"),
])
def test_parse_json_refuses_in_one_line(text, words):
    if words is None:
        assert parse_json(text, 1_000_000) == {"a": "[" * 1000}
        return
    with pytest.raises(SchemaError) as info:
        parse_json(text, 1_000_000)
    assert words in str(info.value) and "\n" not in str(info.value)


def test_parse_json_scans_unterminated_escaped_quotes_in_linear_time():
    """'"\\"\\"...' without a closing quote: a string pattern that failed and was retried
    from every quote took quadratic time (16 s for 40 KB); this is 1.2 MB."""
    with pytest.raises(SchemaError, match="not JSON"):
        parse_json('"' + '\\"' * 400_000, 2_000_000)
    assert parse_json('["a\\"[", "]]"]', 100) == ['a"[', "]]"]


def _edit(path: tuple, value):
    def edit(d):
        target = d
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return edit


# Each passed the old validation (or broke it with a traceback) and then failed, or was
# half-applied, while being applied.
HOSTILE_SESSIONS = [
    (("sampler", "steps"), 1e30, "sampler.steps must be an integer"),
    (("sampler", "steps"), 10**20, "sampler.steps = "),
    (("sampler", "t_start"), 10**20, "sampler.t_start = "),
    (("sampler", "compare"), "yes", "sampler.compare must be true or false"),
    (("sampler", "compare"), "no", "sampler.compare must be true or false"),
    (("sampler", "compare"), 1, "sampler.compare must be true or false"),
    (("sampler", "label"), True, "sampler.label must be an integer"),
    (("sampler", "guidance"), "2", "sampler.guidance must be a finite number"),
    (("training", "conditional"), "false", "training.conditional must be true or false"),
    (("training", "lr"), 1e308, "training.lr = "),
    (("training", "batch_size"), 2.0, "training.batch_size must be an integer"),
    (("export", "histogram"), "false", "export.histogram must be true or false"),
    (("export", "path"), "x" * 10_000, "export.path is too long"),
    (("input", "start_params", "rate"), 1e308, "input.start_params.rate = "),
    (("input", "start_params", "rate"), 1e-308, "input.start_params.rate = "),
    (("input", "start_params", "image"), [[0]], "unknown field(s) in input.start_params"),
    (("input", "seed"), -1, "input.seed = -1"),
    (("input", "seed"), 2**40, "input.seed = "),
    (("input", "digit_label"), "7", "input.digit_label must be an integer"),
    (("input", "digit_source"), ["x"], "input.digit_source must be text"),
    (("input", "digit"), [[0] * 28] * 27, "input.digit must be 28 rows of 28 numbers"),
    (("input", "digit"), [[2.0] * 28] * 28, "in [-1, 1]"),
    (("schedule", "T"), 1e3, "schedule.T must be an integer"),
    (("schedule", "T"), True, "schedule.T must be an integer"),
    (("schedule", "beta_end"), "0.02", "schedule.beta_end must be a finite number"),
    (("forward", "t"), 1001, "forward.t = 1001 must lie in 0..T = 1000"),
    (("device",), "tpu", "device must be one of cpu, cuda"),
    (("model",), {"kind": "file", "path": "/x"}, "a file model needs its path and sha256"),
    (("model",), {"kind": "url"}, "model.kind must be one of"),
    (("version",), "2", "version must be an integer"),
    (("sampler",), [1, 2], "sampler must be an object"),
]


@pytest.mark.parametrize("path, value, words", HOSTILE_SESSIONS,
                         ids=[".".join(p) + "=" + repr(v)[:20] for p, v, _ in HOSTILE_SESSIONS])
def test_hostile_session_fields_are_refused_by_name(path, value, words):
    d = _session()
    _edit(path, value)(d)
    with pytest.raises(SchemaError) as info:
        Snapshot.from_json(_text(d))
    assert words in str(info.value) and "\n" not in str(info.value)


def test_a_version_1_session_still_reads():
    d = _session()
    d["version"] = 1
    del d["forward"], d["model"]
    d["sampler"]["guidance"] = 2  # version 1 wrote whole numbers as integers
    snap = Snapshot.from_json(_text(d))
    assert snap.forward_t == 0 and snap.model is None and snap.sampler["guidance"] == 2.0


# -- checkpoint metadata ---------------------------------------------------------------------

def _checkpoint(tmp_path, **meta) -> str:
    path = tmp_path / "m.safetensors"
    save_file({"w": torch.zeros(2)}, str(path), metadata={"format": checkpoint.FORMAT, **meta})
    return path


HOSTILE_METADATA = [
    ({"model_config": _nested(100_000)}, "metadata model_config: nested"),
    ({"step": "9" * 5000}, "metadata step: an integer of 5000 digits"),
    ({"step": '"12"'}, "metadata.step must be an integer"),
    ({"step": "-1"}, "metadata.step = -1"),
    ({"step": "1e400"}, "metadata step: the number 1e400 is too large"),
    ({"pair": "[1]"}, "metadata.pair must be an object"),
    ({"pair": '{"run_id": 5, "step": 1}'}, "metadata.pair.run_id must be text"),
    ({"loss_history": '[[1, "x"]]'}, "metadata.loss_history must be a list of [step, loss]"),
    ({"loss_history": "[[1, NaN]]"}, "NaN is not a number"),
    ({"train_config": "[1, 2]"}, "metadata.train_config must be an object"),
    ({"schedule": '{"kind": "linear", "T": "1000"}'}, "metadata.schedule.T must be an integer"),
    ({"class_names": "[1, 2]"}, "metadata.class_names must be a list of names"),
    ({"world_size": "true"}, "metadata.world_size must be an integer"),
    ({"distill": '{"guidance": "strong"}'}, "metadata.distill.guidance must be a finite number"),
    ({"distill": '{"guidance": 1e300}'}, "metadata.distill.guidance = "),
    ({"prediction": "[1]"}, "metadata.prediction must be text"),
]


@pytest.mark.parametrize("meta, words", HOSTILE_METADATA,
                         ids=[next(iter(m)) + str(i) for i, (m, _) in enumerate(HOSTILE_METADATA)])
def test_hostile_checkpoint_metadata_is_refused_in_one_line(tmp_path, meta, words):
    path = _checkpoint(tmp_path, **meta)
    for read in (checkpoint.read_metadata, checkpoint.load_model):
        with pytest.raises(CheckpointError) as info:
            read(path)
        message = str(info.value)
        assert words in message and "m.safetensors" in message and "\n" not in message


def test_plain_metadata_keeps_its_values(tmp_path):
    path = _checkpoint(tmp_path, step="12", dataset="mnist", note="free text",
                       loss_history="[[1, 0.5], [2, 0.25]]")
    meta = checkpoint.read_metadata(path)
    assert meta["step"] == 12 and meta["dataset"] == "mnist" and meta["note"] == "free text"
    assert meta["loss_history"] == [[1, 0.5], [2, 0.25]]


# -- the latent model and the classifier --------------------------------------------------------

def _resave(tmp_path, which: str, **changes):
    from safetensors import safe_open
    from safetensors.torch import load_file

    from ddpm_desktop import resources_path

    src = resources_path(f"{which}.safetensors")
    with safe_open(str(src), framework="pt") as f:
        meta = dict(f.metadata())
    path = tmp_path / f"{which}.safetensors"
    save_file(load_file(str(src)), str(path), metadata={**meta, **changes})
    return path


@pytest.mark.parametrize("changes, words", [
    ({"ae_config": _nested(100_000)}, "metadata ae_config: nested"),
    ({"ldm_config": '{"hidden": 100000, "depth": 3}'}, "metadata.ldm_config.hidden = 100000"),
    ({"ldm_config": '{"hidden": 128, "depth": 1000}'}, "metadata.ldm_config.depth = 1000"),
    ({"ae_config": '{"hidden": 512, "hidden2": 256, "latent_dim": "2"}'},
     "metadata.ae_config.latent_dim must be an integer"),
    ({"code_mean": "[1e400, 0]"}, "too large"),
    ({"code_scale": "1" + "0" * 5000}, "digits"),
    ({"code_scale": "-1"}, "metadata.code_scale = -1"),
    ({"info": "[1]"}, "metadata.info must be an object"),
])
def test_hostile_latent_metadata_is_refused_in_one_line(tmp_path, changes, words):
    from ddpm_desktop.core.latent import load_latent

    with pytest.raises(CheckpointError) as info:
        load_latent(_resave(tmp_path, "latent", **changes))
    message = str(info.value)
    assert words in message and "latent.safetensors" in message and "\n" not in message


@pytest.mark.parametrize("info_text, words", [
    (_nested(100_000), "nested"), ("9" * 5000, "digits"), ("[1, 2]", "must be an object")])
def test_hostile_classifier_metadata_is_refused_in_one_line(tmp_path, info_text, words):
    from ddpm_desktop.core.classifier import load_classifier

    with pytest.raises(CheckpointError) as info:
        load_classifier(_resave(tmp_path, "classifier", info=info_text))
    message = str(info.value)
    assert words in message and "classifier.safetensors" in message and "\n" not in message
