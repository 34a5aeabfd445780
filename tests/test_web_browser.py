"""The pages in a real browser (Debian's chromium driven by Playwright) against a running
service: a student uploads a wrong notebook and reads the misconception, a TA overrides the
score and the student sees it, an instructor's chart leads to the submission. Screenshots of
every page, at laptop and phone widths, go to test-artifacts/screenshots/.

The first three tests use the real engine on the bundled prompt_encoder assignment; the last
fills a dashboard with a cohort graded by the fake grader (fast) on the real course."""

from __future__ import annotations

import re
import shutil
import sqlite3
from pathlib import Path

import nbformat
import pytest
from notebook_tools import notebook_with_cells
from service_fixtures import FAKE_ENV, REPO, Server, fake_notebook, upload, wait_for

from autograder.registry import catalogue, get_rubric, list_assignments

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(
        "Debian's chromium is not installed (/usr/bin/chromium); .ci/system-packages.sh installs it",
        allow_module_level=True,
    )

from playwright.sync_api import Browser, Page, expect, sync_playwright  # noqa: E402

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO / "test-artifacts" / "screenshots"
LAPTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
GRADING_TIMEOUT_MS = 300_000

SLUG = "prompt_encoder"
NO_2PI = """
def fourier_features(coords01, gaussian):
    projected = (2 * coords01 - 1) @ gaussian
    return torch.cat([torch.sin(projected), torch.cos(projected)], dim=-1)
"""
BROKEN_CELL = "scale = 2.0\nprint(undefined_name * scale)\n"
WRONG_ANSWER = "mcq_what_sam_returns = 'a'"  # the rubric links it to sam.is-classifier
IMPL_HIT = "impl.prompt_encoder.missing-2pi"
PLANNED_HIT = "sam.is-classifier"


# --- fixtures ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chromium() -> Browser:
    """Debian's chromium, headless; Playwright never downloads a browser here."""
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def _sandbox_env() -> dict[str, str]:
    return {} if shutil.which("bwrap") else {"TENSORGRADE_ALLOW_WEAK_SANDBOX": "true"}


@pytest.fixture(scope="module")
def course_server(tmp_path_factory):
    """The real course and engine, one grading at a time; an instructor, a TA and a student."""
    server = Server(tmp_path_factory.mktemp("web-e2e"), env={"TENSORGRADE_WORKERS": "1", **_sandbox_env()})
    server.start()
    instructor = server.add_user("prof.ada", "instructor")
    api = server.client(instructor)
    tokens = {"instructor": instructor}
    for name, role in (("tom.ta", "ta"), ("sam.student", "student")):
        response = api.post("/api/users", json={"name": name, "role": role, "full_name": name.title()})
        assert response.status_code == 201, response.text
        tokens[role] = response.json()["token"]
    yield server, tokens
    api.close()
    server.stop()


def sign_in(chromium: Browser, server: Server, token: str, viewport=LAPTOP) -> Page:
    """A fresh browser profile, signed in through the form."""
    context = chromium.new_context(viewport=viewport, device_scale_factor=1)
    context.set_default_timeout(30_000)
    page = context.new_page()
    page.goto(server.url + "/")
    expect(page).to_have_url(re.compile(r"/sign-in\?next=%2F$"))
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(server.url + "/")
    return page


def capture(page: Page, name: str) -> None:
    """Screenshots at laptop and phone widths; at phone width nothing may stick out sideways
    (wide tables and charts scroll inside their own boxes)."""
    original = page.viewport_size
    page.set_viewport_size(LAPTOP)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-laptop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(SCREENSHOTS / f"{name}-phone.png"), full_page=True)
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name}: the page is {overflow}px wider than a phone screen"
    page.set_viewport_size(original)


def wrong_notebook(tmp_path: Path) -> Path:
    notebook = notebook_with_cells(SLUG, [NO_2PI, WRONG_ANSWER, BROKEN_CELL])
    path = tmp_path / "prompt_encoder_attempt.ipynb"
    nbformat.write(notebook, str(path))
    return path


_shared: dict[str, int] = {}


@pytest.fixture
def wrong_submission(course_server, tmp_path) -> int:
    """The wrong notebook's submission: the one the student uploaded in the first test, or (when
    that test did not run) one uploaded through the API."""
    if "submission_id" not in _shared:
        server, tokens = course_server
        with server.client(tokens["student"]) as student:
            response = upload(student, SLUG, wrong_notebook(tmp_path).read_bytes())
            assert response.status_code == 202, response.text
            assert wait_for(student, response.json()["id"], timeout_s=300)["status"] == "graded"
        _shared["submission_id"] = response.json()["id"]
    return _shared["submission_id"]


# --- the three flows -------------------------------------------------------------------------


