"""A checkpoint's config as data, never run.

MMEngine stores a checkpoint's config as Python text (``cfg.pretty_text`` in ``meta['cfg']`` and
``message_hub.runtime_info.cfg``; the converter writes ``meta['cfg']`` the same way) and reads it
back by running it (``Config.fromstring``). :func:`parse_config_text` reads such text with
:mod:`ast` into a plain dict instead. It accepts only top-level ``name = <data>``, data being
str, int, float, bool and None literals (numbers with an optional minus), dict, list, tuple and
set displays, ``dict(key=value, ...)``, ``dict({...})``, ``set()`` and the non-finite floats
(``inf`` and ``nan`` as MMEngine prints them, or ``float('inf')``). Anything else (other calls,
names, attributes, operators, lambdas, imports, f-strings, ``_base_`` files, ``{{ ... }}``
substitutions) is a one-line :class:`~.errors.ConfigTextError` naming the file, the line and the
construct. ``custom_imports`` may name only :data:`TRUSTED_IMPORTS` (an import runs code).

:func:`render_config_text` writes such a dict as text that parses back to the same dict and that
MMEngine's ``Config.fromstring`` runs as nothing but literals. The weights-only loader passes
every config a checkpoint carries through both (:func:`data_only_configs`), so MMOCR's
``TextRecInferencer(model=None, weights=...)`` runs no code from the file;
:func:`checkpoint_config` gives a checkpoint file's config as an MMEngine ``Config``.
"""
import ast
import math
import pprint
import textwrap
from typing import Any, Mapping, Optional

from mmengine.config import Config

from .errors import ConfigTextError

#: The modules (and their submodules) a checkpoint's ``custom_imports`` may name.
TRUSTED_IMPORTS = ('clip4str_plugin', 'clip4str_mmcv_lite', 'clip4str_spotting',
                   'projects.clip4str_spotting.clip4str_spotting', 'mmocr', 'mmdet', 'mmengine')
_NON_FINITE_NAMES = {'inf': math.inf, 'nan': math.nan}     # how pretty_text prints them
_LAYOUT = dict(width=100, sort_dicts=False)                 # pprint's, keys in their order
_KINDS = {ast.Call: 'a call', ast.Name: 'a name', ast.Attribute: 'an attribute',
          ast.Lambda: 'a lambda', ast.JoinedStr: 'an f-string', ast.Import: 'an import',
          ast.ImportFrom: 'an import', ast.BinOp: 'an operator', ast.Starred: 'unpacking'}


class _Refused(Exception):
    """``node`` is not data; ``what`` says what it is."""

    def __init__(self, node: ast.AST, what: Optional[str] = None):
        snippet = textwrap.shorten(ast.unparse(node), 60, placeholder=' ...')
        super().__init__(f'{what or _KINDS.get(type(node), "not data")}: {snippet}')
        self.line = getattr(node, 'lineno', '?')


def _refusal(source: str, line, what: str) -> ConfigTextError:
    return ConfigTextError(
        f"refusing the config in {source}, line {line}: {what}; a checkpoint's config is data "
        '(literals, lists, tuples, sets, dicts) and nothing in it is run (docs/refusals.md)')


