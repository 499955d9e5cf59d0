"""The colorlab command: colorize, train, evaluate; --help is complete."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from PIL import Image

from colorlab.cli import main


def test_python_dash_m_colorlab_help_lists_the_commands():
    out = subprocess.run(
        [sys.executable, "-m", "colorlab", "--help"], capture_output=True, text=True, check=True
    ).stdout
    for cmd in ("colorize", "train", "evaluate", "lessons"):
        assert cmd in out


@pytest.mark.parametrize(
    "cmd", ["colorize", "colorize-video", "train", "evaluate", "prepare", "export", "download", "lessons"]
)
def test_each_command_help_has_an_example(cmd, capsys):
    with pytest.raises(SystemExit) as exc:
        main([cmd, "--help"])
    assert exc.value.code == 0
    assert "example" in capsys.readouterr().out


def test_colorize_writes_png_at_input_size_and_reports_bad_files(tmp_path, tiny_checkpoint, photos, capsys):
    good = tmp_path / "old photo.jpg"
    Image.fromarray(photos["chelsea"][:50, :70]).save(good)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"garbage")
    code = main(
        [
            "colorize",
            str(good),
            str(bad),
            "-o",
            str(tmp_path / "out"),
            "--checkpoint",
            str(tiny_checkpoint),
            "--size",
            "32",
        ]
    )
    assert code == 1
    out = Image.open(tmp_path / "out" / "old photo.png")
    assert out.size == (70, 50) and out.mode == "RGB"
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "broken.png" in err[0]
    assert not (tmp_path / "out" / "broken.png").exists()


def test_train_then_evaluate_from_the_command_line(tmp_path, photos, capsys):
    data = tmp_path / "photos"
    data.mkdir()
    for name in ("coffee", "chelsea", "astronaut"):
        Image.fromarray(photos[name]).save(data / f"{name}.jpg")
    ckpt = tmp_path / "run.pt"
    code = main(
        [
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
            str(ckpt),
            "--no-progress",
            "--val-fraction",
            "0.34",
        ]
    )
    assert code == 0 and ckpt.is_file()
    capsys.readouterr()
    assert main(["evaluate", "--data", str(data), "--checkpoint", str(ckpt), "--size", "32", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 3 and "gray_psnr" in result["mean"]
    assert main(["evaluate", "--data", str(data), "--checkpoint", str(ckpt), "--size", "32"]) == 0
    assert "colorfulness" in capsys.readouterr().out


def test_train_colorful_crops_refuses_nonsense_and_works_on_a_prepared_cache_too(tmp_path, photos, capsys):
    from colorlab.cache import prepare
    from colorlab.checkpoint import load_checkpoint

    assert main(["train", "--data", "sample", "--colorful-crops", "0"]) == 2
    assert "--colorful-crops must be at least 1" in capsys.readouterr().err
    folder = tmp_path / "imgs"
    folder.mkdir()
    for name in ("coffee", "chelsea"):
        Image.fromarray(photos[name]).save(folder / f"{name}.png")
    prepare(folder, tmp_path / "cache", size=32, progress=False)
    args = [
        "train",
        "--data",
        str(tmp_path / "cache"),
        "--colorful-crops",
        "3",
        "--out",
        str(tmp_path / "r.pt"),
        "--backbone",
        "none",
        "--size",
        "16",
        "--batch-size",
        "2",
        "--epochs",
        "1",
        "--val-fraction",
        "0",
        "--no-progress",
    ]
    assert main(args) == 0
    assert load_checkpoint(tmp_path / "r.pt")["step"] == 1


def test_train_exclude_rejects_unknown_sample_names(capsys):
    assert main(["train", "--data", "sample", "--exclude", "nope", "--backbone", "none"]) == 2
    assert "nope" in capsys.readouterr().err


def test_export_writes_a_small_half_precision_copy_without_optimizer(tmp_path, photos, capsys):
    import torch

    from colorlab.checkpoint import load_checkpoint, save_checkpoint
    from colorlab.model import build_model

    model = build_model("none")
    opt = torch.optim.Adam(model.parameters())
    model(torch.zeros(1, 1, 8, 8)).sum().backward()
    opt.step()
    run = save_checkpoint(tmp_path / "run.pt", model, opt, step=7)
    assert main(["export", str(run), str(tmp_path / "ship.pt"), "--held-out", "china,flower"]) == 0
    ship = load_checkpoint(tmp_path / "ship.pt")
    assert "optimizer" not in ship and ship["step"] == 7
    assert ship["extra"]["held_out"] == ["china", "flower"]
    assert all(v.dtype == torch.float16 for v in ship["model"].values())
    assert (tmp_path / "ship.pt").stat().st_size < run.stat().st_size / 2


def test_evaluate_only_some_sample_photos(tiny_checkpoint, capsys):
    assert (
        main(
            [
                "evaluate",
                "--data",
                "sample",
                "--only",
                "coffee",
                "--checkpoint",
                str(tiny_checkpoint),
                "--size",
                "32",
                "--json",
            ]
        )
        == 0
    )
    assert json.loads(capsys.readouterr().out)["n"] == 1


# --- Version, help, folders and pipes ----------------------------------------------


def _option_entries(help_text: str) -> list[str]:
    """The help of each option as one string (argparse may put it on the next line)."""
    entries: list[str] = []
    for line in help_text.splitlines():
        if line.startswith("  -"):
            entries.append(line.strip())
        elif entries and line.startswith("   ") and line.strip():
            entries[-1] += " " + line.strip()
        elif not line.strip():
            entries.append("")
    return [e for e in entries if e]


def test_version_prints_the_package_version(capsys):
    import colorlab

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"colorlab {colorlab.__version__}"


@pytest.mark.parametrize("cmd", ["colorize", "train", "prepare", "evaluate", "export"])
def test_help_shows_each_default_once_and_never_a_meaningless_one(cmd, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")
    with pytest.raises(SystemExit):
        main([cmd, "--help"])
    text = capsys.readouterr().out
    assert "(default: None)" not in text and "(default: False)" not in text and "(default: )" not in text
    for entry in _option_entries(text):
        assert entry.count("(default") <= 1, entry


def test_help_shows_defaults_that_matter(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "1000")
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    entries = {e.split()[0]: e for e in _option_entries(capsys.readouterr().out)}
    assert "(default: 10)" in entries["--epochs"]
    assert "(default: 16)" in entries["--batch-size"]
    assert "(default: cuda if available)" in entries["--device"]
    assert "(default" not in entries["--resume"]


def _save(path, rgb):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(rgb).save(path)
    return path


def test_colorize_a_folder_colorizes_the_images_below_it_mirroring_subfolders(
    tmp_path, tiny_checkpoint, photos, capsys
):
    folder = tmp_path / "old photos"
    _save(folder / "cat.jpg", photos["chelsea"][:40, :60])
    _save(folder / "kitchen" / "cup.png", photos["coffee"][:30, :20])
    (folder / "notes.txt").write_text("not a photo")
    out = tmp_path / "out"
    assert main(["colorize", str(folder), "-o", str(out), "--checkpoint", str(tiny_checkpoint), "--size", "32"]) == 0
    assert Image.open(out / "cat.png").size == (60, 40)
    assert Image.open(out / "kitchen" / "cup.png").size == (20, 30)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "cat.png",
        "kitchen/cup.png",
    ]
    assert len(capsys.readouterr().out.strip().splitlines()) == 2


def test_colorize_a_folder_into_itself_skips_its_own_earlier_results(tmp_path, tiny_checkpoint, photos, capsys):
    folder = tmp_path / "photos"
    _save(folder / "cat.jpg", photos["chelsea"][:40, :60])
    out = folder / "colorized"
    args = ["colorize", str(folder), "-o", str(out), "--checkpoint", str(tiny_checkpoint), "--size", "32"]
    assert main(args) == 0
    assert main(args) == 2  # the earlier result is kept unless asked
    assert "pass --overwrite" in capsys.readouterr().err
    assert main(args + ["--overwrite"]) == 0
    assert [p.name for p in out.rglob("*") if p.is_file()] == ["cat.png"]  # its own result was not taken as input
    assert capsys.readouterr().out.count(" -> ") == 1


def test_colorize_an_empty_folder_says_so_and_fails(tmp_path, tiny_checkpoint, capsys):
    (tmp_path / "empty").mkdir()
    assert (
        main(["colorize", str(tmp_path / "empty"), "-o", str(tmp_path / "out"), "--checkpoint", str(tiny_checkpoint)])
        == 1
    )
    err = capsys.readouterr().err
    assert "empty: no images found" in err and ".jpg" in err


def test_colorize_dash_reads_stdin_and_dash_o_writes_png_to_stdout(tmp_path, tiny_checkpoint, photos):
    import io

    buffer = io.BytesIO()
    Image.fromarray(photos["chelsea"][:50, :70]).save(buffer, format="JPEG")
    work = tmp_path / "cwd"
    work.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "colorlab",
            "colorize",
            "-",
            "-o",
            "-",
            "--checkpoint",
            str(tiny_checkpoint),
            "--size",
            "32",
            "--device",
            "cpu",
        ],
        input=buffer.getvalue(),
        capture_output=True,
        cwd=work,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode()
    assert proc.stdout[:8] == b"\x89PNG\r\n\x1a\n"
    result = Image.open(io.BytesIO(proc.stdout))
    assert result.size == (70, 50) and result.mode == "RGB"
    assert proc.stderr == b""
    assert list(work.iterdir()) == []  # nothing written but to standard output


def _stdin_with(monkeypatch, content: bytes) -> None:
    import io

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(content)))


def test_colorize_dash_into_a_folder_writes_stdin_png(tmp_path, tiny_checkpoint, photos, monkeypatch, capsys):
    import io

    buffer = io.BytesIO()
    Image.fromarray(photos["coffee"][:24, :40]).save(buffer, format="PNG")
    _stdin_with(monkeypatch, buffer.getvalue())
    assert (
        main(["colorize", "-", "-o", str(tmp_path / "out"), "--checkpoint", str(tiny_checkpoint), "--size", "32"]) == 0
    )
    assert Image.open(tmp_path / "out" / "stdin.png").size == (40, 24)
    assert "<stdin> -> " in capsys.readouterr().out


def test_colorize_garbage_on_stdin_is_one_error_line(tmp_path, tiny_checkpoint, monkeypatch, capsys):
    _stdin_with(monkeypatch, b"this is not an image")
    assert main(["colorize", "-", "-o", str(tmp_path / "out"), "--checkpoint", str(tiny_checkpoint)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("colorlab: <stdin>: ")


def test_colorize_to_stdout_or_a_file_takes_exactly_one_photo(tmp_path, tiny_checkpoint, photos, capsys):
    a = _save(tmp_path / "a.png", photos["chelsea"][:16, :16])
    b = _save(tmp_path / "b.png", photos["coffee"][:16, :16])
    for target in ("-", str(tmp_path / "both.png")):
        assert main(["colorize", str(a), str(b), "-o", target, "--checkpoint", str(tiny_checkpoint)]) == 2
        assert "takes exactly one photo, got 2" in capsys.readouterr().err
    assert not (tmp_path / "both.png").exists()


def test_colorize_to_a_file_name_writes_that_file(tmp_path, tiny_checkpoint, photos):
    source = _save(tmp_path / "grandma.jpg", photos["astronaut"][:30, :45])
    target = tmp_path / "result" / "grandma-colour.png"
    assert main(["colorize", str(source), "-o", str(target), "--checkpoint", str(tiny_checkpoint), "--size", "32"]) == 0
    assert Image.open(target).size == (45, 30)
    assert [p.name for p in target.parent.iterdir()] == ["grandma-colour.png"]


def test_dash_can_be_given_only_once(tmp_path, capsys):
    assert main(["colorize", "-", "-", "-o", str(tmp_path)]) == 2
    assert "given once" in capsys.readouterr().err


def test_colorized_files_get_ordinary_permissions_and_no_temp_files_stay(tmp_path, tiny_checkpoint, photos):
    import os
    import stat

    source = _save(tmp_path / "cat.jpg", photos["chelsea"][:16, :16])
    old = os.umask(0o022)
    try:
        assert (
            main(
                [
                    "colorize",
                    str(source),
                    "-o",
                    str(tmp_path / "out"),
                    "--checkpoint",
                    str(tiny_checkpoint),
                    "--size",
                    "16",
                ]
            )
            == 0
        )
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out" / "cat.png").stat().st_mode) == 0o644
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["cat.png"]
