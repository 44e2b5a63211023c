#!/usr/bin/env python
# Copyright (c) mmioc_rtvp contributors. All rights reserved.
"""Packaging of mmioc_rtvp.

``configs/`` and ``tools/`` are shipped inside the package as
``mmioc_rtvp/.mim/{configs,tools}`` (symlinks in an editable install, copies
in a wheel), which is where ``mim train mmioc_rtvp CFG`` looks for them.
"""
import os
import os.path as osp
import shutil
import sys

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def readme() -> str:
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


def get_version() -> str:
    scope: dict = {}
    with open(osp.join(HERE, 'mmioc_rtvp', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname: str) -> list:
    """Read a requirements file: version ranges kept, comments and -r
    includes dropped."""
    reqs = []
    with open(osp.join(HERE, fname)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line and not line.startswith('-'):
                reqs.append(line)
    return reqs


def add_mim_extension() -> None:
    """Expose configs/ and tools/ as ``mmioc_rtvp/.mim/*``."""
    if {'develop', 'editable_wheel'} & set(sys.argv):
        mode = 'symlink'
    elif {'sdist', 'bdist_wheel', 'build', 'build_py'} & set(sys.argv):
        mode = 'copy'
    else:
        return
    mim_path = osp.join(HERE, 'mmioc_rtvp', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in ('configs', 'tools'):
        src = osp.join(HERE, name)
        dst = osp.join(mim_path, name)
        if osp.islink(dst) or osp.isfile(dst):
            os.remove(dst)
        elif osp.isdir(dst):
            shutil.rmtree(dst)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_path), dst)
        else:
            shutil.copytree(src, dst)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmioc_rtvp',
        version=get_version(),
        description='MMIOC-1M industrial open/closed defect detection '
        'benchmark and RTVPNet, as an OpenMMLab plugin',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='defect detection, open-vocabulary detection, OpenMMLab',
        packages=find_packages(exclude=('configs', 'tools', 'tests',
                                        'projects', 'docs')),
        include_package_data=True,
        package_data={'mmioc_rtvp': ['.mim/**/*']},
        python_requires='>=3.8',
        license='Apache License 2.0',
        classifiers=[
            'License :: OSI Approved :: Apache Software License',
            'Programming Language :: Python :: 3',
            'Topic :: Scientific/Engineering :: Image Recognition',
        ],
        install_requires=parse_requirements('requirements/runtime.txt'),
        extras_require={
            'tests': parse_requirements('requirements/tests.txt'),
            'optional': parse_requirements('requirements/optional.txt'),
            'mim': parse_requirements('requirements/mminstall.txt'),
        },
        zip_safe=False)
