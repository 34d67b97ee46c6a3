#!/usr/bin/env python
"""W3 with trajectories, node counts, phases, targets and an RSS check: micrograd_c.bench.nn's.

python benchmarks/bench_nn.py [--quick] [--repeats N] [--json FILE] [--profile] [--floor FILE.c]
"""

from micrograd_c.bench import nn

if __name__ == "__main__":
    nn.main()
