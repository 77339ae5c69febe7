"""Build the C parser of llmrec.data.netflix; all other project metadata is in pyproject.toml."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension("llmrec.data._netflix_parse", ["src/llmrec/data/_netflix_parse.c"]),
    ]
)
