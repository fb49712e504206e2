"""Why an exported model cannot be made or run: one line naming the file or setting and what to
do. Tools print it as ``error: <message>`` and exit 1."""


class DeployError(RuntimeError):
    """An export, a deployment folder or a runtime that cannot be used."""
