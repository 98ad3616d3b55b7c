"""What is published (results/ and README's table) is exactly what the committed records say."""

import shutil

from harness import report
from tests.conftest import ROOT


def test_committed_report_and_readme_table_regenerate_byte_for_byte(tmp_path):
    results = ROOT / "results"
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    report.generate(results, tmp_path, readme=readme)
    for name in ("REPORT.md", "report.html", "summary.csv"):
        assert (tmp_path / name).read_bytes() == (results / name).read_bytes(), (
            f"results/{name} is not what the committed records give: run `alexbench report --readme README.md`"
        )
    assert readme.read_text() == (ROOT / "README.md").read_text(), "README's results table is stale"
