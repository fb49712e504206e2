"""A checkpoint's config as data, never run.

MMEngine stores a checkpoint's config as Python text and reads it back by running it.
:func:`parse_config_text` reads it with :mod:`ast`: only top-level ``name = <data>`` (literals,
``inf`` / ``nan``, list, tuple, set and dict displays, ``dict(...)``, ``set()``), and
``custom_imports`` naming only :data:`TRUSTED_IMPORTS`; anything else is one
:class:`~.errors.ConfigTextError` line. :func:`data_only_configs` re-writes every config a
checkpoint carries as literals, which ``Config.fromstring`` runs as nothing but data.
"""
import ast
import math
import pprint
import textwrap
from typing import Any, Mapping, Optional

from mmengine.config import Config
from mmengine.utils import import_modules_from_strings

from .weights.errors import ConfigTextError

#: The modules (and their submodules) a checkpoint's ``custom_imports`` may name.
TRUSTED_IMPORTS = ('clip4str_plugin', 'clip4str_mmcv_lite', 'clip4str_spotting',
                   'projects.clip4str_spotting.clip4str_spotting', 'mmocr', 'mmdet', 'mmengine')
_NAMED = {'inf': math.inf, 'nan': math.nan}              # how pretty_text prints them
_KINDS = {ast.Call: 'a call', ast.Name: 'a name', ast.Attribute: 'an attribute',
          ast.Lambda: 'a lambda', ast.JoinedStr: 'an f-string', ast.Import: 'an import',
          ast.ImportFrom: 'an import', ast.BinOp: 'an operator', ast.Starred: 'unpacking'}


class _Refused(Exception):
    """``node`` is not data; ``what`` says what it is."""

    def __init__(self, node: ast.AST, what: Optional[str] = None):
        snippet = textwrap.shorten(ast.unparse(node), 60, placeholder=' ...')
        super().__init__(f'{what or _KINDS.get(type(node), "not data")}: {snippet}')
        self.line = getattr(node, 'lineno', None)


def _refusal(source: str, line, what: str) -> ConfigTextError:
    return ConfigTextError(
        f"refusing the config in {source}, line {line}: {what}; a checkpoint's config is data "
        '(literals, lists, tuples, sets, dicts) and nothing in it is run (docs/refusals.md)')


def _value(node: ast.AST) -> Any:
    """The data ``node`` spells, or :class:`_Refused`."""
    if isinstance(node, ast.Constant) and type(node.value) in (str, int, float, bool, type(None)):
        if isinstance(node.value, str) and '{{' in node.value:    # MMEngine fills these in
            raise _Refused(node, "a '{{ ... }}' substitution")
        return node.value
    if isinstance(node, ast.Name) and node.id in _NAMED:
        return _NAMED[node.id]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and \
            isinstance(node.operand, (ast.Constant, ast.Name)) and \
            type(_value(node.operand)) in (int, float):
        return -_value(node.operand)
    call = isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id
    args = getattr(node, 'args', None) or []
    try:
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            return {ast.List: list, ast.Tuple: tuple, ast.Set: set}[type(node)](
                map(_value, node.elts))
        if isinstance(node, ast.Dict) and None not in node.keys:    # (None: ``**`` unpacking)
            return {_value(key): _value(value) for key, value in zip(node.keys, node.values)}
    except TypeError:
        raise _Refused(node, 'an unhashable set item or dict key') from None
    if call == 'dict' and not args and all(k.arg for k in node.keywords):
        return {k.arg: _value(k.value) for k in node.keywords}
    if call == 'dict' and not node.keywords and len(args) == 1 and isinstance(args[0], ast.Dict):
        return _value(args[0])                 # pretty_text's dict({'key': ...}) for odd keys
    if call == 'set' and not args and not node.keywords:
        return set()
    if call == 'float' and not node.keywords and len(args) == 1 and \
            getattr(args[0], 'value', None) in ('inf', '-inf', 'nan'):
        return float(args[0].value)
    raise _Refused(node)


