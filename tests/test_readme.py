"""The README's replay example runs as written, and replays what rebuilding computes."""
import random
from array import array
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_replay_example_runs():
    if not README.exists():
        pytest.skip("needs the source checkout")
    text = README.read_text(encoding="utf-8")
    block = text.split("### Replay: record the graph once")[1].split("```python")[1].split("```")[0]
    random.seed(0)
    batches = [array("d", [random.uniform(-1, 1) for _ in range(96)]) for _ in range(3)]
    ns = {"batches": batches}
    exec(compile(block, "README.md", "exec"), ns)
    from micrograd_c import losses
    model, xs = ns["model"], ns["xs"]
    fresh = losses.mse([model([v.data for v in x]) for x in xs], [v.data for v in ns["ys"]])
    assert ns["rec"].forward() == fresh.data  # the last batch, after the last step
