"""Links a slide can hold: a view's state lives in the URL."""

# app.py calls `apply()` before any widget is drawn and `write_back()` after the page ran. On a session's first
# run the query parameters (resnet_viz.inputs.urlstate: page, image, layer, block, channel, class, mask, lang, step) are
# checked and copied into the widgets' session-state keys; a refused value keeps its default and leaves a note the
# page shows. After every run the current view goes back into the URL (only what differs from the defaults), and
# the sidebar shows the full link, copyable. A link names the page by its path (/Feature_Maps?layer=layer3.1);
# `?page=Lecture` on any path is also understood. Lecture steps count from 0 in a link (step=3 is "Step 4 of 8").

from __future__ import annotations

import functools
from urllib.parse import urlencode

import streamlit as st

from resnet_viz.inputs import images, urlstate
from resnet_viz.model import layers
from resnet_viz.model.layers import BLOCK_NAMES, STAGE_NAMES
from ui import keys, state
from ui.nav import PAGES
from ui.text import literal, t

SHOWN_MAX = 40  # characters of a refused value quoted back in the note


def page_paths() -> list[str]:
    return [p.url_path for p in PAGES]


@functools.cache
def _samples() -> dict[str, str]:
    """Sample name -> content digest of its bytes."""
    return {s.name: state.digest(s.path.read_bytes()) for s in images.list_samples()}


def _steps() -> int:
    from ui.lecture import STEPS  # imported late: ui.lecture pulls in the lecture figures

    return len(STEPS)


def _mask_keys(mask: tuple[bool, ...]) -> dict[str, bool]:
    """The sidebar's widgets for a mask: the master toggle off for all-off, else one checkbox per block."""
    if not any(mask):
        return {keys.SHORTCUTS_ALL: False, **{keys.shortcut(b): True for b in BLOCK_NAMES}}
    return {keys.SHORTCUTS_ALL: True, **{keys.shortcut(b): m for b, m in zip(BLOCK_NAMES, mask, strict=True)}}


def session_keys(query: dict, num_classes: int) -> tuple[dict, list[tuple], str | None]:
    """Query parameters -> (session-state values to set, notes, page path to open). Never raises.

    Only parameters present in the query and accepted set a key; every other widget keeps its own default.
    """
    samples = _samples()
    parsed = urlstate.parse(query, pages=page_paths(), images=list(samples), num_classes=num_classes,
                            steps=_steps())
    refused = {n.param for n in parsed.notes}
    given = {k for k in query if k in urlstate.PARAMS and k not in refused}
    s = parsed.state
    values: dict = {}
    if "lang" in given:
        values[keys.LANG] = s.lang
    if "mask" in given:
        values.update(_mask_keys(s.mask))
    if "image" in given:
        sample = next(x for x in images.list_samples() if x.name == s.image)
        values[keys.IMAGE] = (sample.name, sample.path.read_bytes())
    if "layer" in given:
        if s.layer in layers.pickable():
            values[keys.FM_LAYER] = s.layer
        if s.layer in STAGE_NAMES:
            values[keys.CAM_STAGE] = s.layer
        if s.layer in BLOCK_NAMES:
            values[keys.CH_LAYER] = s.layer
    if "block" in given:
        values[keys.FM_BLOCK] = s.block
    if "channel" in given:
        values[keys.FM_CHANNEL] = s.channel
        values[keys.CH_CHANNEL] = s.channel
    if "target" in given:
        values[keys.CH_TARGET] = s.target
    if "class" in given:
        values[keys.CAM_QUERY] = str(s.cls)  # the class search finds it by number, so the class list holds it
        values[keys.CAM_TARGET] = s.cls
    if "step" in given:
        values[keys.LECTURE_STEP] = s.step
    if "room" in given:
        values[keys.ROOM_JOIN] = s.room
    notes = [(n.param, n.key, dict(n.args), _shown(query.get(n.param))) for n in parsed.notes]
    return values, notes, s.page if "page" in given else None


def _shown(value) -> str:
    """A refused value as the note quotes it: the last of repeated keys, cut to SHOWN_MAX characters."""
    if isinstance(value, (list, tuple)):
        value = value[-1] if value else ""
    text = value if isinstance(value, str) else ""
    return text if len(text) <= SHOWN_MAX else text[:SHOWN_MAX] + "…"


def _query() -> dict:
    qp = st.query_params
    return {k: qp.get_all(k) for k in qp}




