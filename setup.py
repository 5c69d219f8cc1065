"""cimscope: what kind of compute-in-memory to use, when it pays off, and where to put it.

One import namespace, ``cimscope``. The top-level folders ``plugins``, ``arch``, ``workloads`` and
``mappers`` are its sub-packages (``cimscope.plugins`` ...), so nothing generic is installed at top level.
``hwcomponents_cimscope`` is the thin module hwcomponents discovers by its ``hwcomponents_`` prefix.
"""
import os

from setuptools import find_packages, setup

SUBPACKAGES = ("plugins", "arch", "workloads", "mappers")
#: Data file types shipped with the package (tests/test_packaging.py checks every non-.py file is covered).
DATA_GLOBS = ["*.yaml", "*.yml", "*.csv", "*.json", "*.txt"]
#: The data folders (no __init__.py) inside the four sub-packages, declared as packages of their own so that
#: setuptools ships their files without "Package would be ignored" warnings.
DATA_PACKAGES = [f"cimscope.{p}.{d}" for p in SUBPACKAGES for d in ("data", "presets")
                 if os.path.isdir(os.path.join(p, d))]

setup(
    name="cimscope",
    version="0.1.0",
    description="Compute-in-memory design-space exploration on top of the Timeloop/Accelergy ecosystem",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10",
    packages=(find_packages(include=["cimscope", "cimscope.*"]) + ["hwcomponents_cimscope"]
              + [f"cimscope.{p}" for p in SUBPACKAGES] + DATA_PACKAGES),
    package_dir={"cimscope": "cimscope", **{f"cimscope.{p}": p for p in SUBPACKAGES}},
    package_data={**{f"cimscope.{p}": DATA_GLOBS for p in SUBPACKAGES}, **{d: DATA_GLOBS for d in DATA_PACKAGES}},
    # (find_packages only sees folders under cimscope/; the four top-level folders are mapped above)
    include_package_data=True,
    # No data_files into Accelergy's plug-in folder: the Accelergy plug-in is registered once, by the
    # python_plug_ins line of accelergy_config.yaml that `cimscope estimate --accelergy-config` prints (a copy in
    # <prefix>/share/accelergy/estimation_plug_ins as well loaded every estimator twice, with a warning each).
    data_files=[],
    install_requires=[
        "numpy>=1.26",
        "pandas>=2.0",
        "pyyaml>=6.0",
        "typer>=0.12",
        "rich>=13",
        "tqdm>=4.66",
        "matplotlib>=3.8",
        "dask[distributed]>=2024.1",
        "pydantic>=2.6",
        "jinja2>=3.1",
    ],
    extras_require={
        "torch": ["torch>=2.4,<2.15", "torchvision>=0.19,<0.30", "transformers>=4.40"],
        "hwcomponents": ["hwcomponents>=1.0.114; python_version>='3.12'"],
        "test": ["pytest>=8", "pytest-xdist>=3", "hypothesis>=6"],
        "all": [
            "torch>=2.4,<2.15", "torchvision>=0.19,<0.30", "transformers>=4.40",
            "hwcomponents>=1.0.114; python_version>='3.12'",
            "pytest>=8", "pytest-xdist>=3", "hypothesis>=6",
        ],
    },
    entry_points={"console_scripts": ["cimscope=cimscope.cli:main"]},
)
