"""Macbeth (target=macbeth): the files of a real target shipped with the project, read through
target=text_files with `package: unlearn.targets.macbeth` (see README.md beside this file)."""
