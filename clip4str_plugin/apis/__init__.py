"""Reading words with a checkpoint from Python: :class:`WordReader` (texts, confidences and
attention maps per crop) on an MMOCR recognizer from :func:`build_recognizer`."""
from .word_reader import WordReader, WordReading, build_recognizer

__all__ = ['WordReader', 'WordReading', 'build_recognizer']
