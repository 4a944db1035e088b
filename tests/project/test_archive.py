"""The project file (DESIGN.md §3.5): round trips, atomic saving, graph revisions and the
migration chain. The hostile files are in test_hostile.py, the fuzzing in test_fuzz.py."""

from __future__ import annotations

import errno
import io
import json
import os
import zipfile

import pytest

from cnnstudio.graph import presets
from cnnstudio.project import (
    Project,
    ProjectError,
    archive,
    load_project,
    migrations,
    read_project_bytes,
    save_project,
)
from cnnstudio.project.model import graph_hash

from .builders import edit_json, members, rezip, sample_project, saved_bytes, tensors


# -- round trips -----------------------------------------------------------------------------
def test_round_trip_gives_an_equal_project(tmp_path) -> None:
    project = sample_project()
    path = tmp_path / "cats.cnnproj"
    save_project(project, path)
    again = load_project(path)
    assert again == project
    # Parts that dataclass equality does not look at, or looks at loosely.
    assert again.dataset.extra == {"future_dataset_option": {"kept": True}}
    assert again.training.extra == {"future_training_option": [1, 2]}
    assert again.extra == {"future_project_key": {"nested": [1, {"a": None}]}}
    assert again.runs[0].extra == {"future_run_field": "kept"}
    assert again.extra_members == project.extra_members
    assert again.weights == project.weights
    assert again.checkpoint == project.checkpoint
    assert again.saved_graph_hash == graph_hash(project.graph)
    assert again.graph_revision == 1
    assert again.runs[1].epochs[1].val_acc == pytest.approx(0.6)
    # Saving what was read gives the same bytes (the modified time aside).
    again.modified = project.modified
    path2 = tmp_path / "again.cnnproj"
    save_project(again, path2)
    assert again.modified >= project.modified
    assert load_project(path2) == again


