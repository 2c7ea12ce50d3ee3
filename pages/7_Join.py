"""Join: a student's phone answers the class question the presenter asks (the link or QR code on the screen)."""

import streamlit as st

from ui import keys, nav, rooms
from ui.text import t

nav.require_app(__file__)
st.markdown(rooms.PHONE_CSS, unsafe_allow_html=True)
rooms.language_buttons()
st.markdown(f"### {t('rooms.student.title')}")
rooms.student_id()  # before the panel: a new id is also written to a cookie
if st.session_state.get(keys.ROOM_JOIN):
    rooms.student_panel()
else:
    rooms.code_form()
st.caption(t("rooms.student.privacy"))
