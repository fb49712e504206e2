"""Load-time checks of a dataset's kept labels: most of them kept, and every character in the
recognizer's dictionary (so training never meets an unknown character at its first batch)."""
from collections import Counter
from typing import Dict, Optional, Sequence, Union

from mmocr.registry import TASK_UTILS

from ..errors import DataError
from ..text.rules import LABEL_REASONS, LabelRules


#: A dataset or metric that drops more than this share of its labels stops with an error.
MAX_DROPPED_SHARE = 0.5


def first_few(items: Sequence[str], shown: int = 5) -> str:
    """``'a, b, c ...'``: the first ``shown`` of ``items``, for logs."""
    return ', '.join(items[:shown]) + (' ...' if len(items) > shown else '')


def check_kept(name: str, kept: int, total: int, dropped: Dict[str, int], source: str,
               rules: LabelRules, examples: Optional[Dict[str, str]] = None) -> None:
    """Raise a one-line :class:`DataError` when ``source`` holds nothing, keeps nothing, or
    when the label rules dropped more than :data:`MAX_DROPPED_SHARE` of its ``total`` samples
    (other reasons, such as unreadable images, count only towards keeping nothing): how many, for
    which reasons, an example of the commonest rule's and the setting to change (``rules.why``).
    ``examples``: reason -> a dropped label (default ``rules.examples``)."""
    if not total:
        raise DataError(f'{name}: {source} holds no samples')
    by_rules = sum(count for reason, count in dropped.items() if reason in LABEL_REASONS)
    if kept and by_rules <= MAX_DROPPED_SHARE * total:
        return
    examples = rules.examples if examples is None else examples
    reasons = ', '.join(f'{reason} {count}' for reason, count in dropped.items())
    explained = [reason for reason in sorted(dropped, key=dropped.get, reverse=True)
                 if reason in examples]
    because = f': e.g. {rules.why(explained[0], examples[explained[0]])}' if explained else ''
    raise DataError(f'{name}: {kept} of {total} samples kept ({reasons}) from {source}{because}')


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
