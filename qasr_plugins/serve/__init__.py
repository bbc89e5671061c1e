"""``qasr serve``: an OpenAI-compatible transcription server over any qasr pipeline (docs/serve.md)."""

from qasr_plugins.serve.app import create_app
from qasr_plugins.serve.limits import Limits

__all__ = ["Limits", "create_app"]
