"""Done-means of the export: a ResNet-18 trained here, exported to ONNX, gives the same top-1
labels in onnxruntime as in the application on the validation images."""

from __future__ import annotations

import shutil
from pathlib import Path

import onnxruntime as ort
import torch

from cnnstudio.engine.data.load import load_data
from cnnstudio.engine.export.exporter import export_model
from cnnstudio.engine.inference.model import project_model
from cnnstudio.engine.training.session import Session
from cnnstudio.graph import presets
from cnnstudio.project import load_project

EXAMPLES = Path(__file__).resolve().parents[3] / "projects"


def test_trained_resnet18_onnx_agrees_on_the_validation_images(tmp_path) -> None:
    path = tmp_path / "r18.cnnproj"
    shutil.copy(EXAMPLES / "lenet5-digits.cnnproj", path)  # digits at 1×32×32
    project = load_project(path)
    project.graph = presets.build("resnet18", input_shape=(1, 32, 32), num_classes=10)
    project.training.epochs = 1
    project.training.device = "cpu"
    list(Session(project, path).events())
    trained = load_project(path)
    assert trained.runs[-1].status == "finished" and trained.current_weights is not None
    model = project_model(trained).eval()
    data = load_data(trained.dataset, (1, 32, 32), "cpu")
    images = torch.cat([x for x, _ in data.val.batches(256, shuffle=False, seed=0, epoch=0)])
    assert len(images) > 100
    target = tmp_path / "r18.onnx"
    result = export_model(model, (1, 32, 32), "onnx", target)
    assert result.max_rel <= 1e-4
    with torch.no_grad():
        ours = model(images).argmax(dim=1).numpy()
    session = ort.InferenceSession(str(target), providers=["CPUExecutionProvider"])
    theirs = session.run(None, {session.get_inputs()[0].name: images.numpy()})[0].argmax(axis=1)
    assert (ours == theirs).all()
    assert len(set(ours.tolist())) > 1  # a trained network, not one constant answer
