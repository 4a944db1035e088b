"""Hostile and broken project files, by name: each gives a ProjectError whose message names
the problem, and nothing is written to disk (the no_writes fixture checks it)."""

from __future__ import annotations

import io
import json
import struct
import warnings
import zipfile

import pytest

from cnnstudio.project import ProjectError, archive, load_project, migrations, read_project_bytes

from .builders import (
    edit_json,
    make_zip,
    members,
    patch_central,
    rezip,
    safetensors_bytes,
    saved_bytes,
    tensors,
)

pytestmark = pytest.mark.usefixtures("no_writes")

WEIGHTS = "weights/run-1-best.safetensors"
# Never unpickled anywhere: these are only bytes that must be recognised and refused.
PICKLE_PROTOCOL_2 = (b"\x80\x02cposix\nsystem\nq\x00X\x0c\x00\x00\x00touch /tmp/xq\x01"
                     b"\x85q\x02Rq\x03.")
PICKLE_PROTOCOL_0 = b"cos\nsystem\n(S'touch /tmp/x'\ntR."


@pytest.fixture(scope="module")
def good() -> bytes:
    return saved_bytes()


@pytest.fixture(scope="module")
def pth_bytes() -> bytes:
    """A real PyTorch .pth file (torch.save's zip of pickles), made in memory."""
    torch = pytest.importorskip("torch")
    out = io.BytesIO()
    torch.save({"conv.weight": torch.zeros(2, 3)}, out)
    return out.getvalue()


def refused(data: bytes, *fragments: str, name: str = "evil.cnnproj") -> str:
    with pytest.raises(ProjectError) as info:
        read_project_bytes(data, name)
    message = str(info.value)
    assert message.startswith(f"{name}: "), message
    for fragment in fragments:
        assert fragment in message, message
    assert "\n" not in message
    return message


def test_the_good_file_reads(good) -> None:
    assert read_project_bytes(good).name == "Cats and dogs"


# -- pickles and code ------------------------------------------------------------------------
@pytest.mark.parametrize("payload", [PICKLE_PROTOCOL_2, PICKLE_PROTOCOL_0],
                         ids=["protocol2", "protocol0"])
def test_a_pickle_where_weights_belong(good, payload) -> None:
    refused(rezip(good, {WEIGHTS: payload}),
            f"{WEIGHTS} is not a safetensors file: it looks like a Python pickle",
            "PyTorch .pth", "safetensors only")


def test_a_real_pth_file_where_weights_belong(good, pth_bytes) -> None:
    refused(rezip(good, {WEIGHTS: pth_bytes}), f"{WEIGHTS} is not a safetensors file",
            "PyTorch .pth/.pt file written by torch.save", "safetensors only")


def test_a_pth_file_opened_as_a_project(pth_bytes) -> None:
    refused(pth_bytes, "not a CNN Studio project", "PyTorch", "torch.save")


def test_a_pickle_file_opened_as_a_project() -> None:
    refused(PICKLE_PROTOCOL_2, "not a CNN Studio project", "pickle")


def test_a_pickle_in_the_checkpoint(good) -> None:
    refused(rezip(good, {"checkpoint/state.safetensors": PICKLE_PROTOCOL_2}),
            "checkpoint/state.safetensors is not a safetensors file", "pickle")


@pytest.mark.parametrize("member, what", [
    ("evil.pkl", "a Python pickle"), ("weights/model.pth", "a PyTorch file"),
    ("weights/model.pt", "a PyTorch file"), ("hook.py", "Python code"),
    ("archive/data.pkl", "a Python pickle"), ("readme.txt", None),
])
def test_members_that_are_not_json_or_safetensors(good, member, what) -> None:
    message = refused(rezip(good, add={member: PICKLE_PROTOCOL_2}), f"member {member!r}",
                      "only .json and .safetensors")
    if what:
        assert what in message


def test_an_extra_safetensors_member_is_checked_too(good) -> None:
    refused(rezip(good, add={"embeddings/x.safetensors": PICKLE_PROTOCOL_2}),
            "embeddings/x.safetensors is not a safetensors file", "pickle")


