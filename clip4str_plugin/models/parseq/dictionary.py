"""The PARSeq / CLIP4STR token order as an MMOCR Dictionary: [E]=0, characters, [B], [P]."""
from mmocr.models.common.dictionary import Dictionary
from mmocr.registry import TASK_UTILS
from mmocr.utils import list_from_file

from ...errors import DataError
from ...text.charsets import resolve_dict_file


def check_dict_file(dict_file: str) -> None:
    """Refuse, naming the file and line, a dictionary file that MMOCR's ``Dictionary`` would
    take badly: not UTF-8, a line of several characters, a repeated character, no character."""
    try:
        lines = list_from_file(dict_file)
    except UnicodeDecodeError as err:
        raise DataError(f'dict_file {dict_file} is not UTF-8 ({err.reason} at byte '
                        f'{err.start}); save it as UTF-8, one character per line') from None
    seen = {}
    for number, line in enumerate(lines, 1):
        if len(line) > 1:
            raise DataError(f'dict_file {dict_file}, line {number}: {line!r} is {len(line)} '
                            'characters; write one character per line')
        if line in seen:
            raise DataError(f'dict_file {dict_file}, line {number}: character {line!r} '
                            f'repeats line {seen[line]}; each character may appear once')
        if line:
            seen[line] = number
    if not seen:
        raise DataError(f'dict_file {dict_file} holds no characters: write one character per '
                        'line')


@TASK_UTILS.register_module()
class PARSeqDictionary(Dictionary):
    """Characters of ``dict_file`` (one per line) between [E] (index 0) and [B], [P].

    With the shipped ``charset_94.txt`` this is the reference tokenizer: EOS 0, characters 1..94,
    BOS 95, PAD 96, so official classifier and embedding rows map without reordering. The head
    predicts ``num_classes - 2`` classes (no BOS, no PAD). An empty file, a line of several
    characters and a repeated character are errors naming the file and line.
    """

    def __init__(self, dict_file: str, end_token: str = '[E]', start_token: str = '[B]',
                 padding_token: str = '[P]'):
        dict_file = resolve_dict_file(dict_file)
        check_dict_file(dict_file)
        super().__init__(dict_file, with_start=True, with_end=True, with_padding=True,
                         start_token=start_token, end_token=end_token,
                         padding_token=padding_token)

    def _update_dict(self):
        chars = [c for c in self._dict]
        self._dict = [self.end_token] + chars + [self.start_token, self.padding_token]
        self.end_idx, self.start_idx, self.padding_idx = 0, len(chars) + 1, len(chars) + 2
        self.unknown_idx = None
        self._char2idx = {char: idx for idx, char in enumerate(self._dict)}

    @property
    def chars(self) -> str:
        """The characters, in class order (class i + 1 is ``chars[i]``)."""
        return ''.join(self._dict[1:-2])
