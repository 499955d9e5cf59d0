"""Figures and tables for the lessons: Lab channels, the model's stages, training, results.

Every function here *draws* or *describes*; the colour maths, the model, the metrics and the
training loop live in their own modules and are only called. Figures come back as
:class:`matplotlib.figure.Figure` with a title and labelled axes, so a notebook cell is one call
and one picture. Use the package as one namespace (``from colorlab import viz; viz.network_figure(m)``);
the modules group the figures by subject:

=========================  ==============================================================================
module                     figures and tables
=========================  ==============================================================================
:mod:`.lab`                a photo's L, a, b channels; the (a, b) plane and the sRGB gamut at several
                           lightnesses; the curves of sRGB -> Lab; one photo in four colour spaces
:mod:`.network`            the network drawn; weights per part, stage shapes, FLOPs, measured receptive
                           field; the fusion step drawn; the ImageNet classes the extractor sees
:mod:`.training`           loss curves; overfitting one photo; what MSE, L1 and bins predict for an
                           uncertain colour (constant optima, averaging on the (a, b) plane)
:mod:`.bins`               colour as classification: the bins, class rebalancing, the temperature strip
:mod:`.results`            rows of images; gray | prediction | truth grids (one or several models);
                           histograms of predicted against true a and b
=========================  ==============================================================================

Also here, from the modules that own them: :func:`colorlab.color.out_of_srgb_gamut` and, from
:mod:`colorlab.exercises.core`, :func:`receptive_field`, :func:`imagenet_classes` and :func:`top_classes`.
"""

from __future__ import annotations

from ..color import out_of_srgb_gamut
from ..exercises.core import FieldRow, imagenet_classes, receptive_field, top_classes
from .bins import bins_figure, rebalancing_figure, temperature_strip
from .lab import ab_plane_figure, color_spaces_figure, gamut_slices_figure, lab_channels_figure, lab_curves_figure
from .network import (
    PartRow,
    StageRow,
    flops_by_part,
    format_parameter_table,
    format_stage_table,
    fusion_diagram,
    measured_receptive_field,
    network_figure,
    parameter_table,
    photo_top_classes,
    stage_table,
    top_classes_figure,
)
from .results import ab_histograms, ab_histograms_by_model, comparison_grid, models_comparison_grid, show_images
from .training import averaging_figure, constant_optima, loss_curve, loss_optima_figure, overfit_figure

__all__ = [
    # lab
    "lab_channels_figure",
    "ab_plane_figure",
    "gamut_slices_figure",
    "lab_curves_figure",
    "color_spaces_figure",
    "out_of_srgb_gamut",
    # network
    "PartRow",
    "parameter_table",
    "format_parameter_table",
    "FieldRow",
    "receptive_field",
    "measured_receptive_field",
    "StageRow",
    "stage_table",
    "format_stage_table",
    "flops_by_part",
    "network_figure",
    "fusion_diagram",
    "imagenet_classes",
    "top_classes",
    "photo_top_classes",
    "top_classes_figure",
    # training
    "loss_curve",
    "overfit_figure",
    "constant_optima",
    "loss_optima_figure",
    "averaging_figure",
    # bins
    "bins_figure",
    "rebalancing_figure",
    "temperature_strip",
    # results
    "show_images",
    "comparison_grid",
    "models_comparison_grid",
    "ab_histograms",
    "ab_histograms_by_model",
]
