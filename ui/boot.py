"""Imports the library and every helper module once per server process, one script thread at a time."""

# app.py and every page import this module first. Six visitors opening a freshly started server at once run six
# scripts that import torch, torchvision, captum and the library concurrently, in different orders; Python's import
# deadlock detection then hands one of them a half-initialised module ("cannot import name 'weights' from
# 'resnet_viz'"). While one thread runs this module's body, the others wait for it on its import lock, holding no
# other module lock, so no cycle can form; afterwards every import in the scripts is a dictionary look-up.
# ruff: noqa: F401

import os

# Before torch loads OpenMP: its threads sleep between parallel regions instead of spinning. A server runs many
# short model calls from many sessions on shared cores, where spinning threads burn the CPU other sessions need:
# one Grad-CAM cost 0.6-0.7 s of CPU spinning vs 0.08 s sleeping on this 2-core machine while it was busy
# (README "Classroom load"). The library and its CLI keep OpenMP's default (fastest on an idle machine).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# plotly checks sys.modules for pandas (optional_imports.get_module) and would use a half-imported one while
# another thread is importing it (streamlit imports pandas lazily): import it here, completely, first.

import pandas
import plotly.graph_objects
import plotly.io

import resnet_viz.experiments.degradation
import resnet_viz.experiments.gradnorms
import resnet_viz.experiments.lesion
import resnet_viz.experiments.stacks
import resnet_viz.explain.channels
import resnet_viz.explain.dissection
import resnet_viz.explain.featuremaps
import resnet_viz.explain.gradcam
import resnet_viz.explain.methods
import resnet_viz.explain.sanity
import resnet_viz.figures
import resnet_viz.figures.export
import resnet_viz.inputs.classes
import resnet_viz.inputs.images
import resnet_viz.model.architecture
import resnet_viz.model.config
import resnet_viz.model.device
import resnet_viz.model.forward
import resnet_viz.model.weights
import resnet_viz.text.readings
import ui.channels
import ui.draw
import ui.gradcam_ui
import ui.gradflow
import ui.lab
import ui.lecture
import ui.memo
import ui.nav
import ui.picker
import ui.state
import ui.text
