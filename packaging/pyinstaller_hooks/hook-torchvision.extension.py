"""PyInstaller hook: bundle torchvision's C++ operator libraries.

torchvision.extension loads _C_stable.so (nms, roi_align, deform_conv2d, ...) and
image_stable.so (image decoding) with torch.ops.load_library: no import names them, their names
do not match the lib*.so pattern PyInstaller looks for, and the contributed torchvision hook
still asks for the old torchvision._C. Without them even building a model fails with
"operator torchvision::nms does not exist".
"""

from PyInstaller.utils.hooks import collect_dynamic_libs

binaries = collect_dynamic_libs("torchvision", search_patterns=["*.so", "*.so.*"])
