"""A package of the ``synth`` extra that is not installed: one line naming the pip command."""


class MissingExtraError(ImportError):
    """A package of the ``synth`` extra (word lists, training fonts) is not installed."""


def missing_synth_extra(what: str, packages: str) -> MissingExtraError:
    """One line: ``what`` needs ``packages``, installed by ``pip install -e .[synth]``."""
    return MissingExtraError(f'{what} need {packages} (the synth extra, not installed): '
                             'pip install -e .[synth]')
