"""The Streamlit side of resnet-viz, shared by app.py and the page scripts in pages/."""

# nav (the one table of pages), keys (every session-state key), text (language, t(), say(), literal()), state (the
# shared model handle, the shortcut mask), memo (bounded caches keyed by content), picker (the image picker), draw
# (figures, downloads, errors), first_view (the light view while the library loads), links (the view in the URL),
# and one module per page that needs more than a few lines of helpers (arch, fm_*, gradcam_ui, gradflow, lab,
# lecture). The library (resnet_viz/) never imports this package.