def _value(node: ast.AST) -> Any:
    """The data ``node`` spells, or :class:`_Refused`."""
    if isinstance(node, ast.Constant) and type(node.value) in (str, int, float, bool,
                                                                 type(None)):
        if isinstance(node.value, str) and '{{' in node.value:   # MMEngine fills these in
            raise _Refused(node, "a '{{ ... }}' substitution")
        return node.value
    if isinstance(node, ast.Name) and node.id in _NON_FINITE_NAMES:
        return _NON_FINITE_NAMES[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and \
            isinstance(node.operand, (ast.Constant, ast.Name)):
        number = _value(node.operand)
        if type(number) in (int, float):
            return -number
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        container = {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)]
        try:
            return container(_value(item) for item in node.elts)
        except TypeError:
            raise _Refused(node, 'an unhashable set item') from None
    if isinstance(node, ast.Dict) and None not in node.keys:        # (None: ``**`` unpacking)
        pairs = [(_value(key), _value(value)) for key, value in zip(node.keys, node.values)]
        try:
            return dict(pairs)
        except TypeError:
            raise _Refused(node, 'an unhashable dict key') from None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        name, args, keywords = node.func.id, node.args, node.keywords
        if name == 'dict' and not args and all(k.arg for k in keywords):
            return {k.arg: _value(k.value) for k in keywords}
        if name == 'dict' and not keywords and len(args) == 1 and isinstance(args[0], ast.Dict):
            return _value(args[0])      # pretty_text's dict({'key': ...}) for odd keys
        if name == 'set' and not args and not keywords:
            return set()
        if name == 'float' and not keywords and len(args) == 1 and \
                isinstance(args[0], ast.Constant) and args[0].value in ('inf', '-inf', 'nan'):
            return float(args[0].value)
    raise _Refused(node)


def _check_imports(custom_imports: Any, source: str, line) -> None:
    """Refuse ``custom_imports`` naming a module outside :data:`TRUSTED_IMPORTS`."""
    names = custom_imports.get('imports') if isinstance(custom_imports, dict) else None
    names = [names] if isinstance(names, str) else names
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
        raise _refusal(source, line, 'custom_imports other than dict(imports=[module names])')
    for name in names:
        if not any(name == root or name.startswith(root + '.') for root in TRUSTED_IMPORTS):
            raise ConfigTextError(
                f'refusing the config in {source}, line {line}: custom_imports names {name!r}, '
                "which is not a module of this plugin, its spotting project or OpenMMLab's "
                f'({", ".join(TRUSTED_IMPORTS)}); importing a module runs its code '
                '(docs/refusals.md)')


def parse_config_text(text: str, source: str) -> dict:
    """The config ``text`` of ``source`` (a name for messages) as a plain dict, nothing run;
    :class:`~.errors.ConfigTextError` (one line) when it is not data (see the module doc)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        where = f', line {err.lineno}' if getattr(err, 'lineno', None) else ''
        raise ConfigTextError(f'cannot read the config in {source}{where}: not Python data '
                              f'({type(err).__name__}: {getattr(err, "msg", err)})') from None
    config, lines = {}, {}
    for statement in tree.body:
        try:
            if not (isinstance(statement, ast.Assign) and len(statement.targets) == 1
                    and isinstance(statement.targets[0], ast.Name)):
                raise _Refused(statement)
            name = statement.targets[0].id
            if name == '_base_':
                raise _Refused(statement, 'a base config file')
            if name.startswith('__'):
                raise _Refused(statement, 'a name starting with __')
            config[name], lines[name] = _value(statement.value), statement.lineno
        except _Refused as refused:
            raise _refusal(source, refused.line, str(refused)) from None
        except RecursionError:
            raise _refusal(source, statement.lineno, 'data nested too deep') from None
    if 'custom_imports' in config:
        _check_imports(config['custom_imports'], source, lines['custom_imports'])
    return config


class _Spelled:
    """A value pprint shows as ``text``."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self):
        return self.text


def _printable(value: Any, source: str) -> Any:
    """``value`` with dict-likes as dicts and non-finite floats spelled ``float('...')``."""
    if isinstance(value, float) and not math.isfinite(value):
        return _Spelled(f"float('{value}')")
    if type(value) in (str, int, float, bool, type(None)):
        return value
    if isinstance(value, Mapping):
        return {_printable(k, source): _printable(v, source) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)) and not hasattr(value, '_fields'):
        return (set if isinstance(value, set) else type(value))(
            _printable(item, source) for item in value)
    raise ConfigTextError(f'cannot write the config of {source} as data: it holds a '
                          f'{type(value).__name__} ({str(value)[:60]})')


