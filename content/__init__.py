"""The shipped content files (TOML), installed as the ``companion_content`` package.

There is no code here: this file only lets the wheel carry the directory, so an installed
Companion finds its texts (see ``companion.content.default_dir``).
"""
