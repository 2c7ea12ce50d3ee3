"""Imports the library and every helper module once per server process, one script thread at a time.

app.py and every page import this module first. Six visitors opening a freshly started server at once run six
scripts that import torch, torchvision, captum and the library concurrently, in different orders; Python's import
deadlock detection then hands one of them a half-initialised module ("cannot import name 'weights' from
'resnet_viz'"). While one thread runs this module's body, the others wait for it on its import lock, holding no
other module lock, so no cycle can form; afterwards every import in the scripts is a dictionary look-up.
"""
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

import resnet_viz.architecture
import resnet_viz.classes
import resnet_viz.config
import resnet_viz.degradation
import resnet_viz.device
import resnet_viz.export
import resnet_viz.featuremaps
import resnet_viz.figures
import resnet_viz.forward
import resnet_viz.gradcam
import resnet_viz.gradnorms
import resnet_viz.images
import resnet_viz.lesion
import resnet_viz.methods
import resnet_viz.readings
import resnet_viz.sanity
import resnet_viz.stacks
import resnet_viz.weights
import ui.cache
import ui.draw
import ui.gradcam_ui
import ui.gradflow
import ui.images
import ui.lab
import ui.lecture
import ui.nav
import ui.state
import ui.text
