"""Checkpoints handed around a class: never run their code; say clearly when they do not fit."""

from __future__ import annotations

import ast
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from colorlab.checkpoint import CHECKPOINT_FORMAT, CHECKPOINT_VERSION, CheckpointError, load_checkpoint, save_checkpoint
from colorlab.cli import main as cli_main
from colorlab.engine import TrainConfig, Trainer
from colorlab.infer import load_model
from colorlab.model import build_model

ROOT = Path(__file__).resolve().parents[1]


def _photos():
    """A batch source of two 16x16 colour photos (what the Trainer is given)."""
    from colorlab.data import ColorDataset

    return ColorDataset([np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)] * 2, size=16)


def tiny(channels=8, backbone="none"):
    torch.manual_seed(0)
    return build_model(backbone, pretrained=False, encoder_channels=(channels,) * 8, fusion_channels=channels)


class _Payload:
    """Unpickling this runs Python that writes the sentinel file."""

    def __init__(self, sentinel: Path) -> None:
        self.sentinel = str(sentinel)

    def __reduce__(self):
        return (eval, (f"__import__('pathlib').Path({self.sentinel!r}).write_text('pwned')",))


def _malicious(tmp_path: Path, sentinel: Path, legacy: bool = False) -> Path:
    good = tiny()
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "model_config": good.config.to_dict(),
        "model": good.trainable_state_dict(),
        "step": _Payload(sentinel),
    }
    p = tmp_path / ("evil-legacy.pt" if legacy else "evil.pt")
    if legacy:
        with open(p, "wb") as f:
            pickle.dump(payload, f)
    else:
        torch.save(payload, p)
    return p


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "plain-pickle"])
def test_malicious_checkpoint_refused_without_running(tmp_path, legacy):
    sentinel = tmp_path / "SENTINEL"
    evil = _malicious(tmp_path, sentinel, legacy)

    # The payload is real: an unsafe load would run it.
    proof = tmp_path / "proof"
    proof.mkdir()
    control = _malicious(proof, proof / "SENTINEL", legacy)
    if legacy:
        with open(control, "rb") as f:
            pickle.load(f)
    else:
        torch.load(control, weights_only=False)
    assert (proof / "SENTINEL").read_text() == "pwned"

    with pytest.raises(CheckpointError) as info:
        load_checkpoint(evil)
    assert "refused" in str(info.value) and str(evil) in str(info.value)
    with pytest.raises(CheckpointError):
        load_model(evil, "cpu")
    with pytest.raises(CheckpointError):
        Trainer(
            tiny(),
            _photos(),
            config=TrainConfig(device="cpu"),
            checkpoint=evil,
            resume=True,
        )
    assert not sentinel.exists()


def test_malicious_checkpoint_refused_by_cli(tmp_path, capsys):
    sentinel = tmp_path / "SENTINEL"
    evil = _malicious(tmp_path, sentinel)
    img = tmp_path / "x.png"
    from PIL import Image

    Image.new("L", (8, 8), 128).save(img)
    code = cli_main(["colorize", str(img), "-o", str(tmp_path / "o"), "--checkpoint", str(evil), "--device", "cpu"])
    err = capsys.readouterr().err
    assert code != 0 and "refused" in err and "Traceback" not in err
    assert not sentinel.exists()


def test_malicious_backbone_weights_refused(tmp_path):
    from colorlab.backbones import load_state_file

    sentinel = tmp_path / "SENTINEL"
    p = tmp_path / "weights.pth"
    torch.save({"conv.weight": torch.zeros(1), "x": _Payload(sentinel)}, p)
    with pytest.raises(pickle.UnpicklingError):
        load_state_file(p)
    assert not sentinel.exists()


def test_every_torch_load_is_weights_only():
    """Static check: each torch.load in the package passes weights_only=True."""
    calls = []
    for py in sorted((ROOT / "colorlab").glob("*.py")):
        for node in ast.walk(ast.parse(py.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "attr", None) == "load"
                and getattr(getattr(node.func, "value", None), "id", None) == "torch"
            ):
                kw = {k.arg: k.value for k in node.keywords}
                ok = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
                calls.append((py.name, node.lineno, ok))
    assert calls, "no torch.load found: the check is looking in the wrong place"
    assert all(ok for *_, ok in calls), [c for c in calls if not c[2]]


# --- checkpoints that do not fit: expected vs found, one line ----------------------


def _assert_one_line(msg: str, *words: str) -> None:
    assert "\n" not in msg, msg
    assert "Missing key(s)" not in msg and "size mismatch" not in msg, msg
    for w in words:
        assert w in msg, (w, msg)


def test_other_architecture(tmp_path):
    ck = save_checkpoint(tmp_path / "wide.pt", tiny(channels=16))
    with pytest.raises(CheckpointError) as info:
        Trainer(
            tiny(channels=8),
            _photos(),
            config=TrainConfig(device="cpu"),
            checkpoint=ck,
            resume=True,
        )
    _assert_one_line(str(info.value), "expected", "found", "[8, 8", "[16, 16")


def test_other_backbone(tmp_path):
    ck = save_checkpoint(tmp_path / "lite0.pt", tiny(backbone="efficientnet_lite0"))
    with pytest.raises(CheckpointError) as info:
        Trainer(
            tiny(),
            _photos(),
            config=TrainConfig(device="cpu"),
            checkpoint=ck,
            resume=True,
        )
    _assert_one_line(str(info.value), "efficientnet_lite0", "'none'")


