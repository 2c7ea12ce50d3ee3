"""Home: what the app is for and how to use it."""

import ui.boot  # noqa: F401  (first: loads the library once, one script thread at a time)

# isort: split
import streamlit as st

from ui import nav
from ui.lecture import STEPS
from ui.text import t

nav.require_app(__file__)
st.title(t("home.title"))
st.markdown(t("home.intro"))
st.markdown(t("home.pages", steps=len(STEPS)))
st.markdown(t("home.sidebar"))
