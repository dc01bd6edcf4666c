"""The Python front door: `import embedlab` offers every CLI job by name, imported lazily (no torch until a
function needs it), each with a docstring."""

from __future__ import annotations

import subprocess
import sys

import pytest

import embedlab


@pytest.mark.parametrize("name", sorted(embedlab._FRONT_DOOR))
def test_every_name_resolves_to_a_documented_callable(name):
    value = getattr(embedlab, name)
    assert callable(value) and (value.__doc__ or "").strip(), name
    assert name in dir(embedlab)


def test_import_is_lazy_and_unknown_names_are_attribute_errors():
    code = "import sys, embedlab; print('torch' in sys.modules, 'sentence_transformers' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.split() == ["False", "False"]
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        embedlab.nothing  # noqa: B018


def test_the_front_door_does_a_job_end_to_end(tiny_model_dir):
    encoder = embedlab.load_encoder(tiny_model_dir)
    texts = ["a man plays guitar", "a man plays guitar", "the stock market fell"]
    assert embedlab.deduplicate(texts, encoder, threshold=0.99, show_progress=False).kept == [0, 2]


def test_no_front_door_name_is_a_subpackage():
    import pkgutil

    subpackages = {module.name for module in pkgutil.iter_modules(embedlab.__path__)}
    assert subpackages & set(embedlab._FRONT_DOOR) == set()  # importing one would shadow the function
