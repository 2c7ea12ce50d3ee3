"""The Streamlit side of resnet-viz, shared by app.py and the page scripts in pages/.

nav (the one table of pages), text (language, t(), literal()), state (session keys, the shared model handle),
cache (byte-bounded caches keyed by content), images (the image picker), draw (figures, downloads, errors),
and one module per page that needs more than a few lines of helpers (lab, gradcam, gradflow, lecture).
The library (resnet_viz/) never imports this package.
"""
