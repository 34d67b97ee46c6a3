"""The installed distribution's metadata: licence, notice, typing marker, classifiers."""

from importlib import metadata
from pathlib import Path

import micrograd_c

DIST = metadata.distribution("micrograd_c")


def test_the_licence_is_mit_by_spdx_expression_and_ships_with_micrograd_s_notice():
    meta = DIST.metadata
    assert meta["License-Expression"] == "MIT"
    assert sorted(meta.get_all("License-File")) == ["LICENSE", "NOTICE"]
    licence = DIST.read_text("licenses/LICENSE")
    notice = DIST.read_text("licenses/NOTICE")
    assert "Copyright (c) 2026 the micrograd_c authors" in licence
    assert "Copyright (c) 2020 Andrej Karpathy" in notice and "Permission is hereby" in notice


def test_the_package_is_marked_typed():
    assert (Path(micrograd_c.__file__).parent / "py.typed").is_file()


def test_classifiers_name_each_supported_python_and_urls_are_only_micrograd_s():
    meta = DIST.metadata
    classifiers = meta.get_all("Classifier")
    for minor in range(10, 14):
        assert f"Programming Language :: Python :: 3.{minor}" in classifiers
    assert "Topic :: Education" in classifiers and "Typing :: Typed" in classifiers
    assert meta.get_all("Project-URL") == ["micrograd, https://github.com/karpathy/micrograd"]
    assert meta["Requires-Python"] == ">=3.10"
