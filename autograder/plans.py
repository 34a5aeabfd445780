"""Propose misconception-catalogue entries from a lesson plan, for an instructor to review.

A plan (markdown, the format of the course's planning documents) names misconceptions in three
places, all recognised here:

- a table whose header has a "Misconception" and a "Negative Example ..." column (usually also
  "Why They'd Think This" and "Where to Address"): one entry per row; the negative example
  becomes the proposed remedy;
- a module record's "**Misconceptions addressed:**" paragraph followed by a numbered list of
  `"statement" -- how it was addressed` items, under a lesson heading such as
  `### Lesson 2: SAM 3 (sam-3)`;
- a list under a heading that ends in "Misconceptions" (e.g. "Module-Level Misconceptions"):
  `Students may think X (correction)` bullets.

Every proposal carries `review: true` and an empty `observed_by` (the instructor says how the
grader sees it), so it does not validate as a catalogue entry until reviewed. Proposals never
reuse an existing id, and with `existing_entries` the plan places already cited by an entry's
`source` are skipped, so re-importing a plan proposes only what is new.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import yaml
from markdown_it import MarkdownIt
from markdown_it.tree import SyntaxTreeNode

MAX_ID_WORDS = 4
MAX_REMEDY_SENTENCES = 3

# Words that carry no meaning in an id ("SigLIP is a ..." -> siglip.<key words>).
_STOPWORDS = frozenset(
    """
    a an the is are was were be been being it its this that these those of for to from in on
    at by with and or as than then so just only mainly very really completely fundamentally
    entirely always never not no do does did has have had can could may might will would
    should must means mean same like about into over per each every any all one some
    students student learners learner think thinks believe believes assume assumes
    having enough because get gets
    """.split()
)

_SLUG_IN_PARENS = re.compile(r"\(([a-z][a-z0-9]*(?:-[a-z0-9]+)*)\)")
_SLUG_LINE = re.compile(r"^\s*slug\s*:\s*([a-z][a-z0-9-]*)\s*$", re.IGNORECASE)
_ADDRESSED_PARAGRAPH = re.compile(r"^misconceptions addressed\s*:?\s*$", re.IGNORECASE)
_MISCONCEPTION_HEADING = re.compile(r"misconceptions(\s+addressed)?\s*:?\s*$", re.IGNORECASE)
_QUOTED_ITEM = re.compile(r'^\s*["“](?P<statement>.+?)["”]\s*(?:—|–|--|-|:)?\s*(?P<rest>.*)$', re.S)
_DASH_SPLIT = re.compile(r"\s+(?:—|–|--)\s+|:\s+")
_STUDENT_THINKS = re.compile(
    r"^(?:students?|learners?)\s+(?:may|might|often|will|could|can)\s+"
    r"(?:think|believe|assume|expect)\s+(?:that\s+)?",
    re.IGNORECASE,
)
_TRAILING_PARENTHESIS = re.compile(r"^(?P<head>.*?)\s*\((?P<inner>[^()]*(?:\([^()]*\)[^()]*)*)\)\s*\.?\s*$", re.S)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9\"“(])")


@dataclass
class _Found:
    """One misconception as the plan states it, before it becomes a catalogue proposal."""

    statement: str
    remedy: str
    lesson: str
    locator: str  # where in the plan, e.g. "misconceptions table #2"
    why: str = ""
    where: str = ""


def propose_entries(
    plan_text: str,
    source_name: str,
    existing_ids: set[str],
    *,
    existing_entries: Iterable[object] = (),
) -> list[dict]:
    """Catalogue proposals (dicts) for every misconception the plan names.

    `source_name` is how the plan is cited (its file name). `existing_ids` are never reused:
    a colliding id gets a suffix `-2`, `-3`, ... . `existing_entries` (catalogue entries as
    dicts or objects with a `source` attribute) let the importer skip misconceptions whose
    place in this plan an entry already cites ("<file>, <locator>" parts separated by ";").
    Each dict has the catalogue fields, `review: True`, and `plan_context` (the plan's "why
    they'd think this" and "where to address", rendered as comments by `render_yaml`).
    """
    cited = _cited_places(existing_entries)
    taken = set(existing_ids)
    proposals = []
    for found in _find_misconceptions(plan_text):
        if (source_name, _normalise_locator(found.locator)) in cited:
            continue
        entry_id = _unique_id(_id_prefix(found.lesson), found.statement, taken)
        taken.add(entry_id)
        proposals.append(
            {
                "id": entry_id,
                "lesson": found.lesson,
                "source": f"{source_name}, {found.locator}",
                "statement": found.statement,
                "remedy": found.remedy,
                "observed_by": [],
                "review": True,
                "plan_context": {"why": found.why, "where": found.where},
            }
        )
    return proposals


def render_yaml(entries: list[dict]) -> str:
    """The proposals as a catalogue YAML file (a list), plan context as comments."""
    lines = [
        "# Proposed misconception entries, imported from a lesson plan.",
        "# Review each one: rewrite statement and remedy in the course's own words, add at least",
        "# one observed_by {kind, detail}, then delete `review: true`.",
        "",
    ]
    if not entries:
        return "\n".join(lines) + "[]\n"
    for entry in entries:
        context = entry.get("plan_context") or {}
        for label, key in (("why they'd think this", "why"), ("where to address", "where")):
            if context.get(key):
                lines.append(_comment(f"{label}: {context[key]}"))
        fields = {key: value for key, value in entry.items() if key != "plan_context"}
        dumped = yaml.safe_dump([fields], sort_keys=False, allow_unicode=True, width=96)
        lines.append(dumped.rstrip("\n"))
        lines.append("")
    return "\n".join(lines)


# --- reading the plan -------------------------------------------------------------------------


def _find_misconceptions(plan_text: str) -> Iterator[_Found]:
    root = SyntaxTreeNode(MarkdownIt("commonmark").enable("table").parse(plan_text))
    document_slug = _document_slug(root)
    headings: list[tuple[int, str]] = []  # the open heading chain: (level, text)
    place_counts: Counter[str] = Counter()
    expecting_record_list = False

    for block in root.children:
        if block.type == "heading":
            level = int(block.tag[1])
            headings = [h for h in headings if h[0] < level] + [(level, _plain_text(block))]
            expecting_record_list = bool(_ADDRESSED_PARAGRAPH.match(headings[-1][1]))
            continue
        lesson = _lesson_slug(headings) or document_slug
        if block.type == "paragraph":
            expecting_record_list = bool(_ADDRESSED_PARAGRAPH.match(_plain_text(block).strip()))
            continue
        if block.type == "table" and _table_columns(block) is not None:
            yield from _from_table(block, lesson or "module", _numbered_place("misconceptions table", place_counts))
        elif block.type in ("bullet_list", "ordered_list"):
            heading = headings[-1][1] if headings else ""
            if expecting_record_list:
                place = f"{lesson} misconceptions addressed" if lesson else "misconceptions addressed"
                base = _numbered_place(place, place_counts)
                yield from _from_record_list(block, lesson or "module", base)
            elif _MISCONCEPTION_HEADING.search(heading):
                list_lesson = "module" if "module" in heading.lower() else (lesson or "module")
                base = _numbered_place(heading.strip().lower(), place_counts)
                yield from _from_heading_list(block, list_lesson, base)
        expecting_record_list = False


def _numbered_place(base: str, counts: Counter[str]) -> str:
    """`base` for the first such place in a plan, `base (2)`, `base (3)` ... for later ones."""
    counts[base] += 1
    return base if counts[base] == 1 else f"{base} ({counts[base]})"


def _table_columns(table: SyntaxTreeNode) -> dict[str, int] | None:
    """Column index of each role ("statement", "negative", "why", "where"), or None."""
    rows = _table_rows(table)
    if not rows:
        return None
    prefixes = {"statement": "misconception", "why": "why", "negative": "negative example", "where": "where to address"}
    columns = {}
    for index, cell in enumerate(rows[0]):
        name = cell.strip().lower()
        for role, prefix in prefixes.items():
            if name.startswith(prefix) and role not in columns:
                columns[role] = index
    return columns if {"statement", "negative"} <= columns.keys() else None


def _from_table(table: SyntaxTreeNode, lesson: str, place: str) -> Iterator[_Found]:
    columns = _table_columns(table)
    if columns is None:
        return
    for number, row in enumerate(_table_rows(table)[1:], start=1):
        cells = {role: row[index].strip() if index < len(row) else "" for role, index in columns.items()}
        statement = _unquote(cells["statement"])
        if not statement:
            continue
        yield _Found(
            statement=statement,
            remedy=_first_sentences(cells["negative"]),
            lesson=lesson,
            locator=f"{place} #{number}",
            why=cells.get("why", ""),
            where=cells.get("where", ""),
        )


def _from_record_list(items: SyntaxTreeNode, lesson: str, place: str) -> Iterator[_Found]:
    """Items like `"SAM is a classification model" -- addressed early in the primer ...`."""
    for number, text in enumerate(_list_items(items), start=1):
        quoted = _QUOTED_ITEM.match(text)
        if quoted:
            statement, how = quoted["statement"], quoted["rest"]
        else:
            parts = _DASH_SPLIT.split(text, maxsplit=1)
            statement, how = parts[0], parts[1] if len(parts) > 1 else ""
        if statement.strip():
            yield _Found(statement.strip(), _sentence_case(how.strip()), lesson, f"{place} #{number}")


def _from_heading_list(items: SyntaxTreeNode, lesson: str, place: str) -> Iterator[_Found]:
    """Bullets like `Students may think SAM is a classifier (it is a dense prediction model)`."""
    for number, text in enumerate(_list_items(items), start=1):
        statement = _sentence_case(_STUDENT_THINKS.sub("", text.strip(), count=1))
        correction = ""
        parenthesis = _TRAILING_PARENTHESIS.match(statement)
        if parenthesis and parenthesis["head"].strip():
            statement, correction = parenthesis["head"].strip(), _sentence_case(parenthesis["inner"].strip())
        if statement:
            yield _Found(statement, correction, lesson, f"{place} #{number}")


# --- markdown helpers ---------------------------------------------------------------------------


def _plain_text(node: SyntaxTreeNode) -> str:
    """The text of a node with inline markup (emphasis, code, links) dropped."""
    if node.type in ("text", "code_inline", "html_inline"):
        return node.content
    if node.type in ("softbreak", "hardbreak"):
        return " "
    return "".join(_plain_text(child) for child in node.children)


def _table_rows(table: SyntaxTreeNode) -> list[list[str]]:
    return [
        [_plain_text(cell) for cell in row.children]
        for section in table.children
        for row in section.children
    ]


def _list_items(items: SyntaxTreeNode) -> list[str]:
    """The text of each item's own paragraphs (nested lists left out)."""
    return [
        " ".join(_plain_text(part) for part in item.children if part.type == "paragraph")
        for item in items.children
    ]


def _document_slug(root: SyntaxTreeNode) -> str | None:
    """A `**Slug:** name` line anywhere at the top level of the plan."""
    for block in root.children:
        if block.type == "paragraph":
            for line in _plain_text_lines(block):
                match = _SLUG_LINE.match(line)
                if match:
                    return match[1].lower()
    return None


def _plain_text_lines(paragraph: SyntaxTreeNode) -> list[str]:
    lines, current = [], []
    for node in paragraph.children[0].children if paragraph.children else []:
        if node.type in ("softbreak", "hardbreak"):
            lines.append("".join(current))
            current = []
        else:
            current.append(_plain_text(node))
    lines.append("".join(current))
    return lines


def _lesson_slug(headings: list[tuple[int, str]]) -> str | None:
    """The innermost heading naming a lesson slug in parentheses, e.g. "Lesson 2: SAM 3 (sam-3)"."""
    for _, text in reversed(headings):
        matches = _SLUG_IN_PARENS.findall(text)
        if matches:
            return matches[-1]
    return None


# --- text helpers -------------------------------------------------------------------------------


def _unquote(text: str) -> str:
    return text.strip().strip('"“”').strip()


def _sentence_case(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def _first_sentences(text: str, limit: int = MAX_REMEDY_SENTENCES) -> str:
    return " ".join(_SENTENCE_END.split(text.strip())[:limit])


def _comment(text: str, width: int = 94) -> str:
    words, lines, current = text.split(), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    lines.append(current)
    return "\n".join(f"# {line}" for line in lines)


# --- ids -----------------------------------------------------------------------------------------


def _id_prefix(lesson: str) -> str:
    """"siglip-2" -> "siglip", "sam-3" -> "sam", "module" -> "module"."""
    prefix = re.sub(r"-\d+$", "", lesson.lower())
    return re.sub(r"[^a-z0-9_-]+", "-", prefix).strip("-") or "module"


def _key_words(statement: str, prefix: str) -> list[str]:
    """Up to MAX_ID_WORDS meaningful words; hyphenated words ("u-net") count as one."""
    text = re.sub(r"\([^()]*\)", " ", statement.lower())  # asides carry no key words
    text = re.sub(r"['’]s\b", "", text)  # "sam's" -> "sam"
    words = []
    for word in (part.strip("-") for part in re.split(r"[^a-z0-9-]+", text)):
        if len(word) < 2 or word.isdigit() or word in _STOPWORDS or word == prefix or word in words:
            continue
        words.append(re.sub(r"-+", "-", word))
    return words[:MAX_ID_WORDS]


def _unique_id(prefix: str, statement: str, taken: set[str]) -> str:
    base = f"{prefix}.{'-'.join(_key_words(statement, prefix)) or 'misconception'}"
    candidate, suffix = base, 2
    while candidate in taken:
        candidate, suffix = f"{base}-{suffix}", suffix + 1
    return candidate


# --- already catalogued places -----------------------------------------------------------------


def _normalise_locator(locator: str) -> str:
    return " ".join(locator.lower().split())


def _cited_places(entries: Iterable[object]) -> set[tuple[str, str]]:
    """(plan file, locator) for every "<file>, <locator>" part of the entries' sources."""
    cited = set()
    for entry in entries:
        source = entry.get("source") if isinstance(entry, dict) else getattr(entry, "source", None)
        for part in (source or "").split(";"):
            file_name, _, locator = part.strip().partition(",")
            if locator:
                cited.add((file_name.strip(), _normalise_locator(locator)))
    return cited
