"""Models from elsewhere as editable graphs: ``modules`` (torchvision, the user's nn.Module or
Python file) through ``fx/`` (torch.fx tracing), ONNX files through ``onnx/``; ``common`` holds
what both build with."""
