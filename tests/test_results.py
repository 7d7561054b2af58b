"""The study's committed records (results/, written by gan.archive) regenerate the tables that
docs/ quotes: the confirmatory summary is gan.summarize's output on them, line for line."""
from pathlib import Path

from gan import summarize

ROOT = Path(__file__).resolve().parent.parent
PARTS = [ROOT / "results" / "confirm", ROOT / "results" / "confirm_2"]


def table_rows(text: str, header: str) -> list[str]:
    """The rows of the first markdown table after the line that starts with ``header``."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    rows = []
    for line in lines[start + 1:]:
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break
    return rows


def test_the_confirmatory_tables_regenerate_from_the_committed_records(tmp_path):
    assert summarize.main([*map(str, PARTS), "--out", str(tmp_path), "--rule", "v2"]) == 0
    fresh, quoted = (tmp_path / "summary.md").read_text(), (ROOT / "docs" / "confirm_summary.md").read_text()
    for header in ("Failed runs", "Against `transposed`"):
        rows = table_rows(fresh, header)
        assert len(rows) >= 8 and rows == table_rows(quoted, header), header
