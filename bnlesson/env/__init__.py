"""The environment: installing MXNet 1.9.1 and d2l 1.0.3 on today's Pythons
(``install``, ``cudalibs``), the compatibility layer a ``.pth`` file
activates at start-up (``compat``), and the doctor that checks the set-up
(``python -m bnlesson.env.doctor``). Never imported by a lesson."""
