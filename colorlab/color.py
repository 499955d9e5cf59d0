"""CIE Lab <-> sRGB in PyTorch, and the network's scaling of L and ab.

This module is the one place in colorlab that knows colour maths; everything else calls it.
Images are batched ``(B, 3, H, W)`` float tensors (a single ``(3, H, W)`` image works too), on
any device. sRGB lies in ``[0, 1]``; Lab uses the D65 white and the 2 degree observer with
scikit-image's constants, so ``L`` is in ``[0, 100]`` and ``a``, ``b`` roughly in ``[-128, 127]``.
Every function is differentiable.

sRGB -> Lab is three steps, and Lab -> sRGB the same three backwards:

1. undo the sRGB gamma: ``linear = ((c + 0.055) / 1.055) ** 2.4`` (a straight line near black);
2. a 3x3 matrix takes linear RGB to XYZ, divided by the white's XYZ;
3. ``L = 116 f(Y) - 16``, ``a = 500 (f(X) - f(Y))``, ``b = 200 (f(Y) - f(Z))`` with
   ``f(t) = t ** (1/3)`` (a straight line near zero).

The network never sees raw Lab: it takes ``L / 50 - 1`` and predicts ``ab / 128``, both in
``[-1, 1]`` (:func:`scale_l`, :func:`scale_ab`).
"""

from __future__ import annotations

import numpy as np
import torch

#: XYZ of the D65 reference white, 2 degree observer (as in scikit-image).
D65_WHITE = (0.95047, 1.0, 1.08883)
#: Linear sRGB -> XYZ, from the sRGB specification (as in scikit-image).
XYZ_FROM_RGB = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
RGB_FROM_XYZ = np.linalg.inv(XYZ_FROM_RGB)
#: The network's scaling: L in [0, 100] -> L / L_SCALE - 1; ab -> ab / AB_SCALE; both in [-1, 1].
L_SCALE = 50.0
AB_SCALE = 128.0

_EPSILON = 0.008856  # (6/29)**3, where f(t) switches from the cube root to a line
_KAPPA = 7.787  # slope of that line
_OFFSET = 16.0 / 116.0


# --- the three steps, each written once --------------------------------------------------


