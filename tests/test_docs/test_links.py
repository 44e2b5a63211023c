"""Every relative link of README.md and docs/*.md leads somewhere."""
import re
from pathlib import Path
from typing import Iterator, List, Tuple

import pytest

REPO = Path(__file__).resolve().parents[2]
LINK = re.compile(r'(?<!!)\[[^\]]*\]\(([^)\s]+)\)')
HEADING = re.compile(r'^#{1,6}\s+(.*?)\s*$')
FENCE = re.compile(r'^\s*```')


def pages() -> List[Path]:
    """README.md and every page of docs/."""
    return [REPO / 'README.md'] + sorted((REPO / 'docs').glob('*.md'))


def outside_code(text: str) -> Iterator[str]:
    """Yield the lines of a markdown text outside fenced code blocks."""
    fenced = False
    for line in text.splitlines():
        if FENCE.match(line):
            fenced = not fenced
        elif not fenced:
            yield line


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped,
    spaces as dashes."""
    text = re.sub(r'[`*_]', '', heading).strip().lower()
    text = re.sub(r'[^\w\- ]', '', text)
    return text.replace(' ', '-')


def anchors(path: Path) -> set:
    text = path.read_text(encoding='utf-8')
    return {slug(m.group(1)) for line in outside_code(text)
            for m in [HEADING.match(line)] if m}


def relative_links(path: Path) -> List[Tuple[str, Path, str]]:
    """(link, target file, anchor) of every relative link of a page."""
    links = []
    for line in outside_code(path.read_text(encoding='utf-8')):
        for target in LINK.findall(line):
            if re.match(r'[a-z][a-z0-9+.-]*:', target):  # http:, mailto:
                continue
            file_part, _, anchor = target.partition('#')
            file = (path.parent / file_part).resolve() if file_part else path
            links.append((target, file, anchor))
    return links


def test_slug_follows_github():
    assert slug('7.2 pycocotools vs hotcoco at 50,000 images') == \
        '72-pycocotools-vs-hotcoco-at-50000-images'
    assert slug('OK/NG verdicts') == 'okng-verdicts'
    assert slug('1. Set-up, tests and `make demo`') == \
        '1-set-up-tests-and-make-demo'


def test_pages_have_links():
    assert sum(len(relative_links(p)) for p in pages()) > 30


@pytest.mark.parametrize('page', pages(), ids=lambda p: p.name)
def test_relative_links_resolve(page):
    broken = []
    for target, file, anchor in relative_links(page):
        if not file.exists():
            broken.append(f'{target}: no such file')
        elif anchor and file.suffix == '.md' and anchor not in anchors(file):
            broken.append(f'{target}: no heading #{anchor} in {file.name}')
    assert not broken, f'{page.relative_to(REPO)}:\n' + '\n'.join(broken)
