"""nbgrader's course configuration for bnlesson's student edition (make student).

The assignment ``student`` is every lesson with a written piece (a cell
between ``### BEGIN SOLUTION`` and ``### END SOLUTION``). ``make student``
copies those lessons to ``course/source/student/`` and runs
``nbgrader generate_assignment student``, which writes the student edition
to ``notebooks/student/`` (beside the lessons, so ``make lab`` serves it):
solutions replaced by ``# YOUR CODE HERE`` / ``raise NotImplementedError()``,
outputs cleared, the self-check cells kept and locked. Both folders are
git-ignored; ``course/`` also holds the gradebook and, in a course, the
submitted and graded notebooks (README, "For a course").
"""

import re
from pathlib import Path

from nbconvert.preprocessors import Preprocessor, TagRemovePreprocessor
from nbgrader.converters.generate_assignment import GenerateAssignment

HERE = Path(__file__).resolve().parent
#: A relative link in markdown: ``](target`` up to a ``#anchor`` or ``)``.
LINK = re.compile(r"\]\((?![a-z]+:|#|/)([^)#\s]+)")


def edition() -> set:
    """The names of the lessons with a written piece: the student edition."""
    lessons = (HERE / "notebooks").glob("[0-9][0-9]_*.ipynb")
    return {p.name for p in lessons if "### BEGIN SOLUTION" in p.read_text()}


class LinkFromEdition(Preprocessor):
    """Keep the lessons' links working one folder down, in notebooks/student/.

    A link to another lesson of the edition goes to its student copy beside
    it; any other relative link (a solved lesson, a solution, a figure) to
    the file in notebooks/, one folder up.
    """

    def preprocess(self, nb, resources):
        names = edition()

        def relink(match):
            target = match.group(1)
            return match.group(0) if target in names else f"](../{target}"

        for cell in nb.cells:
            if cell.cell_type == "markdown":
                cell.source = LINK.sub(relink, cell.source)
        return nb, resources


c = get_config()  # noqa: F821 - provided by the configuration loader

c.CourseDirectory.course_id = "bnlesson"
c.CourseDirectory.root = str(HERE / "course")
# The release goes to notebooks/student/: {release_directory}/./{assignment}.
c.CourseDirectory.release_directory = str(HERE / "notebooks")

# The lessons' hidden cells tagged "check" test the lesson's claims on the
# solved code's outputs: a student does not read them, they are not graded,
# and before the student writes a piece they would fail on its blank. The
# self-checks check the student's code instead, so the checks go.
c.GenerateAssignment.preprocessors = [
    TagRemovePreprocessor,
    LinkFromEdition,
    *GenerateAssignment.preprocessors.default(),
]
c.TagRemovePreprocessor.enabled = True
c.TagRemovePreprocessor.remove_cell_tags = ("check",)
c.LinkFromEdition.enabled = True  # nbconvert runs only enabled preprocessors

# Autograding and validation run the lessons small, as the tests do.
c.Execute.timeout = 600
