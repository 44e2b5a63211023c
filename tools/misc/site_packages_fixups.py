# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Two fix-ups of the virtualenv that ``tools/install.sh`` makes.

``python tools/misc/site_packages_fixups.py link``
    ``mim train mmioc_rtvp CFG`` looks for ``<dist location>/mmioc_rtvp/.mim``;
    a PEP 660 editable install leaves only metadata and an import hook in
    site-packages, so a link ``site-packages/mmioc_rtvp -> <repo>/mmioc_rtvp``
    is made. It is also written into the distribution's ``RECORD``, so that
    ``pip uninstall mmioc_rtvp`` removes it with the rest (pip moves a
    recorded symlink away without following it).

``python tools/misc/site_packages_fixups.py drop-model-index-tests``
    The ``model-index`` wheel (a dependency of openmim) ships its own test
    suite as a top-level ``tests`` package. In site-packages that regular
    package shadows this repository's ``tests/`` (a namespace package), so
    ``from tests.utils import ...`` fails outside pytest's rootdir handling.
    Its files are deleted and removed from model-index's ``RECORD``.

Both are idempotent and print one line. Standard library only.
"""
import argparse
import csv
import io
import os
import os.path as osp
import shutil
import sysconfig
from importlib.metadata import PackageNotFoundError, distribution
from typing import Optional

REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _record_path(dist_name: str) -> Optional[str]:
    """Absolute path of a distribution's RECORD file, or None."""
    try:
        dist = distribution(dist_name)
    except PackageNotFoundError:
        return None
    for file in dist.files or []:
        if file.name == 'RECORD' and file.parent.name.endswith('.dist-info'):
            return str(dist.locate_file(file))
    return None


def _read_record(path: str) -> list:
    with open(path, newline='', encoding='utf-8') as f:
        return [row for row in csv.reader(f) if row]


def _write_record(path: str, rows: list) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator='\n').writerows(rows)
    with open(path, 'w', encoding='utf-8') as f:
        f.write(buffer.getvalue())


def link_package(site_dir: Optional[str] = None,
                 package_dir: str = osp.join(REPO_ROOT, 'mmioc_rtvp')) -> str:
    """Link the package into site-packages and record the link.

    Args:
        site_dir (str, optional): site-packages; the running interpreter's
            ``purelib`` by default.
        package_dir (str): the package folder of the working tree.

    Returns:
        str: the link's path.
    """
    site_dir = site_dir or sysconfig.get_paths()['purelib']
    link = osp.join(site_dir, 'mmioc_rtvp')
    if osp.islink(link):
        os.remove(link)
    elif osp.exists(link):
        raise SystemExit(
            f'{link} exists and is not a link (a non-editable install?): '
            'not replacing it')
    os.symlink(package_dir, link)
    record = _record_path('mmioc_rtvp')
    if record is None:
        raise SystemExit('mmioc_rtvp is not installed: run '
                         '`pip install --no-build-isolation -e .` first')
    rows = _read_record(record)
    rel = osp.relpath(link, osp.dirname(osp.dirname(record)))
    if rel not in {row[0] for row in rows}:
        rows.append([rel, '', ''])
        _write_record(record, rows)
    return link


def drop_model_index_tests() -> int:
    """Delete the top-level ``tests`` package model-index installs.

    Returns:
        int: the number of RECORD entries removed (0 when already clean or
        when model-index is not installed).
    """
    record = _record_path('model-index')
    if record is None:
        return 0
    site_dir = osp.dirname(osp.dirname(record))
    rows = _read_record(record)
    keep = [row for row in rows if not row[0].startswith('tests/')]
    if len(keep) == len(rows):
        return 0
    for row in rows:
        if row[0].startswith('tests/'):
            path = osp.join(site_dir, row[0])
            if osp.isfile(path):
                os.remove(path)
    tests_dir = osp.join(site_dir, 'tests')
    if osp.isdir(tests_dir) and not [
            name for name in os.listdir(tests_dir) if name != '__pycache__'
    ]:
        shutil.rmtree(tests_dir)
    _write_record(record, keep)
    return len(rows) - len(keep)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('action', choices=['link', 'drop-model-index-tests'])
    args = parser.parse_args()
    if args.action == 'link':
        print(f'linked and recorded {link_package()}')
    else:
        print(f'removed {drop_model_index_tests()} files of model-index\'s '
              'top-level tests package')


if __name__ == '__main__':
    main()