def test_saving_the_same_project_twice_gives_the_same_bytes(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr(archive, "now", lambda: "2025-02-02T00:00:00+00:00")
    project = sample_project()
    save_project(project, tmp_path / "a.cnnproj")
    save_project(project, tmp_path / "b.cnnproj")
    assert (tmp_path / "a.cnnproj").read_bytes() == (tmp_path / "b.cnnproj").read_bytes()


def test_layout_order_and_compression(tmp_path) -> None:
    path = tmp_path / "p.cnnproj"
    save_project(sample_project(), path)
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
    names = [i.filename for i in infos]
    assert names == [
        "project.json", "graph.json", "runs.json", "checkpoint/state.json",
        "notes/future.json", "checkpoint/state.safetensors",
        "weights/run-1-best.safetensors", "weights/run-1-last.safetensors",
        "weights/run-2-best.safetensors", "weights/run-2-last.safetensors",
        "embeddings/extra.safetensors",
    ]
    for info in infos:
        expected = zipfile.ZIP_DEFLATED if info.filename.endswith(".json") else zipfile.ZIP_STORED
        assert info.compress_type == expected, info.filename
    docs = members(path.read_bytes())
    head = json.loads(docs["project.json"])
    assert head["format"] == "cnnstudio.project" and head["version"] == migrations.CURRENT_VERSION
    assert head["training"]["optimizer"]["lr"] == 0.05
    assert head["graph_hash"] == graph_hash(sample_project().graph)
    state = json.loads(docs["checkpoint/state.json"])
    assert state["run_id"] == 2 and state["epoch"] == 2
    assert json.loads(docs["runs.json"])["runs"][1]["status"] == "interrupted"
    # The graph member is the diffable graph document: one node per line.
    assert docs["graph.json"].decode().count("\n") > 13


def test_a_minimal_project_round_trips(tmp_path) -> None:
    project = Project()
    save_project(project, tmp_path / "empty.cnnproj")
    again = load_project(tmp_path / "empty.cnnproj")
    assert again == project
    assert again.checkpoint is None and again.runs == [] and again.weights == {}


def test_read_project_bytes_matches_load_project(tmp_path) -> None:
    data = saved_bytes(tmp_path=tmp_path)
    assert read_project_bytes(data, "x.cnnproj") == load_project(tmp_path / "saved.cnnproj")


def test_loading_a_missing_file_or_a_folder(tmp_path) -> None:
    with pytest.raises(ProjectError, match="cannot open .*nope.cnnproj: no such file"):
        load_project(tmp_path / "nope.cnnproj")
    with pytest.raises(ProjectError, match="it is a folder"):
        load_project(tmp_path)
    if os.path.exists("/dev/zero"):
        with pytest.raises(ProjectError, match="cannot open /dev/zero: it is not a regular file"):
            load_project("/dev/zero")


def test_optional_project_fields_take_defaults() -> None:
    def strip(doc):
        for key in ("description", "created", "modified", "graph_hash", "current_weights"):
            doc.pop(key)

    data = edit_json(saved_bytes(), "project.json", strip)
    data = edit_json(data, "runs.json", lambda d: d.update(runs=[]))
    data = rezip(data, {"checkpoint/state.json": None, "checkpoint/state.safetensors": None})
    project = read_project_bytes(data)
    assert project.description == "" and project.current_weights is None
    assert project.saved_graph_hash is None and project.created


# -- saving atomically -----------------------------------------------------------------------
def _listing(folder) -> list[str]:
    return sorted(os.listdir(folder))


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "p.cnnproj"
    project = sample_project()
    save_project(project, path)
    old = path.read_bytes()
    state = (project.graph_revision, project.saved_graph_hash, project.modified)

    calls = []
    real = zipfile.ZipFile.writestr

    def full_disk(self, *args, **kwargs):
        calls.append(1)
        if len(calls) > 2:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", full_disk)
    project.graph.set_param("features.c1", "out_channels", 8)
    with pytest.raises(ProjectError) as info:
        save_project(project, path)
    assert str(info.value) == f"cannot save to {path}: the disk is full; free some space or " \
                              "choose another folder"
    assert path.read_bytes() == old
    assert _listing(tmp_path) == ["p.cnnproj"]
    # The project was not marked as saved either: the change still counts at the next save.
    assert (project.graph_revision, project.saved_graph_hash, project.modified) == state
    monkeypatch.undo()
    save_project(project, path)
    assert project.graph_revision == 2


def test_a_failed_rename_keeps_the_old_file(tmp_path, monkeypatch) -> None:
    path = tmp_path / "p.cnnproj"
    save_project(sample_project(), path)
    old = path.read_bytes()

    def refuse(src, dst):
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(ProjectError) as info:
        save_project(Project(name="other"), path)
    assert str(info.value) == f"cannot save to {path}: permission denied; choose another folder"
    assert path.read_bytes() == old
    assert _listing(tmp_path) == ["p.cnnproj"]


def test_an_interrupted_save_leaves_no_temporary(tmp_path, monkeypatch) -> None:
    path = tmp_path / "p.cnnproj"

    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(archive, "_write_zip", interrupt)
    with pytest.raises(KeyboardInterrupt):
        save_project(sample_project(), path)
    assert _listing(tmp_path) == []


def test_a_read_only_folder(tmp_path, monkeypatch) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    path = folder / "p.cnnproj"
    save_project(Project(), path)
    old = path.read_bytes()
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        folder.chmod(0o555)
    else:  # root may write anywhere: refuse the temporary file the way the OS would
        import tempfile

        def refuse(*args, **kwargs):
            raise PermissionError(13, "Permission denied")

        monkeypatch.setattr(tempfile, "mkstemp", refuse)
    try:
        with pytest.raises(ProjectError, match="permission denied; choose another folder"):
            save_project(sample_project(), path)
        assert path.read_bytes() == old
        assert _listing(folder) == ["p.cnnproj"]
    finally:
        folder.chmod(0o755)


def test_a_missing_folder_or_a_folder_as_target(tmp_path) -> None:
    with pytest.raises(ProjectError) as info:
        save_project(Project(), tmp_path / "nope" / "p.cnnproj")
    assert str(info.value) == (f"cannot save to {tmp_path / 'nope' / 'p.cnnproj'}: the folder "
                               f"{tmp_path / 'nope'} does not exist; choose another folder")
    (tmp_path / "dir.cnnproj").mkdir()
    with pytest.raises(ProjectError, match="that is a folder"):
        save_project(Project(), tmp_path / "dir.cnnproj")
    assert _listing(tmp_path) == ["dir.cnnproj"]
    assert _listing(tmp_path / "dir.cnnproj") == []


def test_saving_keeps_the_old_files_permissions(tmp_path) -> None:
    path = tmp_path / "p.cnnproj"
    save_project(Project(), path)
    path.chmod(0o640)
    save_project(Project(), path)
    assert path.stat().st_mode & 0o777 == 0o640


@pytest.mark.parametrize("change, message", [
    (lambda p: setattr(p, "current_weights", "weights/gone.safetensors"),
     "current_weights names 'weights/gone.safetensors', which is not in the project's weights"),
    (lambda p: setattr(p.runs[0], "best_weights", "weights/gone.safetensors"),
     "runs[0].best_weights names 'weights/gone.safetensors'"),
    (lambda p: p.weights.update({"model.safetensors": tensors()}),
     "weights member 'model.safetensors' must be named weights/NAME.safetensors"),
    (lambda p: p.weights.update({"weights/../x.safetensors": tensors()}),
     "must be named weights/NAME.safetensors"),
    (lambda p: p.weights.update({"weights/bad.safetensors": b"\x80\x04junk."}),
     "weights/bad.safetensors is not a safetensors file: it looks like a Python pickle"),
    (lambda p: p.extra_members.update({"evil.pkl": b"x"}), "only .json and .safetensors"),
    (lambda p: p.extra_members.update({"runs.json": b"{}"}), "the name is reserved"),
    (lambda p: p.extra_members.update({"../up.json": b"{}"}), "'..'"),
    (lambda p: p.extra_members.update({"broken.json": b"{"}), "broken.json: not valid JSON"),
    (lambda p: setattr(p.checkpoint, "run_id", 9), "the checkpoint belongs to run 9"),
    (lambda p: setattr(p.runs[1], "id", 1), "runs[1].id: run 1 appears twice"),
    (lambda p: p.extra.update({"bad": object()}), "project.json: Object of type object"),
])
def test_saving_refuses_what_could_not_be_read_back(tmp_path, change, message) -> None:
    project = sample_project()
    change(project)
    path = tmp_path / "p.cnnproj"
    with pytest.raises(ProjectError) as info:
        save_project(project, path)
    assert str(info.value).startswith("cannot save the project: ")
    assert message in str(info.value)
    assert _listing(tmp_path) == []


def test_lone_surrogates_are_written_escaped(tmp_path) -> None:
    project = Project(name="bad \ud800 name")
    project.graph = presets.build("lenet5")
    project.graph.set_node_attrs("input", name="odd \udc00")
    save_project(project, tmp_path / "p.cnnproj")
    again = load_project(tmp_path / "p.cnnproj")
    assert again.name == "bad \ud800 name" and again.graph.node("input").name == "odd \udc00"


# -- graph revisions -------------------------------------------------------------------------
def test_graph_revision_bumps_only_when_the_network_changes(tmp_path) -> None:
    path = tmp_path / "p.cnnproj"
    project = Project(graph=presets.build("lenet5"))
    save_project(project, path)
    assert project.graph_revision == 1

    save_project(project, path)  # nothing changed
    assert project.graph_revision == 1

    project.graph.set_node_attrs("features.c1", position=(120.0, 40.0), name="first conv")
    save_project(project, path)  # layout and labels are not the network
    assert project.graph_revision == 1

    project.graph.set_param("features.c1", "out_channels", 10)
    save_project(project, path)
    assert project.graph_revision == 2

    again = load_project(path)
    assert again.graph_revision == 2 and again.saved_graph_hash == graph_hash(again.graph)
    save_project(again, path)
    assert again.graph_revision == 2

    again.graph.set_node_attrs("features.c3", frozen=True)
    save_project(again, path)
    assert load_project(path).graph_revision == 3


# -- migrations ------------------------------------------------------------------------------
def test_format_1_freeze_setting_becomes_the_graphs_frozen_flags() -> None:
    """Version 1 → 2: ``transfer.freeze`` ids become Frozen flags on the nodes they name
    (a block id: its members), dropped from the settings, the runs and the checkpoint; the
    runs keep matching the graph, so the interrupted one can still be resumed."""
    project = sample_project()
    project.graph.set_node_attrs("features.c1", frozen=False)
    for run in project.runs:
        run.graph_hash = graph_hash(project.graph)
    project.checkpoint.state["config"] = project.training.to_dict()
    data = saved_bytes(project)

    def old(doc, ids=("classifier", "features.c3")):
        doc.setdefault("transfer", {})["freeze"] = list(ids)

    def old_project(doc):
        doc["version"] = 1
        old(doc["training"])

    data = edit_json(data, "project.json", old_project)
    data = edit_json(data, "runs.json", lambda d: [old(r["training"]) for r in d["runs"]])
    data = edit_json(data, "checkpoint/state.json", lambda d: old(d["config"]))
    again = read_project_bytes(data, "old.cnnproj")
    frozen = {n.id for n in again.graph if n.frozen}
    assert frozen == {"features.c3"} | set(again.graph.group_members("classifier"))
    assert "freeze" not in again.training.to_dict()["transfer"]
    assert all("freeze" not in r.training["transfer"] for r in again.runs)
    assert "freeze" not in again.checkpoint.config["transfer"]
    assert all(r.graph_hash == graph_hash(again.graph) for r in again.runs)
    assert again.saved_graph_hash == graph_hash(again.graph)
    assert migrations.CURRENT_VERSION == 2


def test_a_format_2_file_with_the_old_freeze_setting_is_refused() -> None:
    data = edit_json(saved_bytes(), "project.json",
                     lambda d: d["training"]["transfer"].update(freeze=["features"]))
    with pytest.raises(ProjectError, match=r"training.transfer.freeze: no longer a setting: "
                                           r"freeze layers in the network itself"):
        read_project_bytes(data)


def as_version_1(data: bytes) -> bytes:
    return edit_json(data, "project.json", lambda d: d.update(version=1))


def _one_to_two(docs):
    head = docs["project.json"]
    head["name"] = head.pop("legacy_title")
    head["steps"] = ["1->2"]
    docs["notes/added.json"] = {"by": "migration"}
    return docs


def _two_to_three(docs):
    docs["project.json"]["steps"].append(f"2->3 from {docs['project.json']['version']}")
    del docs["notes/dropped.json"]
    return docs


def test_the_migration_chain_upgrades_old_files(tmp_path, monkeypatch) -> None:
    project = sample_project()
    project.extra["legacy_title"] = "Old title"
    data = saved_bytes(project)
    data = rezip(data, add={"notes/dropped.json": b"[1]", "notes/kept.json": b" [2, 3] "})
    data = as_version_1(data)
    monkeypatch.setattr(migrations, "CURRENT_VERSION", 3)
    monkeypatch.setattr(migrations, "MIGRATIONS", {1: _one_to_two, 2: _two_to_three})
    again = read_project_bytes(data, "old.cnnproj")
    assert again.name == "Old title"
    assert again.extra["steps"] == ["1->2", "2->3 from 2"]
    assert "legacy_title" not in again.extra
    assert again.extra_members["notes/added.json"] == b'{\n "by": "migration"\n}\n'
    assert again.extra_members["notes/kept.json"] == b" [2, 3] "  # untouched: kept verbatim
    assert "notes/dropped.json" not in again.extra_members
    assert again.runs == project.runs and again.graph == project.graph
    # Saved again, it carries the new version and needs no migration.
    path = tmp_path / "new.cnnproj"
    save_project(again, path)
    assert json.loads(members(path.read_bytes())["project.json"])["version"] == 3
    monkeypatch.setattr(migrations, "MIGRATIONS", {})
    assert load_project(path).name == "Old title"


def test_migrate_leaves_its_argument_alone(monkeypatch) -> None:
    monkeypatch.setattr(migrations, "CURRENT_VERSION", 2)
    monkeypatch.setattr(migrations, "MIGRATIONS", {1: _one_to_two})
    docs = {"project.json": {"version": 1, "legacy_title": "t"}}
    out = migrations.migrate(docs, 1)
    assert docs == {"project.json": {"version": 1, "legacy_title": "t"}}
    assert out["project.json"] == {"version": 2, "name": "t", "steps": ["1->2"]}


def test_a_gap_or_a_failing_migration_is_a_project_error(monkeypatch) -> None:
    data = as_version_1(saved_bytes())
    monkeypatch.setattr(migrations, "CURRENT_VERSION", 3)
    monkeypatch.setattr(migrations, "MIGRATIONS", {1: lambda docs: docs})
    with pytest.raises(ProjectError, match="no migration from project format version 2 to 3"):
        read_project_bytes(data, "old.cnnproj")
    monkeypatch.setattr(migrations, "MIGRATIONS", {1: _one_to_two, 2: _two_to_three})
    with pytest.raises(ProjectError) as info:
        read_project_bytes(data, "old.cnnproj")  # no legacy_title: KeyError in _one_to_two
    assert str(info.value).startswith("old.cnnproj: cannot open this version-1 project: "
                                      "upgrading from project format version 1 failed "
                                      "(KeyError: 'legacy_title')")


def test_an_older_project_is_migrated_then_checked(monkeypatch) -> None:
    data = edit_json(saved_bytes(), "project.json",
                     lambda d: d["training"]["optimizer"].update(lr=-1))
    monkeypatch.setattr(migrations, "CURRENT_VERSION", 2)
    monkeypatch.setattr(migrations, "MIGRATIONS", {1: lambda docs: docs})
    with pytest.raises(ProjectError,
                       match=r"project.json: training.optimizer.lr: must be greater than 0"):
        read_project_bytes(data)


def test_zip_members_are_read_from_memory_only(monkeypatch) -> None:
    data = saved_bytes()

    def refuse(*args, **kwargs):
        raise AssertionError("extracted to disk")

    monkeypatch.setattr(zipfile.ZipFile, "extract", refuse)
    monkeypatch.setattr(zipfile.ZipFile, "extractall", refuse)
    assert read_project_bytes(io.BytesIO(data).getvalue()).name == "Cats and dogs"


def test_a_diverged_run_with_nan_loss_round_trips(tmp_path) -> None:
    project = sample_project()
    project.runs[0].epochs[0].train_loss = float("nan")
    save_project(project, tmp_path / "p.cnnproj")
    again = load_project(tmp_path / "p.cnnproj")
    assert again.runs[0].epochs[0].train_loss != again.runs[0].epochs[0].train_loss
