"""The repository's texts speak to users.

Every README, docs page, config, script and module is searched for
development-machine paths and development-diary phrases: what the project
does belongs in the texts, how it was built belongs in git.
"""
import re
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]

# Folders searched recursively, and single files.
SEARCHED_DIRS = ('docs', 'configs', 'mmioc_rtvp', 'tools', 'benchmarks',
                 'projects')
SEARCHED_FILES = ('README.md', 'Makefile', 'setup.py')
TEXT_SUFFIXES = {'.md', '.py', '.sh', '.txt', '.html', '.yml', '.yaml', '.cfg'}
SKIPPED_PARTS = {'.mim', '__pycache__', 'work_dirs', 'data', '.venv'}

# Absolute paths of a development machine. The look-behind keeps paths
# inside a user-chosen root (``$TMPDIR/bench/root/``) out of the match.
PATH_PATTERNS = [
    r'(?<![\w.$}/-])/work/',
    r'(?<![\w.$}/-])/tmp/',
    r'(?<![\w.$}/-])/root/',
    r'(?<![\w.$}/-])/home/[a-z_]',
]
# Diary phrases: numbered work sessions and rounds, fixes narrated in time,
# the people who did the work, the machine it was done on.
DIARY_PATTERNS = [
    r'\b[Ss]essions? \d',
    r'\b[Rr]ound \d',
    r'\bafter the (?:[\w-]+ )?fix\b',
    r"\bthe lead(?:'s)?\b",
    r'\bdevelopment machine\b',
    r'\bdev box\b',
]
PATTERNS = [re.compile(p) for p in PATH_PATTERNS + DIARY_PATTERNS]


def searched_files() -> Iterator[Path]:
    """Yield every text file of the searched folders and files."""
    for name in SEARCHED_FILES:
        path = REPO / name
        if path.is_file():
            yield path
    for folder in SEARCHED_DIRS:
        for path in sorted((REPO / folder).rglob('*')):
            if (path.is_file() and path.suffix in TEXT_SUFFIXES
                    and not SKIPPED_PARTS.intersection(
                        path.relative_to(REPO).parts)):
                yield path


def find_hits(text: str) -> List[Tuple[int, str]]:
    """Return (line number, line) of every line matching a pattern."""
    return [(number, line.strip())
            for number, line in enumerate(text.splitlines(), 1)
            if any(p.search(line) for p in PATTERNS)]


@pytest.mark.parametrize('text', [
    'Measured in session 5 on the box',
    'Sessions 5 and 6 ran it',
    'as in round 1 of the learning check',
    'after the fix of step 4',
    'after the step-4 fix, it passes',
    "a checkpoint of the lead's run",
    'git clone /work/main /tmp/democlone6',
    "_base_ = '/work/main/configs/x.py'",
    'cd /root/project',
    'on the 2-core development machine',
])
def test_patterns_catch_diary_and_paths(text):
    assert find_hits(text), text


@pytest.mark.parametrize('text', [
    'cached (default `$TMPDIR/mmioc_rtvp_bench/root/`)',
    'the ratios come from round-robin calls',
    'ort.InferenceSession(path, options)',
    'rounded to 3 decimals',
    "_base_ = '../../configs/grounding/yolo_world_s_grounding_mini.py'",
    'work_dirs/learning_check/rtvpnet_s_mini/seed0/epoch_20.pth',
    'a lead time of 3 days',
])
def test_patterns_spare_legitimate_text(text):
    assert not find_hits(text), text


def test_searched_files_cover_the_repository():
    names = {p.relative_to(REPO).as_posix() for p in searched_files()}
    for expected in ('README.md', 'docs/results.md', 'configs/README.md',
                     'benchmarks/README.md', 'projects/web_demo/README.md',
                     'mmioc_rtvp/registry.py', 'tools/train.py'):
        assert expected in names
    assert len(names) > 100


def test_no_development_paths_or_diary():
    hits = []
    for path in searched_files():
        text = path.read_text(encoding='utf-8', errors='replace')
        hits += [f'{path.relative_to(REPO)}:{number}: {line[:120]}'
                 for number, line in find_hits(text)]
    assert not hits, ('development-machine paths or diary phrases:\n'
                      + '\n'.join(hits))
