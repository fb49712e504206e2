"""What the tools share: argument and output checks, the launcher behind ``tools/train.py`` and
``tools/test.py``, the ``--norm`` option and the run lock of a work dir. Importing it registers
nothing."""
