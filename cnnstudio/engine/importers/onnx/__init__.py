"""ONNX files turned into graphs: ``reader`` walks the model, ``fold`` computes constants,
``fuse`` recognises multi-node patterns, ``regions`` recognises layers spelled as several
layer-less operators by what they compute, ``op``/``ops``/``layers`` map single operators."""
