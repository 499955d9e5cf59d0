"""``python -m colorlab`` runs the ``colorlab`` command."""

import sys

from .cli import main

sys.exit(main())