def apply() -> None:
    """On the session's first run, before the navigation and any widget is drawn (the menu's titles follow the
    link's language too): the link's state into session state."""
    if st.session_state.get(keys.LINK_APPLIED):
        return
    st.session_state[keys.LINK_APPLIED] = True
    query = _query()
    if not query:
        return
    values, notes, page = session_keys(query, state.get_handle().num_classes)
    for key, value in values.items():
        st.session_state[key] = value
    if notes:
        st.session_state[keys.LINK_NOTES] = notes
    st.session_state[keys.LINK_PAGE] = page


def open_page(current_page: str) -> None:
    """After st.navigation: switch once to the page the link named with ?page= (its notes follow it)."""
    if keys.LINK_NOTES in st.session_state and keys.LINK_NOTES_PAGE not in st.session_state:
        st.session_state[keys.LINK_NOTES_PAGE] = st.session_state.get(keys.LINK_PAGE) or current_page
    page = st.session_state.pop(keys.LINK_PAGE, None)
    if page is not None and page != current_page:
        st.switch_page(next(p.file for p in PAGES if p.url_path == page))


def show_notes(current_page: str) -> None:
    """The refused values of the link this visitor arrived with, on the page it opened (in the main area)."""
    notes = st.session_state.get(keys.LINK_NOTES)
    if not notes:
        return
    if st.session_state.get(keys.LINK_NOTES_PAGE) != current_page:
        st.session_state.pop(keys.LINK_NOTES, None)
        return
    lines = []
    for param, key, args, value in notes:
        line = t(key, param=param, **args)
        if value:
            line += t("links.got", value=literal(value))
        lines.append(line)
    st.warning("  \n".join(lines))


def current(page_path: str) -> urlstate.UrlState:
    """The view now on screen, from session state (what the visitor chose in this run)."""
    ss = st.session_state
    image = ss.get(keys.IMAGE)
    samples = _samples()
    # Only a sample the visitor chose (not the first, nor the default that follows the weights) is named in a
    # link; never an upload.
    sample = None
    if image and image[0] in samples and image[0] != next(iter(samples)) and not ss.get(keys.IMAGE_DEFAULTED):
        sample = image[0] if state.digest(image[1]) == samples[image[0]] else None
    lang = ss.get(keys.LANG)
    values: dict = {"page": page_path if page_path != PAGES[0].url_path else None, "image": sample,
                    "mask": state.get_mask(), "lang": lang if lang and lang != "en" else None}
    if page_path == "Feature_Maps":
        values.update(layer=ss.get(keys.FM_LAYER, urlstate.UrlState.layer), block=ss.get(keys.FM_BLOCK, BLOCK_NAMES[0]),
                      channel=int(ss.get(keys.FM_CHANNEL, 0)))
    elif page_path == "Grad_CAM":
        if ss.get(keys.CAM_STAGE) in STAGE_NAMES and ss.get(keys.CAM_STAGE) != STAGE_NAMES[-1]:
            values["layer"] = ss[keys.CAM_STAGE]
        if isinstance(ss.get(keys.CAM_TARGET), int):
            values["cls"] = ss[keys.CAM_TARGET]
    elif page_path == "Channels":
        values.update(layer=ss.get(keys.CH_LAYER, urlstate.UrlState.layer), channel=int(ss.get(keys.CH_CHANNEL, 0)),
                      target=ss.get(keys.CH_TARGET, urlstate.UrlState.target))
    elif page_path == "Lecture":
        values["step"] = int(ss.get(keys.LECTURE_STEP, 0))
    elif page_path == "Join":  # a reload keeps the room (never the presenter's token: it is in no link)
        values["room"] = ss.get(keys.ROOM_JOIN)
    return urlstate.UrlState(**values)


def query_for(view: urlstate.UrlState) -> dict[str, str]:
    """The query string's parameters for a view (the page is in the path, not in the query)."""
    q = urlstate.to_query(view)
    q.pop("page", None)
    return q


def link(view: urlstate.UrlState) -> str:
    """The full link to a view: the browser's own address with this page's path and the view's query."""
    base = (st.context.url or "").split("?")[0].rstrip("/")
    for path in page_paths():
        if base.endswith("/" + path):
            base = base[: -len(path) - 1]
            break
    path = "" if view.page is None else "/" + view.page
    q = query_for(view)
    return f"{base}{path}" + (f"?{urlencode(q)}" if q else "")


def write_back(page_path: str, slot) -> None:
    """The view into the URL (only what differs from the defaults) and the copyable link into `slot` (an
    st.empty in the sidebar; drawn again, it replaces the previous link)."""
    view = current(page_path)
    q = query_for(view)
    if _query_now() != q:
        st.query_params.from_dict(q)
    with slot.container(), st.expander(t("links.title")):
        st.code(link(view), language=None, wrap_lines=True)
        st.caption(t("links.help"))


def _query_now() -> dict[str, str]:
    qp = st.query_params
    return {k: qp[k] for k in qp}
