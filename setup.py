"""Build the C parser of llmrec.data.netflix and the neighbour truth's co-count kernel; all
other project metadata is in pyproject.toml.

Both extensions are optional: without a C compiler llmrec still installs, loads the Netflix
files with its numpy parser (about 15 times slower) and counts with scipy's sparse product
(the same truth, slower); the build failure is printed by pip.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "llmrec.data._netflix_parse",
            ["src/llmrec/data/_netflix_parse.c"],
            optional=True,
        ),
        Extension(
            "llmrec.truth._cocount",
            ["src/llmrec/truth/_cocount.c"],
            optional=True,
        ),
    ]
)
