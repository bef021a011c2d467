"""Entry point of the grading processes: ``python -m minifcn.exercises._worker ...`` (see grader)."""
import sys

from .grader import main

sys.exit(main(sys.argv[1:]))
