"""The benchmark suite: ``python -m micrograd_c bench`` and the programs in benchmarks/.

``harness`` holds what every benchmark shares (sizes, the progress line, fresh
processes, the report and its markdown table), ``engine`` the workloads W1, W2,
W4 and W5, ``nn`` the training step W3, ``floor`` the C floor program, and
``suite`` the command. micrograd (the baseline) must be installed to run them:
``pip install 'micrograd_c[bench]'``; PyTorch is used when it imports.
"""
