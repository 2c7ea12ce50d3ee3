"""resnet-viz: the library behind the app (never imports streamlit)."""

# Subpackages: model (the network and its weights), inputs (every user byte checked), explain (what the network
# sees), experiments (plain vs residual), text (words and claims), figures (plotly).

from pathlib import Path

__version__ = "0.1.0"

# The shipped sample photos, checkpoints and cached runs (beside the package, not inside it).
ASSETS = Path(__file__).resolve().parent.parent / "assets"