def test_student_uploads_a_wrong_notebook_and_sees_the_misconception(chromium, course_server, tmp_path):
    server, tokens = course_server
    page = sign_in(chromium, server, tokens["student"])
    capture(page, "student-home")
    page.get_by_role("link", name=get_rubric(SLUG).title).click()
    expect(page.get_by_role("heading", name="Submit your notebook")).to_be_visible()

    page.get_by_label(re.compile("^Notebook")).set_input_files(str(wrong_notebook(tmp_path)))
    page.get_by_role("button", name="Upload and grade").click()
    progress = page.locator(".upload-progress")
    expect(progress).to_be_visible()
    expect(progress.get_by_role("status")).to_contain_text(re.compile("Waiting for a grader|running the tests"))
    capture(page, "student-upload-progress")

    page.wait_for_url(re.compile(r"/submissions/\d+$"), timeout=GRADING_TIMEOUT_MS)
    _shared["submission_id"] = int(page.url.rsplit("/", 1)[1])
    expect(page.get_by_role("heading", name="What your code shows")).to_be_visible()
    for misconception, kind in ((IMPL_HIT, "impl."), (PLANNED_HIT, "planned")):
        card = page.locator(f"li[id='mc-{misconception}']")
        expect(card.get_by_role("heading", level=3)).to_contain_text(misconception)
        expect(card.get_by_role("heading", level=3)).to_contain_text(kind)
        expect(card.locator(".remedy")).to_contain_text(catalogue().get(misconception).remedy[:60])
    expect(page.locator(".hidden-summary")).to_contain_text("Hidden tests:")
    expect(page.get_by_role("table", name="Your visible tests, by function")).to_contain_text("fourier_features")
    expect(page.locator(".mismatch").first).to_contain_text("Values differ")
    expect(page.locator("figure.cell .hll").last).to_contain_text("undefined_name")
    capture(page, "student-feedback")
    page.context.close()


def test_ta_overrides_the_score_and_the_student_sees_it(chromium, course_server, wrong_submission):
    server, tokens = course_server
    ta = sign_in(chromium, server, tokens["ta"])
    card = ta.locator(".assignment-card", has_text=get_rubric(SLUG).title)
    card.get_by_role("link", name="All submissions").click()
    expect(ta).to_have_url(f"{server.url}/assignments/{SLUG}/submissions")
    ta.get_by_label("Misconception").select_option(PLANNED_HIT)
    ta.get_by_role("button", name="Filter").click()
    expect(ta).to_have_url(re.compile(rf"misconception={re.escape(PLANNED_HIT)}"))
    row = ta.get_by_role("row").filter(has_text="sam.student")
    expect(row).to_have_count(1)
    capture(ta, "ta-submissions")
    row.get_by_role("link", name=str(wrong_submission), exact=True).click()

    expect(ta.get_by_role("heading", name=f"Report: submission {wrong_submission}")).to_be_visible()
    expect(ta.locator(".tag-hidden").first).to_be_visible()  # staff see hidden tests too
    expect(ta.get_by_role("heading", name="The student's code for the failing functions")).to_be_visible()
    caption = ta.locator("figcaption", has_text=re.compile(r"^\s*fourier_features ·"))
    student_code = ta.locator("figure.cell").filter(has=caption).locator(".code")
    expect(student_code).to_contain_text("projected = (2 * coords01 - 1) @ gaussian")  # their last definition
    expect(student_code).not_to_contain_text("math.pi")
    capture(ta, "ta-report")

    ta.get_by_label(re.compile("^New score")).fill("30")
    ta.get_by_label(re.compile("^Comment")).fill("Only the 2π factor is missing: half credit for those tests.")
    ta.get_by_role("button", name="Override score").click()
    expect(ta.get_by_role("status").filter(has_text="override is saved")).to_be_visible()
    audit = ta.locator("#audit").get_by_role("row").filter(has_text="Only the 2π factor is missing")
    expect(audit).to_contain_text("tom.ta")
    expect(audit).to_contain_text("30")
    capture(ta, "ta-report-after-override")
    ta.context.close()

    student = sign_in(chromium, server, tokens["student"], viewport=PHONE)
    student.goto(f"{server.url}/submissions/{wrong_submission}")
    expect(student.locator(".score-value")).to_have_text("30")
    expect(student.locator(".override-note")).to_contain_text("Only the 2π factor is missing")
    capture(student, "student-feedback-after-override")
    student.context.close()


