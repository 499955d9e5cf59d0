"""CIE Lab <-> sRGB in PyTorch, and the network's scaling of L and ab.

This module is the one place in colorlab that knows colour maths. Everything
else (data loading, training, inference, the notebooks) calls it.

Conventions
-----------
* Images are batched ``(B, 3, H, W)`` tensors (a single ``(3, H, W)`` image is
  accepted too), channels first, on any device, float32 or float64.
* sRGB values lie in ``[0, 1]``. Lab uses the D65 white point and the 2 degree
  observer, with exactly the constants of :func:`skimage.color.rgb2lab`, so
  ``L`` is in ``[0, 100]`` and ``a``, ``b`` roughly in ``[-128, 127]``.
* Every function is differentiable (no in-place ops on inputs, ``torch.where``
  instead of masked assignment).

The network never sees raw Lab: :func:`scale_l` maps ``L`` to ``L/50 - 1`` and
:func:`scale_ab` maps ``ab`` to ``ab/128``, both into ``[-1, 1]``; the decoder
ends in ``tanh`` so its output is already on the ab scale.
"""

from __future__ import annotations

import numpy as np
import torch

__all__ = [
    "D65_WHITE",
    "L_SCALE",
    "AB_SCALE",
    "rgb_to_lab",
    "lab_to_rgb",
    "rgb_to_l",
    "rgb_uint8_to_l",
    "l_to_gray_rgb",
    "scale_l",
    "unscale_l",
    "scale_ab",
    "unscale_ab",
    "lab_to_network",
    "network_to_lab",
    "rgb_to_network",
    "network_to_rgb",
    "rgb_uint8_to_lab",
    "lab_to_rgb_uint8",
]

#: XYZ of the D65 reference white, 2 degree observer (as in scikit-image).
D65_WHITE = (0.95047, 1.0, 1.08883)

#: sRGB (linear) -> XYZ, from the sRGB specification (as in scikit-image).
_XYZ_FROM_RGB = np.array(
    [
        [0.412453, 0.357580, 0.180423],
        [0.212671, 0.715160, 0.072169],
        [0.019334, 0.119193, 0.950227],
    ]
)
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_FROM_RGB)

# CIE constants in the form scikit-image uses them.
_EPSILON = 0.008856  # (6/29)**3, rounded
_KAPPA_LINEAR = 7.787  # slope of the linear part of f(t)
_F_OFFSET = 16.0 / 116.0
_F_INV_THRESHOLD = 0.2068966  # 6/29

#: The network's scaling: L in [0, 100] -> L / L_SCALE - 1 in [-1, 1].
L_SCALE = 50.0
#: The network's scaling: ab in [-128, 127] -> ab / AB_SCALE in [-1, 1].
AB_SCALE = 128.0


def _as_batched(x: torch.Tensor, name: str) -> tuple[torch.Tensor, bool]:
    if x.dim() == 3:
        x = x.unsqueeze(0)
        squeezed = True
    elif x.dim() == 4:
        squeezed = False
    else:
        raise ValueError(f"{name}: expected (B, 3, H, W) or (3, H, W), got shape {tuple(x.shape)}")
    if x.shape[1] != 3:
        raise ValueError(f"{name}: expected 3 channels in dim 1, got shape {tuple(x.shape)}")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name}: expected a float tensor, got {x.dtype}; divide uint8 images by 255 first")
    return x, squeezed


