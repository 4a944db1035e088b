"""``python -m cnnstudio`` is the ``cnnstudio`` command."""

import sys

from .cli.main import main

sys.exit(main())
