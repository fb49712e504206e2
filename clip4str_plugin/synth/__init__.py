"""The synthetic data generator: rendered word images (words, fonts, backgrounds, presets) and the
scene preset (effects, photographic patches, geometry, degradations). No registered component
uses it; tools that write rendered LMDBs do. Its word lists and fonts are the ``synth`` extra
(``pip install -e .[synth]``, included by ``tools/install.sh``); without them it imports and says
which package is missing when asked for words or fonts."""
