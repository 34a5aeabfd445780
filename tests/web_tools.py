"""Helpers for the page tests: a browser-like httpx session (cookies, the sign-in form, CSRF
fields read from the page as a browser would) and a small HTML reader."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

import httpx


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""


@dataclass
class ParsedPage:
    """The parts of a page the tests look at: elements with their attributes and text."""

    elements: list[Element] = field(default_factory=list)
    text: str = ""

    def find_all(self, tag: str, **attrs: str) -> list[Element]:
        return [
            element
            for element in self.elements
            if element.tag == tag
            and all(element.attrs.get(key.rstrip("_").replace("_", "-")) == value for key, value in attrs.items())
        ]

    def links(self) -> list[Element]:
        return [element for element in self.elements if element.tag == "a" and "href" in element.attrs]

    def field_value(self, name: str) -> str:
        return next(
            element.attrs.get("value", "")
            for element in self.elements
            if element.tag == "input" and element.attrs.get("name") == name
        )


class _Reader(HTMLParser):
    VOID = {"input", "meta", "link", "br", "img", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = ParsedPage()
        self.open: list[Element] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {name: value or "" for name, value in attrs})
        self.page.elements.append(element)
        if tag not in self.VOID:
            self.open.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.page.elements.append(Element(tag, {name: value or "" for name, value in attrs}))

    def handle_endtag(self, tag: str) -> None:
        for index in range(len(self.open) - 1, -1, -1):
            if self.open[index].tag == tag:
                del self.open[index:]
                return

    def handle_data(self, data: str) -> None:
        for element in self.open:
            element.text += data
        self.text.append(data)


def parse(markup: str) -> ParsedPage:
    reader = _Reader()
    reader.feed(markup)
    reader.page.text = re.sub(r"\s+", " ", " ".join(reader.text))
    return reader.page


class WebSession:
    """One browser: a cookie jar, no automatic redirects (the tests look at each answer)."""

    def __init__(self, base_url: str):
        self.client = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30.0)

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.client.get(path, **kwargs)

    def page(self, path: str, status: int = 200) -> ParsedPage:
        response = self.get(path)
        assert response.status_code == status, (path, response.status_code, response.text[:500])
        return parse(response.text)

    def csrf_from(self, path: str) -> str:
        """The hidden CSRF field of the page at `path`, as a browser would submit it."""
        return self.page(path).field_value("csrf_token")

    def sign_in(self, token: str, next_path: str = "/") -> httpx.Response:
        csrf = self.csrf_from("/sign-in")
        return self.client.post("/sign-in", data={"token": token, "csrf_token": csrf, "next": next_path})

    def post_form(
        self, path: str, data: dict[str, str], *, form_page: str, files=None, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        """POST `data` with the CSRF field taken from `form_page`."""
        return self.client.post(
            path, data={"csrf_token": self.csrf_from(form_page), **data}, files=files, headers=headers
        )

    def close(self) -> None:
        self.client.close()


def unescape(text: str) -> str:
    return html.unescape(text)