def test_instructor_dashboard_bar_leads_to_the_submission(chromium, course_server, wrong_submission):
    server, tokens = course_server
    page = sign_in(chromium, server, tokens["instructor"])
    page.get_by_role("link", name="Dashboard").click()
    chart = page.locator("#chart-students")
    bar = chart.get_by_role("link", name=re.compile(rf"^{re.escape(PLANNED_HIT)}, planned: 1 students"))
    expect(bar).to_have_count(1)
    expect(
        chart.get_by_role("link", name=re.compile(rf"^{re.escape(IMPL_HIT)}, implementation mistake"))
    ).to_have_count(1)
    expect(page.locator("#chart-heat").get_by_role("link", name=re.compile(f"in {SLUG}: 1 students"))).to_have_count(2)
    capture(page, "instructor-dashboard")

    for _ in range(80):  # the bar is reachable with the keyboard alone
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.getAttribute('aria-label') || ''").startswith(PLANNED_HIT):
            break
    else:
        pytest.fail("Tab never reached the bar of " + PLANNED_HIT)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text(PLANNED_HIT)
    capture(page, "instructor-drill-down")
    page.get_by_role("link", name=f"Submission {wrong_submission}").click()
    expect(page).to_have_url(f"{server.url}/submissions/{wrong_submission}")
    expect(page.get_by_role("heading", name=f"Report: submission {wrong_submission}")).to_be_visible()
    page.context.close()


# --- a cohort on the dashboard -----------------------------------------------------------------


# Per assignment, misconceptions from common to rare (each student shows some of them).
COHORT_IDS = {
    "siglip": ["siglip.wastes-negatives", "siglip.batch-dependency-is-data", "impl.siglip.label-sign"],
    "prompt_encoder": ["sam.is-classifier", "impl.prompt_encoder.missing-2pi", "sam.encoder-per-prompt"],
    "mask_decoder": ["sam.decoder-is-unet", "impl.mask_decoder.kv-wrong-source", "sam.encoder-per-prompt"],
    "mask_losses": ["sam.mean-over-masks", "impl.mask_losses.dice-no-smooth", "sam.is-classifier"],
}


@pytest.fixture(scope="module")
def cohort_server(tmp_path_factory):
    """The real course with the fake grader: 12 students, one submission per assignment each,
    spread over eight days."""
    env = {key: value for key, value in FAKE_ENV.items() if key != "TENSORGRADE_COURSE"}
    server = Server(tmp_path_factory.mktemp("web-cohort"), env=env).start()
    instructor = server.add_user("prof.ada", "instructor")
    api = server.client(instructor)
    slugs = sorted(rubric.slug for rubric in list_assignments())
    submission_ids = []
    for number in range(12):
        token = api.post("/api/users", json={"name": f"student{number:02d}", "role": "student"}).json()["token"]
        with server.client(token) as student:
            for offset, slug in enumerate(slugs):
                flags = _cohort_flags(slug, number + offset)
                notebook = fake_notebook(
                    failing=list(flags) + (["test_hidden_property"] if number % 5 == 0 else []), flags=flags
                )
                response = upload(student, slug, notebook)
                assert response.status_code == 202, response.text
                submission_ids.append(response.json()["id"])
    for submission_id in submission_ids:
        assert wait_for(api, submission_id)["status"] == "graded"
    _spread_over_days(server, submission_ids)
    yield server, instructor
    api.close()
    server.stop()


def _cohort_flags(slug: str, seed: int) -> dict[str, list[str]]:
    """A deterministic mix: the first misconception of an assignment every second student, the
    next every third, the last every fourth."""
    ids = COHORT_IDS[slug]
    picks = [ids[i] for i in range(len(ids)) if seed % (i + 2) == 0]
    tests = ["test_visible_value", "test_hidden_gradient", "check:answer"]
    return {test: [mid] for test, mid in zip(tests, picks)}


def _spread_over_days(server: Server, submission_ids: list[int]) -> None:
    """The service stamps uploads with the current time; move them back by 0..7 days so the
    trend has something to show."""
    with sqlite3.connect(server.data_dir / "service.db") as db:
        for submission_id in submission_ids:
            db.execute(
                "UPDATE submissions SET submitted_at = datetime(submitted_at, ?) WHERE id = ?",
                (f"-{(submission_id * 5) % 8} days", submission_id),
            )


def _count(label: str) -> int:
    return int(re.search(r": (\d+) students", label).group(1))


def test_every_chart_element_counts_the_submissions_it_links_to(chromium, cohort_server):
    server, instructor = cohort_server
    page = sign_in(chromium, server, instructor)
    page.goto(server.url + "/dashboard")
    capture(page, "cohort-dashboard")
    links = {
        chart: [
            (link.get_attribute("aria-label"), link.get_attribute("href")) for link in page.locator(f"#{chart} a").all()
        ]
        for chart in ("chart-students", "chart-heat", "chart-trend")
    }
    assert len(links["chart-students"]) >= 5 and len(links["chart-trend"]) >= 5
    for chart, elements in links.items():
        for label, href in elements[:: max(1, len(elements) // 4)]:
            page.goto(server.url + href)
            students = {cell.strip() for cell in page.locator("tbody tr td:nth-child(2)").all_inner_texts()}
            assert len(students) == _count(label), (chart, label)
    capture(page, "cohort-drill-down")
    page.goto(server.url + "/assignments/siglip/submissions?sort=score&order=asc")
    capture(page, "cohort-submissions")
    page.context.close()
