"""``python -m bnlesson.data``: find (or download) and verify Fashion-MNIST."""

import sys

from bnlesson.data import main

sys.exit(main())
