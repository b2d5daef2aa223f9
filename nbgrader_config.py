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

from pathlib import Path

from nbconvert.preprocessors import TagRemovePreprocessor
from nbgrader.converters.generate_assignment import GenerateAssignment

HERE = Path(__file__).resolve().parent

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
    *GenerateAssignment.preprocessors.default(),
]
c.TagRemovePreprocessor.enabled = True
c.TagRemovePreprocessor.remove_cell_tags = ("check",)

# Autograding and validation run the lessons small, as the tests do.
c.Execute.timeout = 600
