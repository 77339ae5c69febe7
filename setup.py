"""Build the C parser of llmrec.data.netflix; all other project metadata is in pyproject.toml.

The extension is optional: without a C compiler llmrec still installs and loads the Netflix
files with its numpy parser (about 15 times slower); the build failure is printed by pip.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "llmrec.data._netflix_parse",
            ["src/llmrec/data/_netflix_parse.c"],
            optional=True,
        ),
    ]
)
