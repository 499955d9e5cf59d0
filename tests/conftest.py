"""Shared fixtures: small models and photos built once per test session."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

# Tests are run on 2-core machines: keep torch from oversubscribing them.
torch.set_num_threads(min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def pretrained_net():
    """The default network with the real, pretrained EfficientNet-Lite0 extractor (eval mode)."""
    from colorlab.model import build_model

    torch.manual_seed(0)
    return build_model("efficientnet_lite0").eval()


@pytest.fixture()
def tiny_net():
    """A network without the ImageNet extractor: fast, for plumbing tests."""
    from colorlab.model import build_model

    torch.manual_seed(0)
    return build_model("none").eval()


@pytest.fixture(scope="session")
def photos():
    """The bundled colour photos, {name: (H, W, 3) uint8}."""
    from colorlab.samples import sample_images

    return sample_images()


@pytest.fixture()
def tiny_checkpoint(tmp_path, tiny_net):
    """A colorlab checkpoint of :func:`tiny_net`."""
    from colorlab.checkpoint import save_checkpoint

    return save_checkpoint(tmp_path / "tiny.pt", tiny_net)


@pytest.fixture()
def rng():
    return np.random.default_rng(0)
