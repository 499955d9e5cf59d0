"""Colour hints through the API and the command line: parsing, checking, refusing, rendering."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from colorlab.checkpoint import save_checkpoint
from colorlab.cli import main
from colorlab.hints import hint_image, parse_colour, read_hints_file, validate_hints
from colorlab.infer import colorize
from colorlab.model import ModelConfig
from colorlab.transfer import create_model


@pytest.fixture(scope="module")
def hint_net():
    torch.manual_seed(0)
    return create_model(ModelConfig(arch="unet", hints=True, pretrained=False)).eval()


@pytest.fixture()
def hint_ckpt(tmp_path, hint_net):
    return save_checkpoint(tmp_path / "hints.pt", hint_net)


def test_colours_parse_from_hex_and_triples_and_refuse_the_rest():
    assert parse_colour("#d02020") == (208, 32, 32) and parse_colour("00FF10") == (0, 255, 16)
    assert parse_colour([1, 2, 3]) == (1, 2, 3)
    for bad in ("#12345", "red", [1, 2], [1, 2, 256], [1.5, 2, 3], [True, 0, 0], None):
        with pytest.raises(ValueError, match="hint colour"):
            parse_colour(bad)


def test_positions_are_checked_against_the_photo():
    assert validate_hints([(0, 0, "#000000"), (9.5, 4, (1, 2, 3))], 10, 5) == [
        (0.0, 0.0, (0, 0, 0)),
        (9.5, 4.0, (1, 2, 3)),
    ]
    for bad, match in [
        ((10, 0, "#000000"), "outside the 10x5"),
        ((0, -1, "#000000"), "outside"),
        ((float("nan"), 0, "#000000"), "numbers"),
        ((1, 2), "not \\(x, y, colour\\)"),
    ]:
        with pytest.raises(ValueError, match=match):
            validate_hints([bad], 10, 5)


def test_hint_image_puts_the_colour_s_ab_in_a_small_square_at_the_scaled_place():
    from colorlab.color import rgb_to_lab

    image = hint_image([(50, 25, (200, 30, 30))], 100, 50, 40, 20)
    assert image.shape == (1, 3, 20, 40)
    mask = image[0, 2]
    ys, xs = torch.nonzero(mask, as_tuple=True)
    from colorlab.hints import HINT_HALF

    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (10 - HINT_HALF, 10 + HINT_HALF, 20 - HINT_HALF, 20 + HINT_HALF)
    lab = rgb_to_lab(torch.tensor([200, 30, 30.0]).view(1, 3, 1, 1) / 255)
    torch.testing.assert_close(image[0, :2, 10, 20], lab[0, 1:, 0, 0] / 128)
    assert image[0, :2][:, mask == 0].abs().max() == 0


def test_colorize_with_hints_changes_the_colour_and_an_empty_list_does_not(hint_net, photos):
    img = photos["chelsea"][:120, :160]
    plain = colorize(img, hint_net, precision="fp32")
    np.testing.assert_array_equal(colorize(img, hint_net, hints=[], precision="fp32"), plain)
    hinted = colorize(img, hint_net, hints=[(80, 60, "#1010f0"), (10, 10, (240, 20, 20))], precision="fp32")
    assert hinted.shape == plain.shape and np.abs(hinted.astype(int) - plain).max() > 0
    with pytest.raises(ValueError, match="outside the 160x120"):
        colorize(img, hint_net, hints=[(160, 0, "#000000")])


def test_a_model_without_hint_channels_refuses_hints_naming_those_that_take_them(photos):
    paper = create_model(ModelConfig(backbone="none"))
    with pytest.raises(ValueError, match="takes no hints.*'regression'"):
        colorize(photos["chelsea"], paper, hints=[(1, 1, "#ff0000")])


def test_hints_file_must_be_a_list_of_x_y_rgb(tmp_path):
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"x": 3, "y": 4, "rgb": [1, 2, 3]}]))
    assert read_hints_file(good) == [(3, 4, (1, 2, 3))]
    for text, match in [
        ('{"x": 1}', "expected a list"),
        ("[1, 2]", "entry 1"),
        ('[{"x": 1, "y": 2, "rgb": "nope"}]', "hint colour"),
        ("not json", "not JSON"),
    ]:
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        with pytest.raises(ValueError, match=match):
            read_hints_file(bad)
    with pytest.raises(ValueError, match="cannot read"):
        read_hints_file(tmp_path / "missing.json")


def test_cli_hints_from_flags_and_a_file(tmp_path, photos, hint_ckpt, capsys):
    src = tmp_path / "cat.png"
    Image.fromarray(photos["chelsea"][:96, :128]).save(src)
    hints_file = tmp_path / "h.json"
    hints_file.write_text(json.dumps([{"x": 5, "y": 6, "rgb": [0, 200, 0]}]))
    plain, hinted = tmp_path / "plain.png", tmp_path / "hinted.png"
    assert main(["colorize", str(src), "-o", str(plain), "--checkpoint", str(hint_ckpt), "--precision", "fp32"]) == 0
    assert (
        main(
            [
                "colorize",
                str(src),
                "-o",
                str(hinted),
                "--checkpoint",
                str(hint_ckpt),
                "--precision",
                "fp32",
                "--hint",
                "64,48,#d02020",
                "--hint",
                "1,2,#0000ff",
                "--hints",
                str(hints_file),
            ]
        )
        == 0
    )
    assert np.abs(np.asarray(Image.open(hinted)).astype(int) - np.asarray(Image.open(plain))).max() > 0


@pytest.mark.parametrize(
    "args,match",
    [
        (["--hint", "64,48"], "expected X,Y,#RRGGBB"),
        (["--hint", "a,b,#ffffff"], "expected X,Y,#RRGGBB"),
        (["--hint", "1,2,#ffff"], "hint colour"),
        (["--hint", "500,2,#ffffff"], "outside the 128x96 photo"),
    ],
)
def test_cli_bad_hints_get_one_clear_line(tmp_path, photos, hint_ckpt, capsys, args, match):
    src = tmp_path / "cat.png"
    Image.fromarray(photos["chelsea"][:96, :128]).save(src)
    code = main(["colorize", str(src), "-o", str(tmp_path / "out.png"), "--checkpoint", str(hint_ckpt), *args])
    err = capsys.readouterr().err.strip().splitlines()
    assert code in (1, 2) and len(err) == 1 and match in err[0], err
    assert not (tmp_path / "out.png").exists()


def test_cli_hints_on_a_model_without_them_or_on_several_photos_are_refused(
    tmp_path, photos, tiny_checkpoint, hint_ckpt, capsys
):
    src = tmp_path / "cat.png"
    Image.fromarray(photos["chelsea"][:96, :128]).save(src)
    code = main(
        [
            "colorize",
            str(src),
            "-o",
            str(tmp_path / "o.png"),
            "--checkpoint",
            str(tiny_checkpoint),
            "--hint",
            "1,1,#ff0000",
        ]
    )
    err = capsys.readouterr().err
    assert code == 2 and "takes no hints" in err and "--arch unet --hints" in err
    code = main(
        [
            "colorize",
            str(src),
            str(src),
            "-o",
            str(tmp_path / "out"),
            "--checkpoint",
            str(hint_ckpt),
            "--hint",
            "1,1,#ff0000",
        ]
    )
    assert code == 2 and "hints are for one photo" in capsys.readouterr().err
