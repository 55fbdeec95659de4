"""The film-strip player, exported with ``save_html``, driven in headless Chromium: the buttons,
the slider, play and the keys move the frame; the caption and the highlighted node agree with
the frame list; every frame has the same size; nothing is loaded from the network."""

from __future__ import annotations

import pytest

from engine import Value, ancestors, film_strip
from engine.pictures.draw import HIGHLIGHT

STATE = """() => {
  const root = document.querySelector('.dg-film');
  const frames = [...root.querySelectorAll('.dg-frame')];
  const shown = frames.filter(f => !f.hidden);
  const frame = shown[0], box = frame.getBoundingClientRect();
  const marked = [...frame.querySelectorAll('g.node')].filter(g =>  // a table's outlines
    [...g.querySelectorAll('polygon, ellipse')].some(
      outline => outline.getAttribute('stroke') === 'HIGHLIGHT'))
    .map(g => [...g.querySelectorAll('text')].map(t => t.textContent.trim()));
  return {k: frames.indexOf(frame), shown: shown.length,
          caption: root.querySelector('.dg-caption').textContent,
          count: root.querySelector('.dg-count').textContent,
          slider: root.querySelector('input[type=range]').value,
          play: root.querySelector('[data-go=play]').textContent,
          marked: marked, focused: root.contains(document.activeElement),
          top: box.top, height: box.height, width: box.width,
          svg: frame.querySelector('svg').getBoundingClientRect().width};
}""".replace("HIGHLIGHT", HIGHLIGHT)


def labelled_graph() -> Value:
    """A small graph, every Value labelled, with a node used twice (captions of different
    lengths: the frames must still not move)."""
    a, b = Value(0.5, "a"), Value(-1.5, "b")
    c = a * b
    c.label = "c"
    d = c.tanh()
    d.label = "d"
    e = d * a
    e.label = "e"
    L = e + c
    L.label = "L"
    return L


@pytest.fixture(scope="module")
def strip():
    return film_strip(labelled_graph())


@pytest.fixture
def page(browser, strip, tmp_path):
    path = strip.save_html(tmp_path / "film.html")
    page = browser.context.new_page()
    page.clock.install()  # play's timer runs on a clock the test moves
    page.goto(path.as_uri())
    yield page
    page.close()
    assert browser.network() == [], f"the player tried the network: {browser.network()}"


def check_frame(page, strip, k):
    """The page shows frame ``k`` of the film, and only it, with its caption and highlights."""
    state = page.evaluate(STATE)
    n = len(strip) - 1
    assert (state["k"], state["shown"]) == (k, 1)
    assert state["caption"] == strip.caption(k)
    assert state["count"] == f"{k} / {n}" and state["slider"] == str(k)
    frame = strip[k]
    expected = set() if frame.node is None else {frame.node.label,
                                                 *(s.parent.label for s in frame.steps)}
    labels = {v.label for v in ancestors(strip.root)}
    assert {texts[0] for texts in state["marked"] if texts[0] in labels} == expected
    if frame.node is not None:  # the current node's box shows its complete gradient
        box = next(t for t in state["marked"] if t[0] == frame.node.label)
        assert any(t.startswith("grad ") and float(t[5:]) == pytest.approx(
            frame.grads[frame.node], abs=5e-5) for t in box)
    return state


def test_the_buttons_and_the_slider_move_the_frame(page, strip):
    n = len(strip) - 1
    check_frame(page, strip, 0)
    for button, k in [("next", 1), ("next", 2), ("prev", 1), ("last", n), ("next", n),
                      ("first", 0), ("prev", 0)]:
        page.click(f"[data-go={button}]")
        check_frame(page, strip, k)
    for k in [3, 1, n, 0]:
        page.fill("input[type=range]", str(k))
        check_frame(page, strip, k)


def test_play_steps_through_every_frame_and_stops_at_the_last(page, strip):
    page.click("[data-go=play]")
    assert page.evaluate(STATE)["play"] == "pause"
    for k in range(1, len(strip)):
        page.clock.run_for(1200)
        check_frame(page, strip, k)
    page.clock.run_for(1200)
    assert page.evaluate(STATE)["play"] == "play"  # stopped by itself at the end
    check_frame(page, strip, len(strip) - 1)
    page.click("[data-go=play]")  # from the end, play starts again at frame 0
    check_frame(page, strip, 0)
    page.clock.run_for(1200)
    check_frame(page, strip, 1)
    page.click("[data-go=play]")  # pause
    page.clock.run_for(5000)
    assert check_frame(page, strip, 1)["play"] == "play"


