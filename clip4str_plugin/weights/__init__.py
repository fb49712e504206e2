"""Weight I/O: checkpoints read weights-only (:mod:`.loading`; :mod:`.safe_loading` makes MMEngine
use it), official files, CLIP weights, and whether a checkpoint fits a model (:mod:`.shape_checks`).
Importing it changes nothing in MMEngine."""