def _check_imports(custom_imports: Any, source: str, line: int) -> None:
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
    """The config ``text`` of ``source`` (a name for messages) as a plain dict, nothing run."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        where = f', line {err.lineno}' if getattr(err, 'lineno', None) else ''
        raise ConfigTextError(f'cannot read the config in {source}{where}: not Python data '
                              f'({type(err).__name__}: {getattr(err, "msg", err)})') from None
    config = {}
    for statement in tree.body:
        target = statement.targets[0] if isinstance(statement, ast.Assign) and \
            len(statement.targets) == 1 else None
        try:
            if not isinstance(target, ast.Name) or target.id == '_base_':
                raise _Refused(statement, isinstance(target, ast.Name) and 'a base config file')
            if target.id.startswith('__'):
                raise _Refused(statement, 'a name starting with __')
            config[target.id] = _value(statement.value)
        except _Refused as refused:
            raise _refusal(source, refused.line or statement.lineno, str(refused)) from None
        except RecursionError:
            raise _refusal(source, statement.lineno, 'data nested too deep') from None
        if target.id == 'custom_imports':
            _check_imports(config[target.id], source, statement.lineno)
    return config


class _Spelled(str):
    """A value pprint shows as its text (``float('inf')``)."""

    def __repr__(self):
        return str(self)


def _plain(value: Any, source: str) -> Any:
    """``value`` as plain data (dict-likes as dicts; ``inf`` / ``nan`` spelled)."""
    if isinstance(value, float) and not math.isfinite(value):
        return _Spelled(f"float('{value}')")
    if type(value) in (str, int, float, bool, type(None)):
        return value
    if isinstance(value, Mapping):
        return {_plain(k, source): _plain(v, source) for k, v in value.items()}
    if type(value) in (list, tuple, set):
        return type(value)(_plain(item, source) for item in value)
    raise ConfigTextError(f'cannot write the config of {source} as data: it holds a '
                          f'{type(value).__name__} ({str(value)[:60]})')


def render_config_text(data: Mapping, source: str) -> str:
    """``data`` as Python text of literals, one ``name = value`` per key (checked: data)."""
    text = ''.join(f'{key} = {pprint.pformat(_plain(value, source), width=100, sort_dicts=False)}\n'
                   for key, value in data.items())
    parse_config_text(text, source)
    return text


def _config_holders(checkpoint: Mapping) -> list:
    """``[(dict, label)]``: where MMEngine's inferencers look for ``dict['cfg']``, in order."""
    hub = checkpoint.get('message_hub')
    runtime = hub.get('runtime_info') if isinstance(hub, Mapping) else None
    return [(holder, label) for holder, label in (
        (runtime, "message_hub.runtime_info['cfg']"), (checkpoint.get('meta'), "meta['cfg']"))
        if isinstance(holder, dict) and holder.get('cfg') is not None]


def data_only_configs(checkpoint: Mapping, filename: str) -> None:
    """Re-write in place every config ``checkpoint`` carries (text or dict) as literals."""
    for holder, label in _config_holders(checkpoint):
        source, value = f'{filename} ({label})', holder['cfg']
        if not isinstance(value, (str, Mapping)):
            raise ConfigTextError(f'cannot read the config in {source}: a {type(value).__name__}'
                                  ', neither config text nor a dict')
        data = parse_config_text(value, source) if isinstance(value, str) else value
        holder['cfg'] = render_config_text(data, source)


def config_in_checkpoint(checkpoint: Mapping, filename: str) -> Config:
    """The config of a checkpoint read by :func:`~.loading.load_checkpoint_file` (configs as
    text), where MMEngine looks for it, its trusted ``custom_imports`` imported."""
    holders = _config_holders(checkpoint)
    if not holders:
        raise ConfigTextError(f"{filename} carries no config (meta['cfg']): give the config it "
                              'was trained with')
    source = f'{filename} ({holders[0][1]})'
    data = parse_config_text(holders[0][0]['cfg'], source)
    try:
        if data.get('custom_imports'):
            import_modules_from_strings(**data['custom_imports'])
        return Config(data)
    except (KeyError, TypeError, ImportError) as err:
        raise ConfigTextError(f'cannot use the config in {source}: {type(err).__name__}: '
                              f'{err}') from None