def test_keys_step_play_and_jump(page, strip):
    n = len(strip) - 1
    assert page.evaluate(STATE)["focused"]  # the saved page focuses the player
    for key, k in [("ArrowRight", 1), ("ArrowRight", 2), ("ArrowLeft", 1), ("End", n),
                   ("ArrowRight", n), ("Home", 0), ("ArrowLeft", 0)]:
        page.keyboard.press(key)
        check_frame(page, strip, k)
    page.keyboard.press(" ")
    assert page.evaluate(STATE)["play"] == "pause"
    page.clock.run_for(1200)
    check_frame(page, strip, 1)
    page.keyboard.press(" ")
    page.clock.run_for(5000)
    assert check_frame(page, strip, 1)["play"] == "play"


def test_keys_on_a_focused_control_act_once(page, strip):
    page.focus("input[type=range]")
    page.keyboard.press("ArrowRight")  # the player's step, not also the slider's own
    check_frame(page, strip, 1)
    page.focus("[data-go=next]")
    page.keyboard.press(" ")  # play/pause, not a click on the focused button
    state = check_frame(page, strip, 1)
    assert state["play"] == "pause"
    page.keyboard.press(" ")
    assert check_frame(page, strip, 1)["play"] == "play"


@pytest.mark.parametrize("width", [1400, 900, 480])
def test_every_frame_has_the_same_place_and_size(page, strip, width):
    page.set_viewport_size({"width": width, "height": 700})
    boxes = set()
    for k in range(len(strip)):
        page.fill("input[type=range]", str(k))
        state = page.evaluate(STATE)
        boxes.add((round(state["top"], 1), round(state["height"], 1), round(state["width"], 1)))
    assert len(boxes) == 1, f"the frame moves or changes size between frames: {boxes}"


def test_full_size_shows_the_drawing_unscaled_and_fit_scales_it_back(page, strip):
    page.set_viewport_size({"width": 600, "height": 700})
    fitted = page.evaluate(STATE)["svg"]
    assert fitted <= 600
    page.click("[data-go=zoom]")
    full = page.evaluate(STATE)["svg"]
    assert full > 1.5 * fitted and page.text_content("[data-go=zoom]") == "fit width"
    page.click("[data-go=zoom]")
    assert page.evaluate(STATE)["svg"] == fitted


def test_two_players_on_one_page_are_independent(browser, strip, tmp_path):
    path = tmp_path / "two.html"
    path.write_text(f"<!DOCTYPE html><meta charset='utf-8'><body>{strip.html()}{strip.html()}"
                    "</body>", encoding="utf-8")
    page = browser.context.new_page()
    page.goto(path.as_uri())
    players = page.query_selector_all(".dg-film")
    assert len(players) == 2 and players[0].get_attribute("id") != players[1].get_attribute("id")
    players[1].focus()
    page.keyboard.press("End")
    counts = [p.query_selector(".dg-count").text_content() for p in players]
    assert counts == [f"0 / {len(strip) - 1}", f"{len(strip) - 1} / {len(strip) - 1}"]
    page.close()
    assert browser.network() == []


def test_the_network_guard_sees_a_page_that_loads_from_the_network(browser, tmp_path):
    """The check above can fail: a page with a remote image is caught (and the request refused
    before it leaves the machine)."""
    path = tmp_path / "remote.html"
    path.write_text('<img src="https://example.invalid/x.png">', encoding="utf-8")
    page = browser.context.new_page()
    page.goto(path.as_uri())
    page.close()
    assert browser.network() == ["https://example.invalid/x.png"] * 2  # refused, and seen
    browser.refused.clear()
    browser.requests.clear()


def test_a_label_holding_template_words_and_html_stays_text_in_the_browser(browser, tmp_path):
    """The player was filled by chained str.replace: a label holding SIZERS or CAPTION0 spliced
    the player's own HTML into captions and SVG text. Filled in one pass and escaped, such a
    label is text in the page: one player, no script of its, every frame reachable."""
    hostile = 'SIZERS CAPTION0 FRAMES UID ${uid} <script>window.hit=1</script> & "\\N'
    x = Value(0.5, hostile)
    y = (x * 2).tanh()
    y.label = hostile
    strip = film_strip(y)
    page = browser.context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(strip.save_html(tmp_path / "hostile.html").as_uri())
    assert page.evaluate("document.querySelectorAll('.dg-film').length") == 1
    assert page.evaluate("document.querySelectorAll('.dg-frame').length") == len(strip)
    assert page.evaluate("window.hit") is None and errors == []
    page.keyboard.press("End")
    caption = page.evaluate("document.querySelector('.dg-caption').textContent")
    assert caption == strip.caption(len(strip) - 1) and hostile in caption
    svg_text = page.evaluate("[...document.querySelectorAll('.dg-frame:not([hidden]) text')]"
                             ".map(t => t.textContent).join(' ')")
    assert hostile.replace("  ", " ") in svg_text
    page.close()
    assert browser.network() == []
