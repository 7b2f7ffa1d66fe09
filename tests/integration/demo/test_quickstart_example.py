"""docs/quickstart.md's Python example runs as written: two parties train and predict."""

import subprocess
import sys
from pathlib import Path

QUICKSTART = Path(__file__).resolve().parents[3] / "docs" / "quickstart.md"
MARKER = "<!-- the block below is run by tests/integration/demo/test_quickstart_example.py -->"


def example_code() -> str:
    text = QUICKSTART.read_text()
    after = text[text.index(MARKER) + len(MARKER) :]
    start = after.index("```python\n") + len("```python\n")
    return after[start : after.index("\n```", start)]


def test_the_quickstart_example_trains_and_predicts_for_bob(tmp_path):
    script = tmp_path / "example.py"
    script.write_text(example_code())
    result = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    accuracy = float(result.stdout.split("bob's accuracy: ")[1].split()[0])
    auc = float(result.stdout.split("as alice receives it: ")[1].split()[0])
    assert accuracy > 0.95 and auc > 0.97
    assert result.stdout.count("operation:   train") == 1  # bob read the command he signed
    assert '"federation"' in result.stdout  # the two nodes train together
    assert (tmp_path / "quickstart" / "cloud" / "logs").is_dir()
