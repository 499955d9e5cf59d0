"""colorlab.model: the architecture of ARCHITECTURE.md, the pretrained frozen extractor."""

from __future__ import annotations

import pytest
import torch

from colorlab.backbones import BACKBONES, BackboneWeightsError
from colorlab.color import rgb_to_l, scale_l
from colorlab.model import (
    ColorizationNet,
    Decoder,
    Encoder,
    FeatureExtractor,
    Fusion,
    ModelConfig,
    build_model,
)


@pytest.mark.parametrize("h,w", [(224, 224), (232, 312)])
def test_shape_after_every_stage(pretrained_net, h, w):
    net = pretrained_net
    l_net = torch.rand(2, 1, h, w) * 2 - 1
    with torch.no_grad():
        feats = net.encoder(l_net)
        assert feats.shape == (2, 256, h // 8, w // 8)
        emb = net.extractor(l_net)
        assert emb.shape == (2, 1000)
        fused = net.fusion(feats, emb)
        assert fused.shape == (2, 256, h // 8, w // 8)
        ab = net.decoder(fused)
        assert ab.shape == (2, 2, h, w)
        assert ab.abs().max() <= 1.0  # tanh
        torch.testing.assert_close(net(l_net), ab)


def test_encoder_has_eight_3x3_convs_with_stride_two_at_layers_1_3_5():
    enc = Encoder()
    convs = [m for m in enc.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [64, 128, 128, 256, 256, 512, 512, 256]
    assert [c.stride[0] for c in convs] == [2, 1, 2, 1, 2, 1, 1, 1]
    assert all(c.kernel_size == (3, 3) and c.padding == (1, 1) for c in convs)


def test_fusion_concatenates_256_plus_d_channels_into_a_1x1_conv():
    fusion = Fusion(256, 1000, 256)
    assert fusion.conv.in_channels == 1256 and fusion.conv.kernel_size == (1, 1)
    feats = torch.randn(2, 256, 3, 5)
    emb = torch.randn(2, 1000)
    out = fusion(feats, emb)
    assert out.shape == (2, 256, 3, 5) and (out >= 0).all()
    # the embedding is the same at every grid position: changing it changes all positions
    out2 = fusion(feats, emb + 1)
    assert ((out2 - out).abs().amax(1) > 0).all()


def test_decoder_layer_sequence():
    convs = [m for m in Decoder().modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.out_channels for c in convs] == [128, 64, 64, 32, 2]
    ups = [m for m in Decoder().modules() if isinstance(m, torch.nn.Upsample)]
    assert len(ups) == 3


def _gray_l(image) -> torch.Tensor:
    rgb = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    return scale_l(rgb_to_l(rgb))


@pytest.mark.parametrize("name,classes", [("chelsea", range(281, 286)), ("coffee", [967])])
def test_default_extractor_is_truly_pretrained_on_grayscale_photos(pretrained_net, photos, name, classes):
    logits = pretrained_net.extractor(_gray_l(photos[name]))
    assert int(logits.argmax(1)) in classes


def test_extractor_top1_differs_from_random_weights(photos):
    # the same check fails without pretrained weights: the test above can fail
    torch.manual_seed(0)
    rand = FeatureExtractor("efficientnet_lite0", pretrained=False)
    logits = rand(_gray_l(photos["coffee"]))
    assert int(logits.argmax(1)) != 967


def test_extractor_is_frozen_and_stays_in_eval_mode(pretrained_net):
    net = build_model("efficientnet_lite0")
    net.train()
    assert net.encoder.training and net.decoder.training
    assert not net.extractor.training
    assert not any(m.training for m in net.extractor.modules())
    assert not any(p.requires_grad for p in net.extractor.parameters())
    running = net.extractor.net.bn1.running_mean.clone()
    l_net = torch.rand(2, 1, 64, 64) * 2 - 1
    net(l_net).mean().backward()
    assert all(p.grad is None for p in net.extractor.parameters())
    torch.testing.assert_close(net.extractor.net.bn1.running_mean, running)


def test_none_backbone_has_no_extractor_and_still_runs(tiny_net):
    assert tiny_net.extractor.net is None and tiny_net.extractor.dim == 0
    assert tiny_net(torch.zeros(1, 1, 16, 24)).shape == (1, 2, 16, 24)


def test_sizes_not_multiple_of_8_get_a_clear_error(tiny_net):
    with pytest.raises(ValueError, match="multiples of 8"):
        tiny_net(torch.zeros(1, 1, 30, 32))


def test_unknown_backbone_lists_the_choices():
    with pytest.raises(ValueError, match="efficientnet_lite0"):
        FeatureExtractor("resnet9000")


@pytest.mark.parametrize("backbone", ["inception_v3", "inception_resnet_v2"])
def test_inception_backbones_offline_without_cache_fail_clearly(backbone, tmp_path, monkeypatch):
    # an empty cache and no reachable hub: a clear error, never random weights
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads that variable once, at import: if an earlier test imported it (timm
    # does), only its constants say "offline" now; without them it tries the network for ~45 s.
    import huggingface_hub.constants as hf_constants

    monkeypatch.setattr(hf_constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(hf_constants, "HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))
    import torch.hub

    monkeypatch.setattr(torch.hub, "_hub_dir", None, raising=False)

    def offline(*args, **kwargs):
        raise OSError("network is unreachable (test)")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)
    with pytest.raises(BackboneWeightsError, match="never falls back to random weights"):
        FeatureExtractor(backbone, pretrained=True)


def test_inception_v3_loads_weights_from_a_user_file(tmp_path):
    from torchvision.models import inception_v3

    torch.manual_seed(1)
    ref = inception_v3(weights=None, aux_logits=True, init_weights=False)
    path = tmp_path / "inception.pth"
    torch.save(ref.state_dict(), path)
    ext = FeatureExtractor("inception_v3", pretrained=True, weights=str(path))
    torch.testing.assert_close(ext.net.fc.weight, ref.fc.weight)
    assert ext(torch.zeros(1, 1, 32, 32)).shape == (1, 1000)
    assert ext.preprocess(torch.zeros(1, 1, 32, 32)).shape == (1, 3, 299, 299)


def test_missing_weights_file_names_the_file(tmp_path):
    with pytest.raises(BackboneWeightsError, match="nothere.pth"):
        FeatureExtractor("inception_v3", weights=str(tmp_path / "nothere.pth"))


def test_config_round_trips_through_a_dict():
    cfg = ModelConfig(backbone="none", pretrained=False)
    assert ModelConfig.from_dict(cfg.to_dict()) == cfg
    assert set(BACKBONES) == {"efficientnet_lite0", "inception_resnet_v2", "inception_v3", "none"}


def test_trainable_state_dict_excludes_the_extractor_and_round_trips(pretrained_net):
    state = pretrained_net.trainable_state_dict()
    assert state and not any(k.startswith("extractor.") for k in state)
    other = ColorizationNet(ModelConfig(pretrained=False))
    from colorlab.checkpoint import load_weights

    load_weights(other, {"model_config": other.config.to_dict(), "model": {k: v.half() for k, v in state.items()}})
    for k, v in state.items():
        torch.testing.assert_close(other.state_dict()[k], v.half().float())
