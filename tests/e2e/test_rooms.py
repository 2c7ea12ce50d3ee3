"""A class question in real browsers: the presenter opens a room on the Lecture, three students (one phone, 360 px
wide) join by the link, answer, one changes the answer, the presenter's chart counts them live and reveals; a
student who tries the presenter's controls cannot touch the room."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from resnet_viz.text import i18n
from tests.e2e.conftest import assert_no_error, main, new_context, settle, shot, sidebar
from ui.lecture import CHOICES, STEPS

pytestmark = pytest.mark.e2e
ASK = STEPS.index("ask_grad")


def en(key: str, **kw) -> str:
    return i18n.t(key, "en", **kw)


def _choice(page, i: int):
    """The i-th choice button (A, B, C) of the phone's panel."""
    return main(page).locator('[data-testid="stButton"] button').filter(has_text=f"{'ABC'[i]}.").first


def _presenter(browser, server: str):
    context = new_context(browser, 1920, 1080)
    page = context.new_page()
    page.goto(f"{server}/Lecture?step={ASK}")
    settle(page, en("lec.ask_grad.title"), main(page))
    sidebar(page).get_by_text(en("lec.presenter"), exact=True).click()
    settle(page, en("rooms.open"), sidebar(page))
    sidebar(page).get_by_role("button", name=en("rooms.open")).click()
    settle(page, "Room code:", sidebar(page))
    code = re.search(r"Room code: ([A-Z0-9]{6})", sidebar(page).inner_text()).group(1)
    link = re.search(r"\S+/Join\?room=" + code, sidebar(page).inner_text()).group(0)
    assert "token" not in link and code in main(page).inner_text()  # the code and QR on the slide
    main(page).get_by_role("button", name=en("rooms.ask")).click()
    settle(page, en("rooms.phase.open", n=0), main(page))
    return context, page, code, link


def _student(browser, link: str, width: int, height: int):
    context = new_context(browser, width, height)
    page = context.new_page()
    page.goto(link)
    settle(page, en(CHOICES["ask_grad"][0]).replace("**", ""), main(page))
    return context, page


def _answer(page, i: int) -> None:
    _choice(page, i).click()
    settle(page, en("rooms.student.yours", letter="ABC"[i]), main(page))


def test_a_class_answers_and_the_presenter_reveals(server, browser):
    contexts = []
    try:
        presenter_ctx, presenter, code, link = _presenter(browser, server)
        contexts.append(presenter_ctx)
        students = [_student(browser, link, w, h) for w, h in ((1280, 800), (800, 1000), (360, 740))]
        contexts += [c for c, _ in students]
        phones = [p for _, p in students]
        for page, choice in zip(phones, (0, 1, 2), strict=True):
            _answer(page, choice)
        _answer(phones[2], 1)  # the phone changes its mind: B, counted once
        phones[1].reload()  # the same browser is the same student (its id is in a cookie): its answer is still B
        settle(phones[1], en("rooms.student.yours", letter="B"), main(phones[1]))
        assert main(phones[2]).evaluate("e => e.scrollWidth") <= 360  # nothing wider than the phone
        # The presenter's chart catches up by itself (a fragment refreshes it): 3 answers, B twice.
        settle(presenter, en("rooms.phase.open", n=3), main(presenter))
        expect(main(presenter).locator(".js-plotly-plot").first).to_contain_text("2 · 67%")
        shot(presenter, "rooms_presenter_en")
        shot(phones[2], "rooms_student_en")
        # Each in their own language: the phone switches to Chinese on the page itself.
        main(phones[2]).get_by_text("中文", exact=True).click()
        settle(phones[2], i18n.t("rooms.student.yours", "zh", letter="B"), main(phones[2]))
        assert main(phones[2]).evaluate("e => e.scrollWidth") <= 360
        shot(phones[2], "rooms_student_zh")

        # A student tries the presenter's side: the Lecture's presenter view in their own session offers to open
        # a room of their own, never the controls of this one; the room stays open for answers.
        spy = phones[0]
        spy.goto(f"{server}/Lecture?step={ASK}&room={code}&token=x")
        settle(spy, en("lec.ask_grad.title"), main(spy))
        sidebar(spy).get_by_text(en("lec.presenter"), exact=True).click()
        settle(spy, en("rooms.open"), sidebar(spy))
        for name in ("rooms.close", "rooms.reveal", "rooms.reset", "rooms.ask"):
            assert main(spy).get_by_role("button", name=en(name)).count() == 0
        _answer(phones[1], 2)  # still open: the spy changed nothing
        settle(presenter, en("rooms.phase.open", n=3), main(presenter))
        expect(main(presenter).locator(".js-plotly-plot").first).not_to_contain_text("2 · 67%")  # now 1·1·1

        # The presenter in Chinese (the sidebar's switch), then the reveal.
        sidebar(presenter).get_by_text("中文", exact=True).click()
        settle(presenter, i18n.t("rooms.phase.open", "zh", n=3), main(presenter))
        shot(presenter, "rooms_presenter_zh")
        main(presenter).get_by_role("button", name=i18n.t("rooms.reveal", "zh")).click()
        settle(presenter, i18n.t("rooms.fig.final", "zh", n=3), main(presenter))
        assert i18n.t("lec.grad.title", "zh") in main(presenter).inner_text()
        shot(presenter, "rooms_reveal_zh")
        for page, lang in ((phones[1], "en"), (phones[2], "zh")):  # each phone in its own language
            settle(page, i18n.t("rooms.student.phase.revealed", lang), main(page))
            expect(_choice(page, 0)).to_be_disabled()
        for page in (presenter, *phones):
            assert_no_error(page)
    finally:
        for c in contexts:
            c.close()


def test_a_hostile_room_link_is_refused_literally(server, page):
    page.goto(f"{server}/Join?room=%3Cb%3EAB%3C%2Fb%3E")
    settle(page, en("rooms.student.code"), main(page))
    note = main(page).locator('[data-testid="stAlert"]').filter(has_text="“room”")
    expect(note).to_contain_text("<b>AB</b>")  # quoted literally, never as HTML
    assert note.locator("b").count() == 0
    assert_no_error(page)
