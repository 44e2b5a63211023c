# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""build_detector in a fresh interpreter: nothing else has set mmengine's
default scope there (in this test process the fixtures have), which is how
the command-line tools call it."""
import subprocess
import sys

from tests.conftest import REPO_ROOT

SCRIPT = '''
import sys
from mmengine.config import Config
from mmengine.registry import DefaultScope
from mmioc_rtvp.apis import build_detector
assert DefaultScope.get_current_instance() is None
model, ckpt = build_detector(Config.fromfile(sys.argv[1]), sys.argv[2])
print(type(model).__name__, type(model.data_preprocessor).__name__,
      DefaultScope.get_current_instance().scope_name, sorted(ckpt))
'''


def test_build_detector_sets_the_default_scope(tiny_config, tiny_checkpoint):
    proc = subprocess.run(
        [sys.executable, '-c', SCRIPT, tiny_config, tiny_checkpoint],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.splitlines()[-1].split()[:3] == [
        'RTVPNet', 'MultiModalDetDataPreprocessor', 'mmioc_rtvp'
    ], proc.stdout
