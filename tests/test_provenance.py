import numpy as np
import pytest
import torch

from happy_utils.data.faces import render_faces
from happy_utils.images import pixel_difference
from happy_utils.provenance import compare_pixels, made_with, record_pixels, spec_key


@pytest.fixture(scope="module")
def faces():
    return render_faces(20, seed=31, progress=False)


def test_a_spec_key_depends_on_the_spec_only():
    spec = {"faces": "synthetic n=20 seed=31 renderer=1", "epochs": 4, "lr": 0.001}
    assert spec_key(spec) == spec_key(dict(reversed(list(spec.items()))))  # order of the keys does not matter
    assert spec_key(spec) != spec_key({**spec, "epochs": 5}) and len(spec_key(spec)) == 16


def test_equal_pixels_compare_equal_and_one_level_is_measured(faces):
    recorded = record_pixels(faces.images)
    assert compare_pixels(recorded, faces.images.clone()) is None
    moved = faces.images.clone()
    moved[2, 0, 5, 5] = moved[2, 0, 5, 5] + 1 if moved[2, 0, 5, 5] < 255 else 254
    moved[7, 1, 40, 33] = moved[7, 1, 40, 33] - 1 if moved[7, 1, 40, 33] > 0 else 1
    assert compare_pixels(recorded, moved) == ("2 of 20 faces differ in their pixels from those it was made from; "
                                               "their pixel sums (12,288 values of 0-255 a face) moved by at most 1")
    assert pixel_difference(moved, faces.images).differing == 2 and pixel_difference(moved, faces.images).largest == 1


def test_a_set_of_another_size_is_counted_face_by_face(faces):
    recorded = record_pixels(faces.images[:18])
    assert compare_pixels(recorded, faces.images) == ("20 faces here, 18 when it was made; 2 of these are not among "
                                                      "those")
    with pytest.raises(ValueError, match="uint8"):
        record_pixels(faces.images.float())


def test_selections_extend_the_spec_and_name_what_they_picked(faces):
    assert faces.spec == "synthetic n=20 seed=31 renderer=1" and faces.source == "synthetic"
    assert faces.restricted().spec == f"{faces.spec} | level<=2"
    assert faces.target((4,)).spec == f"{faces.spec} | levels 4"
    a, b = faces.subset(np.array([1, 3])), faces.subset(np.array([1, 4]))
    assert a.spec != b.spec and a.spec == faces.subset(torch.tensor([1, 3])).spec == faces.subset(slice(1, 4, 2)).spec
    assert a.spec.startswith(f"{faces.spec} | rows ")


def test_made_with_names_the_machine_and_versions():
    record = made_with()
    assert record["torch"] == str(torch.__version__) and record["numpy"] == np.__version__
    assert record["cpu_capability"] == torch.backends.cpu.get_cpu_capability() and record["cpu"]


def test_the_constraints_pin_every_dependency_within_pyproject_bounds():
    """`pip install -e . -c constraints.txt` must be satisfiable: every direct dependency of the package and its
    extras is pinned, at a version its bound admits."""
    import tomllib
    from packaging.requirements import Requirement

    from happy_utils.config import repo_root

    project = tomllib.loads((repo_root() / "pyproject.toml").read_text())["project"]
    pins = dict(line.split("==") for line in (repo_root() / "constraints.txt").read_text().splitlines()
                if line and not line.startswith("#"))
    wanted = [Requirement(r) for r in project["dependencies"]]
    wanted += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    for req in wanted:
        name = req.name.lower().replace("_", "-")
        assert name in pins, f"{req.name} is not pinned in constraints.txt: run `python -m happy_utils constraints`"
        assert req.specifier.contains(pins[name], prereleases=True), f"{name}=={pins[name]} is outside {req}"