# -- member names and kinds ------------------------------------------------------------------
@pytest.mark.parametrize("name, problem", [
    ("../evil.json", "'..'"), ("notes/../../evil.json", "'..'"),
    ("/etc/evil.json", "an absolute path"), ("C:/evil.json", "drive letter"),
    ("C:evil.json", "drive letter"), ("notes\\evil.json", "backslash"),
    ("notes//evil.json", "empty or '.' part"), ("./evil.json", "empty or '.' part"),
    ("notes/", "folder entry"), ("evil\x01.json", "control characters"),
    ("x" * 2000 + ".json", "longer than 1024"),
])
def test_unsafe_member_names(good, name, problem) -> None:
    refused(rezip(good, add={name: b"{}"}), "is refused", problem)


def test_an_empty_member_name(good) -> None:
    refused(rezip(good, add={"": b"{}"}), "member '' is refused: an empty name")


def test_a_nul_in_a_member_name(good) -> None:
    # zipfile cuts names at a NUL: "evil.pkl\0.json" would pass for "evil.pkl" elsewhere.
    data = rezip(good, add={"evil.pklX.json": b"{}"})
    data = data.replace(b"evil.pklX.json", b"evil.pkl\x00.json")
    refused(data, "'evil.pkl\\x00.json' is refused: a name with control characters")


def test_duplicate_members(good) -> None:
    items = list(members(good).items()) + [("runs.json", b'{"runs": []}')]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        data = make_zip(items)
    refused(data, "member 'runs.json' appears twice")


def test_a_symbolic_link(good) -> None:
    link = make_zip({"link.json": b"/etc/passwd"}, mode=0o120777)
    refused(link, "'link.json' is a symbolic link")


def test_an_encrypted_member(good) -> None:
    refused(patch_central(good, 0, 8, "<H", 0x1), "'project.json' is encrypted")


def test_an_unsupported_compression_method(good) -> None:
    refused(patch_central(good, 0, 10, "<H", 14), "compression method 14")  # LZMA


def test_too_many_members(good) -> None:
    items = members(good)
    items.update({f"notes/n{i}.json": b"{}" for i in range(archive.MAX_MEMBERS)})
    refused(make_zip(items, deflate=False), f"{len(items):,} members",
            f"at most {archive.MAX_MEMBERS:,}")


def test_a_huge_table_of_contents_is_refused_before_parsing(good) -> None:
    data = bytearray(good)
    struct.pack_into("<I", data, len(data) - 22 + 12, 20 * 1024 * 1024)  # the end record
    refused(bytes(data), "table of contents is 20,971,520 bytes", "limit is 16,777,216")


def test_a_zip64_end_record_is_read_too(good, monkeypatch) -> None:
    with monkeypatch.context() as m:
        m.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 1)  # makes zipfile write zip64 end records
        data = make_zip(members(good))
    end64 = data.index(b"PK\x06\x06")
    assert archive._directory_size(io.BytesIO(data)) == end64 - data.index(b"PK\x01\x02")
    assert read_project_bytes(data).name == "Cats and dogs"
    patched = bytearray(data)
    struct.pack_into("<Q", patched, end64 + 40, 20 * 1024 * 1024)
    refused(bytes(patched), "table of contents is 20,971,520 bytes")


# -- zip bombs and lies about sizes ----------------------------------------------------------
def test_a_member_above_the_json_limit(good, monkeypatch) -> None:
    monkeypatch.setattr(archive, "MAX_JSON_BYTES", 100_000)
    data = rezip(good, add={"notes/big.json": b"[" + b" " * 200_000 + b"]"})
    refused(data, "'notes/big.json' is too large: 200,002 bytes", "limit for a .json member "
            "is 100,000")


def test_a_member_above_the_tensor_limit(good, monkeypatch) -> None:
    monkeypatch.setattr(archive, "MAX_TENSOR_BYTES", 300)
    refused(good, "too large", "limit for a .safetensors member is 300")


def test_members_above_the_total_limit(good, monkeypatch) -> None:
    monkeypatch.setattr(archive, "MAX_TOTAL_BYTES", 2000)
    refused(good, "more than 2,000 bytes uncompressed")


