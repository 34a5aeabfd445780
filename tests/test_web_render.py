"""The pieces the pages are drawn from, without a server: tensor-mismatch summaries parsed from
the suites' own messages, the student's code found and highlighted, the SVG charts."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import date, datetime, timezone

import pytest
import torch

from autograder import report
from autograder.notebook import CodeCell
from autograder.testing import expect_close, expect_meta
from service.web import charts, code, present
from service.web.dashboard_pages import all_periods, period_bounds
from service.web.session import safe_next

SVG = "{http://www.w3.org/2000/svg}"


def _message(check) -> str:
    with pytest.raises(AssertionError) as raised:
        check()
    return str(raised.value)


# --- tensor mismatches ---------------------------------------------------------------------


def test_value_mismatch_is_read_back_from_the_suites_message():
    expected = torch.zeros(3, 4, dtype=torch.float64)
    actual = expected.clone()
    actual[2, 1] = 0.75
    actual[0, 0] = 0.25
    found = present.mismatches(_message(lambda: expect_close(actual, expected, what="scores")))
    assert len(found) == 1
    mismatch = found[0]
    assert mismatch.kind == "values" and mismatch.index == "[2, 1]"
    assert float(mismatch.got) == 0.75 and float(mismatch.expected) == 0.0 and float(mismatch.max_error) == 0.75
    differing = int((actual != expected).sum())
    assert mismatch.share_differing == f"{round(100 * differing / actual.numel())}%"


def test_shape_dtype_and_non_finite_mismatches_are_recognised():
    shape = present.mismatches(_message(lambda: expect_close(torch.zeros(2, 3, 4), torch.zeros(2, 4, 3))))
    assert [(m.kind, m.got, m.expected) for m in shape] == [("shape", "[2, 3, 4]", "[2, 4, 3]")]

    meta = present.mismatches(
        _message(lambda: expect_meta(torch.zeros(5, 2, dtype=torch.float64), shape=[5, 3], dtype=torch.float32))
    )
    assert [(m.kind, m.got, m.expected) for m in meta] == [
        ("shape", "[5, 2]", "[5, 3]"),
        ("dtype", "torch.float64", "torch.float32"),
    ]

    actual = torch.ones(4)
    actual[3] = float("nan")
    non_finite = present.mismatches(_message(lambda: expect_close(actual, torch.ones(4))))
    assert [(m.kind, m.index) for m in non_finite] == [("non-finite", "[3]")]
    assert present.mismatches("NameError: name 'torch' is not defined") == []


def test_results_are_grouped_by_function_with_the_most_serious_status():
    def result(name, target, status, score):
        return report.TestResult(
            name=name, target=target, kind="correctness", status=status, score=score, max_score=1.0
        )

    groups = present.by_function(
        [
            result("a1", "check:why", "failed", 0.0),
            result("b1", "loss", "passed", 1.0),
            result("b2", "loss", "error", 0.0),
            result("c1", "norm", "passed", 1.0),
        ]
    )
    assert [(g.target, g.passed, len(g.tests), g.score, g.status) for g in groups] == [
        ("loss", 1, 2, 1.0, "error"),
        ("norm", 1, 1, 1.0, "passed"),
        ("check:why", 0, 1, 0.0, "failed"),
    ]


# --- the student's code ----------------------------------------------------------------------


CELLS = [
    CodeCell(1, "import torch\n\ndef loss(x):\n    return x.sum()\n"),
    CodeCell(3, "class Block:\n    def forward(self, x):\n        return x\n\n    def other(self):\n        pass\n"),
    CodeCell(4, "def broken(:\n"),  # a syntax error: skipped, not fatal
    CodeCell(6, "x = 1\n\n@torch.no_grad()\ndef loss(x):\n    return x.mean()\n"),
]


def test_the_last_definition_of_a_function_is_found_with_its_decorator():
    found = code.find_definition(CELLS, "loss")
    assert (found.cell_index, found.first_line) == (6, 3)
    assert found.source == "@torch.no_grad()\ndef loss(x):\n    return x.mean()"


def test_methods_are_found_inside_their_class_and_missing_names_are_skipped():
    method = code.find_definition(CELLS, "Block.forward")
    assert (method.cell_index, method.first_line, method.source.splitlines()[0]) == (3, 2, "    def forward(self, x):")
    assert code.find_definition(CELLS, "Block.absent").source.startswith("class Block:")
    assert code.find_definition(CELLS, "broken") is None
    assert [d.target for d in code.failing_definitions(CELLS, ["loss", "check:q", "nowhere"])] == ["loss"]


def test_highlighting_escapes_the_code_and_marks_the_failing_line():
    message = "NameError: name 'y' is not defined\n  <cell 5>, line 2, in <module>"
    assert code.error_lines(message, 5) == (2,) and code.error_lines(message, 4) == ()
    markup = str(code.highlighted("x = '<script>'\ny + 1\n", marked_lines=(2,)))
    assert "<script>" not in markup and "&lt;script&gt;" in markup
    marked = re.findall(r'<span class="hll">(.*?)</span>\n?(?=<span class="linenos"|</code>)', markup, re.S)
    assert len(marked) == 1 and "y" in marked[0] and "script" not in marked[0]
    assert re.search(r'class="linenos">\s*12<', str(code.highlighted("a\nb\n", first_line=11)))


# --- charts ----------------------------------------------------------------------------------


def _svg(markup) -> ET.Element:
    return ET.fromstring(str(markup))


def test_bar_lengths_are_proportional_and_planned_bars_differ_from_implementation_ones():
    bars = [
        charts.Bar("siglip.wastes-negatives", 6, True, "/d/a?x=1&y=2", "6 of 10 students"),
        charts.Bar("sam.mean-over-masks", 3, True, "/d/b", "3 of 10 students"),
        charts.Bar("impl.siglip.label-sign", 2, False, "/d/c", "2 of 10 students"),
    ]
    root = _svg(charts.bar_chart(bars, chart_id="bars", title="Students per misconception"))
    links = list(root.iter(f"{SVG}a"))
    assert [link.attrib["href"] for link in links] == ["/d/a?x=1&y=2", "/d/b", "/d/c"]
    assert all(link.attrib["aria-label"].endswith("Show these submissions") for link in links)
    assert "implementation mistake: 2 students" in links[2].attrib["aria-label"]
    widths = [
        float(rect.attrib["width"]) for rect in root.iter(f"{SVG}rect") if "bar" in rect.attrib.get("class", "").split()
    ]
    assert widths[0] == pytest.approx(2 * widths[1], rel=1e-3) and widths[0] == pytest.approx(3 * widths[2], rel=1e-3)
    fills = [rect.attrib["fill"] for rect in root.iter(f"{SVG}rect") if "bar" in rect.attrib.get("class", "").split()]
    assert fills[0] == fills[1] == charts.PLANNED_COLOUR and fills[2] == "url(#bars-hatch)"
    assert root.find(f"{SVG}defs/{SVG}pattern").attrib["id"] == "bars-hatch"


def test_heat_map_prints_every_count_and_links_only_cells_with_students():
    rows = [
        charts.HeatRow("siglip.wastes-negatives", True, (4, 0), ("/d/1", None)),
        charts.HeatRow("impl.x.y", False, (1, 2), ("/d/2", "/d/3")),
    ]
    root = _svg(charts.heat_map(rows, ["siglip", "mask_losses"], chart_id="heat", title="Heat"))
    assert [link.attrib["href"] for link in root.iter(f"{SVG}a")] == ["/d/1", "/d/2", "/d/3"]
    numbers = [text.text for text in root.iter(f"{SVG}text") if text.text and text.text.isdigit()]
    assert numbers == ["4", "0", "1", "2"]
    fills = {rect.attrib["fill"] for rect in root.iter(f"{SVG}rect") if rect.attrib.get("class") == "cell"}
    assert charts.HEAT_SCALE[0] in fills and charts.HEAT_SCALE[5] in fills


def test_heat_levels_and_axis_ceilings():
    assert [charts.heat_level(v, 10) for v in (0, 1, 2, 5, 10)] == [0, 1, 1, 3, 5]
    assert [charts.nice_ceiling(v) for v in (0, 1, 3, 7, 10, 11, 40, 230)] == [1, 1, 5, 10, 10, 20, 50, 500]


def test_trend_points_with_students_link_to_their_period():
    periods = [date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)]
    series = [
        charts.Series(
            "sam.mean-over-masks",
            True,
            (
                charts.TrendPoint(periods[0], 2, "/d?since=a"),
                charts.TrendPoint(periods[1], 0, None),
                charts.TrendPoint(periods[2], 5, "/d?since=c"),
            ),
        )
    ]
    root = _svg(charts.trend_chart(series, periods, chart_id="trend", title="Trend", period_word="day"))
    links = list(root.iter(f"{SVG}a"))
    assert [link.attrib["href"] for link in links] == ["/d?since=a", "/d?since=c"]
    assert "day of 2026-03-04: 5 students" in links[1].attrib["aria-label"]
    line = root.find(f".//{SVG}polyline").attrib["points"].split()
    ys = [float(point.split(",")[1]) for point in line]
    assert ys[1] > ys[0] > ys[2]  # SVG's y grows downwards: 0 lowest, 5 highest


def test_periods_without_hits_are_filled_and_weeks_span_seven_days():
    from service.schemas import MisconceptionStat, PeriodCount

    stat = MisconceptionStat(
        id="a.b",
        planned=True,
        in_catalogue=True,
        lesson="",
        statement="",
        submissions=2,
        students=2,
        student_share=1.0,
        by_assignment=[],
        over_time=[
            PeriodCount(period=date(2026, 3, 2), submissions=1, students=1),
            PeriodCount(period=date(2026, 3, 5), submissions=1, students=1),
        ],
    )
    assert all_periods([stat], "day") == [date(2026, 3, day) for day in (2, 3, 4, 5)]
    since, until = period_bounds(date(2026, 3, 2), "week")
    assert since == datetime(2026, 3, 2, tzinfo=timezone.utc) and (until - since).days == 7


@pytest.mark.parametrize(
    "target, expected",
    [
        ("/submissions/3?x=1", "/submissions/3?x=1"),
        ("//evil.example", "/"),
        ("https://evil.example", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
        ("/ok\r\nSet-Cookie: x", "/"),
    ],
)
def test_only_local_paths_are_followed_after_sign_in(target, expected):
    assert safe_next(target) == expected


def test_timing_rows_put_ratio_and_budget_on_one_scale_and_render_both():
    from autograder.report import TimingResult
    from service.web.render import templates

    within = TimingResult(target="siglip_loss", ratio=1.5, budget=3.0, device="cpu", size="N=256")
    over = TimingResult(target="dice_loss", ratio=8.0, budget=2.0, device="cpu", passed=False)
    rows = present.timing_rows([within, over])
    assert [(row.ratio_fraction, row.budget_fraction, row.within_budget) for row in rows] == [
        (pytest.approx(0.4), pytest.approx(0.8), True),
        (pytest.approx(0.8), pytest.approx(0.2), False),
    ]
    markup = templates.get_template("_cells_timing.html").render(
        cells=[], timing=rows, status_words=present.STATUS_WORDS
    )
    table_rows = re.findall(r"<tr>.*?</tr>", markup, re.S)[1:]
    assert "1.50×" in table_rows[0] and "3×" in table_rows[0] and "within" in table_rows[0] and "N=256" in table_rows[0]
    assert "8.00×" in table_rows[1] and "over" in table_rows[1]
    assert 'x1="80.0"' in table_rows[0] and 'width="40.0"' in table_rows[0]  # the budget mark, the ratio bar
