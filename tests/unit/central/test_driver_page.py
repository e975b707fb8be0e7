"""The driver page: forms that post the right reports to the right address, only the actions a
route's and each stop's state allow, escaped text, late stops marked, the error page."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import time
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from central.routes_schemas import RouteAlertPublic, RouteStatusPublic
from central.web.driver_links import driver_actions_path, driver_url
from central.web.driver_page import render_driver_error, render_driver_page
from tests.unit.central.route_factories import at, make_route, make_stop

TOKEN = "k+9/x=="  # characters a URL must quote
ACTION = "/driver/routes/17/actions?token=k%2B9%2Fx%3D%3D"


def three_stop_route(**changes: Any) -> RouteStatusPublic:
    """Stop 1 delivered, stop 2 pending and running late, stop 3 arrived (out of sequence)."""
    stops = [
        make_stop(
            1,
            state="delivered",
            predicted_eta=None,
            arrived_at=at(9, 5),
            done_at=at(9, 20),
            received_by="J. Kowalski",
        ),
        make_stop(2, window_latest=time(10, 30), predicted_eta=at(10, 42), late_by_s=12 * 60 - 30),
        make_stop(3, state="arrived", arrived_at=at(10, 58), predicted_eta=at(11, 3)),
    ]
    return make_route(stops, **changes)


# ----------------------------------------------------------------------------- HTML reader


@dataclass
class Form:
    action: str
    method: str
    stop_card: str | None  # id of the stop card the form sits in
    inputs: dict[str, dict[str, str | None]] = field(default_factory=dict)
    button: str = ""

    def value(self, name: str) -> str | None:
        return self.inputs[name].get("value")


class PageReader(HTMLParser):
    """Forms with their fields and card, the text and classes of each stop card, all tags."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.cards: dict[str, tuple[str, list[str]]] = {}  # id -> (classes, text pieces)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._card: str | None = None
        self._items: list[str | None] = []  # ids of the open <li>s (SSCC items sit in cards)
        self._form: Form | None = None
        self._in_button = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "li":
            item = attributes.get("id")
            self._items.append(item)
            if item is not None and item.startswith("stop-"):
                self._card = item
                self.cards[item] = (attributes.get("class") or "", [])
        elif tag == "form":
            self._form = Form(attributes["action"] or "", attributes["method"] or "", self._card)
            self.forms.append(self._form)
        elif tag == "input" and self._form is not None:
            self._form.inputs[attributes["name"] or ""] = attributes
        elif tag == "button":
            self._in_button = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "li" and self._items.pop() == self._card:
            self._card = None
        elif tag == "form":
            self._form = None
        elif tag == "button":
            self._in_button = False

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        if self._card is not None:
            self.cards[self._card][1].append(data)
        if self._in_button and self._form is not None:
            self._form.button += data

    def card_text(self, sequence: int) -> str:
        return " ".join(self.cards[f"stop-{sequence}"][1])


def read(page: str) -> PageReader:
    reader = PageReader()
    reader.feed(page)
    reader.close()
    return reader


def actions(reader: PageReader) -> set[tuple[str, str | None]]:
    """(type, stop) of every form on the page."""
    return {
        (form.value("type") or "", form.inputs.get("stop", {}).get("value"))
        for form in reader.forms
    }


# ----------------------------------------------------------------------------- tests


def test_every_form_posts_its_report_to_the_route_with_the_token() -> None:
    """Each form POSTs to the action URL carrying the (URL-quoted) token, names its report
    type and, for stop reports, the stop."""
    reader = read(render_driver_page(three_stop_route(), token=TOKEN))

    assert reader.forms
    for form in reader.forms:
        assert form.method == "post"
        assert form.action == ACTION
        assert parse_qs(urlsplit(form.action).query) == {"token": [TOKEN]}
        assert form.inputs["type"]["type"] == "hidden"
        if form.value("type") != "returned":
            assert form.stop_card == f"stop-{form.value('stop')}"


def test_each_rendered_form_has_its_own_fresh_report_id() -> None:
    """A uuid4 per form, different in every form and in every rendering of the page."""
    first = read(render_driver_page(three_stop_route(), token=TOKEN))
    second = read(render_driver_page(three_stop_route(), token=TOKEN))

    ids = [form.value("id") for form in first.forms + second.forms]
    assert all(form.inputs["id"]["type"] == "hidden" for form in first.forms)
    assert all(uuid.UUID(i or "").version == 4 for i in ids)
    assert len(set(ids)) == len(ids)


def test_a_route_under_way_offers_only_what_each_stop_still_allows() -> None:
    """Delivered stop 1: nothing; pending stop 2: arrived, delivered, failed; arrived stop 3:
    delivered, failed; the route: back at site, not departed."""
    reader = read(render_driver_page(three_stop_route(), token=TOKEN))

    assert actions(reader) == {
        ("arrived", "2"),
        ("delivered", "2"),
        ("failed", "2"),
        ("delivered", "3"),
        ("failed", "3"),
        ("returned", None),
    }
    buttons = {(form.value("type"), form.button) for form in reader.forms}
    assert buttons == {
        ("arrived", "Arrived"),
        ("delivered", "Delivered"),
        ("failed", "Failed"),
        ("returned", "Back at site"),
    }


