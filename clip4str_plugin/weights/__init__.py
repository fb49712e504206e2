"""Weight I/O: checkpoints read weights-only (:mod:`.loading`; :mod:`.safe_loading` makes MMEngine
use it), the authors' official files, CLIP weights. Importing it changes nothing in MMEngine."""