def test_a_zip_bomb(good, monkeypatch) -> None:
    monkeypatch.setattr(archive, "RATIO_FLOOR", 64 * 1024)
    bomb = b"[" + b"0," * 500_000 + b"0]"  # 1 MB that deflates about 1000:1
    data = rezip(good, add={"notes/bomb.json": bomb})
    info = zipfile.ZipFile(io.BytesIO(data)).getinfo("notes/bomb.json")
    assert info.file_size > archive.MAX_RATIO * info.compress_size / 2
    monkeypatch.setattr(archive, "MAX_RATIO", 100)
    refused(data, "'notes/bomb.json' would inflate from", "zip bomb")


def test_a_member_that_lies_about_its_size(good) -> None:
    data = rezip(good, add={"notes/z.json": b"[" + b"1," * 50_000 + b"1]"})
    names = [i.filename for i in zipfile.ZipFile(io.BytesIO(data)).infolist()]
    index = names.index("notes/z.json")
    small = patch_central(data, index, 24, "<I", 10)  # declares 10 bytes, inflates to 100 KB
    refused(small, "'notes/z.json' is damaged")
    large = patch_central(data, index, 24, "<I", 10**7)  # declares more than it holds
    refused(large, "'notes/z.json'")


def test_the_read_stops_at_the_limit_whatever_the_member_declares(good, monkeypatch) -> None:
    data = rezip(good, add={"notes/z.json": b"[" + b"1," * 50_000 + b"1]"})
    # As if the declared-size check had been fooled: the streaming read still stops.
    monkeypatch.setattr(archive, "_check_members", lambda zf: zf.infolist())
    monkeypatch.setattr(archive, "MAX_JSON_BYTES", 50_000)
    refused(data, "'notes/z.json' holds more data than the 50,000 bytes allowed")


def test_overlapping_members(good) -> None:
    # The "overlapping files" zip bomb: a second entry pointing into the first one's data.
    refused(patch_central(good, 1, 42, "<I", 0), "overlaps", "zip bomb")


# -- not a project at all --------------------------------------------------------------------
@pytest.mark.parametrize("data, fragment", [
    (b"", "the file is empty"),
    (b"hello, this is text", "not a CNN Studio project (not a zip archive)"),
    (b'{"format": "cnnstudio.graph"}', "looks like JSON text"),
    (bytes(range(256)) * 4, "not a zip archive"),
])
def test_not_a_zip(data, fragment) -> None:
    refused(data, fragment)


@pytest.mark.parametrize("keep", [0.999, 0.9, 0.5, 0.1, 0.01])
def test_a_truncated_archive(good, keep) -> None:
    refused(good[:int(len(good) * keep)], "")