def test_a_planned_route_offers_departed_and_a_completed_route_nothing() -> None:
    """Departed only before leaving; after the route is over no report is offered at all."""
    planned = make_route([make_stop(1), make_stop(2)], state="planned", departed_at=None)
    completed = three_stop_route(state="completed", completed_at=at(15, 40))

    assert actions(read(render_driver_page(planned, token=TOKEN))) == {
        ("departed", None),
        ("arrived", "1"),
        ("delivered", "1"),
        ("failed", "1"),
        ("arrived", "2"),
        ("delivered", "2"),
        ("failed", "2"),
    }
    assert read(render_driver_page(completed, token=TOKEN)).forms == []


def test_delivery_needs_who_received_and_failure_a_reason() -> None:
    """The browser will not send a delivery without a name nor a failure without a reason."""
    reader = read(render_driver_page(three_stop_route(), token=TOKEN))

    for form in reader.forms:
        kind = form.value("type")
        if kind == "delivered":
            assert "required" in form.inputs["received_by"]
            assert "note" in form.inputs
        if kind == "failed":
            assert "required" in form.inputs["reason"]
        if kind in ("arrived", "returned"):
            assert set(form.inputs) == {"id", "type"} | ({"stop"} if kind == "arrived" else set())


def test_late_stops_carry_the_late_marker() -> None:
    """Stop 2 is 11.5 min late: 'late by 12 min' in the late style; the others are not."""
    page = render_driver_page(three_stop_route(), token=TOKEN)
    reader = read(page)

    assert "late by 12 min" in reader.card_text(2)
    assert "now 10:42" in reader.card_text(2)
    assert '<strong class="late">late by 12 min</strong>' in page
    assert "late by" not in reader.card_text(1) + reader.card_text(3)
    assert "now 11:03" not in reader.card_text(3)  # 3 min off the plan: not worth showing


def test_the_next_stop_is_highlighted() -> None:
    """The arrived stop is where the driver acts next, even with an earlier one pending."""
    reader = read(render_driver_page(three_stop_route(), token=TOKEN))

    assert "next" in reader.cards["stop-3"][0].split()
    assert all("next" not in reader.cards[f"stop-{n}"][0].split() for n in (1, 2))
    assert "Next: 3. Customer 03 · arrived at 10:58" in "".join(reader.text)


def test_user_text_is_escaped() -> None:
    """Customer, address, instructions, alert and message text cannot inject markup."""
    evil = "<script>alert(1)</script>"
    route = make_route(
        [make_stop(1, customer=evil, address='"><img src=x>', instructions="<b>&amp;</b>")],
        alerts=[RouteAlertPublic(id=1, kind="route_late", message=evil, created_at=at(9))],
    )
    page = render_driver_page(route, token='"><script>', message=evil)

    assert "<script" not in page
    assert "<img" not in page
    assert "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    text = "".join(read(page).text)
    assert text.count(evil) == 4  # heading, card, alert, message: shown as text
    assert "<b>&amp;</b>" in text


def test_alerts_and_message_are_on_top() -> None:
    """The message and the alerts list come before the first stop card."""
    route = three_stop_route(
        alerts=[RouteAlertPublic(id=5, kind="route_late", message="Stop 2 late", created_at=at(10))]
    )
    page = render_driver_page(route, token=TOKEN, message="Delivered at stop 1")

    assert page.index("Delivered at stop 1") < page.index("Stop 2 late") < page.index('id="stop-1"')
    assert "Alerts" not in render_driver_page(three_stop_route(), token=TOKEN)


def test_the_page_stands_alone() -> None:
    """No scripts and nothing loaded from elsewhere: it works offline-ish and without JS."""
    reader = read(render_driver_page(three_stop_route(), token=TOKEN))

    tags = {tag for tag, _ in reader.tags}
    assert "script" not in tags and "link" not in tags and "img" not in tags
    assert not any(
        (attrs.get("href") or attrs.get("src") or "").startswith(("http", "//"))
        for _, attrs in reader.tags
    )
    assert ("meta", {"name": "viewport", "content": "width=device-width, initial-scale=1"}) in (
        reader.tags
    )


@pytest.mark.parametrize(("status", "title"), [(403, "403 Forbidden"), (410, "410 Gone")])
def test_error_page_shows_status_and_escaped_message(status: int, title: str) -> None:
    page = render_driver_error("This link has <expired>", status)
    reader = read(page)

    assert f"<title>{title}</title>" in page
    assert "This link has <expired>" in "".join(reader.text)
    assert "<expired>" not in page
    assert reader.forms == []


def test_driver_url_quotes_the_token_and_joins_the_path_once() -> None:
    assert (
        driver_url("https://central.example/", 17, TOKEN)
        == "https://central.example/driver/routes/17?token=k%2B9%2Fx%3D%3D"
    )
    assert driver_url("https://central.example", 3, "abc") == (
        "https://central.example/driver/routes/3?token=abc"
    )
    assert driver_actions_path(17, TOKEN) == ACTION
