"""``python -m bnlesson.slides``: build the lessons' reveal.js decks."""

import sys

from bnlesson.slides import main

sys.exit(main())