def _matrix(m: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(m, dtype=like.dtype, device=like.device)


def _white(like: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(D65_WHITE, dtype=like.dtype, device=like.device).view(1, 3, 1, 1)


def _apply(m: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    # (3, 3) @ (B, 3, H, W) over the channel dim.
    return torch.einsum("ij,bjhw->bihw", m, x)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(B, 3, H, W)`` in ``[0, 1]`` -> CIE Lab (D65) ``(B, 3, H, W)``.

    ``L`` is in ``[0, 100]``, ``a`` and ``b`` roughly in ``[-128, 127]``.
    Matches :func:`skimage.color.rgb2lab` to better than 1e-3 Lab units.
    """
    x, squeezed = _as_batched(rgb, "rgb_to_lab")
    # sRGB companding -> linear RGB. clamp keeps pow's gradient finite.
    linear = torch.where(
        x > 0.04045,
        ((x.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4,
        x / 12.92,
    )
    xyz = _apply(_matrix(_XYZ_FROM_RGB, x), linear) / _white(x)
    f = torch.where(
        xyz > _EPSILON,
        xyz.clamp(min=_EPSILON) ** (1.0 / 3.0),
        _KAPPA_LINEAR * xyz + _F_OFFSET,
    )
    fx, fy, fz = f[:, 0:1], f[:, 1:2], f[:, 2:3]
    lab = torch.cat([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)
    return lab[0] if squeezed else lab


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """CIE Lab (D65) ``(B, 3, H, W)`` -> sRGB ``(B, 3, H, W)`` clipped to ``[0, 1]``.

    Matches :func:`skimage.color.lab2rgb` (which also clips negative Z and
    out-of-gamut values).
    """
    x, squeezed = _as_batched(lab, "lab_to_rgb")
    L, a, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    fy = (L + 16.0) / 116.0
    fx = a / 500.0 + fy
    fz = (fy - b / 200.0).clamp(min=0.0)
    f = torch.cat([fx, fy, fz], dim=1)
    xyz = torch.where(
        f > _F_INV_THRESHOLD,
        f**3,
        (f - _F_OFFSET) / _KAPPA_LINEAR,
    ) * _white(x)
    linear = _apply(_matrix(_RGB_FROM_XYZ, x), xyz)
    rgb = torch.where(
        linear > 0.0031308,
        1.055 * linear.clamp(min=0.0031308) ** (1.0 / 2.4) - 0.055,
        12.92 * linear,
    ).clamp(0.0, 1.0)
    return rgb[0] if squeezed else rgb


def rgb_to_l(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(B, 3, H, W)`` in ``[0, 1]`` -> lightness ``L`` ``(B, 1, H, W)`` in ``[0, 100]``.

    This is "the grayscale photo" as the model sees it.
    """
    return rgb_to_lab(rgb)[..., 0:1, :, :]


_LINEAR_LUTS: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}


def _linear_lut(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    key = (device, dtype)
    if key not in _LINEAR_LUTS:
        v = torch.arange(256, dtype=torch.float64) / 255.0
        lut = torch.where(v > 0.04045, ((v + 0.055) / 1.055) ** 2.4, v / 12.92)
        _LINEAR_LUTS[key] = lut.to(device=device, dtype=dtype)
    return _LINEAR_LUTS[key]


def rgb_uint8_to_l(rgb: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 sRGB ``(B, 3, H, W)`` (or gray ``(B, 1, H, W)``) -> ``L`` ``(B, 1, H, W)`` in ``[0, 100]``.

    The same numbers as :func:`rgb_to_l` on ``rgb / 255``, several times
    faster: 8-bit values are linearized through a 256-entry table and only
    the luminance Y is computed (inference on large photos needs nothing else).
    """
    if rgb.dtype != torch.uint8 or rgb.dim() != 4 or rgb.shape[1] not in (1, 3):
        raise ValueError(f"expected uint8 (B, 3, H, W) or (B, 1, H, W), got {rgb.dtype} {tuple(rgb.shape)}")
    lin = _linear_lut(rgb.device, dtype)[rgb.long()]
    if rgb.shape[1] == 3:
        wy = _XYZ_FROM_RGB[1]  # the Y row; the white's Y is 1
        y = wy[0] * lin[:, 0:1] + wy[1] * lin[:, 1:2] + wy[2] * lin[:, 2:3]
    else:
        y = lin * float(_XYZ_FROM_RGB[1].sum())
    f = torch.where(y > _EPSILON, y.clamp(min=_EPSILON) ** (1.0 / 3.0), _KAPPA_LINEAR * y + _F_OFFSET)
    return 116.0 * f - 16.0


def scale_l(L: torch.Tensor) -> torch.Tensor:
    """``L`` in ``[0, 100]`` -> network input in ``[-1, 1]`` (``L/50 - 1``)."""
    return L / L_SCALE - 1.0


def unscale_l(l_net: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`scale_l`."""
    return (l_net + 1.0) * L_SCALE


def scale_ab(ab: torch.Tensor) -> torch.Tensor:
    """``ab`` in Lab units -> network target in ``[-1, 1]`` (``ab/128``)."""
    return ab / AB_SCALE


def unscale_ab(ab_net: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`scale_ab`."""
    return ab_net * AB_SCALE


def lab_to_network(lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Lab ``(B, 3, H, W)`` -> (``L`` input ``(B, 1, H, W)``, ``ab`` target ``(B, 2, H, W)``), both scaled."""
    return scale_l(lab[:, 0:1]), scale_ab(lab[:, 1:3])


def network_to_lab(l_net: torch.Tensor, ab_net: torch.Tensor) -> torch.Tensor:
    """Scaled ``L`` ``(B, 1, H, W)`` and ``ab`` ``(B, 2, H, W)`` -> Lab ``(B, 3, H, W)``."""
    return torch.cat([unscale_l(l_net), unscale_ab(ab_net)], dim=1)


def rgb_to_network(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """sRGB ``(B, 3, H, W)`` in ``[0, 1]`` -> scaled (``L``, ``ab``): what training needs."""
    return lab_to_network(rgb_to_lab(rgb))


def network_to_rgb(l_net: torch.Tensor, ab_net: torch.Tensor) -> torch.Tensor:
    """Scaled ``L`` and ``ab`` -> sRGB ``(B, 3, H, W)`` in ``[0, 1]``."""
    return lab_to_rgb(network_to_lab(l_net, ab_net))


# --- numpy helpers for (H, W, 3) uint8 images -------------------------------------


def rgb_uint8_to_lab(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 sRGB -> ``(H, W, 3)`` float32 Lab, computed in torch (float32)."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    t = torch.from_numpy(np.array(image)).permute(2, 0, 1).float().div_(255.0)
    return rgb_to_lab(t).permute(1, 2, 0).numpy()


def lab_to_rgb_uint8(lab: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` Lab -> ``(H, W, 3)`` uint8 sRGB (rounded, clipped)."""
    if lab.ndim != 3 or lab.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) Lab image, got shape {lab.shape}")
    t = torch.from_numpy(np.ascontiguousarray(lab, dtype=np.float32)).permute(2, 0, 1)
    rgb = lab_to_rgb(t).permute(1, 2, 0).numpy()
    return np.clip(np.rint(rgb * 255.0), 0, 255).astype(np.uint8)


def l_to_gray_rgb(L: torch.Tensor) -> torch.Tensor:
    """Lightness ``L`` ``(B, 1, H, W)`` in ``[0, 100]`` -> the sRGB gray ``(B, 1, H, W)`` in ``[0, 1]``.

    This is the gray photo a person sees for that lightness (``lab_to_rgb`` of
    ``(L, 0, 0)``; D65 gray has equal R, G and B), used to feed the ImageNet
    classifier the grayscale image it would get from a camera.
    """
    fy = (L + 16.0) / 116.0
    y = torch.where(fy > _F_INV_THRESHOLD, fy**3, (fy - _F_OFFSET) / _KAPPA_LINEAR)
    return torch.where(
        y > 0.0031308,
        1.055 * y.clamp(min=0.0031308) ** (1.0 / 2.4) - 0.055,
        12.92 * y,
    ).clamp(0.0, 1.0)
