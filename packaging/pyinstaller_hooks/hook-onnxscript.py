"""PyInstaller hook: keep onnxscript's source files in the bundle.

onnxscript's ``@script`` decorator reads the decorated function's source (inspect.getsource),
and torch.onnx's exporter decorates hundreds of functions in onnxscript.function_libs on import.
From bytecode alone it fails with "Decorator script does not work on dynamically compiled
function Rank", so every ONNX export from the bundle would fail.
"""

module_collection_mode = "pyz+py"