def test_a_truncated_archive_says_so(good) -> None:
    refused(good[: len(good) // 2], "the archive is damaged or truncated")


def test_a_zip_without_project_json(good) -> None:
    refused(rezip(good, {"project.json": None}), "not a CNN Studio project",
            "no project.json")
    refused(make_zip({}), "no project.json")


def test_a_damaged_member(good) -> None:
    pos = good.index(b"PK\x03\x04", 10)  # the second member's local header
    data = bytearray(good)
    data[pos + 40] ^= 0xFF  # inside graph.json's compressed data
    refused(bytes(data), "'graph.json' is damaged")


def test_load_project_names_the_file(tmp_path, good) -> None:
    path = tmp_path / "bad.cnnproj"
    path.write_bytes(rezip(good, {WEIGHTS: PICKLE_PROTOCOL_2}))
    with pytest.raises(ProjectError, match=f"^{path}: {WEIGHTS} is not a safetensors file"):
        load_project(path)
    assert [p.name for p in tmp_path.iterdir()] == ["bad.cnnproj"]


# -- the JSON documents ----------------------------------------------------------------------
def test_deeply_nested_json(good) -> None:
    deep = b'{"format": "cnnstudio.project", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    refused(rezip(good, {"project.json": deep}), "project.json: the JSON is nested too deeply")


def test_nesting_just_above_the_limit(good) -> None:
    depth = archive.MAX_JSON_DEPTH
    data = edit_json(good, "runs.json",
                     lambda d: d["runs"][0].update(evaluation=json.loads(
                         '{"x": ' + "[" * depth + "]" * depth + "}")))
    refused(data, "runs.json: the JSON is nested more than 100 levels deep")
    ok = edit_json(good, "runs.json", lambda d: d["runs"][0].update(
        evaluation=json.loads('{"x": ' + "[" * (depth - 5) + "]" * (depth - 5) + "}")))
    read_project_bytes(ok)


def test_invalid_json_gives_line_and_column(good) -> None:
    text = members(good)["runs.json"].decode().replace('"status"', "status", 1)
    refused(rezip(good, {"runs.json": text.encode()}), "runs.json: not valid JSON (line ",
            ", column ", "Expecting property name")


def test_json_that_is_not_utf8(good) -> None:
    refused(rezip(good, {"graph.json": b'{"x": "\xff\xfe"}'}), "graph.json: not UTF-8 text")


def test_an_integer_too_long_to_convert(good) -> None:
    data = edit_json(good, "project.json", lambda d: json.dumps(d)[:-1] + ', "n": '
                     + "9" * 5000 + "}")
    refused(data, "project.json: not valid JSON")


def test_a_project_json_that_is_not_an_object(good) -> None:
    refused(rezip(good, {"project.json": b"[]"}), "project.json: expected a JSON object")


def test_another_format(good) -> None:
    refused(edit_json(good, "project.json", lambda d: d.update(format="someone.else")),
            "project.json: format: expected 'cnnstudio.project', found 'someone.else'")


@pytest.mark.parametrize("version", [None, "1", 0, True, 1.5])
def test_a_bad_version(good, version) -> None:
    refused(edit_json(good, "project.json", lambda d: d.update(version=version)),
            "project.json: version: expected a positive integer")


def test_a_newer_format_version(good) -> None:
    message = refused(edit_json(good, "project.json", lambda d: d.update(version=7)))
    assert message == ("evil.cnnproj: written by a newer CNN Studio (project format version 7; "
                       f"this one reads up to {migrations.CURRENT_VERSION}): update CNN Studio "
                       "to open it")


@pytest.mark.parametrize("key", ["name", "graph_revision", "dataset", "training", "format"])
def test_a_missing_project_field(good, key) -> None:
    refused(edit_json(good, "project.json", lambda d: d.pop(key)), "project.json: ")


def test_missing_fields_are_named(good) -> None:
    refused(edit_json(good, "project.json", lambda d: d.pop("training")),
            "project.json: training: missing")
    refused(edit_json(good, "runs.json", lambda d: d["runs"][1].pop("seed")),
            "runs.json: runs[1].seed: missing")
    refused(edit_json(good, "checkpoint/state.json", lambda d: d.pop("run_id")),
            "checkpoint/state.json: run_id: expected an integer, found None")
    refused(rezip(good, {"graph.json": None}), "the archive has no graph.json")


def test_configuration_errors_name_member_and_field(good) -> None:
    message = refused(edit_json(good, "project.json",
                                lambda d: d["training"]["optimizer"].update(lr=-1)))
    assert message == ("evil.cnnproj: project.json: training.optimizer.lr: must be greater "
                       "than 0, found -1")
    refused(edit_json(good, "project.json", lambda d: d["dataset"].update(source="imagenet")),
            "project.json: dataset.source: must be one of")
    refused(edit_json(good, "project.json", lambda d: d.update(name=3)),
            "project.json: name: expected a string, found 3")
    refused(edit_json(good, "runs.json", lambda d: d["runs"][0]["epochs"][1].update(
        val_acc="high")), "runs.json: runs[0].epochs[1].val_acc: expected a number")
    refused(edit_json(good, "runs.json", lambda d: d.update(runs={})),
            "runs.json: runs: expected a list")
    refused(edit_json(good, "runs.json", lambda d: d["runs"][1].update(id=1)),
            "runs.json: runs[1].id: run 1 appears twice")


def test_unknown_layer_types_and_parameters_in_the_graph(good) -> None:
    def retype(doc):
        doc["nodes"][1]["type"] = "EvalLayer"

    refused(edit_json(good, "graph.json", retype),
            "graph.json: nodes[1] (features.c1): unknown layer type 'EvalLayer'")

    def add_param(doc):
        doc["nodes"][1]["params"]["__reduce__"] = "os.system"

    refused(edit_json(good, "graph.json", add_param),
            "graph.json: nodes[1] (features.c1): Conv2d has no parameter '__reduce__'")
    refused(edit_json(good, "graph.json", lambda d: d.update(version=99)),
            "graph.json: version: the graph was written by a newer CNN Studio")


# -- weights ---------------------------------------------------------------------------------
def test_a_weights_reference_to_a_missing_member(good) -> None:
    refused(rezip(good, {WEIGHTS: None}),
            "project.json: current_weights: names 'weights/run-1-best.safetensors', which is "
            "not in the archive")
    refused(edit_json(good, "runs.json", lambda d: d["runs"][1].update(
        weights="weights/ghost.safetensors")),
        "runs.json: runs[1].weights: names 'weights/ghost.safetensors', which is not in the "
        "archive")


def test_a_checkpoint_without_its_other_half(good) -> None:
    refused(rezip(good, {"checkpoint/state.safetensors": None}),
            "the checkpoint is incomplete: checkpoint/state.json is there but "
            "checkpoint/state.safetensors is not")
    refused(edit_json(good, "checkpoint/state.json", lambda d: d.update(run_id=5)),
            "checkpoint/state.json: run_id: there is no run 5 in runs.json")


F32 = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}


@pytest.mark.parametrize("weights, fragment", [
    (b"\x01", "1 bytes is too short"),
    (b"\xff" * 16, "above the limit of 100,000,000"),
    (safetensors_bytes(None, raw_header=b"{" * 10)[:12], "runs past the end"),
    (safetensors_bytes(None, raw_header=b"[1, 2]"), "does not start with '{'"),
    (safetensors_bytes(None, raw_header=b"{\"a\": "), "not valid JSON (line 1, column 7"),
    (safetensors_bytes(None, raw_header=b'{"a": "\xff"}'), "not UTF-8"),
    (safetensors_bytes(None, raw_header=b'{"a": 1, "a": 2}'), "names 'a' twice"),
    (safetensors_bytes({"w": F32}, b"\0" * 4), "data_offsets [0, 8] run past the end"),
    (safetensors_bytes({"w": {**F32, "data_offsets": [8, 0]}}, b"\0" * 8), "end before"),
    (safetensors_bytes({"w": {**F32, "dtype": "PICKLE"}}, b"\0" * 8), "unknown dtype 'PICKLE'"),
    (safetensors_bytes({"w": {**F32, "shape": [-2]}}, b"\0" * 8), "non-negative integers"),
    (safetensors_bytes({"w": {**F32, "shape": [True]}}, b"\0" * 8), "non-negative integers"),
    (safetensors_bytes({"w": {**F32, "shape": [3]}}, b"\0" * 8), "takes 12 bytes"),
    (safetensors_bytes({"w": {"dtype": "F32", "shape": [2]}}, b"\0" * 8),
     "data_offsets is missing"),
    (safetensors_bytes({"w": F32, "v": F32}, b"\0" * 8), "overlaps"),
    (safetensors_bytes({"w": {**F32, "data_offsets": [4, 12]}}, b"\0" * 12),
     "bytes 0-4 of the data belong to no tensor"),
    (safetensors_bytes({"w": F32}, b"\0" * 12), "cover 8 bytes but the data area holds 12"),
    (safetensors_bytes({"__metadata__": {"a": 1}}), "__metadata__ must map strings"),
    (safetensors_bytes({"w": [1]}, b""), "expected an object"),
])
def test_broken_safetensors(good, weights, fragment) -> None:
    refused(rezip(good, {WEIGHTS: weights}), f"{WEIGHTS} is not a safetensors file: ",
            fragment)


def test_valid_safetensors_edge_cases_are_accepted(good) -> None:
    empty = safetensors_bytes({})
    zero = safetensors_bytes({"e": {"dtype": "BF16", "shape": [0, 4], "data_offsets": [0, 0]}})
    padded = safetensors_bytes(None, raw_header=b'{"w": ' + json.dumps(F32).encode() + b"}   ",
                               body=b"\0" * 8)
    for weights in (empty, zero, padded, tensors(3)):
        read_project_bytes(rezip(good, {WEIGHTS: weights}))


def test_the_guard_itself_catches_writes(tmp_path) -> None:
    outside = tmp_path.parent / "cnnstudio-guard-check.txt"
    with pytest.raises(AssertionError, match="outside tmp_path"):
        open(outside, "w")  # noqa: SIM115
    assert not outside.exists()
    (tmp_path / "inside.txt").write_text("allowed")