def test_weights_that_do_not_fit_their_config(tmp_path):
    ck = tmp_path / "tampered.pt"
    payload = torch.load(save_checkpoint(ck, tiny()), weights_only=True)
    payload["model"] = tiny(channels=16).trainable_state_dict()
    torch.save(payload, ck)
    with pytest.raises(CheckpointError) as info:
        load_model(ck, "cpu")
    _assert_one_line(str(info.value), str(ck), "expected", "found")


@pytest.mark.parametrize("version", [0, CHECKPOINT_VERSION + 1])
def test_other_format_version(tmp_path, version):
    ck = tmp_path / "v.pt"
    payload = torch.load(save_checkpoint(ck, tiny()), weights_only=True)
    payload["version"] = version
    torch.save(payload, ck)
    with pytest.raises(CheckpointError) as info:
        load_model(ck, "cpu")
    _assert_one_line(str(info.value), str(ck), f"version {version}", f"version {CHECKPOINT_VERSION}")


@pytest.mark.parametrize("content", ["state_dict", "tensor", "garbage"])
def test_not_a_colorlab_checkpoint(tmp_path, content):
    ck = tmp_path / "other.pt"
    if content == "state_dict":
        torch.save(tiny().state_dict(), ck)
    elif content == "tensor":
        torch.save(torch.zeros(3), ck)
    else:
        ck.write_bytes(b"\x00not a checkpoint at all" * 10)
    with pytest.raises(CheckpointError) as info:
        load_model(ck, "cpu")
    _assert_one_line(str(info.value), str(ck))
    if content != "garbage":
        _assert_one_line(str(info.value), "expected format", "found")


# --- crafted checkpoints (issue 27, case 9): one line naming the file, never a traceback ------------


def _crafted(tmp_path, tiny_net, change):
    from colorlab.checkpoint import save_checkpoint

    path = save_checkpoint(tmp_path / "crafted.pt", tiny_net)
    ckpt = torch.load(path, weights_only=True)
    change(ckpt)
    torch.save(ckpt, path)
    return path


CRAFTED = {
    "config-a-string": (lambda c: c.__setitem__("model_config", "paper"), "model_config is a str"),
    "weights-a-list": (lambda c: c.__setitem__("model", [1, 2]), "not a mapping of names to tensors"),
    "integer-weights": (
        lambda c: c["model"].update({k: v.to(torch.int64) for k, v in c["model"].items()}),
        "expected floating point",
    ),
    "negative-channels": (
        lambda c: c["model_config"].__setitem__("encoder_channels", [-1] * 8),
        "encoder_channels must be",
    ),
    "huge-channels": (
        lambda c: c["model_config"].__setitem__("encoder_channels", [1_000_000] * 8),
        "encoder_channels must be",
    ),
    "too-many-weights": (lambda c: c["model_config"].__setitem__("encoder_channels", [4096] * 8), "weights, more than"),
    "head-a-list": (lambda c: c["model_config"].__setitem__("head", ["regression"]), "head must be a name"),
    "step-text": (lambda c: c.__setitem__("step", "ten"), "not a count"),
    "rng-floats": (lambda c: c.__setitem__("torch_rng", torch.zeros(3)), "random-number state"),
    "optimizer-empty": (lambda c: c.__setitem__("optimizer", {}), "optimizer state is damaged"),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_checkpoints_get_one_line_naming_the_file(tmp_path, tiny_net, capsys, case):
    from colorlab.checkpoint import CheckpointError, load_model
    from colorlab.cli import main

    change, match = CRAFTED[case]
    path = _crafted(tmp_path, tiny_net, change)
    with pytest.raises(CheckpointError, match="crafted.pt") as exc:
        load_model(path, "cpu")
    assert match in str(exc.value) and "\n" not in str(exc.value)
    img = tmp_path / "in.png"
    Image.fromarray(np.full((16, 16, 3), 100, np.uint8)).save(img)
    assert main(["colorize", str(img), "-o", str(tmp_path / "out.png"), "--checkpoint", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "crafted.pt" in err[0]


def test_a_path_inside_a_checkpoint_is_never_read_as_backbone_weights(tmp_path, tiny_net):
    from colorlab.checkpoint import load_model

    path = _crafted(tmp_path, tiny_net, lambda c: c["model_config"].__setitem__("backbone_weights", "/etc/passwd"))
    assert load_model(path, "cpu").config.backbone_weights is None


def test_resume_from_a_checkpoint_with_a_damaged_optimizer_is_one_line(tmp_path, capsys):
    from colorlab.cli import main

    data = tmp_path / "photos"
    data.mkdir()
    for i in range(3):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (24, 24, 3), dtype=np.uint8)).save(data / f"{i}.png")
    run = tmp_path / "run.pt"
    args = [
        "train",
        "--data",
        str(data),
        "--epochs",
        "1",
        "--batch-size",
        "2",
        "--size",
        "16",
        "--backbone",
        "none",
        "--out",
        str(run),
        "--no-progress",
        "--val-fraction",
        "0",
    ]
    assert main(args) == 0
    ckpt = torch.load(run, weights_only=True)
    ckpt["optimizer"] = {"state": {}, "param_groups": []}
    torch.save(ckpt, run)
    capsys.readouterr()
    again = list(args)
    again[again.index("--epochs") + 1] = "2"
    assert main([*again, "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "optimizer state does not fit" in err[0]
