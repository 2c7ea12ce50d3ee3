"""Home: what the app is for and how to use it."""

import streamlit as st

from ui import nav
from ui.lecture_plan import STEPS
from ui.text import t

# No library import: Home is also the first view while the library loads after a server start (ui.first_view).

nav.require_app(__file__)
st.title(t("home.title"))
st.markdown(t("home.intro"))
st.markdown(t("home.pages", steps=len(STEPS)))
st.markdown(t("home.sidebar"))
