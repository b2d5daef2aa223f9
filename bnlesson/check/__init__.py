"""Self-checks for the code a student writes in the lessons.

After writing a piece, a student runs its check on it, for example
``check.batch_norm(batch_norm)``. A check runs the piece on fixed inputs,
compares it with a reference (the formula, which agrees with Gluon's
``nn.BatchNorm``; finite differences for gradients) and either prints one
line or raises an ``AssertionError`` that names the classic mistake it
recognises, with the relative error measured and the range expected.

=======================  =================================================
``batch_norm(f)``        lesson 01's ``batch_norm`` function
``batch_norm_block(C)``  lesson 02's ``BatchNorm`` Block (the class)
``bn_backward(f)``       lesson 08's ``bn_backward`` or ``bn_backward_graph``
=======================  =================================================

A check for a new piece (group norm, say) is made like ``batch_norm``'s: a
reference in NumPy whose keywords make the mistakes and a dict of
:class:`~bnlesson.check.report.Mistake` to those keywords (``formula.py``),
then probes and a function that collects
:class:`~bnlesson.check.report.Finding` s and hands them to
:func:`~bnlesson.check.report.verdict` (``forward.py``); then one import
line here.
"""

from bnlesson.check.backward import bn_backward
from bnlesson.check.block import batch_norm_block
from bnlesson.check.forward import batch_norm

__all__ = ["batch_norm", "batch_norm_block", "bn_backward"]
