"""Load-time checks of a dataset's kept labels: not empty, and every character in the
recognizer's dictionary (so training never meets an unknown character at its first batch)."""
from collections import Counter
from typing import Dict, Optional, Sequence, Union

from mmocr.registry import TASK_UTILS

from .errors import DataError


def check_not_empty(name: str, kept: int, total: int, dropped: Dict[str, int], source: str,
                    max_length: int) -> None:
    """Raise a one-line :class:`DataError` naming the dataset and why when nothing was kept."""
    if kept:
        return
    if not total:
        raise DataError(f'{name}: {source} holds no samples')
    reasons = ', '.join(f'{reason} {count}' for reason, count in dropped.items())
    raise DataError(f'{name}: 0 of {total} samples kept ({reasons}) from {source}: check '
                    f'max_label_length ({max_length}) / charset')


def dictionary_chars(dictionary) -> Optional[set]:
    """The characters of an MMOCR ``Dictionary`` (config or instance), special tokens left out;
    None when it has an unknown token (then every character has a class)."""
    if isinstance(dictionary, dict):
        dictionary = TASK_UTILS.build(dictionary)
    special = {getattr(dictionary, f'{token}_idx', None)
               for token in ('start', 'end', 'padding', 'unknown')}
    if getattr(dictionary, 'unknown_idx', None) is not None:
        return None
    return {char for idx, char in enumerate(dictionary.dict) if idx not in special}


def check_in_dictionary(name: str, labels: Sequence[str],
                        dictionary: Union[dict, object, None], shown: int = 10) -> None:
    """Raise a :class:`DataError` naming the dataset and the characters of ``labels`` that
    ``dictionary`` lacks (with how many labels use each); nothing when ``dictionary`` is None.

    An error rather than dropping those labels: the dataset's charset and the dictionary
    disagree, which is a configuration mistake, and dropping would silently train on another
    label set (e.g. every label holding a capital gone).
    """
    if dictionary is None:
        return
    known = dictionary_chars(dictionary)
    if known is None:
        return
    missing = set(''.join(labels)) - known
    if not missing:
        return
    uses = Counter(char for label in labels for char in set(label) if char in missing)
    affected = sum(1 for label in labels if not missing.isdisjoint(label))
    ranked = sorted(uses.items(), key=lambda item: (-item[1], item[0]))[:shown]
    listed = ', '.join(f'{char!r} ({count} label{"s" * (count > 1)})' for char, count in ranked)
    more = f' and {len(missing) - shown} more' if len(missing) > shown else ''
    raise DataError(
        f"{name}: {affected} of {len(labels)} labels use {len(missing)} characters the "
        f"dictionary lacks: {listed}{more}; add them to the dictionary's dict_file, or set the "
        "dataset's charset to the dictionary's characters")
