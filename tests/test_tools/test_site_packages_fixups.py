# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""tools/misc/site_packages_fixups.py: no foreign top-level ``tests``
package in site-packages, and ``pip uninstall`` removes the link the
install makes."""
import os
import os.path as osp
import shutil
import subprocess
import sys
import sysconfig

import pytest

from tests.conftest import REPO_ROOT
from tests.utils.scripts import load_script

SCRIPT = osp.join(REPO_ROOT, 'tools', 'misc', 'site_packages_fixups.py')


@pytest.fixture
def fixups():
    return load_script('tools/misc/site_packages_fixups.py',
                       '_site_packages_fixups')


def _fake_dist(site, name, version, files):
    """A dist-info with a RECORD listing ``files`` (created empty)."""
    info = osp.join(site, f'{name.replace("-", "_")}-{version}.dist-info')
    os.makedirs(info)
    with open(osp.join(info, 'METADATA'), 'w') as f:
        f.write(f'Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n')
    rows = []
    for rel in files:
        path = osp.join(site, rel)
        os.makedirs(osp.dirname(path), exist_ok=True)
        open(path, 'w').close()
        rows.append(f'{rel},sha256=x,0')
    rel_info = osp.basename(info)
    rows += [f'{rel_info}/METADATA,,', f'{rel_info}/RECORD,,']
    with open(osp.join(info, 'RECORD'), 'w') as f:
        f.write('\n'.join(rows) + '\n')
    return osp.join(info, 'RECORD')


def test_drop_model_index_tests(tmp_path, monkeypatch, fixups):
    site = str(tmp_path / 'site')
    record = _fake_dist(site, 'model-index', '0.1.11', [
        'modelindex/__init__.py', 'tests/__init__.py', 'tests/test_cli.py'
    ])
    monkeypatch.syspath_prepend(site)
    assert fixups.drop_model_index_tests() == 2
    assert not osp.exists(osp.join(site, 'tests'))
    assert osp.isfile(osp.join(site, 'modelindex', '__init__.py'))
    with open(record) as f:
        assert 'tests/' not in f.read()
    assert fixups.drop_model_index_tests() == 0  # idempotent


def test_link_is_recorded(tmp_path, monkeypatch, fixups):
    site = str(tmp_path / 'site')
    record = _fake_dist(site, 'mmioc_rtvp', '0.1.0',
                        ['__editable__.mmioc_rtvp-0.1.0.pth'])
    monkeypatch.syspath_prepend(site)
    package = str(tmp_path / 'repo' / 'mmioc_rtvp')
    os.makedirs(package)
    for _ in range(2):  # idempotent: one link, one RECORD line
        link = fixups.link_package(site, package)
    assert os.readlink(link) == package
    with open(record) as f:
        assert f.read().splitlines().count('mmioc_rtvp,,') == 1
    # a real directory there (a non-editable install) is not replaced
    os.remove(link)
    os.makedirs(link)
    with pytest.raises(SystemExit, match='not a link'):
        fixups.link_package(site, package)


def test_installed_environment_is_clean():
    """The project venv made by tools/install.sh (this interpreter)."""
    from importlib.metadata import PackageNotFoundError, distribution
    site = sysconfig.get_paths()['purelib']
    assert not osp.exists(osp.join(site, 'tests', '__init__.py'))
    try:
        files = distribution('model-index').files or []
    except PackageNotFoundError:
        files = []
    assert not [f for f in files if str(f).startswith('tests/')]
    link = osp.join(site, 'mmioc_rtvp')
    if osp.islink(link):
        recorded = {str(f) for f in distribution('mmioc_rtvp').files}
        assert 'mmioc_rtvp' in recorded


@pytest.mark.integration
def test_pip_uninstall_removes_the_link(tmp_path):
    """An editable install of a copy of the package into a throwaway venv
    (pip and setuptools from this one), linked, then uninstalled."""
    repo = tmp_path / 'repo'
    repo.mkdir()
    for name in ('setup.py', 'README.md', 'MANIFEST.in'):
        shutil.copy(osp.join(REPO_ROOT, name), repo / name)
    shutil.copytree(osp.join(REPO_ROOT, 'requirements'), repo / 'requirements')
    shutil.copytree(
        osp.join(REPO_ROOT, 'mmioc_rtvp'), repo / 'mmioc_rtvp',
        ignore=shutil.ignore_patterns('__pycache__', '.mim'))
    os.makedirs(repo / 'tools' / 'misc')
    shutil.copy(SCRIPT, repo / 'tools' / 'misc')
    venv = tmp_path / 'venv'
    subprocess.run([sys.executable, '-m', 'venv', '--without-pip',
                    str(venv)], check=True)
    py = str(venv / 'bin' / 'python')
    target_site = subprocess.run(
        [py, '-c', 'import sysconfig; print(sysconfig.get_paths()'
         '["purelib"])'], check=True, capture_output=True,
        text=True).stdout.strip()
    # pip and setuptools of the project venv, after the new venv's own path
    with open(osp.join(target_site, 'parent.pth'), 'w') as f:
        f.write(sysconfig.get_paths()['purelib'] + '\n')

    def run(*args):
        proc = subprocess.run([py, *args], cwd=str(repo), capture_output=True,
                              text=True, timeout=600)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    run('-m', 'pip', 'install', '--no-deps', '--no-build-isolation',
        '--disable-pip-version-check', '-q', '-e', '.')
    run(osp.join('tools', 'misc', 'site_packages_fixups.py'), 'link')
    link = osp.join(target_site, 'mmioc_rtvp')
    assert os.readlink(link) == str(repo / 'mmioc_rtvp')
    out = run('-m', 'pip', 'uninstall', '-y', 'mmioc_rtvp')
    assert 'Successfully uninstalled' in out
    assert not osp.lexists(link)
    # the working tree it pointed to is untouched
    assert osp.isfile(repo / 'mmioc_rtvp' / '__init__.py')
