"""ONNX files turned into graphs: ``reader`` walks the model, ``fold`` computes constants,
``fuse`` recognises multi-node patterns, ``op``/``ops``/``layers`` map single operators."""