def srgb_to_linear(c: torch.Tensor) -> torch.Tensor:
    """Undo the sRGB gamma: values in ``[0, 1]`` -> linear light in ``[0, 1]``."""
    return torch.where(c > 0.04045, ((c.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4, c / 12.92)


def linear_to_srgb(c: torch.Tensor) -> torch.Tensor:
    """Apply the sRGB gamma to linear light (the inverse of :func:`srgb_to_linear`), clipped to ``[0, 1]``."""
    return torch.where(c > 0.0031308, 1.055 * c.clamp(min=0.0031308) ** (1.0 / 2.4) - 0.055, 12.92 * c).clamp(0.0, 1.0)


def lab_f(t: torch.Tensor) -> torch.Tensor:
    """CIE's ``f``: the cube root, with a straight line near zero."""
    return torch.where(t > _EPSILON, t.clamp(min=_EPSILON) ** (1.0 / 3.0), _KAPPA * t + _OFFSET)


def lab_f_inv(f: torch.Tensor) -> torch.Tensor:
    """The inverse of :func:`lab_f`."""
    return torch.where(f > 6.0 / 29.0, f**3, (f - _OFFSET) / _KAPPA)


def _mix(m: np.ndarray, x: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 colour matrix over the channel dimension of ``(B, 3, H, W)``."""
    return torch.einsum("ij,bjhw->bihw", torch.as_tensor(m, dtype=x.dtype, device=x.device), x)


def _white(x: torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(D65_WHITE, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)


def _batched(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"{name}: expected 3 channels, (B, 3, H, W) or (3, H, W), got shape {tuple(x.shape)}")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name}: expected a float tensor, got {x.dtype}; divide uint8 images by 255 first")
    return x


# --- RGB <-> Lab ----------------------------------------------------------------------


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(B, 3, H, W)`` in ``[0, 1]`` -> Lab ``(B, 3, H, W)``; matches ``skimage.color.rgb2lab`` to 1e-3."""
    if rgb.dim() == 3:
        return rgb_to_lab(rgb[None])[0]
    xyz = _mix(XYZ_FROM_RGB, srgb_to_linear(_batched(rgb, "rgb_to_lab"))) / _white(rgb)
    fx, fy, fz = lab_f(xyz).unbind(1)
    return torch.stack([116.0 * fy - 16.0, 500.0 * (fx - fy), 200.0 * (fy - fz)], dim=1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """Lab ``(B, 3, H, W)`` -> sRGB ``(B, 3, H, W)`` clipped to ``[0, 1]``, as ``skimage.color.lab2rgb``."""
    if lab.dim() == 3:
        return lab_to_rgb(lab[None])[0]
    L, a, b = _batched(lab, "lab_to_rgb").unbind(1)
    fy = (L + 16.0) / 116.0
    f = torch.stack([a / 500.0 + fy, fy, (fy - b / 200.0).clamp(min=0.0)], dim=1)
    return linear_to_srgb(_mix(RGB_FROM_XYZ, lab_f_inv(f) * _white(lab)))


#: Lab units a colour may move when clipped to sRGB and still count as inside the gamut (the
#: reference white itself moves 0.005 because the sRGB matrix and the D65 white are rounded).
GAMUT_TOLERANCE = 0.05


def out_of_srgb_gamut(lab: torch.Tensor) -> torch.Tensor:
    """Where Lab ``(B, 3, H, W)`` (or ``(3, H, W)``) lies outside the sRGB gamut: bool ``(B, H, W)`` (or ``(H, W)``).

    Outside means :func:`lab_to_rgb` has to clip it: going back to Lab lands more than
    :data:`GAMUT_TOLERANCE` away (computed in float64).
    """
    lab64 = lab.to(torch.float64)
    return (rgb_to_lab(lab_to_rgb(lab64)) - lab64).norm(dim=-3) > GAMUT_TOLERANCE


def rgb_to_l(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB ``(B, 3, H, W)`` in ``[0, 1]`` -> ``L`` ``(B, 1, H, W)`` in ``[0, 100]``: the gray photo the model sees."""
    return rgb_to_lab(rgb)[..., 0:1, :, :]


def l_to_gray_rgb(L: torch.Tensor) -> torch.Tensor:
    """``L`` ``(B, 1, H, W)`` -> the sRGB gray ``(B, 1, H, W)`` a person sees for it (Lab ``(L, 0, 0)``)."""
    return linear_to_srgb(lab_f_inv((L + 16.0) / 116.0))


# --- the network's scaling ------------------------------------------------------------


def scale_l(L: torch.Tensor) -> torch.Tensor:
    """``L`` in ``[0, 100]`` -> network input in ``[-1, 1]``."""
    return L / L_SCALE - 1.0


def unscale_l(l_net: torch.Tensor) -> torch.Tensor:
    """Network input -> ``L`` in ``[0, 100]`` (inverse of :func:`scale_l`)."""
    return (l_net + 1.0) * L_SCALE


def scale_ab(ab: torch.Tensor) -> torch.Tensor:
    """``ab`` in Lab units -> network target in ``[-1, 1]``."""
    return ab / AB_SCALE


def unscale_ab(ab_net: torch.Tensor) -> torch.Tensor:
    """Network output -> ``ab`` in Lab units (inverse of :func:`scale_ab`)."""
    return ab_net * AB_SCALE


def rgb_to_network(rgb: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """sRGB ``(B, 3, H, W)`` in ``[0, 1]`` -> (input ``(B, 1, H, W)``, target ``(B, 2, H, W)``), both scaled."""
    lab = rgb_to_lab(rgb)
    return scale_l(lab[:, 0:1]), scale_ab(lab[:, 1:3])


def network_to_lab(l_net: torch.Tensor, ab_net: torch.Tensor) -> torch.Tensor:
    """Scaled ``L`` ``(B, 1, H, W)`` and ``ab`` ``(B, 2, H, W)`` -> Lab ``(B, 3, H, W)``."""
    return torch.cat([unscale_l(l_net), unscale_ab(ab_net)], dim=1)


# --- uint8 helpers for inference and figures ------------------------------------------

_LINEAR_LUTS: dict[tuple[torch.device, torch.dtype], torch.Tensor] = {}


def rgb_uint8_to_l(rgb: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 sRGB ``(B, 3, H, W)`` or gray ``(B, 1, H, W)`` -> ``L`` ``(B, 1, H, W)``, fast.

    The same numbers as :func:`rgb_to_l` on ``rgb / 255``: the 256 possible values are linearized
    once into a table and only the luminance Y is computed (inference needs nothing else).
    """
    if rgb.dtype != torch.uint8 or rgb.dim() != 4 or rgb.shape[1] not in (1, 3):
        raise ValueError(f"expected uint8 (B, 3, H, W) or (B, 1, H, W), got {rgb.dtype} {tuple(rgb.shape)}")
    key = (rgb.device, dtype)
    if key not in _LINEAR_LUTS:
        _LINEAR_LUTS[key] = srgb_to_linear(torch.arange(256, dtype=torch.float64) / 255.0).to(rgb.device, dtype)
    lin = _LINEAR_LUTS[key][rgb.long()]
    wy = XYZ_FROM_RGB[1]  # the Y row; the white's Y is 1
    y = wy[0] * lin[:, 0:1] + wy[1] * lin[:, 1:2] + wy[2] * lin[:, 2:3] if rgb.shape[1] == 3 else lin * float(wy.sum())
    return 116.0 * lab_f(y) - 16.0


def rgb_uint8_to_lab(image: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` uint8 sRGB -> ``(H, W, 3)`` float32 Lab."""
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    return rgb_to_lab(torch.from_numpy(np.array(image)).permute(2, 0, 1).float() / 255.0).permute(1, 2, 0).numpy()


def lab_to_rgb_uint8(lab: np.ndarray) -> np.ndarray:
    """``(H, W, 3)`` Lab -> ``(H, W, 3)`` uint8 sRGB (rounded, clipped)."""
    if lab.ndim != 3 or lab.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) Lab image, got shape {lab.shape}")
    rgb = lab_to_rgb(torch.from_numpy(np.ascontiguousarray(lab, dtype=np.float32)).permute(2, 0, 1))
    return rgb.permute(1, 2, 0).mul(255.0).round().to(torch.uint8).numpy()
