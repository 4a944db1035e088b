"""``python -m cnnstudio`` is the ``cnnstudio`` command."""

import sys

from .cli import main

sys.exit(main())
