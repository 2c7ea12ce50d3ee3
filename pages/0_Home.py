"""Home: what the app is for and how to use it."""

import streamlit as st

st.title("resnet-viz: residual learning, live")
st.markdown(
    """
Deep networks should be at least as good as shallow ones: a deeper net could copy the shallow one and
make its extra layers pass the signal through unchanged. In practice, plain stacks of convolutions get
**worse** as they grow deeper, even on their own training data. ResNet's answer is small: let every pair of
layers learn only a *correction* F(x) and add the input back, so a block outputs **F(x) + x**. Passing the
signal through unchanged then only needs F(x) = 0.

This app lets you check that idea on a real ResNet-18, one layer at a time.

- **Architecture**: every layer's output shape, parameters, multiply-adds and receptive field, for any
  input size, with the output-size formula worked through.

**The sidebar** holds what every page shares: the device, the weights (and why a source is unavailable),
and the **Shortcuts** switch. Switching shortcuts off (all, or per block in the expander) changes the
network that every page runs — only for you; other people using the app keep their own setting.
"""
)
