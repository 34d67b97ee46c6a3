#!/usr/bin/env python
"""W1, W2, W4 and W5 with notes, targets and an RSS check: micrograd_c.bench.engine's report.

python benchmarks/bench_engine.py [--quick] [--repeats N] [--json FILE]
"""

from micrograd_c.bench import engine

if __name__ == "__main__":
    engine.main()
