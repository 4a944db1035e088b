"""The side panels of the main window. Each is a plain QWidget taking the Document in its
constructor; it connects to the document's signals there and edits only through it.

- ``Palette``: the layer catalogue; drag payload ``application/x-cnnstudio-layer`` (see
  ``palette.decode_layer``), ``add_requested(str)`` / ``add_node_requested(str, dict)``.
- ``Inspector``: the selection's id, name, block, parameters, computed numbers and problems.
- ``SummaryTable``: the per-layer table, totals and the training-memory estimate.
- ``IssuesList``: errors and warnings; ``node_activated(str)`` when one is picked.
- ``ReceptiveFieldView``: the selected node's receptive field over its input.
"""

from .inspector import Inspector
from .issues import IssuesList
from .palette import RECIPES, Palette
from .rfview import ReceptiveFieldView, rf_geometry
from .summary import SummaryTable

__all__ = [
    "RECIPES", "Inspector", "IssuesList", "Palette", "ReceptiveFieldView", "SummaryTable",
    "rf_geometry",
]