def _same(a: Any, b: Any) -> bool:
    """Equal data of the same types (any dict-likes alike; NaN equal to NaN)."""
    if isinstance(a, Mapping) or isinstance(b, Mapping):
        return isinstance(a, Mapping) and isinstance(b, Mapping) and list(a) == list(b) and \
            all(_same(a[k], b[k]) for k in a)
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(map(_same, a, b))
    return a == b


def render_config_text(data: Mapping, source: str) -> str:
    """``data`` (a config dict) as Python text of literals, one ``name = value`` per key, that
    :func:`parse_config_text` reads back to the same dict (checked) and MMEngine runs as data."""
    text = ''.join(f'{key} = {pprint.pformat(_printable(value, source), **_LAYOUT)}\n'
                   for key, value in data.items())
    if not _same(parse_config_text(text, source), data):
        raise ConfigTextError(f'cannot write the config of {source} as data: it reads back changed')
    return text


def _config_holders(checkpoint: Mapping) -> list:
    """``[(dict, label)]``: where MMEngine's inferencers look for a config (``dict['cfg']``),
    in the order they look: ``message_hub.runtime_info``, then ``meta``."""
    hub = checkpoint.get('message_hub')
    runtime = hub.get('runtime_info') if isinstance(hub, Mapping) else None
    return [(holder, label) for holder, label in (
        (runtime, "message_hub.runtime_info['cfg']"), (checkpoint.get('meta'), "meta['cfg']"))
        if isinstance(holder, dict) and holder.get('cfg') is not None]


def _config_data(value: Any, source: str) -> Mapping:
    """The data of a config stored as text (parsed) or as a dict (checked alike)."""
    if isinstance(value, str):
        return parse_config_text(value, source)
    if isinstance(value, Mapping):
        return parse_config_text(render_config_text(value, source), source)
    raise ConfigTextError(f'cannot read the config in {source}: a {type(value).__name__}, '
                          'neither config text nor a dict')


def data_only_configs(checkpoint: Mapping, filename: str) -> None:
    """Rewrite in place every config ``checkpoint`` (read from ``filename``) carries as
    :func:`render_config_text` of its data; :class:`~.errors.ConfigTextError` if one is code."""
    rewritten = {}                   # (the Runner writes the same text to both places)
    for holder, label in _config_holders(checkpoint):
        source, value = f'{filename} ({label})', holder['cfg']
        key = value if isinstance(value, str) else id(value)
        if key not in rewritten:
            rewritten[key] = render_config_text(_config_data(value, source), source)
        holder['cfg'] = rewritten[key]


def config_in_checkpoint(checkpoint: Mapping, filename: str) -> Optional[Config]:
    """The config ``checkpoint`` carries where MMEngine looks for it, as a ``Config`` built from
    its data (its ``custom_imports``, all trusted, imported as ``Config.fromfile`` would); None
    if it carries none."""
    from mmengine.utils import import_modules_from_strings
    holders = _config_holders(checkpoint)
    if not holders:
        return None
    (holder, label), *_ = holders      # the one MMEngine would read
    source = f'{filename} ({label})'
    data = dict(_config_data(holder['cfg'], source))
    try:
        config = Config(data)
        if data.get('custom_imports'):
            import_modules_from_strings(**data['custom_imports'])
    except (KeyError, TypeError, ImportError) as err:
        raise ConfigTextError(f'cannot use the config in {source}: {type(err).__name__}: '
                              f'{err}') from None
    return config


def checkpoint_config(filename: str) -> Config:
    """The config checkpoint ``filename`` carries (read weights-only, never run), for
    ``TextRecInferencer(model=checkpoint_config(path), weights=path)``."""
    from .mmengine_loader import load_checkpoint_file
    config = config_in_checkpoint(load_checkpoint_file(filename), filename)
    if config is None:
        raise ConfigTextError(f"{filename} carries no config (meta['cfg']): give the config it "
                              'was trained with')
    return config
